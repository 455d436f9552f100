package cn.onevisit.kit.screens

import cn.onevisit.ffi.DeviceStore
import cn.onevisit.ffi.SyncException
import cn.onevisit.ffi.SyncProgress
import cn.onevisit.ffi.SyncSummary
import cn.onevisit.kit.SyncEvent
import cn.onevisit.kit.syncFlow
import cn.onevisit.kit.userMessage
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.Job
import kotlinx.coroutines.flow.flowOn
import kotlinx.coroutines.launch

/** The sync status bar: idle, running with progress, the last result, or why it failed. */
data class SyncState(
    val running: Boolean = false,
    val progress: SyncProgress? = null,
    val last: SyncSummary? = null,
    val lastSyncedAtMs: Long? = null,
    /** The last attempt could not reach the server: work goes on offline and is kept. */
    val offline: Boolean = false,
    val message: String? = null,
) {
    /**
     * What the last sync left out, each explained in zh-CN: records refused by the server or
     * isolated here, and the audit log when the server refused it (records and photos still sync).
     */
    val problems: List<String>
        get() = last?.let { s ->
            (s.refused + s.isolated).map { "${it.task}：${it.explanation}" } +
                listOfNotNull(s.auditRefused?.let { "审计日志被服务器拒绝（请联系管理员，必要时开始新的链段）：$it" })
        } ?: emptyList()

    /** Photo originals the capturing devices have not uploaded yet (fetched by a later sync). */
    val photosPending: Long
        get() = last?.photosPending?.toLong() ?: 0L

    /** A one-line zh-CN summary for the status bar. */
    val line: String
        get() = when {
            running -> progress?.let { p ->
                when {
                    p.waitingForOtherSync -> "等待本机另一个同步完成…"
                    else -> "同步中：上传 ${p.recordsPushed}/${p.recordsToPush}，接收 ${p.recordsPulled}" +
                        (p.retryReason?.let { "（$it，已重试 ${p.retries} 次）" } ?: "")
                }
            } ?: "同步中…"
            offline -> "离线：记录保存在本机，联网后自动同步"
            message != null -> message
            lastSyncedAtMs != null && !problems.isEmpty() ->
                "已同步 ${Format.time(lastSyncedAtMs)}，${problems.size} 项未同步：${problems.first()}"
            lastSyncedAtMs != null -> "已同步 ${Format.time(lastSyncedAtMs)}"
            else -> "尚未同步"
        }
}

/** Holds the sync status; the app calls [syncNow] from the button and from its periodic worker. */
class SyncHolder(
    private val store: DeviceStore,
    private val scope: CoroutineScope,
    private val io: CoroutineDispatcher = Dispatchers.IO,
    private val clock: () -> Long = System::currentTimeMillis,
) {
    private val mutable = kotlinx.coroutines.flow.MutableStateFlow(SyncState())

    /** What the status bar shows. */
    val state: kotlinx.coroutines.flow.StateFlow<SyncState> = mutable

    private var current: Job? = null

    /** Starts a sync unless one runs (then returns that one); the button and the background worker may race. */
    @Synchronized
    fun syncNow(fetchPhotos: Boolean = false): Job {
        current?.takeIf { it.isActive }?.let { return it }
        return scope.launch {
            mutable.value = mutable.value.copy(running = true, progress = null, message = null)
            try {
                store.syncFlow(fetchPhotos).flowOn(io).collect { event ->
                    when (event) {
                        is SyncEvent.Running -> mutable.value = mutable.value.copy(progress = event.progress)
                        is SyncEvent.Finished -> mutable.value = mutable.value.copy(
                            last = event.summary,
                            lastSyncedAtMs = clock(),
                            offline = false,
                        )
                    }
                }
            } catch (e: CancellationException) {
                throw e
            } catch (e: Exception) {
                mutable.value = mutable.value.copy(offline = e is SyncException.Offline, message = e.userMessage())
            } finally {
                mutable.value = mutable.value.copy(running = false)
            }
        }.also { current = it }
    }

    /** Stops a running sync (what it did is kept; the next one resumes). */
    @Synchronized
    fun cancel() {
        current?.cancel()
    }
}
