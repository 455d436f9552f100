//! The core's diagnostics (its `tracing` events: sync attempts, retries, refusals, store
//! migrations, bundle steps) forwarded to the app's log — Logcat on Android, os_log on iOS. The
//! core logs ids and hashes only, never a party's name, a USCC or an inspector's name.

use std::fmt::Write as _;
use std::sync::{Arc, OnceLock, RwLock};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::Registry;

/// How severe a log line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, uniffi::Enum)]
pub enum LogLevel {
    /// Something failed.
    Error,
    /// Something went wrong and was handled (a retry, a refusal).
    Warn,
    /// A step of note (a sync finished, a store migrated, a bundle exported).
    Info,
    /// Detail for developers.
    Debug,
    /// Every step.
    Trace,
}

/// One diagnostic line of the core.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct LogLine {
    /// Its severity.
    pub level: LogLevel,
    /// Where it comes from (`onevisit::sync`, `onevisit::store`, ...): the Logcat tag or os_log
    /// category.
    pub target: String,
    /// The message and its fields (`sync finished pushed=2 pulled=0`).
    pub message: String,
}

/// Implemented by the app: writes the core's lines to the platform log.
#[uniffi::export(with_foreign)]
pub trait LogSink: Send + Sync {
    /// Writes one line; called on whichever thread logged it, so it must not block for long.
    fn log(&self, line: LogLine);
}

/// Sends the core's lines at `level` and above to `sink`, replacing any sink set before.
#[uniffi::export]
pub fn set_log_sink(sink: Arc<dyn LogSink>, level: LogLevel) {
    if let Ok(mut current) = sink_slot().write() {
        *current = Some((sink, level));
    }
    install();
}

/// Stops forwarding the core's lines.
#[uniffi::export]
pub fn clear_log_sink() {
    if let Ok(mut current) = sink_slot().write() {
        *current = None;
    }
}

/// The sink lines go to, if any, and its level.
type Slot = RwLock<Option<(Arc<dyn LogSink>, LogLevel)>>;

fn sink_slot() -> &'static Slot {
    static SLOT: OnceLock<Slot> = OnceLock::new();
    SLOT.get_or_init(|| RwLock::new(None))
}

/// Makes the forwarding layer the process's tracing subscriber, once. An app (or a test) that set
/// its own subscriber first keeps it; the sink then receives nothing.
fn install() {
    static INSTALLED: OnceLock<bool> = OnceLock::new();
    INSTALLED.get_or_init(|| tracing::subscriber::set_global_default(Registry::default().with(Forward)).is_ok());
}

/// The tracing layer that hands events to the app's sink.
struct Forward;

impl<S: Subscriber> Layer<S> for Forward {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let Ok(current) = sink_slot().read() else { return };
        let Some((sink, max)) = current.as_ref() else { return };
        let level = level_of(event.metadata().level());
        if level > *max {
            return;
        }
        let mut message = Message::default();
        event.record(&mut message);
        sink.log(LogLine { level, target: event.metadata().target().to_string(), message: message.text });
    }
}

fn level_of(level: &Level) -> LogLevel {
    match *level {
        Level::ERROR => LogLevel::Error,
        Level::WARN => LogLevel::Warn,
        Level::INFO => LogLevel::Info,
        Level::DEBUG => LogLevel::Debug,
        _ => LogLevel::Trace,
    }
}

/// An event's message followed by its fields as `name=value`.
#[derive(Default)]
struct Message {
    text: String,
}

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let fields = std::mem::take(&mut self.text);
            let _ = write!(self.text, "{value:?}{fields}");
        } else {
            let _ = write!(self.text, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            let fields = std::mem::take(&mut self.text);
            self.text = format!("{value}{fields}");
        } else {
            let _ = write!(self.text, " {}={value}", field.name());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    #[derive(Default)]
    struct Collect(Mutex<Vec<LogLine>>);

    impl LogSink for Collect {
        fn log(&self, line: LogLine) {
            if let Ok(mut lines) = self.0.lock() {
                lines.push(line);
            }
        }
    }

    #[test]
    fn a_core_event_reaches_the_sink_with_its_fields_and_below_its_level_nothing_does() {
        let sink = Arc::new(Collect::default());
        set_log_sink(sink.clone(), LogLevel::Info);
        tracing::info!(target: "onevisit::test", pushed = 2, task = "T-1", "sync finished");
        tracing::debug!(target: "onevisit::test", "too detailed");
        clear_log_sink();
        tracing::warn!(target: "onevisit::test", "after clearing");
        let lines = sink.0.lock().map(|l| l.clone()).unwrap_or_default();
        assert_eq!(
            lines,
            vec![LogLine {
                level: LogLevel::Info,
                target: "onevisit::test".into(),
                message: "sync finished pushed=2 task=T-1".into()
            }]
        );
    }
}
