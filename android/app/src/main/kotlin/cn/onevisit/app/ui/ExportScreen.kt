package cn.onevisit.app.ui

import android.content.Intent
import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.padding
import androidx.compose.material3.Button
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.platform.LocalContext
import androidx.compose.ui.unit.dp
import androidx.core.content.FileProvider
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import cn.onevisit.app.OneVisitApplication
import cn.onevisit.kit.screens.ExportHolder
import cn.onevisit.kit.screens.Format
import java.io.File

/** Exporting a sealed evidence bundle and handing it over through the share sheet. */
@Composable
fun ExportScreen(app: OneVisitApplication, code: String) {
    val store = app.store ?: return
    val context = LocalContext.current
    val holder = rememberHolder("export/$code") { scope -> ExportHolder(store, scope) }
    val state by holder.state.collectAsStateWithLifecycle()
    val folder = File(context.filesDir, "bundles").apply { mkdirs() }
    Column(Modifier.padding(16.dp), verticalArrangement = Arrangement.spacedBy(12.dp)) {
        Text("证据包：任务 $code 的照片原件、采集记录、签名文书、审计日志与服务器证明，封存签名后可离线核验。")
        Button(enabled = !state.busy, onClick = { holder.export(listOf(code), folder) }) { Text(if (state.busy) "导出中…" else "导出证据包") }
        state.progress?.let { Text("已写入 ${it.files} 个文件，${Format.bytes(it.bytes)}") }
        state.message?.let { Text(it) }
        state.result?.let { result ->
            Text("照片 ${result.photos} 张，文书 ${result.documents} 份，审计记录 ${result.auditEntries} 条（已证明 ${result.provenEntries} 条）")
            result.proofsUnavailable?.let { Text("注意：未取得服务器证明（$it）") }
            Button(onClick = {
                val uri = FileProvider.getUriForFile(context, "${context.packageName}.bundles", File(result.path))
                val send = Intent(Intent.ACTION_SEND)
                    .setType("application/zip")
                    .putExtra(Intent.EXTRA_STREAM, uri)
                    .addFlags(Intent.FLAG_GRANT_READ_URI_PERMISSION)
                context.startActivity(Intent.createChooser(send, "分享证据包"))
            }) { Text("分享") }
        }
    }
}
