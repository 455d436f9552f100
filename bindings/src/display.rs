//! zh-CN display text the apps show, written once here instead of again in Kotlin and Swift: status
//! labels and Beijing time. Error messages are the errors' own `Display` (see [`crate::errors`]).

use onevisit_core::record::Status;

use crate::types::TaskStatus;

/// The zh-CN label of a task's status (待检查, 检查中, ...).
#[uniffi::export]
pub fn status_label(status: TaskStatus) -> String {
    Status::from(status).label_zh().to_string()
}

/// A device time (ms since the epoch) in Beijing time to the minute (`2026-12-01 09:30`), whatever
/// zone the phone is set to: the time the documents are written in.
#[uniffi::export]
pub fn beijing_time(ms: i64) -> String {
    onevisit_core::beijing::minute(ms)
}

/// A byte count for a progress line (`1.5 MB`, `12 KB`, `300 B`).
#[uniffi::export]
pub fn byte_size(bytes: u64) -> String {
    match bytes {
        n if n >= 1_048_576 => format!("{:.1} MB", n as f64 / 1_048_576.0),
        n if n >= 1024 => format!("{:.0} KB", n as f64 / 1024.0),
        n => format!("{n} B"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_times_are_the_documents_conventions() {
        assert_eq!(status_label(TaskStatus::OnSite), "检查中");
        assert_eq!(beijing_time(1_764_547_200_000), "2025-12-01 08:00");
        assert_eq!(byte_size(1536), "2 KB");
        assert_eq!(byte_size(3 * 1_048_576 / 2), "1.5 MB");
    }
}
