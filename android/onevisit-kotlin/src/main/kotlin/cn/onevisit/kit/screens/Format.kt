package cn.onevisit.kit.screens

import cn.onevisit.ffi.TaskStatus
import cn.onevisit.ffi.beijingTime
import cn.onevisit.ffi.byteSize
import cn.onevisit.ffi.statusLabel

/** Formatting for display, from the core: Beijing time and zh-CN labels, the same on iOS. */
object Format {
    /** A device time (ms since the epoch) as Beijing time, to the minute. */
    fun time(ms: Long): String = beijingTime(ms)

    /** The zh-CN label of a status. */
    fun status(status: TaskStatus): String = statusLabel(status)

    /** Bytes for a progress line. */
    fun bytes(n: ULong): String = byteSize(n)
}
