package cn.onevisit.kit.screens

import cn.onevisit.ffi.DeviceStore
import cn.onevisit.ffi.DocumentKind
import cn.onevisit.ffi.DocumentPreview
import cn.onevisit.ffi.DocumentStatus
import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.Job

/** The document screen: preview of a rendered version and the signatures of every version. */
data class DocumentsState(
    val code: String,
    val preview: DocumentPreview? = null,
    val documents: List<DocumentStatus> = emptyList(),
    val busy: Boolean = false,
    val message: String? = null,
) {
    /** The status of the previewed version. */
    val previewStatus: DocumentStatus? get() = documents.firstOrNull { it.sha256 == preview?.sha256 }
}

/** Holds the document screen's state for one task. */
class DocumentsHolder(
    private val store: DeviceStore,
    code: String,
    scope: CoroutineScope,
    io: CoroutineDispatcher = Dispatchers.IO,
) : Holder<DocumentsState>(DocumentsState(code), scope, io) {
    override fun DocumentsState.withMessage(message: String?) = copy(message = message)
    override fun DocumentsState.withBusy(busy: Boolean) = copy(busy = busy)

    private val code get() = state.value.code

    /** Reloads every version's status and the previewed page, whose signature lines fill in as officers sign. */
    private fun reload() {
        val documents = store.documents(code)
        val page = state.value.preview?.let { it.copy(text = store.documentText(code, it.sha256)) }
        update { it.copy(documents = documents, preview = page ?: it.preview) }
    }

    /** Reloads the signatures (after a sync brought another inspector's). */
    fun refresh(): Job = act { reload() }

    /** Renders the latest version of a document for preview (a new version only if the record changed). */
    fun render(kind: DocumentKind, department: String? = null): Job = act {
        val preview = store.renderDocument(code, kind, department)
        update { it.copy(preview = preview) }
        reload()
    }

    /** Records where the party accepts service, then renders the address confirmation (送达地址确认书) to sign. */
    fun confirmServiceAddress(address: String, recipient: String, phone: String, electronic: String? = null): Job = act {
        store.confirmServiceAddress(code, address, recipient, phone, electronic?.takeIf { it.isNotBlank() })
        update { it.copy(preview = store.renderDocument(code, DocumentKind.ADDRESS_CONFIRMATION, null)) }
        reload()
    }

    /** Signs the previewed version as this device's inspector. */
    fun sign(): Job = act { store.signDocument(code, previewed()); reload() }

    /** Records the party's handwritten signature from the pad (PNG). */
    fun partySigns(name: String, role: String, signaturePng: ByteArray): Job =
        act { store.partySigns(code, previewed(), name, role, signaturePng); reload() }

    /** Records that the party refused to sign, before a witness. */
    fun partyRefuses(reason: String, witness: String, witnessDetail: String? = null, witnessSignaturePng: ByteArray? = null): Job =
        act { store.partyRefuses(code, previewed(), reason, witness, witnessDetail, witnessSignaturePng); reload() }

    /** Prints the previewed version, with the signatures made so far, to a PDF file (to print or share). */
    fun savePdf(to: java.io.File): Job = act { to.writeBytes(store.documentPdf(code, previewed())) }

    private fun previewed(): String = state.value.preview?.sha256 ?: error("请先生成文书")
}
