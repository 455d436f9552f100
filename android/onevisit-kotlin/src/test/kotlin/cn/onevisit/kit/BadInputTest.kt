package cn.onevisit.kit

import cn.onevisit.ffi.Answer
import cn.onevisit.ffi.BundleException
import cn.onevisit.ffi.ExportRequest
import cn.onevisit.ffi.Cancellation
import cn.onevisit.ffi.DeviceStore
import cn.onevisit.ffi.GeoPosition
import cn.onevisit.ffi.KeyProtection
import cn.onevisit.ffi.PhotoException
import cn.onevisit.ffi.PhotoTarget
import cn.onevisit.ffi.RecordException
import cn.onevisit.ffi.StoreException
import cn.onevisit.ffi.SyncException
import cn.onevisit.ffi.TaskCodeException
import cn.onevisit.ffi.TaskQuery
import cn.onevisit.ffi.checkTaskCode
import cn.onevisit.ffi.verifyTaskCode
import java.io.File
import kotlinx.coroutines.flow.toList
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.BeforeAll
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance
import org.junit.jupiter.api.assertThrows

/** Bad input through the bindings arrives as the right Kotlin exception type and loses nothing. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class BadInputTest {
    private lateinit var city: TestCity
    private lateinit var code: String
    private lateinit var store: DeviceStore
    private val site = GeoPosition(30.6985, 121.0156, 5u)

    @BeforeAll
    fun start() = runBlocking {
        city = TestCity()
        code = city.planSampleTask()
        store = city.device("scjg", "scjg-01")
        store.syncNow()
        store.checkIn(code, site)
    }

    @AfterAll
    fun stop() {
        store.close()
        city.close()
    }

    @Test
    fun `a number given to a pass-fail check point is a WrongAnswerType naming the check point`() {
        val e = assertThrows<RecordException.WrongAnswerType> {
            store.answer(code, "SCJG-001-01", Answer.Number("4.5", "℃"), null, emptyList())
        }
        assertEquals("SCJG-001-01", e.checkPoint)
        assertEquals("pass_fail", e.expected)
        assertTrue(e.userMessage().contains("符合"))
        assertEquals(null, store.inspection(code).sections.flatMap { it.checkPoints }.first { it.id == "SCJG-001-01" }.answer)
    }

    @Test
    fun `a check point outside the task and an unknown task are told apart`() {
        assertThrows<RecordException.UnknownCheckPoint> { store.answer(code, "HBJ-001-01", Answer.Pass, null, emptyList()) }
        assertThrows<RecordException.UnknownTask> { store.inspection(code.dropLast(8) + "AAAAAAAA") }
            .also { assertTrue(it.code.isNotEmpty()) }
    }

    @Test
    fun `a file that is not an image is refused as NotAnImage and nothing is attached`() = runBlocking<Unit> {
        val fake = File(city.dir, "fake.jpg").apply { writeText("这不是照片") }
        assertThrows<PhotoException.NotAnImage> {
            runBlocking { store.attachPhoto(code, fake, PhotoTarget.CheckPoint("SCJG-001-04")) }
        }
        assertThrows<PhotoException.Unreadable> {
            runBlocking { store.attachPhoto(code, File(city.dir, "missing.jpg"), PhotoTarget.Inspection) }
        }
        assertEquals(0, store.photos(code).size)
    }

    @Test
    fun `a photo for a check point of no task is refused by the record with a typed reason`() {
        val e = assertThrows<PhotoException.Refused> {
            runBlocking { store.attachPhoto(code, city.jpeg("x.jpg", 640, 480), PhotoTarget.CheckPoint("HBJ-001-01")) }
        }
        assertTrue(e.reason is RecordException.InvalidInput || e.reason is RecordException.UnknownCheckPoint, "${e.reason}")
    }

    @Test
    fun `a cancelled photo ingest stores nothing`() = runBlocking<Unit> {
        val cancellation = Cancellation().apply { cancel() }
        assertThrows<PhotoException.Cancelled> {
            runBlocking { store.addPhoto(code, city.jpeg("y.jpg", 640, 480).path, PhotoTarget.Inspection, null, null, cancellation) }
        }
        assertEquals(0, store.photos(code).size)
    }

    @Test
    fun `a cancelled sync stops as Cancelled and the next sync completes`() = runBlocking<Unit> {
        val cancelled = Cancellation().apply { cancel() }
        assertThrows<SyncException.Cancelled> { runBlocking { store.sync(false, null, cancelled) } }
        assertTrue(store.syncNow().progress.requests > 0uL)
    }

    @Test
    fun `a cancelled export leaves nothing behind and a second export succeeds`() = runBlocking<Unit> {
        val dest = File(city.dir, "cancelled-bundle")
        val cancelled = Cancellation().apply { cancel() }
        assertThrows<BundleException.Cancelled> {
            runBlocking { store.exportBundle(ExportRequest(listOf(code), dest.path, null, false), null, cancelled) }
        }
        assertTrue(!dest.exists(), "a cancelled export removed its partial bundle")
        val done = store.exportEvidence(listOf(code), dest, withProofs = false)
        assertTrue(done.files > 0uL)
        assertThrows<BundleException.Exists> { runBlocking { store.exportEvidence(listOf(code), dest, withProofs = false) } }
        assertThrows<BundleException.UnknownTask> {
            runBlocking { store.exportEvidence(listOf("not-a-code"), File(city.dir, "other"), withProofs = false) }
        }
    }

    @Test
    fun `a bad date in a task query is a StoreException InvalidInput`() {
        assertThrows<StoreException.InvalidInput> { store.tasks(TaskQuery(date = "2026-13-45")) }
    }

    @Test
    fun `a store opened with the wrong key file is KeyLocked, and the right key still opens it`() {
        val name = "locked"
        city.store(name, "scjg-01").close()
        val other = File(city.dir, "other.key")
        assertThrows<StoreException.KeyLocked> {
            DeviceStore.open(File(city.dir, name).path, KeyProtection.KeyFile(other.path), null)
        }
        city.store(name, "scjg-01").use { assertEquals("scjg-01", it.deviceInfo().inspector) }
    }

    @Test
    fun `a forged task code is BadSignature and garbage is Malformed`() {
        val token = store.issueTaskCode(code).token
        val otherKey = city.store("other-device", "xfjy-01").use { it.deviceInfo().publicKeyHex }
        assertThrows<TaskCodeException.BadSignature> { verifyTaskCode(token, otherKey) }
        assertThrows<TaskCodeException.Malformed> { verifyTaskCode("not a task code", otherKey) }
    }

    @Test
    fun `the party checks a task code with the tenant root alone, and a wrong root is named as such`() {
        val token = store.issueTaskCode(code).token
        val checked = checkTaskCode(token, city.root)
        assertEquals(code, checked.claims.code)
        assertEquals("scjg-01", checked.issuerInspector)
        val otherRoot = city.store("another-tenant", "xfjy-01").use { it.deviceInfo().publicKeyHex }
        val e = assertThrows<TaskCodeException.UntrustedIssuer> { checkTaskCode(token, otherRoot) }
        assertTrue(e.userMessage().contains("根公钥") && !e.userMessage().contains("伪造"), e.userMessage())
    }

    @Test
    fun `a revoked device is refused with the reason, as a SyncException Revoked, also through the flow`() = runBlocking<Unit> {
        val victim = city.device("revoked", "xfjy-01")
        victim.syncNow()
        city.admin("revoke", victim.deviceInfo().deviceId, "--reason", "设备遗失")
        val e = assertThrows<SyncException.Revoked> { runBlocking { victim.syncNow() } }
        assertTrue(e.reason.contains("设备遗失"))
        val flowed = assertThrows<SyncException.Revoked> { runBlocking { victim.syncFlow().toList() } }
        assertTrue(flowed.userMessage().contains("注销"))
        victim.close()
    }

    @Test
    fun `a scanned enrolment code enrols the device and any other QR code is refused by name`() = runBlocking<Unit> {
        city.store("scanner", "xfjy-01").use { store ->
            val other = assertThrows<SyncException.NotAnEnrolmentCode> { runBlocking { store.enrolScanned("330482-20261201-7K3Q9M2X") } }
            assertTrue(other.userMessage().contains("不是 OneVisit 设备登记二维码"), other.userMessage())
            val code = city.admin("enrolment", "xfjy-01").trim()
            val plain = "ONEVISIT-ENROL:{\"server\":\"http://sync.example.cn\",\"code\":\"$code\",\"root\":\"${city.root}\"}"
            assertThrows<SyncException.NotAnEnrolmentCode> { runBlocking { store.enrolScanned(plain) } }
            val scanned = "ONEVISIT-ENROL:{\"server\":\"${city.base}\",\"code\":\"$code\",\"root\":\"${city.root}\"}"
            val enrolment = store.enrolScanned(scanned)
            assertEquals(city.base, enrolment.serverUrl)
            store.syncNow()
        }
    }

    @Test
    fun `an unenrolled device is NotEnrolled`() {
        city.store("loner", "scjg-01").use { loner ->
            assertThrows<SyncException.NotEnrolled> { runBlocking { loner.syncNow() } }
        }
    }
}
