//! Flow tracking: segments -> one `Connection` per TCP connection (not per 4-tuple),
//! with per-direction sequence analysis, Zeek conn_state/history and a timeline.

pub mod analysis;
pub mod conn;
pub mod episodes;
pub mod paths;
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
