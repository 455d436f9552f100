//! `onevisit`: a OneVisit device on the command line.

mod args;
mod bundle_commands;
mod commands;
mod demo;
mod error;
mod evidence_commands;
mod render;
mod sync_commands;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("错误 error: {err}");
            let mut source = std::error::Error::source(&err);
            while let Some(cause) = source {
                eprintln!("  原因 caused by: {cause}");
                source = cause.source();
            }
            ExitCode::from(err.exit_code() as u8)
        }
    }
}
