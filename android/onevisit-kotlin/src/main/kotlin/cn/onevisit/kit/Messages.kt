package cn.onevisit.kit

import cn.onevisit.ffi.BundleException
import cn.onevisit.ffi.KeyProtectorException
import cn.onevisit.ffi.PhotoException
import cn.onevisit.ffi.RecordException
import cn.onevisit.ffi.StoreException
import cn.onevisit.ffi.SyncException
import cn.onevisit.ffi.TaskCodeException

/**
 * What to tell the inspector (zh-CN) for any failure of a core call. The core's errors carry their
 * own zh-CN message (their Rust `Display`, exported as `toString()`), so the text is written once,
 * in the core, for Android and iOS alike.
 */
fun Throwable.userMessage(): String = when (this) {
    is StoreException, is RecordException, is PhotoException, is SyncException,
    is BundleException, is TaskCodeException, is KeyProtectorException -> toString()
    else -> "操作失败：${message ?: javaClass.simpleName}"
}
