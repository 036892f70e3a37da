use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = tcpdiag::cli::Cli::parse_from(tcpdiag::cli::normalize_args(std::env::args_os()));
    tcpdiag::commands::run(cli)
}
