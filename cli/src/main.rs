//! `onevisit`: a OneVisit device on the command line.

/// `println!` for standard output that ends quietly when the reader went away (see `output`).
macro_rules! outln {
    ($($arg:tt)*) => { $crate::output::write(format_args!($($arg)*), true) };
}

/// `print!` for standard output that ends quietly when the reader went away (see `output`).
macro_rules! out {
    ($($arg:tt)*) => { $crate::output::write(format_args!($($arg)*), false) };
}

mod args;
mod bundle_commands;
mod commands;
mod demo;
mod error;
mod evidence_commands;
mod logging;
mod output;
mod progress;
mod render;
mod sync_commands;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    logging::init(cli.verbose);
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            if let error::CliError::Store(onevisit_core::store::StoreError::Record(
                onevisit_core::record::RecordError::Forbidden(f),
            )) = &err
            {
                eprintln!("错误：收到的记录含有违规修改，已全部拒收并隔离：{}（位置 {}）", f.rule.label_zh(), f.path);
            }
            eprintln!("错误：{err}");
            let mut source = std::error::Error::source(&err);
            while let Some(cause) = source {
                eprintln!("  原因：{cause}");
                source = cause.source();
            }
            ExitCode::from(err.exit_code() as u8)
        }
    }
}
