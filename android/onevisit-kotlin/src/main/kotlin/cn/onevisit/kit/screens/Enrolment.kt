package cn.onevisit.kit.screens

import cn.onevisit.ffi.DeviceStore
import cn.onevisit.kit.enrolWith
import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.Job

/** The enrolment screen: server address, one-time code and the tenant's root key. */
data class EnrolmentState(
    val serverUrl: String = "",
    val oneTimeCode: String = "",
    val rootKey: String = "",
    val deviceCode: String? = null,
    val busy: Boolean = false,
    val message: String? = null,
) {
    /** Whether the form can be sent. */
    val canEnrol: Boolean get() = !busy && serverUrl.isNotBlank() && oneTimeCode.isNotBlank() && rootKey.length == 64

    /** Whether the device is enrolled. */
    val enrolled: Boolean get() = deviceCode != null
}

/** Holds the enrolment screen's state. */
class EnrolmentHolder(
    private val store: DeviceStore,
    scope: CoroutineScope,
    io: CoroutineDispatcher = Dispatchers.IO,
) : Holder<EnrolmentState>(EnrolmentState(deviceCode = store.deviceInfo().deviceCode), scope, io) {
    override fun EnrolmentState.withMessage(message: String?) = copy(message = message)
    override fun EnrolmentState.withBusy(busy: Boolean) = copy(busy = busy)

    /** Edits the form. */
    fun edit(serverUrl: String? = null, oneTimeCode: String? = null, rootKey: String? = null) = update {
        it.copy(
            serverUrl = serverUrl?.trim() ?: it.serverUrl,
            oneTimeCode = oneTimeCode?.trim() ?: it.oneTimeCode,
            rootKey = rootKey?.trim()?.lowercase() ?: it.rootKey,
        )
    }

    /** Enrols with the form's values. */
    fun enrol(): Job = act {
        val s = state.value
        val enrolment = store.enrolWith(s.serverUrl, s.oneTimeCode, s.rootKey)
        update { it.copy(deviceCode = enrolment.deviceCode, oneTimeCode = "", message = "登记成功，设备编号 ${enrolment.deviceCode}") }
    }

    /** Enrols with the text of the QR code the command centre's console shows (设备管理 → 生成登记码). */
    fun enrolScanned(scanned: String): Job = act {
        val enrolment = store.enrolScanned(scanned)
        update {
            it.copy(
                serverUrl = enrolment.serverUrl,
                deviceCode = enrolment.deviceCode,
                oneTimeCode = "",
                message = "登记成功，设备编号 ${enrolment.deviceCode}",
            )
        }
    }
}
