package cn.onevisit.kit

import cn.onevisit.ffi.Cancellation
import cn.onevisit.ffi.Progress
import cn.onevisit.ffi.ProgressListener
import kotlinx.coroutines.CancellationException

/**
 * Runs a long core call so that cancelling the calling coroutine also stops the work in the core
 * (at its next safe point; what was done is kept).
 */
suspend fun <T> cancellable(block: suspend (Cancellation) -> T): T {
    val cancellation = Cancellation()
    try {
        return block(cancellation)
    } catch (e: CancellationException) {
        cancellation.cancel()
        throw e
    } finally {
        cancellation.close()
    }
}

/** A progress listener from a lambda (called on the core's worker thread). */
fun progressListener(onProgress: (Progress) -> Unit): ProgressListener =
    object : ProgressListener {
        override fun onProgress(progress: Progress) = onProgress(progress)
    }
