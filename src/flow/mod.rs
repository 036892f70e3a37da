//! Flow tracking: segments -> one `Connection` per TCP connection (not per 4-tuple),
//! with per-direction sequence analysis, Zeek conn_state/history and a timeline.

pub mod analysis;
pub mod conn;
pub mod episodes;
pub mod nat;
pub mod paths;
pub mod recent;
pub mod segment;
pub mod side;
pub mod socket;
pub mod table;
pub mod timeline;
pub mod zeek;

pub use analysis::Analysis;
pub use conn::{CloseHow, CloseInfo, Connection, EndReason, RoleSource};
pub use segment::Segment;
pub use table::{FlowTable, TableConfig, TableStats};
pub use timeline::{Event, EventKind, Timeline, TimelineMode};

#[cfg(test)]
mod size_probe {
    #[test]
    fn print_sizes() {
        eprintln!(
            "Connection {} Side {} Event {} RunInfo {} Segment {} ZeroWindows {} Resends {} Keepalives {} Handshake {}",
            std::mem::size_of::<super::Connection>(),
            std::mem::size_of::<super::side::Side>(),
            std::mem::size_of::<super::Event>(),
            std::mem::size_of::<super::timeline::RunInfo>(),
            std::mem::size_of::<super::Segment>(),
            std::mem::size_of::<super::episodes::ZeroWindows>(),
            std::mem::size_of::<super::episodes::Resends>(),
            std::mem::size_of::<super::episodes::Keepalives>(),
            std::mem::size_of::<super::conn::Handshake>(),
        );
        eprintln!(
            "Zeek {} Timeline {} Slowest {} RespWait {} IdleGap {} Prev {} RstInfo {} SynOpt {} Counts {} LastData {} Head {}",
            std::mem::size_of::<super::zeek::ZeekState>(),
            std::mem::size_of::<super::Timeline>(),
            std::mem::size_of::<super::conn::SlowestResponses>(),
            std::mem::size_of::<super::conn::ResponseWait>(),
            std::mem::size_of::<super::conn::IdleGap>(),
            std::mem::size_of::<Option<super::conn::PreviousConn>>(),
            std::mem::size_of::<super::side::RstInfo>(),
            std::mem::size_of::<Option<super::side::SynOptions>>(),
            std::mem::size_of::<super::side::AnalysisCounts>(),
            std::mem::size_of::<Option<super::episodes::LastData>>(),
            std::mem::size_of::<Option<super::segment::PayloadHead>>(),
        );
    }
}
