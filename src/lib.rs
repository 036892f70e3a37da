//! tcpdiag: what is wrong with the TCP connections on a Linux server.
//!
//! Data flows one way: `source` (pcap files, live capture, sock_diag polls, host
//! context) -> `decode` -> `flow` (connection tracking) -> `analyze` (findings) ->
//! `report`. `engine` wires the pipeline; `cli` and `commands` are the command-line
//! front (`commands::capture` runs the live capture); `live` runs the live socket
//! commands (`sockets`, `watch`, `host`).

pub mod analyze;
pub mod budget;
pub mod cli;
pub mod commands;
pub mod decode;
pub mod engine;
pub mod flow;
pub mod live;
pub mod model;
pub mod progress;
pub mod report;
pub mod source;
