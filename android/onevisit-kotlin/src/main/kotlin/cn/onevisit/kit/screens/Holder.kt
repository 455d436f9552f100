package cn.onevisit.kit.screens

import cn.onevisit.kit.userMessage
import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.Job
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.update
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext

/**
 * The base of every screen's state holder: one immutable state in a [StateFlow], and actions that
 * run the core off the main thread, turning any failure into a zh-CN message in the state.
 * Plain Kotlin (no androidx): an Android ViewModel wraps it and passes its `viewModelScope`.
 */
abstract class Holder<S>(
    initial: S,
    protected val scope: CoroutineScope,
    private val io: CoroutineDispatcher = Dispatchers.IO,
) {
    private val mutable = MutableStateFlow(initial)

    /** What the screen shows. */
    val state: StateFlow<S> = mutable.asStateFlow()

    /** Changes the state. */
    protected fun update(change: (S) -> S) = mutable.update(change)

    /** Puts a message (or none) into the state. */
    protected abstract fun S.withMessage(message: String?): S

    /** Puts the busy flag into the state. */
    protected abstract fun S.withBusy(busy: Boolean): S

    /**
     * Runs [work] on the I/O dispatcher while the screen shows itself busy; a failure becomes the
     * state's message, a success clears it. The returned job lets callers (and tests) wait.
     */
    protected fun act(work: suspend () -> Unit): Job = scope.launch {
        update { it.withBusy(true).withMessage(null) }
        try {
            withContext(io) { work() }
        } catch (e: kotlinx.coroutines.CancellationException) {
            throw e
        } catch (e: Exception) {
            update { it.withMessage(e.userMessage()) }
        } finally {
            update { it.withBusy(false) }
        }
    }
}
