package cn.onevisit.app

import android.app.Application
import android.util.Log
import androidx.work.Constraints
import androidx.work.ExistingPeriodicWorkPolicy
import androidx.work.NetworkType
import androidx.work.PeriodicWorkRequestBuilder
import androidx.work.WorkManager
import cn.onevisit.ffi.DeviceStore
import cn.onevisit.ffi.KeyProtection
import cn.onevisit.ffi.LogLevel
import cn.onevisit.ffi.StoreException
import cn.onevisit.kit.CoreLog
import cn.onevisit.kit.screens.SyncHolder
import java.io.File
import java.util.concurrent.TimeUnit
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob

/** The app process: the device store (key sealed by the Android Keystore) and the sync status. */
class OneVisitApplication : Application() {
    /** Lives as long as the process: syncs outlive screens. */
    val appScope = CoroutineScope(SupervisorJob() + Dispatchers.Default)

    /** The device store, once this device has an inspector. */
    var store: DeviceStore? = null
        private set

    /** The sync status the whole app shows. */
    var sync: SyncHolder? = null
        private set

    private val storeDir get() = File(filesDir, "store")
    private val key get() = KeyProtection.Platform(KeystoreKeyProtector())

    /** The activity on screen, where the signer's presence is asked. */
    @Volatile
    var foreground: java.lang.ref.WeakReference<androidx.fragment.app.FragmentActivity>? = null

    /** Asked before every signature: biometrics or the device credential, bound to a Keystore key. */
    private val presence = BiometricPresence({ foreground?.get() })

    override fun onCreate() {
        super.onCreate()
        // The core's diagnostics in Logcat, tagged by area (onevisit::sync, onevisit::store, ...).
        CoreLog.install(if (BuildConfig.DEBUG) LogLevel.DEBUG else LogLevel.INFO) { line ->
            val tag = line.target.take(23)
            when (line.level) {
                LogLevel.ERROR -> Log.e(tag, line.message)
                LogLevel.WARN -> Log.w(tag, line.message)
                LogLevel.INFO -> Log.i(tag, line.message)
                LogLevel.DEBUG -> Log.d(tag, line.message)
                LogLevel.TRACE -> Log.v(tag, line.message)
            }
        }
        store = try {
            DeviceStore.open(storeDir.path, key, null)
        } catch (e: StoreException.NotInitialised) {
            null
        }
        store?.let {
            it.setPresenceVerifier(presence)
            sync = SyncHolder(it, appScope)
        }
        schedulePeriodicSync()
    }

    /** Creates the store for [inspector] on first use (the device key is made and sealed now). */
    fun createStore(inspector: String): DeviceStore {
        store?.let { return it }
        val created = DeviceStore.open(storeDir.path, key, inspector)
        created.setPresenceVerifier(presence)
        store = created
        sync = SyncHolder(created, appScope)
        return created
    }

    /** Syncs every 15 minutes while a network is present (WorkManager keeps it across restarts). */
    private fun schedulePeriodicSync() {
        val request = PeriodicWorkRequestBuilder<SyncWorker>(15, TimeUnit.MINUTES)
            .setConstraints(Constraints.Builder().setRequiredNetworkType(NetworkType.CONNECTED).build())
            .build()
        WorkManager.getInstance(this).enqueueUniquePeriodicWork("onevisit-sync", ExistingPeriodicWorkPolicy.KEEP, request)
    }
}
