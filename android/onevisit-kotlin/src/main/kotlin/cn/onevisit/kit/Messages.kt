package cn.onevisit.kit

import cn.onevisit.ffi.BundleException
import cn.onevisit.ffi.PhotoException
import cn.onevisit.ffi.RecordException
import cn.onevisit.ffi.StoreException
import cn.onevisit.ffi.SyncException
import cn.onevisit.ffi.TaskCodeException

/**
 * What to tell the inspector (zh-CN) for any failure of a core call. The core's errors are sealed
 * classes, so each `when` below is checked for completeness by the compiler.
 */
fun Throwable.userMessage(): String = when (this) {
    is StoreException -> storeMessage(this)
    is RecordException -> recordMessage(this)
    is PhotoException -> photoMessage(this)
    is SyncException -> syncMessage(this)
    is BundleException -> bundleMessage(this)
    is TaskCodeException -> taskCodeMessage(this)
    else -> "操作失败：${message ?: javaClass.simpleName}"
}

private fun storeMessage(e: StoreException): String = when (e) {
    is StoreException.NotInitialised -> "本机尚未初始化执法终端"
    is StoreException.KeyLocked -> "设备密钥无法解锁，请确认设备锁屏凭据"
    is StoreException.SchemaTooNew -> "数据由更新版本的应用写入，请升级应用"
    is StoreException.NoDirectory -> "尚无基础数据，请先登记并同步"
    is StoreException.InvalidDirectory -> "基础数据无效：${e.detail}"
    is StoreException.InvalidInput -> "输入有误：${e.detail}"
    is StoreException.Storage -> "本机存储出错：${e.detail}"
}

private fun recordMessage(e: RecordException): String = when (e) {
    is RecordException.UnknownTask -> "本机没有任务 ${e.code}"
    is RecordException.NotAssigned -> "您（${e.inspector}）未被分配到该任务"
    is RecordException.NotLeadInspector -> "只有牵头执法人员可以裁决冲突"
    is RecordException.UnknownCheckPoint -> "检查要点 ${e.checkPoint} 不属于本次检查"
    is RecordException.WrongAnswerType -> "检查要点 ${e.checkPoint} 需要填写${answerKind(e.expected)}"
    is RecordException.InvalidNumber -> "“${e.value}”不是有效数值"
    is RecordException.NumberOutOfRange -> "${e.value} 超出检查要点 ${e.checkPoint} 的合理范围"
    is RecordException.WrongUnit -> "检查要点 ${e.checkPoint} 的单位应为 ${e.expected}"
    is RecordException.MissingEvidence -> "检查要点 ${e.checkPoint} 需要至少一张现场照片"
    is RecordException.UnknownEvidence -> "照片尚未添加到本记录"
    is RecordException.NotOnSite -> "请先签到，当前状态：${e.status}"
    is RecordException.ForbiddenTransition -> "状态不能从“${e.from}”改为“${e.to}”"
    is RecordException.Incomplete -> "记录尚不完整：${e.missing.joinToString("、")}"
    is RecordException.OpenConflicts -> "还有 ${e.count} 处冲突需要裁决"
    is RecordException.NoSuchConflict -> "该项没有待裁决的冲突"
    is RecordException.Document -> "文书无法生成或签署：${e.detail}"
    is RecordException.TaskCode -> "检查码无法签发：${e.detail}"
    is RecordException.InvalidInput -> "输入有误：${e.detail}"
    is RecordException.OtherDepartment -> "只能填写本部门的检查内容（${e.department}）"
    is RecordException.AlreadyCheckedIn -> "您已签到，无需重复签到"
    is RecordException.Forbidden -> "收到的记录含有违规修改，已拒收：${e.explanation}"
    is RecordException.Storage -> "本机存储出错：${e.detail}"
}

private fun answerKind(expected: String): String = when (expected) {
    "pass_fail" -> "“符合/不符合/不适用”"
    "number" -> "数值"
    "text" -> "文字"
    "photo" -> "照片"
    else -> expected
}

private fun photoMessage(e: PhotoException): String = when (e) {
    is PhotoException.Unreadable -> "无法读取照片文件"
    is PhotoException.NotAnImage -> "该文件不是图片（应为 JPEG 或 PNG）"
    is PhotoException.UnsupportedFormat -> "不接受 ${e.format} 格式，请以 JPEG 拍摄"
    is PhotoException.TooLarge -> "照片过大"
    is PhotoException.Damaged -> "照片已损坏"
    is PhotoException.Refused -> recordMessage(e.reason)
    is PhotoException.Cancelled -> "已取消"
}

private fun syncMessage(e: SyncException): String = when (e) {
    is SyncException.NotEnrolled -> "本机尚未登记，请输入一次性登记码"
    is SyncException.Offline -> "无法连接服务器，稍后将自动重试"
    is SyncException.Revoked -> "本设备已被注销：${e.reason}"
    is SyncException.Expired -> "设备证书已过期，请重新登记"
    is SyncException.Unauthenticated -> "服务器拒绝了本设备的身份（请检查设备时间）"
    is SyncException.Refused -> "服务器拒绝了请求：${e.detail}"
    is SyncException.Untrusted -> "服务器的应答无法验证，已停止同步"
    is SyncException.Cancelled -> "同步已取消"
    is SyncException.Storage -> "本机存储出错：${e.detail}"
    is SyncException.InsecureConnection -> "连接不安全，已拒绝：${e.detail}"
}

private fun bundleMessage(e: BundleException): String = when (e) {
    is BundleException.NotEnrolled -> "本机尚未登记，无法封存证据包"
    is BundleException.MissingPhoto -> "本机缺少照片原件，请先同步并下载照片"
    is BundleException.Exists -> "目标已存在：${e.path}"
    is BundleException.NotABundle -> "不是证据包：${e.path}"
    is BundleException.BadRootKey -> "根公钥格式不正确"
    is BundleException.UnknownTask -> "本机没有任务 ${e.code}"
    is BundleException.Io -> "读写文件失败：${e.detail}"
    is BundleException.Cancelled -> "已取消"
}

private fun taskCodeMessage(e: TaskCodeException): String = when (e) {
    is TaskCodeException.Malformed -> "不是有效的检查码"
    is TaskCodeException.BadSignature -> "检查码签名无效（伪造或被篡改）"
    is TaskCodeException.Expired -> "检查码已过期"
    is TaskCodeException.NotYetValid -> "检查码尚未生效"
    is TaskCodeException.BadIssuerKey -> "签发设备公钥格式不正确"
}
