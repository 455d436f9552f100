package cn.onevisit.kit

import cn.onevisit.ffi.LogLevel
import cn.onevisit.ffi.LogLine
import cn.onevisit.ffi.StoreException
import cn.onevisit.ffi.SyncException
import java.util.Collections
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test

/** The core's diagnostics and zh-CN text reach Kotlin from Rust, not written again here. */
class CoreLogTest {
    @Test
    fun `core log lines of a store migration and a sync reach the Kotlin callback without a USCC`() = runBlocking {
        val lines = Collections.synchronizedList(mutableListOf<LogLine>())
        CoreLog.install(LogLevel.DEBUG) { lines.add(it) }
        try {
            TestCity().use { city ->
                city.planSampleTask()
                val store = city.device("scjg", "scjg-01")
                store.syncNow()
                store.close()
            }
        } finally {
            CoreLog.uninstall()
        }
        val seen = synchronized(lines) { lines.toList() }
        assertTrue(seen.any { it.target == "onevisit::store" && it.message.startsWith("store migrated") }, "$seen")
        val finished = seen.filter { it.target == "onevisit::sync" && it.message.startsWith("sync finished") }
        assertTrue(finished.isNotEmpty() && finished.all { it.level == LogLevel.INFO }, "$seen")
        assertTrue(finished.last().message.contains(" pulled="), finished.last().message)
        val uscc = Regex("[0-9A-HJ-NPQRTUWXY]{2}\\d{6}[0-9A-HJ-NPQRTUWXY]{10}")
        assertTrue(seen.none { uscc.containsMatchIn(it.message) }, "a USCC in the logs")
    }

    @Test
    fun `error messages and labels come from the core in Chinese`() {
        assertEquals("本机尚未登记，请输入一次性登记码", SyncException.NotEnrolled().userMessage())
        assertEquals("本设备已被注销：设备遗失", SyncException.Revoked("设备遗失").userMessage())
        assertEquals("本机尚未初始化执法终端", StoreException.NotInitialised("/x").toString())
        assertEquals("检查中", cn.onevisit.kit.screens.Format.status(cn.onevisit.ffi.TaskStatus.ON_SITE))
        assertEquals("2025-12-01 08:00", cn.onevisit.kit.screens.Format.time(1_764_547_200_000))
    }
}
