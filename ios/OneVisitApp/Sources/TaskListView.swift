import OneVisitKit
import SwiftUI

/// The task list: filters by status and day; the task code as a QR for the enterprise (亮码).
struct TaskListView: View {
    @EnvironmentObject private var model: AppModel
    @State private var status: TaskStatus?
    @State private var day = ""
    @State private var tasks: [TaskSummary] = []
    @State private var token: TaskCodeToken?
    @State private var message: String?

    var body: some View {
        List {
            Section { SyncBar(onSynced: reload) }
            Section {
                Picker("状态", selection: $status) {
                    Text("全部").tag(TaskStatus?.none)
                    ForEach([TaskStatus.planned, .onSite, .recorded, .closed], id: \.self) { s in
                        Text(Formatting.status(s)).tag(TaskStatus?.some(s))
                    }
                }
                TextField("检查日期（YYYY-MM-DD）", text: $day)
            }
            if let message { Text(message) }
            ForEach(tasks, id: \.code) { task in
                NavigationLink(destination: InspectionScreen(code: task.code)) {
                    VStack(alignment: .leading) {
                        Text(task.enterpriseName).font(.headline)
                        Text("\(task.code) · \(task.sourceLabel) · \(Formatting.status(task.status)) · \(task.windowStart) ~ \(task.windowEnd)").font(.caption)
                        Text("已检查 \(task.answered)/\(task.checkPoints) 项，问题 \(task.findings) 个").font(.caption)
                    }
                }
                .swipeActions { Button("亮码") { showCode(task.code) } }
            }
        }
        .navigationTitle("检查任务")
        .onAppear(perform: reload)
        .onChange(of: status) { _ in reload() }
        .onChange(of: day) { d in if d.isEmpty || d.count == 10 { reload() } }
        .sheet(item: Binding(get: { token.map(IdentifiedToken.init) }, set: { token = $0?.token })) { shown in
            VStack(spacing: 16) {
                Text("检查码 \(shown.token.code)").font(.headline)
                if let image = UIImage(data: shown.token.qrPng) {
                    Image(uiImage: image).interpolation(.none).resizable().scaledToFit().frame(width: 260, height: 260)
                }
                Text("有效期至 \(Formatting.time(shown.token.expiresMs))，企业扫码可离线核验").font(.footnote)
            }.padding()
        }
    }

    private func reload() {
        guard let store = model.store else { return }
        do {
            tasks = try store.tasks(query: TaskQuery(status: status, date: day.isEmpty ? nil : day))
            message = nil
        } catch { message = Formatting.message(error) }
    }

    private func showCode(_ code: String) {
        do { token = try model.store?.issueTaskCode(code: code) } catch { message = Formatting.message(error) }
    }
}

/// A task code token as a sheet item.
struct IdentifiedToken: Identifiable {
    let token: TaskCodeToken
    var id: String { token.token }
}
