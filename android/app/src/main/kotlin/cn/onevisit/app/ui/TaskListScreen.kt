package cn.onevisit.app.ui

import android.graphics.BitmapFactory
import androidx.compose.foundation.Image
import androidx.compose.foundation.clickable
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.layout.size
import androidx.compose.foundation.lazy.LazyColumn
import androidx.compose.foundation.lazy.items
import androidx.compose.material3.AlertDialog
import androidx.compose.material3.FilterChip
import androidx.compose.material3.HorizontalDivider
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
import androidx.compose.ui.graphics.asImageBitmap
import androidx.compose.ui.unit.dp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import cn.onevisit.app.OneVisitApplication
import cn.onevisit.ffi.TaskStatus
import cn.onevisit.kit.screens.Format
import cn.onevisit.kit.screens.TaskListHolder

/** The task list: filters by status and day; a long press shows the task code as a QR (亮码). */
@Composable
fun TaskListScreen(app: OneVisitApplication, onOpen: (String) -> Unit) {
    val store = app.store ?: return
    val holder = rememberHolder("tasks") { scope -> TaskListHolder(store, scope) }
    val state by holder.state.collectAsStateWithLifecycle()
    LaunchedEffect(Unit) { holder.refresh() }
    var day by remember { mutableStateOf(state.date.orEmpty()) }
    Column {
        SyncBar(app.sync, onSynced = { holder.refresh() })
        Row(Modifier.padding(horizontal = 8.dp)) {
            FilterChip(state.status == null, { holder.filter(null, state.date) }, label = { Text("全部") })
            for (status in listOf(TaskStatus.PLANNED, TaskStatus.ON_SITE, TaskStatus.RECORDED, TaskStatus.CLOSED)) {
                FilterChip(state.status == status, { holder.filter(status, state.date) }, label = { Text(Format.status(status)) })
            }
        }
        OutlinedTextField(
            day,
            { day = it; if (it.isEmpty() || it.length == 10) holder.filter(state.status, it) },
            label = { Text("检查日期（YYYY-MM-DD）") },
            modifier = Modifier.fillMaxWidth().padding(horizontal = 8.dp),
        )
        state.message?.let { Text(it, Modifier.padding(8.dp)) }
        LazyColumn {
            items(state.tasks, key = { it.code }) { task ->
                Column(Modifier.fillMaxWidth().clickable { onOpen(task.code) }.padding(12.dp)) {
                    Text(task.enterpriseName)
                    Text("${task.code} · ${task.sourceLabel} · ${Format.status(task.status)} · ${task.windowStart} ~ ${task.windowEnd}")
                    Row {
                        Text("已检查 ${task.answered}/${task.checkPoints} 项，问题 ${task.findings} 个", Modifier.weight(1f))
                        TextButton(onClick = { holder.showTaskCode(task.code) }) { Text("亮码") }
                    }
                }
                HorizontalDivider()
            }
        }
    }
    state.taskCode?.let { token ->
        val bitmap = remember(token.token) { BitmapFactory.decodeByteArray(token.qrPng, 0, token.qrPng.size).asImageBitmap() }
        AlertDialog(
            onDismissRequest = { holder.hideTaskCode() },
            confirmButton = { TextButton(onClick = { holder.hideTaskCode() }) { Text("关闭") } },
            title = { Text("检查码 ${token.code}") },
            text = {
                Column {
                    Image(bitmap, contentDescription = "检查码", modifier = Modifier.size(260.dp))
                    Text("有效期至 ${Format.time(token.expiresMs)}，企业扫码可离线核验")
                }
            },
        )
    }
}
