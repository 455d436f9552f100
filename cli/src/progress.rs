//! Progress of long commands (sync, export, verify) as a progress bar on a terminal, and nothing
//! when standard error is not one, so logs and CI output stay clean.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A progress display that draws only on a terminal.
pub(crate) struct Progress {
    bar: ProgressBar,
}

impl Progress {
    /// A display for a step named `label` (in Chinese); hidden when stderr is not a terminal or
    /// `quiet` (machine output) is asked for.
    pub(crate) fn new(label: &'static str, quiet: bool) -> Progress {
        let bar = if quiet || !std::io::stderr().is_terminal() {
            ProgressBar::hidden()
        } else {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.set_prefix(label);
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        };
        bar.set_style(spinner());
        Progress { bar }
    }

    /// Shows `done` of `total` (a bar) when the total is known, with `message` beside it.
    pub(crate) fn update(&self, done: u64, total: Option<u64>, message: String) {
        match total {
            Some(total) if total > 0 => {
                if self.bar.length() != Some(total) {
                    self.bar.set_style(bar());
                    self.bar.set_length(total);
                }
                self.bar.set_position(done.min(total));
            }
            _ => {}
        }
        self.bar.set_message(message);
    }

    /// Prints a line above the display (or plainly on standard error when there is no display).
    pub(crate) fn note(&self, line: &str) {
        if self.bar.is_hidden() {
            eprintln!("{line}");
        } else {
            self.bar.println(line);
        }
    }

    /// Removes the display; what the command prints next stands alone.
    pub(crate) fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

fn spinner() -> ProgressStyle {
    ProgressStyle::with_template("{spinner} {prefix}：{msg}").unwrap_or_else(|_| ProgressStyle::default_spinner())
}

fn bar() -> ProgressStyle {
    ProgressStyle::with_template("{spinner} {prefix} [{bar:30}] {pos}/{len}，{msg}")
        .map(|s| s.progress_chars("=> "))
        .unwrap_or_else(|_| ProgressStyle::default_bar())
}
