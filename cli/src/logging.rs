//! Diagnostics of the core on standard error, as much as `-v` asks for; `RUST_LOG` overrides. The
//! core logs ids and hashes, never a party's name, a USCC or an inspector's name.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Writes the core's diagnostics to standard error: none by default (the command says what went
/// wrong in its own words), then steps, detail and everything with each `-v`.
pub(crate) fn init(verbose: u8) {
    let level = match verbose {
        0 => "off",
        1 => "onevisit=info,warn",
        2 => "onevisit=debug,info",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(true)
        .without_time()
        .try_init();
}
