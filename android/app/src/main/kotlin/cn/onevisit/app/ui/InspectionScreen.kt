package cn.onevisit.app.ui

import android.Manifest
import android.annotation.SuppressLint
import android.content.Context
import android.graphics.BitmapFactory
import android.location.LocationManager
import androidx.activity.compose.rememberLauncherForActivityResult
import androidx.activity.result.contract.ActivityResultContracts
import androidx.compose.foundation.Image
import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.layout.size
import androidx.compose.foundation.lazy.LazyColumn
import androidx.compose.foundation.lazy.items
import androidx.compose.material3.AlertDialog
import androidx.compose.material3.Button
import androidx.compose.material3.Card
import androidx.compose.material3.Checkbox
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
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.graphics.asImageBitmap
import androidx.compose.ui.platform.LocalContext
import androidx.compose.ui.unit.dp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import cn.onevisit.app.OneVisitApplication
import cn.onevisit.ffi.Answer
import cn.onevisit.ffi.CheckPointView
import cn.onevisit.ffi.DeviceStore
import cn.onevisit.ffi.FindingInput
import cn.onevisit.ffi.GeoPosition
import cn.onevisit.ffi.PartyInput
import cn.onevisit.ffi.RecheckChoice
import cn.onevisit.ffi.RecheckItem
import cn.onevisit.ffi.TaskStatus
import cn.onevisit.kit.screens.Format
import cn.onevisit.kit.screens.InspectionHolder

/** The inspection screen: check-in, identity, party, a section per department, findings, conflicts. */
@Composable
fun InspectionScreen(
    app: OneVisitApplication,
    code: String,
    onCamera: (String) -> Unit,
    onDocuments: () -> Unit,
    onExport: () -> Unit,
) {
    val store = app.store ?: return
    val holder = rememberHolder("inspection/$code") { scope -> InspectionHolder(store, code, scope) }
    val state by holder.state.collectAsStateWithLifecycle()
    val me = remember { store.deviceInfo().inspector }
    val context = LocalContext.current
    LaunchedEffect(code) { holder.refresh() }
    var partyForm by remember { mutableStateOf(false) }
    var findingForm by remember { mutableStateOf(false) }
    val locationPermission = rememberLauncherForActivityResult(ActivityResultContracts.RequestPermission()) { granted ->
        if (granted) lastFix(context)?.let { holder.checkIn(it) }
    }
    val view = state.inspection
    LazyColumn(Modifier.padding(horizontal = 12.dp), verticalArrangement = Arrangement.spacedBy(8.dp)) {
        item { SyncBar(app.sync, onSynced = { holder.refresh() }) }
        if (view == null) {
            item { Text(state.message ?: "加载中…") }
            return@LazyColumn
        }
        item {
            Text(view.enterpriseName)
            Text("${view.taskCode} · ${view.statusLabel} · 牵头：${view.leadDepartment}")
            view.reinspectionOf?.let { Text("复查任务 · 原任务 $it") }
            Text(view.enterpriseAddress)
            val (done, total) = state.answered
            Text("已检查 $done/$total 项" + if (view.openConflicts > 0u) "，待裁决冲突 ${view.openConflicts} 处" else "")
            state.message?.let { Text(it) }
        }
        item {
            Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
                if (!state.checkedIn(me)) {
                    Button(onClick = {
                        val fix = lastFix(context)
                        if (fix != null) holder.checkIn(fix) else locationPermission.launch(Manifest.permission.ACCESS_FINE_LOCATION)
                    }) { Text("签到") }
                }
                if (view.identityShownBy == null) OutlinedButton(onClick = { holder.showIdentity() }) { Text("已出示证件") }
                OutlinedButton(onClick = { partyForm = true }) { Text(if (view.party == null) "记录当事人" else "当事人：${view.party!!.name}") }
            }
        }
        if (state.conflicts.isNotEmpty()) {
            item { Text("冲突（由牵头执法人员裁决）") }
            items(state.conflicts, key = { it.field }) { conflict ->
                Card(Modifier.fillMaxWidth()) {
                    Column(Modifier.padding(8.dp)) {
                        Text(conflict.field)
                        conflict.values.forEachIndexed { i, value ->
                            Row(verticalAlignment = Alignment.CenterVertically) {
                                Text("${value.display}（${value.by}，${Format.time(value.atMs)}）", Modifier.weight(1f))
                                TextButton(onClick = { holder.resolve(conflict.field, i) }) { Text("采用") }
                            }
                        }
                    }
                }
            }
        }
        for (section in view.sections) {
            item(key = "section-${section.department}") { Text(section.departmentName) }
            items(section.checkPoints, key = { it.id }) { point ->
                val photos = state.photosOf("check_point:${point.id}")
                CheckPointCard(store, point, photos.map { it.thumbnailSha256 }, photos.mapNotNull { it.cameraTimeWarning },
                    onAnswer = { answer, note -> holder.answer(point.id, answer, note) },
                    onPhoto = { onCamera("cp:${point.id}") })
            }
        }
        if (state.isReinspection) {
            item { Text("复查事项（每项须附现场照片）") }
            item {
                Row(verticalAlignment = Alignment.CenterVertically) {
                    for (photo in state.sitePhotos) Thumbnail(store, photo.thumbnailSha256)
                    TextButton(onClick = { onCamera("inspection") }) { Text("拍现场照片") }
                }
            }
            items(state.rechecks, key = { "recheck-${it.finding}" }) { item ->
                RecheckCard(item, canRecord = state.sitePhotos.isNotEmpty()) { choice, note ->
                    holder.recheck(item.finding, choice, note, state.sitePhotos.map { it.sha256 })
                }
            }
        }
        item { Text("发现的问题") }
        items(view.findings, key = { it.id }) { finding ->
            Card(Modifier.fillMaxWidth()) {
                Column(Modifier.padding(8.dp)) {
                    Text(finding.problem)
                    Text("依据：${finding.legalBasis}")
                    if (finding.rectificationRequired) {
                        Text("责令改正，期限 ${finding.deadline ?: "—"}")
                        // The loop: the result a re-inspection found, once the server copied it in.
                        val loop = state.rechecks.firstOrNull { it.finding == finding.id }
                        Text(loop?.outcomeLabel?.let { "复查结果：$it" } ?: "待复查")
                    }
                    TextButton(onClick = { onCamera("finding:${finding.id}") }) { Text("拍照取证") }
                }
            }
        }
        item {
            Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
                OutlinedButton(onClick = { findingForm = true }) { Text("记录问题") }
                if (view.status == TaskStatus.ON_SITE) Button(onClick = { holder.markRecorded() }) { Text("完成记录") }
                if (view.status == TaskStatus.RECORDED) Button(onClick = { holder.close() }) { Text("办结") }
                OutlinedButton(onClick = onDocuments) { Text("文书与签名") }
                OutlinedButton(onClick = onExport) { Text("导出证据包") }
            }
        }
    }
    if (partyForm) PartyDialog(onDismiss = { partyForm = false }) { holder.recordParty(it); partyForm = false }
    if (findingForm && view != null) {
        FindingDialog(view.sections.map { it.department }, onDismiss = { findingForm = false }) {
            holder.addFinding(it)
            findingForm = false
        }
    }
}

/**
 * One finding at the re-inspection: what was wrong and by when; once recorded, what was found;
 * before, the three results the law allows (rectified, handed over for a case, a new deadline).
 */
@Composable
private fun RecheckCard(item: RecheckItem, canRecord: Boolean, onRecord: (RecheckChoice, String?) -> Unit) {
    var note by remember(item.finding) { mutableStateOf("") }
    var reference by remember(item.finding) { mutableStateOf("") }
    var deadline by remember(item.finding) { mutableStateOf("") }
    Card(Modifier.fillMaxWidth()) {
        Column(Modifier.padding(8.dp)) {
            Text(item.problem)
            Text("依据：${item.legalBasis}")
            Text("原整改期限：${item.deadline ?: "—"}")
            val outcome = item.outcomeLabel
            if (outcome != null) {
                Text("复查结果：$outcome（${item.by.orEmpty()}）")
                item.note?.let { Text("说明：$it") }
            } else {
                if (!canRecord) Text("先拍现场照片，再记录复查结果")
                OutlinedTextField(note, { note = it }, label = { Text("复查说明") }, modifier = Modifier.fillMaxWidth())
                Button(enabled = canRecord, onClick = { onRecord(RecheckChoice.Rectified, note) }) { Text("已整改") }
                Row(verticalAlignment = Alignment.CenterVertically) {
                    OutlinedTextField(reference, { reference = it }, label = { Text("移送立案编号") }, modifier = Modifier.weight(1f))
                    TextButton(enabled = canRecord, onClick = { onRecord(RecheckChoice.TransferredForCase(reference.trim()), note) }) {
                        Text("未整改，移送立案")
                    }
                }
                Row(verticalAlignment = Alignment.CenterVertically) {
                    OutlinedTextField(deadline, { deadline = it.trim() }, label = { Text("新期限（YYYY-MM-DD）") }, modifier = Modifier.weight(1f))
                    TextButton(enabled = canRecord, onClick = { onRecord(RecheckChoice.NewDeadline(deadline), note) }) {
                        Text("未整改，限期改正")
                    }
                }
            }
        }
    }
}

/** The device's last known GNSS fix, if the permission is granted and there is one. */
@SuppressLint("MissingPermission")
private fun lastFix(context: Context): GeoPosition? = try {
    val manager = context.getSystemService(Context.LOCATION_SERVICE) as LocationManager
    val fix = manager.getLastKnownLocation(LocationManager.GPS_PROVIDER)
        ?: manager.getLastKnownLocation(LocationManager.NETWORK_PROVIDER)
    fix?.let { GeoPosition(it.latitude, it.longitude, it.accuracy.toInt().coerceAtLeast(1).toUInt()) }
} catch (e: SecurityException) {
    null
}

/** One check point: its answer, the inputs its answer kind takes, and its photos. */
@Composable
private fun CheckPointCard(
    store: DeviceStore,
    point: CheckPointView,
    thumbnails: List<String>,
    cameraTimeWarnings: List<String>,
    onAnswer: (Answer, String?) -> Unit,
    onPhoto: () -> Unit,
) {
    var note by remember(point.id) { mutableStateOf(point.note.orEmpty()) }
    var value by remember(point.id) { mutableStateOf("") }
    Card(Modifier.fillMaxWidth()) {
        Column(Modifier.padding(8.dp)) {
            Text("${point.id} ${point.title}")
            Text((point.answer?.let { "当前：$it（${point.by}）" } ?: "未检查") + if (point.conflicted) " ⚠ 冲突" else "")
            when (point.answerKind) {
                "pass_fail" -> Row {
                    TextButton(onClick = { onAnswer(Answer.Pass, note) }) { Text("符合") }
                    TextButton(onClick = { onAnswer(Answer.Fail, note) }) { Text("不符合") }
                    TextButton(onClick = { onAnswer(Answer.NotApplicable, note) }) { Text("不适用") }
                }
                "number" -> Row(verticalAlignment = Alignment.CenterVertically) {
                    OutlinedTextField(value, { value = it }, label = { Text("数值（${point.unit.orEmpty()}）") }, modifier = Modifier.weight(1f))
                    TextButton(onClick = { onAnswer(Answer.Number(value.trim(), point.unit.orEmpty()), note) }) { Text("保存") }
                }
                "text" -> Row(verticalAlignment = Alignment.CenterVertically) {
                    OutlinedTextField(value, { value = it }, label = { Text("情况") }, modifier = Modifier.weight(1f))
                    TextButton(onClick = { onAnswer(Answer.Text(value.trim()), note) }) { Text("保存") }
                }
                else -> Unit // photo check points are answered by taking the photo
            }
            OutlinedTextField(note, { note = it }, label = { Text("备注") }, modifier = Modifier.fillMaxWidth())
            Row(verticalAlignment = Alignment.CenterVertically) {
                for (sha in thumbnails) Thumbnail(store, sha)
                TextButton(onClick = onPhoto) { Text("拍照") }
            }
            // A camera time far from the capture is shown beside the photos, never hidden.
            for (warning in cameraTimeWarnings) Text("⚠ $warning")
        }
    }
}

/** A photo's thumbnail from the store's files. */
@Composable
fun Thumbnail(store: DeviceStore, sha256: String) {
    val bitmap = remember(sha256) { store.photoPath(sha256)?.let { BitmapFactory.decodeFile(it) }?.asImageBitmap() }
    if (bitmap != null) Image(bitmap, contentDescription = "照片", modifier = Modifier.size(64.dp).padding(2.dp))
}

/** The party's representative and the recusal question (申请回避). */
@Composable
private fun PartyDialog(onDismiss: () -> Unit, onSave: (PartyInput) -> Unit) {
    var name by remember { mutableStateOf("") }
    var role by remember { mutableStateOf("现场负责人") }
    var phone by remember { mutableStateOf("") }
    var recusal by remember { mutableStateOf(false) }
    var reason by remember { mutableStateOf("") }
    AlertDialog(
        onDismissRequest = onDismiss,
        title = { Text("当事人") },
        text = {
            Column {
                OutlinedTextField(name, { name = it }, label = { Text("姓名") })
                OutlinedTextField(role, { role = it }, label = { Text("身份") })
                OutlinedTextField(phone, { phone = it }, label = { Text("电话") })
                Row(verticalAlignment = Alignment.CenterVertically) {
                    Checkbox(recusal, { recusal = it })
                    Text("申请回避")
                }
                if (recusal) OutlinedTextField(reason, { reason = it }, label = { Text("理由") })
            }
        },
        confirmButton = {
            TextButton(onClick = {
                onSave(PartyInput(name.trim(), role.trim(), phone.trim().ifEmpty { null }, if (recusal) reason.trim() else null))
            }) { Text("保存") }
        },
        dismissButton = { TextButton(onClick = onDismiss) { Text("取消") } },
    )
}

/** A problem found, with its legal basis and the rectification deadline. */
@Composable
private fun FindingDialog(departments: List<String>, onDismiss: () -> Unit, onSave: (FindingInput) -> Unit) {
    var department by remember { mutableStateOf(departments.firstOrNull().orEmpty()) }
    var checkPoint by remember { mutableStateOf("") }
    var problem by remember { mutableStateOf("") }
    var basis by remember { mutableStateOf("") }
    var rectify by remember { mutableStateOf(true) }
    var deadline by remember { mutableStateOf("") }
    AlertDialog(
        onDismissRequest = onDismiss,
        title = { Text("记录问题") },
        text = {
            Column {
                Row { for (d in departments) TextButton(onClick = { department = d }) { Text(if (d == department) "[$d]" else d) } }
                OutlinedTextField(checkPoint, { checkPoint = it.trim() }, label = { Text("检查要点（可选）") })
                OutlinedTextField(problem, { problem = it }, label = { Text("问题") })
                OutlinedTextField(basis, { basis = it }, label = { Text("法律依据") })
                Row(verticalAlignment = Alignment.CenterVertically) {
                    Checkbox(rectify, { rectify = it })
                    Text("责令改正")
                }
                if (rectify) OutlinedTextField(deadline, { deadline = it.trim() }, label = { Text("改正期限（YYYY-MM-DD）") })
            }
        },
        confirmButton = {
            TextButton(onClick = {
                onSave(FindingInput(department, checkPoint.ifEmpty { null }, problem.trim(), basis.trim(), rectify, if (rectify) deadline else null))
            }) { Text("保存") }
        },
        dismissButton = { TextButton(onClick = onDismiss) { Text("取消") } },
    )
}
