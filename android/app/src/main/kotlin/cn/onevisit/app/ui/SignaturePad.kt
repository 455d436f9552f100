package cn.onevisit.app.ui

import android.graphics.Bitmap
import android.graphics.Paint
import androidx.compose.foundation.Canvas
import androidx.compose.foundation.background
import androidx.compose.foundation.gestures.detectDragGestures
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.height
import androidx.compose.runtime.Composable
import androidx.compose.runtime.mutableStateListOf
import androidx.compose.runtime.remember
import androidx.compose.ui.Modifier
import androidx.compose.ui.geometry.Offset
import androidx.compose.ui.graphics.Color
import androidx.compose.ui.graphics.StrokeCap
import androidx.compose.ui.input.pointer.pointerInput
import androidx.compose.ui.unit.dp
import java.io.ByteArrayOutputStream

/** The strokes of a handwritten signature, and their rendering as the PNG kept as evidence. */
class SignatureStrokes {
    /** Each stroke's points, in pad coordinates. */
    val strokes = mutableStateListOf<List<Offset>>()

    /** Whether anything was drawn. */
    val isEmpty: Boolean get() = strokes.none { it.size > 1 }

    /** Clears the pad. */
    fun clear() = strokes.clear()

    /** The signature as a PNG of [width] × [height] pixels, black on transparent. */
    fun toPng(width: Int, height: Int): ByteArray {
        val bitmap = Bitmap.createBitmap(width, height, Bitmap.Config.ARGB_8888)
        val canvas = android.graphics.Canvas(bitmap)
        val paint = Paint().apply {
            color = android.graphics.Color.BLACK
            strokeWidth = 6f
            style = Paint.Style.STROKE
            strokeCap = Paint.Cap.ROUND
            isAntiAlias = true
        }
        for (stroke in strokes) stroke.zipWithNext { a, b -> canvas.drawLine(a.x, a.y, b.x, b.y, paint) }
        return ByteArrayOutputStream().use { out ->
            bitmap.compress(Bitmap.CompressFormat.PNG, 100, out)
            out.toByteArray()
        }
    }
}

/** A pad the party signs on with a finger. */
@Composable
fun SignaturePad(strokes: SignatureStrokes, modifier: Modifier = Modifier) {
    val current = remember { mutableStateListOf<Offset>() }
    Canvas(
        modifier
            .fillMaxWidth()
            .height(200.dp)
            .background(Color(0xFFF5F5F5))
            .pointerInput(Unit) {
                detectDragGestures(
                    onDragStart = { current.clear(); current.add(it) },
                    onDrag = { change, _ -> current.add(change.position) },
                    onDragEnd = { strokes.strokes.add(current.toList()); current.clear() },
                )
            },
    ) {
        for (stroke in strokes.strokes + listOf(current.toList())) {
            stroke.zipWithNext { a, b -> drawLine(Color.Black, a, b, strokeWidth = 6f, cap = StrokeCap.Round) }
        }
    }
}
