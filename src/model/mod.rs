//! Typed values that are easy to get wrong as plain integers: sequence numbers,
//! timestamps, directions and flow keys. Everything above the decoder speaks these.

pub mod endpoint;
pub mod hops;
pub mod host;
pub mod netns;
pub mod seq;
pub mod socket;
pub mod time;
pub mod tunnel;
pub mod units;

pub use endpoint::{Dir, Endpoint, FlowKey};
pub use hops::Hops;
pub use seq::SeqNum;
pub use time::Ts;
pub use tunnel::{TunnelId, TunnelKey, TunnelKind};
