package cn.onevisit.kit.screens

import cn.onevisit.ffi.DeviceStore
import cn.onevisit.ffi.TaskCodeToken
import cn.onevisit.ffi.TaskQuery
import cn.onevisit.ffi.TaskStatus
import cn.onevisit.ffi.TaskSummary
import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.Job

/** The task list: filters by status and day, and the task code (QR) of one task. */
data class TaskListState(
    val status: TaskStatus? = null,
    val date: String? = null,
    val tasks: List<TaskSummary> = emptyList(),
    val taskCode: TaskCodeToken? = null,
    val busy: Boolean = false,
    val message: String? = null,
)

/** Holds the task list's state. */
class TaskListHolder(
    private val store: DeviceStore,
    scope: CoroutineScope,
    io: CoroutineDispatcher = Dispatchers.IO,
) : Holder<TaskListState>(TaskListState(), scope, io) {
    override fun TaskListState.withMessage(message: String?) = copy(message = message)
    override fun TaskListState.withBusy(busy: Boolean) = copy(busy = busy)

    /** Reloads the list with the current filters. */
    fun refresh(): Job = act {
        val s = state.value
        val tasks = store.tasks(TaskQuery(status = s.status, date = s.date))
        update { it.copy(tasks = tasks) }
    }

    /** Changes the filters (null clears one) and reloads. */
    fun filter(status: TaskStatus?, date: String?): Job {
        update { it.copy(status = status, date = date?.takeIf { d -> d.isNotBlank() }) }
        return refresh()
    }

    /** Issues the task code of [code] for the enterprise to scan. */
    fun showTaskCode(code: String): Job = act {
        val token = store.issueTaskCode(code)
        update { it.copy(taskCode = token) }
    }

    /** Hides the task code. */
    fun hideTaskCode() = update { it.copy(taskCode = null) }
}
