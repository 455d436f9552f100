package cn.onevisit.kit

import cn.onevisit.ffi.DeviceStore
import cn.onevisit.ffi.KeyProtection
import java.awt.Color
import java.awt.image.BufferedImage
import java.io.File
import java.nio.file.Files
import java.util.concurrent.TimeUnit
import javax.imageio.ImageIO

/**
 * A city for a test: a tenant with the sample directory in a temporary folder and a real
 * `onevisit-server` process serving it on loopback; device stores are made beside it.
 */
class TestCity : AutoCloseable {
    val dir: File = Files.createTempDirectory("onevisit-kotlin").toFile()
    private val bin = File(System.getProperty("onevisit.bin") ?: error("onevisit.bin is not set"))
    private val server = File(bin, "onevisit-server").also { require(it.canExecute()) { "build the workspace first: $it" } }
    private val data = File(dir, "server")
    /** The tenant's root public key (hex), given to devices out of band. */
    val root: String
    private var address = ""
    private var process: Process
    /** `http://127.0.0.1:PORT`. */
    val base: String

    init {
        root = admin("init", "--tenant", "330482").lines().first().trim().split(' ').last()
        admin("import", "--sample")
        process = serve("127.0.0.1:0")
        base = "http://" + address
    }

    private fun serve(listen: String): Process {
        val p = ProcessBuilder(server.path, "--data", data.path, "serve", "--listen", listen)
            .redirectError(ProcessBuilder.Redirect.DISCARD)
            .apply { environment()["RUST_LOG"] = "warn" }
            .start()
        val line = p.inputStream.bufferedReader().readLine() ?: error("the server did not start")
        address = line.removePrefix("正在监听 ").trim()
        return p
    }

    /** Stops the server (the network is gone for the devices). */
    fun stopServer() {
        process.destroy()
        check(process.waitFor(10, TimeUnit.SECONDS)) { "the server did not stop" }
    }

    /** Starts the server again on the same address. */
    fun restartServer() {
        process = serve(address)
    }

    /** Runs an admin command of the server on the city's data; returns what it printed. */
    fun admin(vararg args: String): String {
        val p = ProcessBuilder(listOf(server.path, "--data", data.path) + args).redirectErrorStream(true).start()
        val out = p.inputStream.bufferedReader().readText()
        check(p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0) { "onevisit-server ${args.toList()}: $out" }
        return out
    }

    /** Plans one sample joint task (scjg-01 leads, xfjy-01 takes part); returns its code. */
    fun planSampleTask(): String =
        Regex("\"([^\"]+)\"").find(admin("task", "create", "--sample", "1", "--json"))?.groupValues?.get(1)
            ?: error("no task code printed")

    /** A new device store for [inspector] in the city's folder (key in a key file beside it). */
    fun store(name: String, inspector: String): DeviceStore =
        DeviceStore.open(File(dir, name).path, KeyProtection.KeyFile(File(dir, "$name.key").path), inspector)

    /** A device store enrolled with the server through the bindings, with a fresh one-time code. */
    suspend fun device(name: String, inspector: String): DeviceStore {
        val store = store(name, inspector)
        store.enrolWith(base, admin("enrolment", inspector).trim(), root)
        return store
    }

    /**
     * Each of [inspectors] signs document [sha256] of task [code] on a newly enrolled device of
     * their own (a document counts as signed with two officers of every acting department).
     */
    suspend fun signAs(inspectors: List<String>, code: String, sha256: String) {
        for (inspector in inspectors) {
            val officer = device("officer-$inspector-${System.nanoTime()}", inspector)
            officer.syncNow()
            officer.signDocument(code, sha256)
            officer.syncNow()
        }
    }

    /** A real JPEG file (the JDK's encoder), as a camera would leave it. */
    fun jpeg(name: String, width: Int = 1600, height: Int = 1200): File {
        val image = BufferedImage(width, height, BufferedImage.TYPE_INT_RGB)
        val g = image.createGraphics()
        for (y in 0 until height step 40) {
            g.color = Color(y % 256, (y * 3) % 256, 200)
            g.fillRect(0, y, width, 40)
        }
        g.dispose()
        return File(dir, name).also { check(ImageIO.write(image, "jpg", it)) }
    }

    /** A real PNG of a handwritten-looking stroke, as a signature pad gives it. */
    fun signaturePng(): ByteArray {
        val image = BufferedImage(480, 160, BufferedImage.TYPE_INT_ARGB)
        val g = image.createGraphics()
        g.color = Color.BLACK
        for (x in 20 until 460 step 4) g.fillOval(x, 80 + ((x / 10) % 20) - 10, 6, 6)
        g.dispose()
        val out = java.io.ByteArrayOutputStream()
        check(ImageIO.write(image, "png", out))
        return out.toByteArray()
    }

    override fun close() {
        process.destroy() // SIGTERM: graceful shutdown
        if (!process.waitFor(5, TimeUnit.SECONDS)) process.destroyForcibly().waitFor()
        dir.deleteRecursively()
    }
}
