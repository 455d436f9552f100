package cn.onevisit.kit

import cn.onevisit.ffi.BundleProgress
import cn.onevisit.ffi.BundleVerification
import cn.onevisit.ffi.DeviceStore
import cn.onevisit.ffi.ExportRequest
import cn.onevisit.ffi.ExportResult
import cn.onevisit.ffi.GeoPosition
import cn.onevisit.ffi.PhotoInfo
import cn.onevisit.ffi.PhotoStage
import cn.onevisit.ffi.PhotoTarget
import cn.onevisit.ffi.Progress
import cn.onevisit.ffi.verifyBundle
import java.io.File

/** Takes a photo file (camera output) in as evidence; cancelling the coroutine stops it before it is stored. */
suspend fun DeviceStore.attachPhoto(
    code: String,
    photo: File,
    target: PhotoTarget,
    at: GeoPosition? = null,
    onStage: (PhotoStage) -> Unit = {},
): PhotoInfo = cancellable { cancellation ->
    val listener = progressListener { p -> if (p is Progress.Photo) onStage(p.stage) }
    addPhoto(code, photo.path, target, at, listener, cancellation)
}

/** Exports tasks as a sealed evidence bundle (a folder, or a `.zip` file). */
suspend fun DeviceStore.exportEvidence(
    tasks: List<String>,
    destination: File,
    agency: String? = null,
    withProofs: Boolean = true,
    onProgress: (BundleProgress) -> Unit = {},
): ExportResult = cancellable { cancellation ->
    val listener = progressListener { p -> if (p is Progress.Bundle) onProgress(p.progress) }
    exportBundle(ExportRequest(tasks, destination.path, agency, withProofs), listener, cancellation)
}

/** Verifies a bundle offline against the tenant's root key (hex); every check is in the result. */
suspend fun verifyEvidence(
    bundle: File,
    rootPublicKeyHex: String,
    onProgress: (BundleProgress) -> Unit = {},
): BundleVerification = cancellable { cancellation ->
    val listener = progressListener { p -> if (p is Progress.Bundle) onProgress(p.progress) }
    verifyBundle(bundle.path, rootPublicKeyHex, listener, cancellation)
}

/** The failed checks of a verification. */
val BundleVerification.failures get() = checks.filter { !it.ok }
