import Foundation
import OneVisitKit
import os

/// Display formatting from the core (Beijing time, zh-CN labels and messages), the same text the
/// Android app shows: nothing here is written again in Swift.
enum Formatting {
    /// A device time (ms since the epoch) in Beijing time.
    static func time(_ ms: Int64) -> String {
        beijingTime(ms: ms)
    }

    /// The zh-CN label of a status.
    static func status(_ status: TaskStatus) -> String {
        statusLabel(status: status)
    }

    /// What to tell the inspector for a failure of a core call: the core's errors carry their
    /// zh-CN message (their Rust `Display`).
    static func message(_ error: Error) -> String {
        switch error {
        case let e as StoreError: return e.description
        case let e as RecordError: return e.description
        case let e as PhotoError: return e.description
        case let e as SyncError: return e.description
        case let e as BundleError: return e.description
        case let e as TaskCodeError: return e.description
        case let e as KeyProtectorError: return e.description
        default: return "操作失败：\(error.localizedDescription)"
        }
    }
}

/// The core's diagnostics (sync attempts, retries, refusals, store migrations, bundle steps) in
/// os_log, one category per area (onevisit::sync, onevisit::store, ...). The core logs ids and
/// hashes only, never a party's name, a USCC or an inspector's name.
final class OSLogSink: LogSink {
    private let subsystem = Bundle.main.bundleIdentifier ?? "cn.onevisit.app"

    func log(line: LogLine) {
        let logger = Logger(subsystem: subsystem, category: line.target)
        switch line.level {
        case .error: logger.error("\(line.message, privacy: .public)")
        case .warn: logger.warning("\(line.message, privacy: .public)")
        case .info: logger.info("\(line.message, privacy: .public)")
        case .debug: logger.debug("\(line.message, privacy: .public)")
        case .trace: logger.trace("\(line.message, privacy: .public)")
        }
    }

    /// Forwards the core's lines to os_log (debug detail in debug builds).
    static func install() {
        #if DEBUG
        setLogSink(sink: OSLogSink(), level: .debug)
        #else
        setLogSink(sink: OSLogSink(), level: .info)
        #endif
    }
}
