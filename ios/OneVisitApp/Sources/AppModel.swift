import BackgroundTasks
import Foundation
import OneVisitKit

/// The app's device store (key sealed by the Keychain) and the sync status every screen shows.
@MainActor
final class AppModel: ObservableObject {
    @Published private(set) var store: DeviceStore?
    @Published private(set) var enrolled = false
    @Published private(set) var syncing = false
    @Published private(set) var syncLine = "尚未同步"
    @Published private(set) var offline = false
    private var syncTask: Task<Void, Never>?

    nonisolated static let backgroundTask = "cn.onevisit.sync"

    nonisolated private static var storeURL: URL {
        FileManager.default.urls(for: .applicationSupportDirectory, in: .userDomainMask)[0].appendingPathComponent("store")
    }

    init() {
        store = try? DeviceStore.open(path: Self.storeURL.path, key: .platform(protector: KeychainKeyProtector()), inspector: nil)
        try? store?.setPresenceVerifier(verifier: UserPresenceVerifier())
        enrolled = (try? store?.deviceInfo().serverUrl) != nil
    }

    /// Creates the store for `inspector` on first use (the device key is made and sealed now).
    func createStore(inspector: String) throws {
        try FileManager.default.createDirectory(at: Self.storeURL.deletingLastPathComponent(), withIntermediateDirectories: true)
        store = try DeviceStore.open(path: Self.storeURL.path, key: .platform(protector: KeychainKeyProtector()), inspector: inspector)
        // Every signature asks for the signer: Face ID / Touch ID or the passcode.
        try store?.setPresenceVerifier(verifier: UserPresenceVerifier())
    }

    /// Enrols with the one-time code.
    func enrol(server: String, code: String, rootKey: String) async throws {
        guard let store else { return }
        _ = try await store.enrol(serverUrl: server, oneTimeCode: code, rootPublicKeyHex: rootKey)
        enrolled = true
    }

    /// Enrols with the text of the console's enrolment QR code (server, one-time code, root key).
    func enrolScanned(_ text: String) async throws {
        guard let store else { return }
        _ = try await store.enrolScanned(scanned: text)
        enrolled = true
    }

    /// Syncs now (unless a sync runs); the status line follows its progress.
    func syncNow(fetchPhotos: Bool = true) {
        guard let store, syncTask == nil else { return }
        syncing = true
        syncTask = Task {
            do {
                for try await event in store.syncEvents(fetchPhotos: fetchPhotos) {
                    switch event {
                    case let .running(p):
                        syncLine = "同步中：上传 \(p.recordsPushed)/\(p.recordsToPush)，接收 \(p.recordsPulled)"
                    case .finished:
                        offline = false
                        syncLine = "已同步 \(Formatting.time(Int64(Date().timeIntervalSince1970 * 1000)))"
                    }
                }
            } catch SyncError.Offline {
                offline = true
                syncLine = "离线：记录保存在本机，联网后自动同步"
            } catch {
                syncLine = Formatting.message(error)
            }
            syncing = false
            syncTask = nil
        }
    }

    /// Stops a running sync (what it did is kept).
    func cancelSync() {
        syncTask?.cancel()
    }

    /// Registers the background refresh that syncs while the app is not in front.
    nonisolated static func registerBackgroundSync() {
        BGTaskScheduler.shared.register(forTaskWithIdentifier: backgroundTask, using: nil) { task in
            scheduleBackgroundSync()
            let work = Task {
                let store = try? DeviceStore.open(path: storeURL.path, key: .platform(protector: KeychainKeyProtector()), inspector: nil)
                let done = (try? await store?.syncNow()) != nil
                task.setTaskCompleted(success: done)
            }
            task.expirationHandler = { work.cancel() }
        }
    }

    /// Asks iOS to run the background sync again in about 15 minutes.
    nonisolated static func scheduleBackgroundSync() {
        let request = BGAppRefreshTaskRequest(identifier: backgroundTask)
        request.earliestBeginDate = Date(timeIntervalSinceNow: 15 * 60)
        try? BGTaskScheduler.shared.submit(request)
    }
}
