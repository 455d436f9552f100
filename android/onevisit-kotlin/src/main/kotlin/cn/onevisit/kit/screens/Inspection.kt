package cn.onevisit.kit.screens

import cn.onevisit.ffi.Answer
import cn.onevisit.ffi.ConflictView
import cn.onevisit.ffi.DeviceStore
import cn.onevisit.ffi.FindingInput
import cn.onevisit.ffi.GeoPosition
import cn.onevisit.ffi.InspectionView
import cn.onevisit.ffi.PartyInput
import cn.onevisit.ffi.PhotoInfo
import cn.onevisit.ffi.PhotoStage
import cn.onevisit.ffi.PhotoTarget
import cn.onevisit.ffi.RecheckChoice
import cn.onevisit.ffi.RecheckItem
import cn.onevisit.ffi.TaskStatus
import cn.onevisit.kit.attachPhoto
import java.io.File
import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.Job

/** The inspection screen: a section per department with its check points, findings, photos, conflicts. */
data class InspectionState(
    val code: String,
    val inspection: InspectionView? = null,
    val conflicts: List<ConflictView> = emptyList(),
    val photos: List<PhotoInfo> = emptyList(),
    val photoStage: PhotoStage? = null,
    val busy: Boolean = false,
    val message: String? = null,
) {
    /** Check points answered, of all. */
    val answered: Pair<Int, Int>
        get() = inspection?.sections?.flatMap { it.checkPoints }?.let { all -> all.count { it.answer != null } to all.size }
            ?: (0 to 0)

    /** Whether this inspector has checked in (entries need the team on site). */
    fun checkedIn(inspector: String?): Boolean = inspection?.arrivals?.any { it.inspector == inspector } == true

    /** Photos attached to one check point or finding. */
    fun photosOf(target: String): List<PhotoInfo> = photos.filter { it.target == target }

    /** Whether the task is a re-inspection (复查): the screen shows the findings to re-inspect. */
    val isReinspection: Boolean get() = inspection?.reinspectionOf != null

    /** The re-inspection step: each finding with its result once recorded (see [RecheckItem]). */
    val rechecks: List<RecheckItem> get() = inspection?.rechecks.orEmpty()

    /** The findings of this re-inspection still waiting for a result. */
    val rechecksOpen: List<RecheckItem> get() = if (isReinspection) rechecks.filter { it.outcome == null } else emptyList()

    /** Photos of the inspection as a whole: what a re-inspection result may cite. */
    val sitePhotos: List<PhotoInfo> get() = photosOf("inspection")
}

/** Holds the inspection screen's state over one task's record. */
class InspectionHolder(
    private val store: DeviceStore,
    code: String,
    scope: CoroutineScope,
    io: CoroutineDispatcher = Dispatchers.IO,
) : Holder<InspectionState>(InspectionState(code), scope, io) {
    override fun InspectionState.withMessage(message: String?) = copy(message = message)
    override fun InspectionState.withBusy(busy: Boolean) = copy(busy = busy)

    private val code get() = state.value.code

    /** Reloads the record (after a sync, or when the screen opens). */
    fun refresh(): Job = act { reload() }

    private fun reload() {
        val inspection = store.inspection(code)
        val conflicts = store.conflicts(code)
        val photos = store.photos(code)
        update { it.copy(inspection = inspection, conflicts = conflicts, photos = photos) }
    }

    /** Checks this inspector in at [at] (签到). */
    fun checkIn(at: GeoPosition): Job = act { store.checkIn(code, at); reload() }

    /** Records that the certificates were shown (出示执法证件). */
    fun showIdentity(): Job = act { store.showIdentity(code); reload() }

    /** Records the party's representative. */
    fun recordParty(party: PartyInput): Job = act { store.recordParty(code, party); reload() }

    /** Answers a check point. */
    fun answer(checkPoint: String, answer: Answer, note: String? = null, evidence: List<String> = emptyList()): Job =
        act { store.answer(code, checkPoint, answer, note?.takeIf { it.isNotBlank() }, evidence); reload() }

    /**
     * Takes a photo file in for a check point or finding; for a check point whose answer is a
     * photo, the answer is recorded with every photo of that check point.
     */
    fun attachPhoto(photo: File, target: PhotoTarget, at: GeoPosition? = null, answersCheckPoint: Boolean = false): Job =
        act {
            val info = store.attachPhoto(code, photo, target, at) { stage -> update { it.copy(photoStage = stage) } }
            if (answersCheckPoint && target is PhotoTarget.CheckPoint) {
                val all = store.photos(code).filter { it.target == info.target }.map { it.sha256 }
                store.answer(code, target.id, Answer.Photos, null, all)
            }
            reload()
        }

    /** Records a problem found. */
    fun addFinding(finding: FindingInput): Job = act { store.addFinding(code, finding); reload() }

    /**
     * Records what this re-inspection found of [finding] — rectified, handed over for a case, or
     * a new deadline — citing [evidence], photos of the site already attached. The core refuses a
     * finding this re-inspection does not cover, a second result, no photo, or a new deadline not
     * after today; the message says which.
     */
    fun recheck(finding: String, outcome: RecheckChoice, note: String? = null, evidence: List<String>): Job =
        act { store.recordRecheck(code, finding, outcome, note?.takeIf { it.isNotBlank() }, evidence); reload() }

    /**
     * Takes [photo] in as a photo of the site, then records the result of [finding] citing it; a
     * refused result leaves the photo attached (evidence is never dropped) and shown.
     */
    fun recheckWithPhoto(finding: String, outcome: RecheckChoice, note: String?, photo: File, at: GeoPosition? = null): Job =
        act {
            val info = store.attachPhoto(code, photo, PhotoTarget.Inspection, at) { stage -> update { it.copy(photoStage = stage) } }
            try {
                store.recordRecheck(code, finding, outcome, note?.takeIf { it.isNotBlank() }, listOf(info.sha256))
            } finally {
                reload()
            }
        }

    /** Closes the task (办结): the core refuses while a finding's loop is open and names them. */
    fun close(): Job = act { store.setStatus(code, TaskStatus.CLOSED); reload() }

    /** Keeps value [choice] of a conflicted field (lead inspector only). */
    fun resolve(field: String, choice: Int): Job = act { store.resolveConflict(code, field, choice.toUInt()); reload() }

    /** Marks recording complete (the core refuses while something is missing or conflicted). */
    fun markRecorded(): Job = act { store.setStatus(code, TaskStatus.RECORDED); reload() }
}
