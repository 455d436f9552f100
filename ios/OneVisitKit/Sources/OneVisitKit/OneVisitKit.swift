// The Swift layer over the generated bindings: long calls as async functions that stop the core's
// work when the Swift task is cancelled, progress as closures or an AsyncThrowingStream.

import Foundation
@_exported import OneVisitFFI

/// A progress listener from a closure (called on the core's worker thread).
public final class ClosureProgressListener: ProgressListener, @unchecked Sendable {
    private let handler: (Progress) -> Void

    /// Wraps `handler`.
    public init(_ handler: @escaping (Progress) -> Void) {
        self.handler = handler
    }

    public func onProgress(progress: Progress) {
        handler(progress)
    }
}

/// Runs a long core call so that cancelling the Swift task also stops the work in the core
/// (at its next safe point; what was done is kept).
public func cancellable<T>(_ body: (Cancellation) async throws -> T) async throws -> T {
    let cancellation = Cancellation()
    return try await withTaskCancellationHandler {
        try await body(cancellation)
    } onCancel: {
        cancellation.cancel()
    }
}

/// What a sync reports while it runs, then once when it is done.
public enum SyncEvent: Sendable {
    /// The sync is running: where it stands.
    case running(SyncProgress)
    /// The sync finished.
    case finished(SyncSummary)
}

extension SyncProgress: @unchecked Sendable {}
extension SyncSummary: @unchecked Sendable {}

public extension DeviceStore {
    /// Syncs once; cancelling the task stops the sync in the core.
    func syncNow(fetchPhotos: Bool = false, onProgress: @escaping (SyncProgress) -> Void = { _ in }) async throws -> SyncSummary {
        try await cancellable { cancellation in
            let listener = ClosureProgressListener { if case let .sync(p) = $0 { onProgress(p) } }
            return try await self.sync(fetchPhotos: fetchPhotos, listener: listener, cancel: cancellation)
        }
    }

    /// A sync as a stream of events; a failure ends the stream with the typed `SyncError`;
    /// cancelling the consumer cancels the sync.
    func syncEvents(fetchPhotos: Bool = false) -> AsyncThrowingStream<SyncEvent, Error> {
        AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    let summary = try await self.syncNow(fetchPhotos: fetchPhotos) { continuation.yield(.running($0)) }
                    continuation.yield(.finished(summary))
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// Takes a photo file (camera output) in as evidence; cancelling the task stops it before it is stored.
    func attachPhoto(code: String, photo: URL, target: PhotoTarget, at: GeoPosition? = nil,
                     onStage: @escaping (PhotoStage) -> Void = { _ in }) async throws -> PhotoInfo {
        try await cancellable { cancellation in
            let listener = ClosureProgressListener { if case let .photo(stage) = $0 { onStage(stage) } }
            return try await self.addPhoto(code: code, path: photo.path, target: target, at: at,
                                           listener: listener, cancel: cancellation)
        }
    }

    /// Exports tasks as a sealed evidence bundle (a folder, or a `.zip` file).
    func exportEvidence(tasks: [String], to destination: URL, agency: String? = nil, withProofs: Bool = true,
                        onProgress: @escaping (BundleProgress) -> Void = { _ in }) async throws -> ExportResult {
        try await cancellable { cancellation in
            let listener = ClosureProgressListener { if case let .bundle(p) = $0 { onProgress(p) } }
            let request = ExportRequest(tasks: tasks, destination: destination.path, agency: agency, withProofs: withProofs)
            return try await self.exportBundle(request: request, listener: listener, cancel: cancellation)
        }
    }
}

/// Verifies a bundle offline against the tenant's root key (hex); every check is in the result.
public func verifyEvidence(at bundle: URL, rootPublicKeyHex: String,
                           onProgress: @escaping (BundleProgress) -> Void = { _ in }) async throws -> BundleVerification {
    try await cancellable { cancellation in
        let listener = ClosureProgressListener { if case let .bundle(p) = $0 { onProgress(p) } }
        return try await verifyBundle(path: bundle.path, rootPublicKeyHex: rootPublicKeyHex,
                                      listener: listener, cancel: cancellation)
    }
}
