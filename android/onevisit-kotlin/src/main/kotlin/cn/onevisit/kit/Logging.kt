package cn.onevisit.kit

import cn.onevisit.ffi.LogLevel
import cn.onevisit.ffi.LogLine
import cn.onevisit.ffi.LogSink
import cn.onevisit.ffi.clearLogSink
import cn.onevisit.ffi.setLogSink

/**
 * The core's diagnostics (sync attempts, retries, refusals, store migrations, bundle steps) in the
 * app's log. The Android app passes a writer to Logcat (`android.util.Log`), tests collect the
 * lines; the core logs ids and hashes only, never a party's name, a USCC or an inspector's name.
 */
object CoreLog {
    /** Sends the core's lines at [level] and above to [write]; replaces any earlier writer. */
    fun install(level: LogLevel = LogLevel.INFO, write: (LogLine) -> Unit) {
        setLogSink(
            object : LogSink {
                override fun log(line: LogLine) = write(line)
            },
            level,
        )
    }

    /** Stops forwarding the core's lines. */
    fun uninstall() = clearLogSink()
}
