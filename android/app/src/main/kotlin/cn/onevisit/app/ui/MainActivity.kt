package cn.onevisit.app.ui

import android.os.Bundle
import androidx.fragment.app.FragmentActivity
import androidx.activity.compose.setContent
import androidx.compose.material3.MaterialTheme
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.setValue
import androidx.navigation.compose.NavHost
import androidx.navigation.compose.composable
import androidx.navigation.compose.rememberNavController
import cn.onevisit.app.OneVisitApplication
import cn.onevisit.ffi.PhotoTarget

/** The one activity: Compose navigation between the screens (a FragmentActivity: BiometricPrompt needs one). */
class MainActivity : FragmentActivity() {
    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        val app = application as OneVisitApplication
        app.foreground = java.lang.ref.WeakReference(this)
        setContent {
            MaterialTheme {
                val nav = rememberNavController()
                var enrolled by remember { mutableStateOf(app.store?.deviceInfo()?.serverUrl != null) }
                NavHost(navController = nav, startDestination = if (enrolled) "tasks" else "setup") {
                    composable("setup") {
                        SetupScreen(app) {
                            enrolled = true
                            nav.navigate("tasks") { popUpTo("setup") { inclusive = true } }
                        }
                    }
                    composable("tasks") {
                        TaskListScreen(app, onOpen = { code -> nav.navigate("inspection/$code") })
                    }
                    composable("inspection/{code}") { entry ->
                        val code = entry.arguments?.getString("code").orEmpty()
                        InspectionScreen(
                            app,
                            code,
                            onCamera = { target -> nav.navigate("camera/$code/$target") },
                            onDocuments = { nav.navigate("documents/$code") },
                            onExport = { nav.navigate("export/$code") },
                        )
                    }
                    composable("camera/{code}/{target}") { entry ->
                        val code = entry.arguments?.getString("code").orEmpty()
                        val target = entry.arguments?.getString("target").orEmpty()
                        CameraScreen(app, code, photoTarget(target)) { nav.popBackStack() }
                    }
                    composable("documents/{code}") { entry ->
                        DocumentScreen(app, entry.arguments?.getString("code").orEmpty())
                    }
                    composable("export/{code}") { entry ->
                        ExportScreen(app, entry.arguments?.getString("code").orEmpty())
                    }
                }
            }
        }
    }
}

/** `cp:ID`, `finding:ID` or `inspection` as a photo target. */
fun photoTarget(route: String): PhotoTarget = when {
    route.startsWith("cp:") -> PhotoTarget.CheckPoint(route.removePrefix("cp:"))
    route.startsWith("finding:") -> PhotoTarget.Finding(route.removePrefix("finding:"))
    else -> PhotoTarget.Inspection
}
