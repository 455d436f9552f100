package cn.onevisit.app

import android.content.Context
import androidx.work.CoroutineWorker
import androidx.work.WorkerParameters

/**
 * Periodic background sync (WorkManager runs it only with a network present), through the same
 * sync holder the status bar shows.
 */
class SyncWorker(context: Context, params: WorkerParameters) : CoroutineWorker(context, params) {
    override suspend fun doWork(): Result {
        val app = applicationContext as OneVisitApplication
        val store = app.store ?: return Result.success() // not set up yet
        val sync = app.sync ?: return Result.success()
        if (store.deviceInfo().serverUrl == null) return Result.success() // not enrolled yet
        sync.syncNow().join()
        val state = sync.state.value
        return when {
            state.offline -> Result.retry()
            state.message != null -> Result.failure() // revoked, refused: the sync bar tells the inspector
            else -> Result.success()
        }
    }
}
