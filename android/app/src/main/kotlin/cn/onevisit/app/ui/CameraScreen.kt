package cn.onevisit.app.ui

import android.Manifest
import android.content.pm.PackageManager
import androidx.activity.compose.rememberLauncherForActivityResult
import androidx.activity.result.contract.ActivityResultContracts
import androidx.camera.core.CameraSelector
import androidx.camera.core.ImageCapture
import androidx.camera.core.ImageCaptureException
import androidx.camera.core.Preview
import androidx.camera.lifecycle.ProcessCameraProvider
import androidx.camera.view.PreviewView
import androidx.compose.foundation.layout.Box
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.padding
import androidx.compose.material3.Button
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.setValue
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.platform.LocalContext
import androidx.lifecycle.compose.LocalLifecycleOwner
import androidx.compose.ui.unit.dp
import androidx.compose.ui.viewinterop.AndroidView
import androidx.core.content.ContextCompat
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import cn.onevisit.app.OneVisitApplication
import cn.onevisit.ffi.PhotoStage
import cn.onevisit.ffi.PhotoTarget
import cn.onevisit.kit.screens.InspectionHolder
import java.io.File

/**
 * Camera capture (CameraX) straight into the evidence store: the JPEG file the camera writes is
 * taken in byte-identical, with its signed capture record; a photo check point is answered with it.
 */
@Composable
fun CameraScreen(app: OneVisitApplication, code: String, target: PhotoTarget, onDone: () -> Unit) {
    val store = app.store ?: return
    val context = LocalContext.current
    val lifecycleOwner = LocalLifecycleOwner.current
    val holder = rememberHolder("inspection/$code") { scope -> InspectionHolder(store, code, scope) }
    val state by holder.state.collectAsStateWithLifecycle()
    var allowed by remember {
        mutableStateOf(ContextCompat.checkSelfPermission(context, Manifest.permission.CAMERA) == PackageManager.PERMISSION_GRANTED)
    }
    val ask = rememberLauncherForActivityResult(ActivityResultContracts.RequestPermission()) { allowed = it }
    LaunchedEffect(Unit) { if (!allowed) ask.launch(Manifest.permission.CAMERA) }
    var error by remember { mutableStateOf<String?>(null) }
    val capture = remember { ImageCapture.Builder().setCaptureMode(ImageCapture.CAPTURE_MODE_MAXIMIZE_QUALITY).build() }
    if (!allowed) {
        Text("需要相机权限才能拍照取证", Modifier.padding(16.dp))
        return
    }
    Box(Modifier.fillMaxSize()) {
        AndroidView(modifier = Modifier.fillMaxSize(), factory = { ctx ->
            PreviewView(ctx).also { view ->
                val future = ProcessCameraProvider.getInstance(ctx)
                future.addListener({
                    val provider = future.get()
                    val preview = Preview.Builder().build().also { it.setSurfaceProvider(view.surfaceProvider) }
                    provider.unbindAll()
                    provider.bindToLifecycle(lifecycleOwner, CameraSelector.DEFAULT_BACK_CAMERA, preview, capture)
                }, ContextCompat.getMainExecutor(ctx))
            }
        })
        Column(Modifier.align(Alignment.BottomCenter).padding(24.dp), horizontalAlignment = Alignment.CenterHorizontally) {
            (error ?: state.message)?.let { Text(it) }
            when (state.photoStage) {
                PhotoStage.READING, PhotoStage.PROCESSING -> Text("正在保存并签名…")
                else -> Unit
            }
            Button(enabled = !state.busy, onClick = {
                val file = File(context.cacheDir, "capture-${System.currentTimeMillis()}.jpg")
                capture.takePicture(
                    ImageCapture.OutputFileOptions.Builder(file).build(),
                    ContextCompat.getMainExecutor(context),
                    object : ImageCapture.OnImageSavedCallback {
                        override fun onImageSaved(output: ImageCapture.OutputFileResults) {
                            holder.attachPhoto(file, target, answersCheckPoint = target is PhotoTarget.CheckPoint)
                                .invokeOnCompletion { file.delete(); if (holder.state.value.message == null) onDone() }
                        }

                        override fun onError(exception: ImageCaptureException) {
                            error = "拍照失败：${exception.message}"
                        }
                    },
                )
            }) { Text("拍照") }
        }
    }
}
