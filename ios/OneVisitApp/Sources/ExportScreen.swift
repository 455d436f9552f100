import OneVisitKit
import SwiftUI

/// Exporting a sealed evidence bundle and handing it over through the share sheet.
struct ExportScreen: View {
    @EnvironmentObject private var app: AppModel
    let code: String
    @State private var busy = false
    @State private var progress: BundleProgress?
    @State private var result: ExportResult?
    @State private var message: String?

    var body: some View {
        Form {
            Text("证据包：任务 \(code) 的照片原件、采集记录、签名文书、审计日志与服务器证明，封存签名后可离线核验。")
            Button(busy ? "导出中…" : "导出证据包", action: export).disabled(busy)
            if let progress { Text("已写入 \(progress.files) 个文件") }
            if let message { Text(message).foregroundColor(.red) }
            if let result {
                Text("照片 \(result.photos) 张，文书 \(result.documents) 份，审计记录 \(result.auditEntries) 条（已证明 \(result.provenEntries) 条）")
                ShareLink(item: URL(fileURLWithPath: result.path)) { Label("分享", systemImage: "square.and.arrow.up") }
            }
        }
        .navigationTitle("导出证据包")
    }

    private func export() {
        guard let store = app.store else { return }
        busy = true
        let folder = FileManager.default.urls(for: .documentDirectory, in: .userDomainMask)[0]
        let zip = folder.appendingPathComponent("证据包-\(code)-\(Int(Date().timeIntervalSince1970)).zip")
        Task {
            do {
                result = try await store.exportEvidence(tasks: [code], to: zip) { p in Task { @MainActor in progress = p } }
                message = nil
            } catch {
                message = Formatting.message(error)
            }
            busy = false
        }
    }
}
