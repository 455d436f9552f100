import BackgroundTasks
import OneVisitKit
import SwiftUI

/// The inspectors' iOS app: the same screens and flows as the Android app, on the core through
/// OneVisitKit.
@main
struct OneVisitApp: App {
    @StateObject private var model = AppModel()
    @Environment(\.scenePhase) private var phase

    init() {
        OSLogSink.install()
        AppModel.registerBackgroundSync()
    }

    var body: some Scene {
        WindowGroup {
            NavigationStack {
                if model.enrolled {
                    TaskListView()
                } else {
                    SetupView()
                }
            }
            .environmentObject(model)
        }
        .onChange(of: phase) { newPhase in
            if newPhase == .background { AppModel.scheduleBackgroundSync() }
        }
    }
}
