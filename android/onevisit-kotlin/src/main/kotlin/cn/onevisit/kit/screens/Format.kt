package cn.onevisit.kit.screens

import cn.onevisit.ffi.TaskStatus
import java.time.Instant
import java.time.ZoneOffset
import java.time.format.DateTimeFormatter

/** Formatting for display, in the conventions of the documents (Beijing time, zh-CN labels). */
object Format {
    private val beijing = ZoneOffset.ofHours(8)
    private val minute = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm").withZone(beijing)

    /** A device time (ms since the epoch) as Beijing time, to the minute. */
    fun time(ms: Long): String = minute.format(Instant.ofEpochMilli(ms))

    /** The zh-CN label of a status. */
    fun status(status: TaskStatus): String = when (status) {
        TaskStatus.PLANNED -> "待检查"
        TaskStatus.ON_SITE -> "检查中"
        TaskStatus.RECORDED -> "已记录"
        TaskStatus.CLOSED -> "已办结"
        TaskStatus.CANCELLED -> "已取消"
    }

    /** Bytes for a progress line. */
    fun bytes(n: ULong): String = when {
        n >= 1_048_576uL -> "%.1f MB".format(n.toDouble() / 1_048_576.0)
        n >= 1024uL -> "%.0f KB".format(n.toDouble() / 1024.0)
        else -> "$n B"
    }
}
