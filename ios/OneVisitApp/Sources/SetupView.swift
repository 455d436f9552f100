import OneVisitKit
import SwiftUI

/// First start: who operates this device, then enrolment (设备登记): scanning the QR code the
/// command centre's console shows, or typing the server, the one-time code and the root key.
struct SetupView: View {
    @EnvironmentObject private var model: AppModel
    @State private var inspector = ""
    @State private var server = ""
    @State private var code = ""
    @State private var rootKey = ""
    @State private var message: String?
    @State private var busy = false
    @State private var scanning = false

    var body: some View {
        Form {
            if model.store == nil {
                Section("执法人员") {
                    TextField("执法人员编号", text: $inspector).textInputAutocapitalization(.never)
                    Button("生成设备密钥") {
                        do { try model.createStore(inspector: inspector.trimmingCharacters(in: .whitespaces)) } catch { message = Formatting.message(error) }
                    }.disabled(inspector.isEmpty)
                }
            } else {
                Section("扫码登记") {
                    Button("扫描指挥中心显示的登记二维码") { scanning = true }
                        .disabled(busy || !EnrolmentScanner.isAvailable)
                }
                Section("设备登记") {
                    TextField("服务器地址", text: $server).keyboardType(.URL).textInputAutocapitalization(.never)
                    TextField("一次性登记码", text: $code).textInputAutocapitalization(.never)
                    TextField("根公钥（64 位十六进制，线下提供）", text: $rootKey).textInputAutocapitalization(.never)
                    Button(busy ? "登记中…" : "登记") {
                        busy = true
                        Task {
                            do { try await model.enrol(server: server, code: code, rootKey: rootKey.lowercased()) } catch { message = Formatting.message(error) }
                            busy = false
                        }
                    }.disabled(busy || server.isEmpty || code.isEmpty || rootKey.count != 64)
                }
            }
            if let message { Text(message) }
        }
        .navigationTitle("执法终端登记")
        .sheet(isPresented: $scanning) {
            EnrolmentScanner { text in
                scanning = false
                busy = true
                Task {
                    do { try await model.enrolScanned(text) } catch { message = Formatting.message(error) }
                    busy = false
                }
            }
        }
    }
}

/// The sync status line with the manual sync button, on every screen.
struct SyncBar: View {
    @EnvironmentObject private var model: AppModel
    var onSynced: () -> Void = {}

    var body: some View {
        HStack {
            Text(model.syncLine).font(.footnote)
            Spacer()
            if model.syncing {
                ProgressView()
                Button("停止") { model.cancelSync() }
            } else {
                Button("立即同步") { model.syncNow() }
            }
        }
        .onChange(of: model.syncing) { running in if !running { onSynced() } }
    }
}
