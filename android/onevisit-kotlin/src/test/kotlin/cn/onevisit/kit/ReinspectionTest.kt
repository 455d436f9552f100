package cn.onevisit.kit

import cn.onevisit.ffi.Answer
import cn.onevisit.ffi.DocumentKind
import cn.onevisit.ffi.FindingInput
import cn.onevisit.ffi.GeoPosition
import cn.onevisit.ffi.PartyInput
import cn.onevisit.ffi.PhotoTarget
import cn.onevisit.ffi.RecheckChoice
import cn.onevisit.ffi.TaskStatus
import cn.onevisit.kit.screens.DocumentsHolder
import cn.onevisit.kit.screens.InspectionHolder
import cn.onevisit.kit.screens.SyncHolder
import cn.onevisit.kit.screens.TaskListHolder
import java.time.LocalDate
import java.time.ZoneId
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.Job
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.cancel
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test

/**
 * The closed loop on the devices' screens over the real core and a real server: a fire finding
 * under a signed order to rectify; when its deadline has passed (the day given to the server) the
 * fire inspector's task list shows the re-inspection (复查), whose screen lists the finding; the
 * result is refused without a photo, with a deadline not after today, or a second time; recorded
 * with a photo, the server closes the loop on the inspected task, which the lead may then close.
 */
class ReinspectionTest {
    private val site = GeoPosition(30.6985, 121.0156, 5u)
    private val scope = CoroutineScope(SupervisorJob() + Dispatchers.Default)

    private fun ok(job: Job, message: () -> String?) {
        runBlocking { job.join() }
        assertNull(message(), "the action failed")
    }

    private fun refused(job: Job, message: () -> String?): String {
        runBlocking { job.join() }
        return message() ?: error("the action was expected to be refused")
    }

    @Test
    fun `a re-inspection shows its findings and records each result once with a photo`() = runBlocking<Unit> {
        TestCity().use { city ->
            val today = LocalDate.now(ZoneId.of("Asia/Shanghai"))
            val deadline = today.plusDays(5)
            val code = city.planSampleTask()
            val a = city.device("scjg", "scjg-01")
            val b = city.device("xfjy", "xfjy-01")
            val syncA = SyncHolder(a, scope)
            val syncB = SyncHolder(b, scope)
            fun sync(vararg order: SyncHolder) = order.forEach { s -> runBlocking { s.syncNow().join() } }
            sync(syncA, syncB)

            // The joint inspection, recorded on both devices, with a fire finding.
            val screenA = InspectionHolder(a, code, scope)
            val screenB = InspectionHolder(b, code, scope)
            ok(screenA.refresh()) { screenA.state.value.message }
            assertFalse(screenA.state.value.isReinspection)
            ok(screenA.checkIn(site)) { screenA.state.value.message }
            ok(screenA.showIdentity()) { screenA.state.value.message }
            ok(screenA.recordParty(PartyInput("沈建国", "现场负责人", null, null))) { screenA.state.value.message }
            for (p in listOf("SCJG-001-01", "SCJG-001-02", "SCJG-001-04")) ok(screenA.answer(p, Answer.Pass)) { screenA.state.value.message }
            ok(screenA.answer("SCJG-001-03", Answer.Number("4", "℃"))) { screenA.state.value.message }
            ok(screenB.refresh()) { screenB.state.value.message }
            ok(screenB.checkIn(site)) { screenB.state.value.message }
            for (p in listOf("XFJY-001-01", "XFJY-001-02")) ok(screenB.answer(p, Answer.Pass)) { screenB.state.value.message }
            ok(screenB.answer("XFJY-001-03", Answer.Number("0.8", "MPa"))) { screenB.state.value.message }
            ok(screenB.attachPhoto(city.jpeg("extinguisher.jpg"), PhotoTarget.CheckPoint("XFJY-001-04"), site, answersCheckPoint = true)) {
                screenB.state.value.message
            }
            val problem = "疏散通道堆放杂物"
            ok(screenB.addFinding(FindingInput("xfjy", null, problem, "《中华人民共和国消防法》第二十八条", true, deadline.toString()))) {
                screenB.state.value.message
            }
            assertEquals(listOf(problem), screenB.state.value.rechecks.map { it.problem }, "the finding enters the loop")
            assertNull(screenB.state.value.rechecks.single().outcome)
            sync(syncB, syncA)
            ok(screenA.markRecorded()) { screenA.state.value.message }
            sync(syncA, syncB)

            // The fire order to rectify, signed by the fire brigade's two officers and the party.
            val orderB = DocumentsHolder(b, code, scope)
            val orderA = DocumentsHolder(a, code, scope)
            ok(orderB.render(DocumentKind.RECTIFICATION_ORDER, "xfjy")) { orderB.state.value.message }
            ok(orderB.sign()) { orderB.state.value.message }
            sync(syncB, syncA)
            ok(orderA.render(DocumentKind.RECTIFICATION_ORDER, "xfjy")) { orderA.state.value.message }
            assertEquals(orderB.state.value.preview!!.sha256, orderA.state.value.preview!!.sha256)
            // Only the fire brigade's officers sign its order: the lead may not.
            runBlocking { orderA.sign().join() }
            assertTrue(orderA.state.value.message?.contains("不是这份文书列明的执法人员") == true, "${orderA.state.value.message}")
            city.signAs(listOf("xfjy-02"), code, orderA.state.value.preview!!.sha256)
            sync(syncA)
            ok(orderA.partySigns("沈建国", "现场负责人", city.signaturePng())) { orderA.state.value.message }
            assertTrue(orderA.state.value.previewStatus!!.signed)
            sync(syncA, syncB)
            // The inspected task cannot close while the finding is open.
            val open = refused(screenA.close()) { screenA.state.value.message }
            assertTrue(open.contains("尚未闭环"), open)

            // The deadline passed: the server plans the re-inspection, the fire inspector receives it.
            val plan = city.admin("followup", "plan", "--today", deadline.plusDays(1).toString())
            assertTrue(plan.contains("安排复查任务 1 个"), plan)
            sync(syncB)
            val list = TaskListHolder(b, scope)
            ok(list.refresh()) { list.state.value.message }
            val row = list.state.value.tasks.single { it.source == "re_inspection" }
            assertEquals("复查", row.sourceLabel)
            val recheck = InspectionHolder(b, row.code, scope)
            ok(recheck.refresh()) { recheck.state.value.message }
            assertTrue(recheck.state.value.isReinspection)
            assertEquals(code, recheck.state.value.inspection!!.reinspectionOf)
            val item = recheck.state.value.rechecksOpen.single()
            assertEquals(problem to deadline.toString(), item.problem to item.deadline)

            // Not on site yet, no photo, a deadline not after today: each refused with its reason.
            val notOnSite = refused(recheck.recheck(item.finding, RecheckChoice.Rectified, null, listOf("0".repeat(64)))) {
                recheck.state.value.message
            }
            assertTrue(notOnSite.isNotBlank())
            ok(recheck.checkIn(site)) { recheck.state.value.message }
            val noPhoto = refused(recheck.recheck(item.finding, RecheckChoice.Rectified, null, emptyList())) { recheck.state.value.message }
            assertTrue(noPhoto.contains("照片"), noPhoto)
            val sameDay = RecheckChoice.NewDeadline(today.toString())
            val tooSoon = refused(recheck.recheckWithPhoto(item.finding, sameDay, null, city.jpeg("aisle-1.jpg"), site)) {
                recheck.state.value.message
            }
            assertTrue(tooSoon.contains("须晚于复查当日"), tooSoon)
            assertEquals(1, recheck.state.value.rechecksOpen.size, "nothing recorded by a refused result")

            // Rectified, with the photo just taken (the one of the refused attempt stays attached).
            ok(recheck.recheckWithPhoto(item.finding, RecheckChoice.Rectified, "通道已清空", city.jpeg("aisle-2.jpg", 1200, 900), site)) {
                recheck.state.value.message
            }
            val done = recheck.state.value.rechecks.single()
            assertEquals(RecheckChoice.Rectified, done.outcome)
            assertEquals("已整改", done.outcomeLabel)
            assertEquals("xfjy-01" to "通道已清空", done.by to done.note)
            assertEquals(2, recheck.state.value.sitePhotos.size)
            assertTrue(recheck.state.value.rechecksOpen.isEmpty())
            val again = refused(recheck.recheck(item.finding, RecheckChoice.Rectified, null, done.evidence)) { recheck.state.value.message }
            assertTrue(again.contains("已经记录"), again)
            sync(syncB)

            // The server closes the loop on the inspected task; the lead may now close it.
            val settle = city.admin("followup", "plan", "--today", deadline.plusDays(2).toString())
            assertTrue(settle.contains("闭环问题 1 个"), settle)
            sync(syncA)
            ok(screenA.refresh()) { screenA.state.value.message }
            assertEquals(RecheckChoice.Rectified, screenA.state.value.rechecks.single().outcome)
            ok(screenA.close()) { screenA.state.value.message }
            assertEquals(TaskStatus.CLOSED, screenA.state.value.inspection!!.status)
            a.close()
            b.close()
        }
        scope.cancel()
    }
}
