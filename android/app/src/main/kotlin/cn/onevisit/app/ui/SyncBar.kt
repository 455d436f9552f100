package cn.onevisit.app.ui

import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.material3.LinearProgressIndicator
import androidx.compose.material3.Text
import androidx.compose.material3.TextButton
import androidx.compose.foundation.layout.Column
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.unit.dp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import cn.onevisit.kit.screens.SyncHolder

/** The sync status line with progress and the manual sync button, on every screen. */
@Composable
fun SyncBar(sync: SyncHolder?, onSynced: () -> Unit = {}) {
    if (sync == null) return
    val state by sync.state.collectAsStateWithLifecycle()
    Column(Modifier.fillMaxWidth().padding(horizontal = 16.dp)) {
        Row(verticalAlignment = Alignment.CenterVertically) {
            Text(state.line, Modifier.weight(1f))
            if (state.running) {
                TextButton(onClick = { sync.cancel() }) { Text("停止") }
            } else {
                TextButton(onClick = { sync.syncNow(fetchPhotos = true).invokeOnCompletion { onSynced() } }) { Text("立即同步") }
            }
        }
        val p = state.progress
        if (state.running && p != null && p.recordsToPush > 0uL) {
            LinearProgressIndicator(progress = { p.recordsPushed.toFloat() / p.recordsToPush.toFloat() }, modifier = Modifier.fillMaxWidth())
        }
    }
}
