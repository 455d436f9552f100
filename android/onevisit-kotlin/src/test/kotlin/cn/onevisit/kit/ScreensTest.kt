package cn.onevisit.kit

import cn.onevisit.ffi.Answer
import cn.onevisit.ffi.DocumentKind
import cn.onevisit.ffi.FindingInput
import cn.onevisit.ffi.GeoPosition
import cn.onevisit.ffi.PartyInput
import cn.onevisit.ffi.PhotoStage
import cn.onevisit.ffi.PhotoTarget
import cn.onevisit.ffi.TaskStatus
import cn.onevisit.kit.screens.DocumentsHolder
import cn.onevisit.kit.screens.EnrolmentHolder
import cn.onevisit.kit.screens.ExportHolder
import cn.onevisit.kit.screens.InspectionHolder
import cn.onevisit.kit.screens.SyncHolder
import cn.onevisit.kit.screens.TaskListHolder
import java.io.File
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.Job
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.cancel
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertSame
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test

/**
 * The apps' state holders over the real core and a real server: a whole visit as the screens see
 * it, with an offline period and a conflict.
 */
class ScreensTest {
    private val site = GeoPosition(30.6985, 121.0156, 5u)
    private val scope = CoroutineScope(SupervisorJob() + Dispatchers.Default)

    /** Waits for an action and checks that it left no message (it succeeded). */
    private fun ok(job: Job, message: () -> String?) {
        runBlocking { job.join() }
        assertNull(message(), "the action failed")
    }

    @Test
    fun `the screens carry a whole visit through an offline period and a conflict`() = runBlocking<Unit> {
        TestCity().use { city ->
            val code = city.planSampleTask()

            // Enrolment through the screen.
            val a = city.store("scjg", "scjg-01")
            val enrolment = EnrolmentHolder(a, scope)
            assertFalse(enrolment.state.value.enrolled)
            enrolment.edit(serverUrl = city.base, oneTimeCode = city.admin("enrolment", "scjg-01"), rootKey = city.root)
            assertTrue(enrolment.state.value.canEnrol)
            ok(enrolment.enrol()) { enrolment.state.value.message?.takeIf { !it.startsWith("登记成功") } }
            assertTrue(enrolment.state.value.enrolled)
            // The second device scans the console's enrolment QR code; another QR code is refused.
            val b = city.store("xfjy", "xfjy-01")
            val scanning = EnrolmentHolder(b, scope)
            runBlocking { scanning.enrolScanned(code).join() }
            assertEquals("这不是 OneVisit 设备登记二维码", scanning.state.value.message)
            val link = "ONEVISIT-ENROL:{\"server\":\"${city.base}\",\"code\":\"${city.admin("enrolment", "xfjy-01").trim()}\",\"root\":\"${city.root}\"}"
            ok(scanning.enrolScanned(link)) { scanning.state.value.message?.takeIf { !it.startsWith("登记成功") } }
            assertTrue(scanning.state.value.enrolled)

            // Sync status and the task list with its filters and task code.
            val syncA = SyncHolder(a, scope)
            val syncB = SyncHolder(b, scope)
            assertEquals("尚未同步", syncA.state.value.line)
            val first = syncA.syncNow()
            assertSame(first, syncA.syncNow(), "a second request while one runs joins it")
            runBlocking { first.join(); syncB.syncNow().join() }
            assertTrue(syncA.state.value.line.startsWith("已同步"), syncA.state.value.line)
            val list = TaskListHolder(a, scope)
            ok(list.filter(TaskStatus.PLANNED, null)) { list.state.value.message }
            assertEquals(listOf(code), list.state.value.tasks.map { it.code })
            ok(list.filter(TaskStatus.CLOSED, null)) { list.state.value.message }
            assertTrue(list.state.value.tasks.isEmpty())
            ok(list.showTaskCode(code)) { list.state.value.message }
            assertTrue(list.state.value.taskCode!!.qrPng.isNotEmpty())

            // The inspection screen on both devices.
            val screenA = InspectionHolder(a, code, scope)
            val screenB = InspectionHolder(b, code, scope)
            ok(screenA.refresh()) { screenA.state.value.message }
            assertEquals(TaskStatus.PLANNED, screenA.state.value.inspection!!.status)
            assertEquals(2, screenA.state.value.inspection!!.sections.size, "a section per department")
            val (_, total) = screenA.state.value.answered
            val points = screenA.state.value.inspection!!.sections.flatMap { it.checkPoints }.associateBy { it.id }
            assertEquals("pass_fail", points.getValue("SCJG-001-01").answerKind, "the screen knows which input to show")
            assertEquals("number" to "℃", points.getValue("SCJG-001-03").let { it.answerKind to it.unit })
            assertEquals("photo", points.getValue("XFJY-001-04").answerKind)
            assertFalse(screenA.state.value.checkedIn("scjg-01"))
            ok(screenA.checkIn(site)) { screenA.state.value.message }
            assertTrue(screenA.state.value.checkedIn("scjg-01"))
            assertEquals(TaskStatus.ON_SITE, screenA.state.value.inspection!!.status)
            ok(screenA.showIdentity()) { screenA.state.value.message }
            ok(screenA.recordParty(PartyInput("沈建国", "现场负责人", null, null))) { screenA.state.value.message }
            ok(screenA.answer("SCJG-001-01", Answer.Pass)) { screenA.state.value.message }

            // A wrong entry shows a message and keeps what was recorded.
            runBlocking { screenA.answer("SCJG-001-03", Answer.Text("冷")).join() }
            assertTrue(screenA.state.value.message!!.contains("SCJG-001-03"), screenA.state.value.message)
            assertEquals(1, screenA.state.value.answered.first)
            assertFalse(screenA.state.value.busy)

            // The network goes away: sync says offline, recording goes on and is kept.
            city.stopServer()
            runBlocking { syncA.syncNow().join() }
            assertTrue(syncA.state.value.offline)
            assertTrue(syncA.state.value.line.startsWith("离线"), syncA.state.value.line)
            ok(screenA.answer("SCJG-001-03", Answer.Number("4.5", "℃"), "冷藏柜")) { screenA.state.value.message }
            ok(screenA.answer("SCJG-001-04", Answer.Pass)) { screenA.state.value.message }
            ok(screenA.answer("SCJG-001-02", Answer.Pass, "健康证均有效")) { screenA.state.value.message }
            ok(screenB.refresh()) { screenB.state.value.message }
            ok(screenB.checkIn(site)) { screenB.state.value.message }
            ok(screenB.answer("XFJY-001-01", Answer.Fail, "2 具灭火器压力不足")) { screenB.state.value.message }
            ok(screenB.answer("XFJY-001-02", Answer.Pass)) { screenB.state.value.message }
            ok(screenB.answer("XFJY-001-03", Answer.Number("0.8", "MPa"))) { screenB.state.value.message }
            val photo = city.jpeg("extinguisher.jpg")
            ok(screenB.attachPhoto(photo, PhotoTarget.CheckPoint("XFJY-001-04"), site, answersCheckPoint = true)) {
                screenB.state.value.message
            }
            assertEquals(PhotoStage.ATTACHED, screenB.state.value.photoStage)
            assertEquals(1, screenB.state.value.photosOf("check_point:XFJY-001-04").size)
            // Meanwhile B also notes who represents the party — differently (a conflict).
            ok(screenB.recordParty(PartyInput("沈建国", "法定代表人", null, null))) { screenB.state.value.message }
            ok(screenB.addFinding(FindingInput("xfjy", "XFJY-001-01", "灭火器压力不足", "《中华人民共和国消防法》第十六条", true, "2026-12-31"))) {
                screenB.state.value.message
            }

            // Back online: both sync, the screens show the merged record and the conflict.
            city.restartServer()
            for (s in listOf(syncA, syncB, syncA)) runBlocking { s.syncNow().join() }
            assertFalse(syncA.state.value.offline)
            assertNull(syncB.state.value.message)
            ok(screenA.refresh()) { screenA.state.value.message }
            ok(screenB.refresh()) { screenB.state.value.message }
            assertEquals(screenA.state.value.inspection, screenB.state.value.inspection)
            assertEquals(total, screenA.state.value.answered.first, "every check point answered across both devices")
            val conflict = screenA.state.value.conflicts.single()
            assertEquals("party", conflict.field)
            assertEquals(setOf("沈建国（现场负责人）", "沈建国（法定代表人）"), conflict.values.map { it.display }.toSet())

            // Recording cannot complete with the conflict open; the lead resolves it, then it can.
            runBlocking { screenA.markRecorded().join() }
            assertTrue(screenA.state.value.message!!.contains("冲突"), screenA.state.value.message)
            ok(screenA.resolve(conflict.field, conflict.values.indexOfFirst { it.by == "xfjy-01" })) { screenA.state.value.message }
            assertTrue(screenA.state.value.conflicts.isEmpty())
            ok(screenA.markRecorded()) { screenA.state.value.message }
            assertEquals(TaskStatus.RECORDED, screenA.state.value.inspection!!.status)

            // Documents: preview, each inspector signs on their own device, the party on the pad.
            for (s in listOf(syncA, syncB)) runBlocking { s.syncNow().join() }
            val docsA = DocumentsHolder(a, code, scope)
            val docsB = DocumentsHolder(b, code, scope)
            ok(docsA.render(DocumentKind.ON_SITE_RECORD)) { docsA.state.value.message }
            assertTrue(docsA.state.value.preview!!.text.contains("不符合"))
            ok(docsA.sign()) { docsA.state.value.message }
            for (s in listOf(syncA, syncB)) runBlocking { s.syncNow().join() }
            ok(docsB.render(DocumentKind.ON_SITE_RECORD)) { docsB.state.value.message }
            assertEquals(docsA.state.value.preview!!.sha256, docsB.state.value.preview!!.sha256, "the same version on both")
            ok(docsB.sign()) { docsB.state.value.message }
            runBlocking { syncB.syncNow().join() }
            city.signAs(listOf("scjg-02", "xfjy-02"), code, docsA.state.value.preview!!.sha256)
            runBlocking { syncA.syncNow().join() }
            ok(docsA.partySigns("沈建国", "现场负责人", city.signaturePng())) { docsA.state.value.message }
            assertTrue(docsA.state.value.previewStatus!!.signed, "${docsA.state.value.previewStatus!!.missing}")
            // The printout: a PDF with its pages and the font embedded.
            val pdf = File(city.dir, "record.pdf")
            ok(docsA.savePdf(pdf)) { docsA.state.value.message }
            val printed = pdf.readBytes()
            assertEquals("%PDF-", String(printed.copyOfRange(0, 5), Charsets.US_ASCII))
            val raw = String(printed, Charsets.ISO_8859_1)
            assertTrue(raw.contains("/FontFile2") && raw.contains("/Subtype /Image"), "font and handwriting embedded")

            // Export and check the bundle.
            runBlocking { syncA.syncNow(fetchPhotos = true).join() }
            assertEquals(1uL, syncA.state.value.last!!.photosFetched)
            val export = ExportHolder(a, scope)
            ok(export.export(listOf(code), city.dir)) { export.state.value.message }
            val bundle = File(export.state.value.result!!.path)
            assertTrue(bundle.name.endsWith(".zip") && bundle.exists())
            ok(export.verify(bundle, city.root)) { export.state.value.message }
            assertTrue(export.state.value.verification!!.valid)
            assertNotNull(export.state.value.progress)

            // The party's address for service, confirmed on the document screen: its own document,
            // numbered in the lead agency's series, which only the party's signature completes.
            ok(docsA.confirmServiceAddress("浙江省平湖市乍浦镇雅山西路9号", "沈建国", "13800000000", "shen@example.cn")) {
                docsA.state.value.message
            }
            val confirmation = docsA.state.value.preview!!
            assertEquals(DocumentKind.ADDRESS_CONFIRMATION, confirmation.kind)
            assertTrue(confirmation.number.contains("送确"), confirmation.number)
            assertTrue(confirmation.text.contains("电子送达：同意，接收方式 shen@example.cn"), confirmation.text)
            docsA.partyRefuses("不愿确认", "李娜").join()
            assertTrue(docsA.state.value.message!!.contains("拒签不能代替"), "${docsA.state.value.message}")
            a.close()
            b.close()
        }
        scope.cancel()
    }
}
