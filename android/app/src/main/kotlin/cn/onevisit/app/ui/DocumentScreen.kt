package cn.onevisit.app.ui

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.rememberScrollState
import androidx.compose.foundation.verticalScroll
import androidx.compose.material3.Button
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Text
import androidx.compose.material3.TextButton
import androidx.compose.runtime.Composable
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.setValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.layout.onSizeChanged
import androidx.compose.ui.unit.IntSize
import androidx.compose.ui.unit.dp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import cn.onevisit.app.OneVisitApplication
import cn.onevisit.ffi.DocumentKind
import cn.onevisit.kit.screens.DocumentsHolder
import cn.onevisit.kit.screens.Format

/**
 * Documents: preview of the on-site record (or a department's order to rectify), signing by this
 * inspector, the party's handwritten signature or their refusal before a witness.
 */
@Composable
fun DocumentScreen(app: OneVisitApplication, code: String) {
    val store = app.store ?: return
    val holder = rememberHolder("documents/$code") { scope -> DocumentsHolder(store, code, scope) }
    val state by holder.state.collectAsStateWithLifecycle()
    LaunchedEffect(code) { holder.refresh() }
    val strokes = remember { SignatureStrokes() }
    var padSize by remember { mutableStateOf(IntSize(600, 200)) }
    var partyName by remember { mutableStateOf("") }
    var partyRole by remember { mutableStateOf("现场负责人") }
    var refusing by remember { mutableStateOf(false) }
    var reason by remember { mutableStateOf("") }
    var witness by remember { mutableStateOf("") }
    var witnessDetail by remember { mutableStateOf("") }
    var serviceAddress by remember { mutableStateOf("") }
    var recipient by remember { mutableStateOf("") }
    var servicePhone by remember { mutableStateOf("") }
    var electronic by remember { mutableStateOf("") }
    val myDepartment = { store.deviceInfo().inspector?.let { me -> store.inspectors().firstOrNull { it.id == me }?.department } }
    Column(Modifier.padding(12.dp).verticalScroll(rememberScrollState()), verticalArrangement = Arrangement.spacedBy(8.dp)) {
        SyncBar(app.sync, onSynced = { holder.refresh() })
        Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
            Button(onClick = { holder.render(DocumentKind.ON_SITE_RECORD) }) { Text("现场检查笔录") }
            OutlinedButton(onClick = {
                store.deviceInfo().inspector?.let { me ->
                    store.inspectors().firstOrNull { it.id == me }?.let { holder.render(DocumentKind.RECTIFICATION_ORDER, it.department) }
                }
            }) { Text("责令改正通知书") }
            OutlinedButton(onClick = { myDepartment()?.let { holder.render(DocumentKind.SERVICE_RECEIPT, it) } }) { Text("送达回证") }
        }
        Text("送达地址确认书")
        OutlinedTextField(serviceAddress, { serviceAddress = it }, label = { Text("送达地址") })
        OutlinedTextField(recipient, { recipient = it }, label = { Text("受送达人") })
        OutlinedTextField(servicePhone, { servicePhone = it }, label = { Text("联系电话") })
        OutlinedTextField(electronic, { electronic = it }, label = { Text("同意电子送达的邮箱或手机（不同意则留空）") })
        OutlinedButton(
            enabled = serviceAddress.isNotBlank() && recipient.isNotBlank() && servicePhone.isNotBlank(),
            onClick = { holder.confirmServiceAddress(serviceAddress.trim(), recipient.trim(), servicePhone.trim(), electronic.trim()) },
        ) { Text("记录送达地址并生成确认书") }
        state.message?.let { Text(it) }
        val preview = state.preview
        if (preview != null) {
            Text("${preview.number}（第 ${preview.version} 版）")
            Text(preview.text)
            val status = state.previewStatus
            status?.signatures?.forEach { s ->
                Text("签名：${s.signer} ${s.atMs?.let { Format.time(it) }.orEmpty()} ${if (s.valid) "有效" else "无效：${s.problem}"} ${s.presence ?: "签署时未验证本人"}")
            }
            status?.missing?.forEach { Text("尚缺：$it") }
            if (status?.signed == true) Text("文书已签署完毕")
            status?.let { Text("机关电子印章：${it.seal}") }
            Button(onClick = { holder.sign() }) { Text("本人签名") }
            Text("当事人签名（以上笔录我已看过，与事实相符）")
            OutlinedTextField(partyName, { partyName = it }, label = { Text("当事人姓名") })
            OutlinedTextField(partyRole, { partyRole = it }, label = { Text("身份") })
            SignaturePad(strokes, Modifier.onSizeChanged { padSize = it })
            Row {
                TextButton(onClick = { strokes.clear() }) { Text("重写") }
                Button(enabled = !strokes.isEmpty && partyName.isNotBlank(), onClick = {
                    holder.partySigns(partyName.trim(), partyRole.trim(), strokes.toPng(padSize.width, padSize.height))
                }) { Text("确认当事人签名") }
                TextButton(onClick = { refusing = !refusing }) { Text("当事人拒绝签名") }
            }
            if (refusing) {
                OutlinedTextField(reason, { reason = it }, label = { Text("拒签理由") }, modifier = Modifier.fillMaxWidth())
                OutlinedTextField(witness, { witness = it }, label = { Text("见证人姓名") })
                OutlinedTextField(witnessDetail, { witnessDetail = it }, label = { Text("见证人身份证号或职务") })
                Button(enabled = witness.isNotBlank(), onClick = {
                    holder.partyRefuses(reason.trim(), witness.trim(), witnessDetail.trim().ifEmpty { null })
                }) { Text("记录拒签（见证人在场）") }
            }
        }
    }
}
