package cn.onevisit.kit.screens

import cn.onevisit.ffi.BundleProgress
import cn.onevisit.ffi.BundleVerification
import cn.onevisit.ffi.DeviceStore
import cn.onevisit.ffi.ExportResult
import cn.onevisit.kit.exportEvidence
import cn.onevisit.kit.verifyEvidence
import java.io.File
import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.Job

/** Exporting an evidence bundle (then shared through the share sheet) and checking one. */
data class ExportState(
    val progress: BundleProgress? = null,
    val result: ExportResult? = null,
    val verification: BundleVerification? = null,
    val busy: Boolean = false,
    val message: String? = null,
)

/** Holds the export screen's state. */
class ExportHolder(
    private val store: DeviceStore,
    scope: CoroutineScope,
    io: CoroutineDispatcher = Dispatchers.IO,
) : Holder<ExportState>(ExportState(), scope, io) {
    override fun ExportState.withMessage(message: String?) = copy(message = message)
    override fun ExportState.withBusy(busy: Boolean) = copy(busy = busy)

    /** Exports [tasks] as one zip in [folder], named after the first task. */
    fun export(tasks: List<String>, folder: File): Job = act {
        update { it.copy(result = null, progress = null) }
        val zip = File(folder, "证据包-${tasks.first()}-${System.currentTimeMillis()}.zip")
        val result = store.exportEvidence(tasks, zip) { p -> update { it.copy(progress = p) } }
        update { it.copy(result = result) }
    }

    /** Verifies a bundle with the tenant's root key. */
    fun verify(bundle: File, rootKey: String): Job = act {
        val verification = verifyEvidence(bundle, rootKey) { p -> update { it.copy(progress = p) } }
        update { it.copy(verification = verification) }
    }
}
