package cn.onevisit.kit

import cn.onevisit.ffi.Answer
import cn.onevisit.ffi.FindingInput
import cn.onevisit.ffi.GeoPosition
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test

/**
 * One store, two writers in one process, as on a phone: the background worker syncs through its
 * own handle on a worker thread while the screen records through another. Nothing the screen
 * recorded is lost or left unpushed, and the audit chain never forks.
 */
class ConcurrentWritersTest {
    private val site = GeoPosition(30.6985, 121.0156, 5u)

    @Test
    fun `edits recorded while a background sync runs are all pushed and the audit chain stays whole`() = runBlocking<Unit> {
        TestCity().use { city ->
            val code = city.planSampleTask()
            val screen = city.device("scjg", "scjg-01")
            screen.syncNow()
            screen.checkIn(code, site)
            // The worker's own handle on the same store, as a WorkManager job would open it.
            val worker = city.store("scjg", "scjg-01")
            val rounds = 8
            for (round in 1..rounds) {
                val sync = async(Dispatchers.IO) { worker.syncNow() }
                Thread.sleep((round * 37L) % 120)
                screen.addFinding(
                    code,
                    FindingInput("scjg", null, "第 $round 处问题", "《食品安全法》第五十四条", false, null),
                )
                screen.answer(code, "SCJG-001-03", Answer.Number("${round}.5", "℃"), "第 $round 次测量", emptyList())
                val summary = sync.await()
                assertNull(summary.auditRefused, "round $round: the server refused the audit log")
            }
            // The next sync pushes whatever the last concurrent one could not see.
            screen.syncNow()
            val other = city.device("xfjy", "xfjy-01")
            other.syncNow()
            val seen = other.inspection(code)
            assertEquals((1..rounds).map { "第 $it 处问题" }.toSet(), seen.findings.map { it.problem }.toSet())
            val answered = seen.sections.flatMap { it.checkPoints }.first { it.id == "SCJG-001-03" }
            assertTrue(answered.answer?.contains("$rounds.5") == true, "the last answer arrived: ${answered.answer}")
            for (handle in listOf(screen, worker)) {
                val audit = handle.verifyAudit()
                assertTrue(audit.intact, "audit problems: ${audit.problems}")
                assertEquals(audit.headSeq, audit.confirmedThrough, "every entry confirmed by the server")
                assertNull(audit.serverRefusal)
            }
            worker.close()
            screen.close()
            other.close()
        }
    }
}
