package cn.onevisit.kit

import cn.onevisit.ffi.Answer
import cn.onevisit.ffi.Cancellation
import cn.onevisit.ffi.DeviceStore
import cn.onevisit.ffi.KeyProtection
import cn.onevisit.ffi.coreVersion

/**
 * The Kotlin side of the bindings' overhead benchmark (run by `onevisit-bench --only bindings`,
 * which runs the same calls in Rust and prints both): JSON lines on stdout.
 * Arguments: store folder, key file, task code, trivial calls, answers.
 */
fun main(args: Array<String>) {
    val (dir, key, code) = args
    val trivial = args[3].toInt()
    val answers = args[4].toInt()
    repeat(20_000) { coreVersion() } // JIT warm-up
    val t = System.nanoTime()
    repeat(trivial) { coreVersion() }
    val perCall = (System.nanoTime() - t).toDouble() / trivial
    println("""{"name":"kotlin_core_version_ns","value":$perCall}""")

    // A method returning a primitive, for where the time goes (no string buffer to lift and free).
    Cancellation().use { c ->
        repeat(20_000) { c.isCancelled() }
        val s = System.nanoTime()
        repeat(trivial) { c.isCancelled() }
        println("""{"name":"kotlin_is_cancelled_ns","value":${(System.nanoTime() - s).toDouble() / trivial}}""")
    }

    DeviceStore.open(dir, KeyProtection.KeyFile(key), null).use { store ->
        val samples = DoubleArray(answers)
        for (i in 0 until answers) {
            val answer = if (i % 2 == 0) Answer.Pass else Answer.Fail
            val s = System.nanoTime()
            store.answer(code, "SCJG-001-01", answer, "第${i}次", emptyList())
            samples[i] = (System.nanoTime() - s) / 1e6
        }
        samples.sort()
        val p50 = samples[((answers - 1) * 0.5).toInt()]
        println("""{"name":"kotlin_answer_p50_ms","value":$p50}""")
    }
}
