package cn.onevisit.app.ui

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.material3.Button
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.setValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.platform.LocalContext
import androidx.compose.ui.unit.dp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import cn.onevisit.app.OneVisitApplication
import cn.onevisit.kit.screens.EnrolmentHolder
import cn.onevisit.kit.userMessage
import com.google.mlkit.vision.barcode.common.Barcode
import com.google.mlkit.vision.codescanner.GmsBarcodeScannerOptions
import com.google.mlkit.vision.codescanner.GmsBarcodeScanning

/** First start: who operates this device, then enrolment (设备登记): scanning the QR code the
 *  command centre's console shows, or typing the server, the one-time code and the root key. */
@Composable
fun SetupScreen(app: OneVisitApplication, onEnrolled: () -> Unit) {
    var store by remember { mutableStateOf(app.store) }
    Column(Modifier.padding(16.dp), verticalArrangement = Arrangement.spacedBy(12.dp)) {
        Text("执法终端登记")
        val current = store
        if (current == null) {
            var inspector by remember { mutableStateOf("") }
            var error by remember { mutableStateOf<String?>(null) }
            OutlinedTextField(inspector, { inspector = it.trim() }, label = { Text("执法人员编号") }, modifier = Modifier.fillMaxWidth())
            Button(onClick = {
                error = try {
                    store = app.createStore(inspector)
                    null
                } catch (e: Exception) {
                    e.userMessage()
                }
            }, enabled = inspector.isNotEmpty()) { Text("生成设备密钥") }
            error?.let { Text(it) }
        } else {
            val holder = rememberHolder("enrolment") { scope -> EnrolmentHolder(current, scope) }
            val state by holder.state.collectAsStateWithLifecycle()
            LaunchedEffect(state.enrolled) { if (state.enrolled) onEnrolled() }
            val context = LocalContext.current
            Button(onClick = {
                // Google's code scanner: its own camera screen, no camera permission for this app.
                val options = GmsBarcodeScannerOptions.Builder().setBarcodeFormats(Barcode.FORMAT_QR_CODE).build()
                GmsBarcodeScanning.getClient(context, options).startScan()
                    .addOnSuccessListener { code -> holder.enrolScanned(code.rawValue.orEmpty()) }
            }, enabled = !state.busy) { Text("扫码登记") }
            Text("或手工填写：")
            OutlinedTextField(state.serverUrl, { holder.edit(serverUrl = it) }, label = { Text("服务器地址") }, modifier = Modifier.fillMaxWidth())
            OutlinedTextField(state.oneTimeCode, { holder.edit(oneTimeCode = it) }, label = { Text("一次性登记码") }, modifier = Modifier.fillMaxWidth())
            OutlinedTextField(state.rootKey, { holder.edit(rootKey = it) }, label = { Text("根公钥（64 位十六进制，线下提供）") }, modifier = Modifier.fillMaxWidth())
            Button(onClick = { holder.enrol() }, enabled = state.canEnrol) { Text(if (state.busy) "登记中…" else "登记") }
            state.message?.let { Text(it) }
        }
    }
}
