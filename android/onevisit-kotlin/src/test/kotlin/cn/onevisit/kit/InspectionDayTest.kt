package cn.onevisit.kit

import cn.onevisit.ffi.Answer
import cn.onevisit.ffi.DocumentKind
import cn.onevisit.ffi.FindingInput
import cn.onevisit.ffi.GeoPosition
import cn.onevisit.ffi.PartyInput
import cn.onevisit.ffi.PhotoStage
import cn.onevisit.ffi.PhotoTarget
import cn.onevisit.ffi.PresenceException
import cn.onevisit.ffi.PresenceVerifier
import cn.onevisit.ffi.RecordException
import cn.onevisit.ffi.SignerPresence
import cn.onevisit.ffi.TaskQuery
import cn.onevisit.ffi.TaskStatus
import cn.onevisit.ffi.verifyTaskCode
import java.io.File
import kotlinx.coroutines.flow.toList
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test

/** A whole inspection day of two inspectors, through the bindings only, against a real server. */
class InspectionDayTest {
    private val site = GeoPosition(30.6985, 121.0156, 5u)
    private val contested = "SCJG-001-02"

    @Test
    fun `two inspectors record, merge, resolve, sign and export a joint inspection that verifies`() = runBlocking<Unit> {
        TestCity().use { city ->
            val code = city.planSampleTask()
            val a = city.device("scjg", "scjg-01")
            val b = city.device("xfjy", "xfjy-01")

            // Receive the task: the first sync brings the directory data and the task, with progress.
            val events = a.syncFlow().toList()
            assertTrue(events.any { it is SyncEvent.Running }, "progress was reported")
            val first = events.last() as SyncEvent.Finished
            assertTrue(first.summary.directoryUpdated, "directory data arrived")
            b.syncNow()
            val planned = a.tasks(TaskQuery(status = TaskStatus.PLANNED))
            assertEquals(listOf(code), planned.map { it.code })
            assertEquals(listOf(code), b.tasks(TaskQuery()).map { it.code })

            // Offline, each on their own device.
            a.checkIn(code, site)
            a.showIdentity(code)
            a.recordParty(code, PartyInput("沈建国", "现场负责人", "13800000000", null))
            a.answer(code, "SCJG-001-01", Answer.Pass, null, emptyList())
            a.answer(code, "SCJG-001-03", Answer.Number("4.5", "℃"), "冷藏柜", emptyList())
            a.answer(code, "SCJG-001-04", Answer.Pass, null, emptyList())
            a.answer(code, contested, Answer.Pass, "健康证均在有效期内", emptyList())

            b.checkIn(code, site)
            b.answer(code, "XFJY-001-01", Answer.Fail, "2 具灭火器压力不足", emptyList())
            b.answer(code, "XFJY-001-02", Answer.Pass, null, emptyList())
            b.answer(code, "XFJY-001-03", Answer.Number("0.8", "MPa"), null, emptyList())
            val stages = mutableListOf<PhotoStage>()
            val photo = b.attachPhoto(code, city.jpeg("extinguisher.jpg"), PhotoTarget.CheckPoint("XFJY-001-04"), site) {
                stages += it
            }
            assertEquals(listOf(PhotoStage.READING, PhotoStage.PROCESSING, PhotoStage.ATTACHED), stages)
            assertTrue(photo.newlyAttached)
            assertEquals("image/jpeg", photo.mime)
            assertEquals(null, photo.cameraTimeWarning, "a photo without a camera time is not flagged")
            b.answer(code, "XFJY-001-04", Answer.Photos, null, listOf(photo.sha256))
            // B notes the party's representative too, differently: the conflict to resolve.
            b.recordParty(code, PartyInput("沈建国", "法定代表人", "13800000000", null))
            val finding = b.addFinding(
                code,
                FindingInput("xfjy", "XFJY-001-01", "2 具灭火器压力不足", "《中华人民共和国消防法》第十六条", true, "2026-12-31"),
            )
            assertTrue(finding.isNotEmpty())

            // Merge through the server: the same record on both devices, with the conflict.
            a.syncNow()
            b.syncNow()
            a.syncNow()
            assertEquals(a.inspection(code), b.inspection(code))
            val conflicts = a.conflicts(code)
            assertEquals(listOf("party"), conflicts.map { it.field })
            assertEquals(setOf("scjg-01", "xfjy-01"), conflicts[0].values.map { it.by }.toSet())
            val xfjy = conflicts[0].values.indexOfFirst { it.by == "xfjy-01" }
            assertEquals("沈建国（法定代表人）", conflicts[0].values[xfjy].display)

            // The lead inspector resolves it; recording completes.
            a.resolveConflict(code, "party", xfjy.toUInt())
            a.setStatus(code, TaskStatus.RECORDED)
            a.syncNow()
            b.syncNow()
            val merged = b.inspection(code)
            assertEquals(0u, merged.openConflicts)
            assertEquals(TaskStatus.RECORDED, merged.status)
            assertEquals("法定代表人", merged.party?.role)
            val answered = merged.sections.flatMap { it.checkPoints }.first { it.id == contested }
            assertEquals("符合", answered.answer)

            // The on-site record: the four officers sign on their own devices, then the party.
            val document = a.renderDocument(code, DocumentKind.ON_SITE_RECORD, null)
            assertTrue(document.text.contains("现场检查笔录"))
            // Every signature asks the platform for the signer's presence (the app: BiometricPrompt
            // with a key that requires it). Cancelled, nothing is signed; confirmed, the page says how.
            val prompts = mutableListOf<String>()
            a.setPresenceVerifier(object : PresenceVerifier {
                override fun confirm(prompt: String): SignerPresence {
                    prompts += prompt
                    throw PresenceException.NotConfirmed()
                }
            })
            val cancelled = runCatching { a.signDocument(code, document.sha256) }.exceptionOrNull()
            assertTrue(cancelled is RecordException.PresenceNotConfirmed, "$cancelled")
            assertEquals("签署现场检查笔录 ${document.number}", prompts.single())
            a.setPresenceVerifier(object : PresenceVerifier {
                override fun confirm(prompt: String) = SignerPresence.BIOMETRIC
            })
            val signedHere = a.signDocument(code, document.sha256).signatures.single { it.signer == "scjg-01" }
            assertEquals("签名人生物识别确认", signedHere.presence)
            assertTrue(a.documentText(code, document.sha256).contains("签名人生物识别确认"))
            a.syncNow()
            b.syncNow()
            b.signDocument(code, document.sha256)
            b.syncNow()
            a.syncNow()
            // One officer of each department is not enough: the second of each signs too.
            assertFalse(a.documents(code).first { it.sha256 == document.sha256 }.signed)
            city.signAs(listOf("scjg-02", "xfjy-02"), code, document.sha256)
            a.syncNow()
            val status = a.partySigns(code, document.sha256, "沈建国", "现场负责人", city.signaturePng())
            assertTrue(status.signed, "signed by two officers of each department and the party: ${status.missing}")
            assertEquals(5, status.signatures.count { it.valid })
            // Not sealed until the server has it; the sync that delivers the last signature brings
            // back the market regulator's seal.
            assertFalse(status.sealed, status.seal)
            a.syncNow()
            val sealed = a.documents(code).first { it.sha256 == document.sha256 }
            assertTrue(sealed.sealed, sealed.seal)
            assertTrue(sealed.seal.startsWith("平湖市市场监督管理局 已加盖（SM2，"), sealed.seal)

            // The photo's original reaches the other device; the audit logs are confirmed.
            val fetched = a.syncNow(fetchPhotos = true)
            assertEquals(1uL, fetched.photosFetched)
            assertTrue(a.photoPath(photo.sha256)?.let { File(it).length() == photo.size.toLong() } ?: false)
            b.syncNow()
            for (device in listOf(a, b)) {
                val audit = device.verifyAudit()
                assertTrue(audit.intact, "audit problems: ${audit.problems}")
                assertEquals(audit.headSeq, audit.confirmedThrough)
            }

            // The task code shown on site verifies offline against the issuing device's key.
            val token = a.issueTaskCode(code)
            val claims = verifyTaskCode(token.token, a.deviceInfo().publicKeyHex)
            assertEquals(code, claims.code)
            assertTrue(token.qrPng.size > 100)

            // An evidence bundle another agency verifies offline with the root key alone.
            val zip = File(city.dir, "evidence.zip")
            var lastFiles = 0uL
            val exported = a.exportEvidence(listOf(code), zip) { lastFiles = it.files }
            assertEquals(2uL, exported.photos, "the evidence photo and the party's signature image")
            assertTrue(exported.provenEntries > 0uL, "inclusion proofs: ${exported.proofsUnavailable}")
            assertTrue(lastFiles >= exported.files, "progress covered every payload file")
            val verified = verifyEvidence(zip, city.root)
            assertTrue(verified.valid, "failures: ${verified.failures}")
            assertTrue(verified.checks.size > 10)

            // The same bundle checked against another tenant's key fails, naming what.
            val foreign = verifyEvidence(zip, a.deviceInfo().publicKeyHex)
            assertFalse(foreign.valid)
            assertTrue(foreign.failures.any { it.kind == "certificate" || it.kind == "seal" }, "${foreign.failures}")
            a.close()
            b.close()
        }
    }
}
