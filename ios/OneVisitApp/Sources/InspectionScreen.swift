import CoreLocation
import OneVisitKit
import SwiftUI

/// The inspection screen's state and actions, as the Android app's InspectionHolder.
@MainActor
final class InspectionModel: ObservableObject {
    let code: String
    let store: DeviceStore
    @Published var view: InspectionView?
    @Published var conflicts: [ConflictView] = []
    @Published var photos: [PhotoInfo] = []
    @Published var photoStage: PhotoStage?
    @Published var message: String?

    init(code: String, store: DeviceStore) {
        self.code = code
        self.store = store
    }

    /// Reloads the record.
    func refresh() {
        run {
            self.view = try self.store.inspection(code: self.code)
            self.conflicts = try self.store.conflicts(code: self.code)
            self.photos = try self.store.photos(code: self.code)
        }
    }

    /// Runs an action; a failure becomes the message, then the record is reloaded.
    func run(_ action: () throws -> Void) {
        do {
            try action()
            message = nil
        } catch {
            message = Formatting.message(error)
        }
        if let v = try? store.inspection(code: code) { view = v }
        conflicts = (try? store.conflicts(code: code)) ?? conflicts
        photos = (try? store.photos(code: code)) ?? photos
    }

    /// Photos of the inspection as a whole: what a re-inspection result cites.
    var sitePhotos: [PhotoInfo] { photos.filter { $0.target == "inspection" } }

    /// Records what this re-inspection found of `finding`, citing the site photos taken; the core
    /// refuses a finding not covered, a second result, no photo, or a new deadline not after today.
    func recheck(finding: String, outcome: RecheckChoice, note: String) {
        run {
            try store.recordRecheck(code: code, finding: finding, outcome: outcome,
                                    note: note.isEmpty ? nil : note, evidence: sitePhotos.map(\.sha256))
        }
    }

    /// Takes a photo (JPEG bytes from the camera) in as evidence; a photo check point is answered with it.
    func attach(jpeg: Data, target: PhotoTarget, at: GeoPosition?) async {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("capture-\(UUID().uuidString).jpg")
        defer { try? FileManager.default.removeItem(at: file) }
        do {
            try jpeg.write(to: file)
            let info = try await store.attachPhoto(code: code, photo: file, target: target, at: at) { stage in
                Task { @MainActor in self.photoStage = stage }
            }
            if case let .checkPoint(id) = target {
                let all = try store.photos(code: code).filter { $0.target == info.target }.map(\.sha256)
                try store.answer(code: code, checkPoint: id, answer: .photos, note: nil, evidence: all)
            }
            message = nil
        } catch {
            message = Formatting.message(error)
        }
        refresh()
    }
}

/// The inspection: check-in, identity, party, a section per department, findings, conflicts.
struct InspectionScreen: View {
    @EnvironmentObject private var app: AppModel
    let code: String
    @StateObject private var location = LocationFix()

    var body: some View {
        if let store = app.store {
            InspectionContent(model: InspectionModel(code: code, store: store), location: location)
        }
    }
}

private struct InspectionContent: View {
    @StateObject var model: InspectionModel
    @ObservedObject var location: LocationFix
    @State private var camera: PhotoTarget?
    @State private var partyName = ""
    @State private var partyRole = "现场负责人"
    @State private var finding = FindingDraftForm()

    init(model: InspectionModel, location: LocationFix) {
        _model = StateObject(wrappedValue: model)
        self.location = location
    }

    var body: some View {
        List {
            Section { SyncBar(onSynced: model.refresh) }
            if let view = model.view {
                Section {
                    Text(view.enterpriseName).font(.headline)
                    Text("\(view.taskCode) · \(view.statusLabel) · 牵头：\(view.leadDepartment)").font(.caption)
                    if let original = view.reinspectionOf { Text("复查任务 · 原任务 \(original)").font(.caption) }
                    if let message = model.message { Text(message).foregroundColor(.red) }
                    HStack {
                        Button("签到") {
                            guard let fix = location.fix else { location.request(); return }
                            model.run { try model.store.checkIn(code: model.code, at: fix) }
                        }
                        if view.identityShownBy == nil {
                            Button("已出示证件") { model.run { try model.store.showIdentity(code: model.code) } }
                        }
                    }.buttonStyle(.bordered)
                }
                Section("当事人") {
                    if let party = view.party { Text("\(party.name)（\(party.role)）") }
                    TextField("姓名", text: $partyName)
                    TextField("身份", text: $partyRole)
                    Button("保存当事人") {
                        model.run { try model.store.recordParty(code: model.code, party: PartyInput(name: partyName, role: partyRole, phone: nil, recusalReason: nil)) }
                    }
                }
                if !model.conflicts.isEmpty {
                    Section("冲突（由牵头执法人员裁决）") {
                        ForEach(model.conflicts, id: \.field) { conflict in
                            VStack(alignment: .leading) {
                                Text(conflict.field).font(.caption)
                                ForEach(Array(conflict.values.enumerated()), id: \.offset) { i, value in
                                    Button("采用：\(value.display)（\(value.by)，\(Formatting.time(value.atMs))）") {
                                        model.run { try model.store.resolveConflict(code: model.code, field: conflict.field, choice: UInt32(i)) }
                                    }
                                }
                            }
                        }
                    }
                }
                ForEach(view.sections, id: \.department) { section in
                    Section(section.departmentName) {
                        ForEach(section.checkPoints, id: \.id) { point in
                            CheckPointRow(model: model, point: point) { camera = .checkPoint(id: point.id) }
                        }
                    }
                }
                if view.reinspectionOf != nil {
                    Section("复查事项（每项须附现场照片）") {
                        HStack {
                            ForEach(model.sitePhotos, id: \.sha256) { photo in
                                if let path = try? model.store.photoPath(sha256: photo.thumbnailSha256), let image = UIImage(contentsOfFile: path) {
                                    Image(uiImage: image).resizable().scaledToFill().frame(width: 56, height: 56).clipped()
                                }
                            }
                            Button("拍现场照片") { camera = .inspection }
                        }
                        ForEach(view.rechecks, id: \.finding) { item in
                            RecheckRow(model: model, item: item)
                        }
                    }
                }
                Section("发现的问题") {
                    ForEach(view.findings, id: \.id) { f in
                        VStack(alignment: .leading) {
                            Text(f.problem)
                            Text("依据：\(f.legalBasis)").font(.caption)
                            if f.rectificationRequired {
                                Text("责令改正，期限 \(f.deadline ?? "—")").font(.caption)
                                // The loop: the result a re-inspection found, once the server copied it in.
                                let loop = view.rechecks.first { $0.finding == f.id }
                                Text(loop?.outcomeLabel.map { "复查结果：\($0)" } ?? "待复查").font(.caption)
                            }
                            Button("拍照取证") { camera = .finding(id: f.id) }
                        }
                    }
                    FindingForm(form: $finding, departments: view.sections.map(\.department)) { input in
                        model.run { _ = try model.store.addFinding(code: model.code, finding: input) }
                    }
                }
                Section {
                    if view.status == .onSite {
                        Button("完成记录") { model.run { try model.store.setStatus(code: model.code, status: .recorded) } }
                    }
                    if view.status == .recorded {
                        Button("办结") { model.run { try model.store.setStatus(code: model.code, status: .closed) } }
                    }
                    NavigationLink("文书与签名") { DocumentScreen(code: model.code) }
                    NavigationLink("导出证据包") { ExportScreen(code: model.code) }
                }
            } else if let message = model.message {
                Text(message)
            }
        }
        .navigationTitle("现场检查")
        .onAppear { model.refresh(); location.request() }
        .sheet(item: Binding(get: { camera.map(CameraTarget.init) }, set: { camera = $0?.target })) { shown in
            CameraPicker { jpeg in
                camera = nil
                Task { await model.attach(jpeg: jpeg, target: shown.target, at: location.fix) }
            }
        }
    }
}

private struct CameraTarget: Identifiable {
    let target: PhotoTarget
    var id: String { "\(target)" }
}

/// One check point: its answer, the inputs its answer kind takes, and its photos.
private struct CheckPointRow: View {
    @ObservedObject var model: InspectionModel
    let point: CheckPointView
    let onPhoto: () -> Void
    @State private var value = ""
    @State private var note = ""

    var body: some View {
        VStack(alignment: .leading, spacing: 6) {
            Text("\(point.id) \(point.title)")
            Text((point.answer.map { "当前：\($0)（\(point.by ?? "")）" } ?? "未检查") + (point.conflicted ? " ⚠ 冲突" : "")).font(.caption)
            switch point.answerKind {
            case "pass_fail":
                HStack {
                    Button("符合") { answer(.pass) }
                    Button("不符合") { answer(.fail) }
                    Button("不适用") { answer(.notApplicable) }
                }.buttonStyle(.bordered)
            case "number":
                HStack {
                    TextField("数值（\(point.unit ?? "")）", text: $value).keyboardType(.decimalPad)
                    Button("保存") { answer(.number(value: value, unit: point.unit ?? "")) }
                }
            case "text":
                HStack {
                    TextField("情况", text: $value)
                    Button("保存") { answer(.text(text: value)) }
                }
            default:
                EmptyView()
            }
            TextField("备注", text: $note)
            HStack {
                ForEach(model.photos.filter { $0.target == "check_point:\(point.id)" }, id: \.sha256) { photo in
                    if let path = try? model.store.photoPath(sha256: photo.thumbnailSha256), let image = UIImage(contentsOfFile: path) {
                        Image(uiImage: image).resizable().scaledToFill().frame(width: 56, height: 56).clipped()
                    }
                }
                Button("拍照", action: onPhoto)
            }
            // A camera time far from the capture is shown beside the photos, never hidden.
            ForEach(model.photos.filter { $0.target == "check_point:\(point.id)" }.compactMap(\.cameraTimeWarning), id: \.self) { warning in
                Text("⚠ \(warning)").font(.caption).foregroundColor(.orange)
            }
        }
    }

    private func answer(_ a: Answer) {
        model.run { try model.store.answer(code: model.code, checkPoint: point.id, answer: a, note: note.isEmpty ? nil : note, evidence: []) }
    }
}

/// One finding at the re-inspection: what was wrong and by when; once recorded, what was found;
/// before, the three results the law allows (rectified, handed over for a case, a new deadline).
private struct RecheckRow: View {
    @ObservedObject var model: InspectionModel
    let item: RecheckItem
    @State private var note = ""
    @State private var reference = ""
    @State private var deadline = ""

    var body: some View {
        VStack(alignment: .leading, spacing: 6) {
            Text(item.problem)
            Text("依据：\(item.legalBasis)").font(.caption)
            Text("原整改期限：\(item.deadline ?? "—")").font(.caption)
            if let outcome = item.outcomeLabel {
                Text("复查结果：\(outcome)（\(item.by ?? "")）")
                if let note = item.note { Text("说明：\(note)").font(.caption) }
            } else {
                let canRecord = !model.sitePhotos.isEmpty
                if !canRecord { Text("先拍现场照片，再记录复查结果").font(.caption) }
                TextField("复查说明", text: $note)
                Button("已整改") { model.recheck(finding: item.finding, outcome: .rectified, note: note) }
                    .disabled(!canRecord)
                HStack {
                    TextField("移送立案编号", text: $reference)
                    Button("未整改，移送立案") {
                        model.recheck(finding: item.finding, outcome: .transferredForCase(reference: reference), note: note)
                    }.disabled(!canRecord)
                }
                HStack {
                    TextField("新期限（YYYY-MM-DD）", text: $deadline)
                    Button("未整改，限期改正") {
                        model.recheck(finding: item.finding, outcome: .newDeadline(deadline: deadline), note: note)
                    }.disabled(!canRecord)
                }
            }
        }
        .buttonStyle(.bordered)
    }
}

/// The fields of a finding being entered.
struct FindingDraftForm {
    var department = ""
    var problem = ""
    var basis = ""
    var rectify = true
    var deadline = ""
}

private struct FindingForm: View {
    @Binding var form: FindingDraftForm
    let departments: [String]
    let onSave: (FindingInput) -> Void

    var body: some View {
        Picker("部门", selection: $form.department) { ForEach(departments, id: \.self) { Text($0).tag($0) } }
        TextField("问题", text: $form.problem)
        TextField("法律依据", text: $form.basis)
        Toggle("责令改正", isOn: $form.rectify)
        if form.rectify { TextField("改正期限（YYYY-MM-DD）", text: $form.deadline) }
        Button("记录问题") {
            onSave(FindingInput(department: form.department.isEmpty ? (departments.first ?? "") : form.department,
                                checkPoint: nil, problem: form.problem, legalBasis: form.basis,
                                rectificationRequired: form.rectify, deadline: form.rectify ? form.deadline : nil))
            form = FindingDraftForm()
        }
    }
}

/// The device's GNSS fix for check-in and photos.
@MainActor
final class LocationFix: NSObject, ObservableObject, CLLocationManagerDelegate {
    @Published var fix: GeoPosition?
    private let manager = CLLocationManager()

    /// Asks for permission and one fix.
    func request() {
        manager.delegate = self
        manager.requestWhenInUseAuthorization()
        manager.requestLocation()
    }

    nonisolated func locationManager(_ manager: CLLocationManager, didUpdateLocations locations: [CLLocation]) {
        guard let l = locations.last else { return }
        let position = GeoPosition(latitude: l.coordinate.latitude, longitude: l.coordinate.longitude,
                                   accuracyM: UInt32(max(1, l.horizontalAccuracy)))
        Task { @MainActor in self.fix = position }
    }

    nonisolated func locationManager(_ manager: CLLocationManager, didFailWithError error: Error) {}
}

/// The system camera, returning the photo as JPEG bytes.
struct CameraPicker: UIViewControllerRepresentable {
    let onPhoto: (Data) -> Void

    func makeUIViewController(context: Context) -> UIImagePickerController {
        let picker = UIImagePickerController()
        picker.sourceType = UIImagePickerController.isSourceTypeAvailable(.camera) ? .camera : .photoLibrary
        picker.delegate = context.coordinator
        return picker
    }

    func updateUIViewController(_ controller: UIImagePickerController, context: Context) {}

    func makeCoordinator() -> Coordinator { Coordinator(onPhoto: onPhoto) }

    final class Coordinator: NSObject, UIImagePickerControllerDelegate, UINavigationControllerDelegate {
        let onPhoto: (Data) -> Void
        init(onPhoto: @escaping (Data) -> Void) { self.onPhoto = onPhoto }

        func imagePickerController(_ picker: UIImagePickerController, didFinishPickingMediaWithInfo info: [UIImagePickerController.InfoKey: Any]) {
            if let image = info[.originalImage] as? UIImage, let jpeg = image.jpegData(compressionQuality: 0.9) { onPhoto(jpeg) }
            picker.dismiss(animated: true)
        }
    }
}
