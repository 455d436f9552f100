import OneVisitKit
import SwiftUI

/// Documents: preview, this inspector's signature, the party's handwriting or refusal before a witness.
struct DocumentScreen: View {
    @EnvironmentObject private var app: AppModel
    let code: String
    @State private var preview: DocumentPreview?
    @State private var status: DocumentStatus?
    @State private var message: String?
    @State private var partyName = ""
    @State private var partyRole = "现场负责人"
    @State private var strokes: [[CGPoint]] = []
    @State private var refusing = false
    @State private var reason = ""
    @State private var witness = ""
    @State private var serviceAddress = ""
    @State private var recipient = ""
    @State private var servicePhone = ""
    @State private var electronic = ""

    var body: some View {
        Form {
            Section { SyncBar(onSynced: reloadStatus) }
            Button("生成现场检查笔录") { act { preview = try app.store?.renderDocument(code: code, kind: .onSiteRecord, department: nil) } }
            Button("生成送达回证") {
                act {
                    guard let store = app.store, let me = store.deviceInfo().inspector,
                          let department = store.inspectors().first(where: { $0.id == me })?.department else { return }
                    preview = try store.renderDocument(code: code, kind: .serviceReceipt, department: department)
                }
            }
            Section("送达地址确认书") {
                TextField("送达地址", text: $serviceAddress)
                TextField("受送达人", text: $recipient)
                TextField("联系电话", text: $servicePhone)
                TextField("同意电子送达的邮箱或手机（不同意则留空）", text: $electronic)
                Button("记录送达地址并生成确认书") {
                    act {
                        try app.store?.confirmServiceAddress(code: code, address: serviceAddress, recipient: recipient, phone: servicePhone, electronic: electronic.isEmpty ? nil : electronic)
                        preview = try app.store?.renderDocument(code: code, kind: .addressConfirmation, department: nil)
                    }
                }.disabled(serviceAddress.isEmpty || recipient.isEmpty || servicePhone.isEmpty)
            }
            if let message { Text(message).foregroundColor(.red) }
            if let preview {
                Section("\(preview.number)（第 \(preview.version) 版）") {
                    Text(preview.text).font(.system(.footnote, design: .monospaced))
                }
                Section("签名") {
                    ForEach(status?.signatures ?? [], id: \.signer) { s in
                        Text("\(s.signer) \(s.atMs.map(Formatting.time) ?? "") \(s.valid ? "有效" : "无效") \(s.presence ?? "签署时未验证本人")")
                    }
                    ForEach(status?.missing ?? [], id: \.self) { Text("尚缺：\($0)") }
                    if status?.signed == true { Text("文书已签署完毕") }
                    if let status { Text("机关电子印章：\(status.seal)") }
                    Button("本人签名") { act { status = try app.store?.signDocument(code: code, sha256: preview.sha256) } }
                }
                Section("当事人签名（以上笔录我已看过，与事实相符）") {
                    TextField("当事人姓名", text: $partyName)
                    TextField("身份", text: $partyRole)
                    SignatureCanvas(strokes: $strokes).frame(height: 180)
                    HStack {
                        Button("重写") { strokes = [] }
                        Button("确认当事人签名") {
                            guard let png = SignatureCanvas.png(strokes, size: CGSize(width: 600, height: 180)) else { return }
                            act { status = try app.store?.partySigns(code: code, sha256: preview.sha256, name: partyName, role: partyRole, signaturePng: png) }
                        }.disabled(strokes.isEmpty || partyName.isEmpty)
                    }
                    Toggle("当事人拒绝签名", isOn: $refusing)
                    if refusing {
                        TextField("拒签理由", text: $reason)
                        TextField("见证人姓名", text: $witness)
                        Button("记录拒签（见证人在场）") {
                            act { status = try app.store?.partyRefuses(code: code, sha256: preview.sha256, reason: reason, witness: witness, witnessDetail: nil, witnessSignaturePng: nil) }
                        }.disabled(witness.isEmpty)
                    }
                }
            }
        }
        .navigationTitle("文书与签名")
    }

    private func act(_ action: () throws -> Void) {
        do { try action(); message = nil } catch { message = Formatting.message(error) }
        reloadStatus()
    }

    private func reloadStatus() {
        guard let sha = preview?.sha256 else { return }
        status = (try? app.store?.documents(code: code))?.first { $0.sha256 == sha } ?? status
    }
}

/// A pad the party signs on with a finger.
struct SignatureCanvas: View {
    @Binding var strokes: [[CGPoint]]

    var body: some View {
        Canvas { context, _ in
            for stroke in strokes { context.stroke(Self.path(stroke), with: .color(.black), lineWidth: 3) }
        }
        .background(Color(white: 0.96))
        .gesture(DragGesture(minimumDistance: 0)
            .onChanged { value in
                if value.translation == .zero || strokes.isEmpty { strokes.append([value.location]) } else { strokes[strokes.count - 1].append(value.location) }
            })
    }

    static func path(_ points: [CGPoint]) -> Path {
        var path = Path()
        guard let first = points.first else { return path }
        path.move(to: first)
        for p in points.dropFirst() { path.addLine(to: p) }
        return path
    }

    /// The strokes as a PNG (kept as evidence with the party's signature).
    @MainActor
    static func png(_ strokes: [[CGPoint]], size: CGSize) -> Data? {
        let renderer = ImageRenderer(content: Canvas { context, _ in
            for stroke in strokes { context.stroke(path(stroke), with: .color(.black), lineWidth: 3) }
        }.frame(width: size.width, height: size.height))
        return renderer.uiImage?.pngData()
    }
}
