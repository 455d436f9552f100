package cn.onevisit.kit

import cn.onevisit.ffi.DeviceStore
import cn.onevisit.ffi.Enrolment
import cn.onevisit.ffi.Progress
import cn.onevisit.ffi.SyncProgress
import cn.onevisit.ffi.SyncSummary
import kotlinx.coroutines.channels.awaitClose
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.callbackFlow
import kotlinx.coroutines.launch

/** What a sync reports while it runs, then once when it is done. */
sealed interface SyncEvent {
    /** The sync is running: where it stands. */
    data class Running(val progress: SyncProgress) : SyncEvent

    /** The sync finished. */
    data class Finished(val summary: SyncSummary) : SyncEvent
}

/** Enrols the device with a one-time code (the root key is given out of band). */
suspend fun DeviceStore.enrolWith(serverUrl: String, oneTimeCode: String, rootPublicKeyHex: String): Enrolment =
    enrol(serverUrl, oneTimeCode, rootPublicKeyHex)

/** Syncs once; cancelling the coroutine stops the sync in the core. */
suspend fun DeviceStore.syncNow(
    fetchPhotos: Boolean = false,
    onProgress: (SyncProgress) -> Unit = {},
): SyncSummary = cancellable { cancellation ->
    val listener = progressListener { p -> if (p is Progress.Sync) onProgress(p.progress) }
    sync(fetchPhotos, listener, cancellation)
}

/**
 * A sync as a cold [Flow]: each collection runs one sync, emitting its progress and then its
 * summary; a failure ends the flow with the typed [cn.onevisit.ffi.SyncException]; cancelling the
 * collector cancels the sync.
 */
fun DeviceStore.syncFlow(fetchPhotos: Boolean = false): Flow<SyncEvent> = callbackFlow {
    val job = launch {
        val summary = syncNow(fetchPhotos) { progress -> trySend(SyncEvent.Running(progress)) }
        send(SyncEvent.Finished(summary))
        close()
    }
    job.invokeOnCompletion { cause -> if (cause != null) close(cause) }
    awaitClose { job.cancel() }
}
