use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = tcpdiag::cli::Cli::parse();
    tcpdiag::commands::run(cli)
}
