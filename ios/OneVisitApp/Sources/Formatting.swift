import Foundation
import OneVisitKit

/// Display formatting (Beijing time, zh-CN labels and messages), as the Android app's Format.
enum Formatting {
    private static let minute: DateFormatter = {
        let f = DateFormatter()
        f.dateFormat = "yyyy-MM-dd HH:mm"
        f.timeZone = TimeZone(secondsFromGMT: 8 * 3600)
        return f
    }()

    /// A device time (ms since the epoch) in Beijing time.
    static func time(_ ms: Int64) -> String {
        minute.string(from: Date(timeIntervalSince1970: TimeInterval(ms) / 1000))
    }

    /// The zh-CN label of a status.
    static func status(_ status: TaskStatus) -> String {
        switch status {
        case .planned: return "待检查"
        case .onSite: return "检查中"
        case .recorded: return "已记录"
        case .closed: return "已办结"
        case .cancelled: return "已取消"
        }
    }

    /// What to tell the inspector for a failure of a core call.
    static func message(_ error: Error) -> String {
        switch error {
        case let e as RecordError:
            switch e {
            case let .WrongAnswerType(checkPoint, _, _): return "检查要点 \(checkPoint) 的答案类型不对"
            case let .NotOnSite(status): return "请先签到，当前状态：\(status)"
            case let .OpenConflicts(count): return "还有 \(count) 处冲突需要裁决"
            case let .Incomplete(missing): return "记录尚不完整：\(missing.joined(separator: "、"))"
            case .NotLeadInspector: return "只有牵头执法人员可以裁决冲突"
            case let .OtherDepartment(_, department): return "只能填写本部门的检查内容（\(department)）"
            case .AlreadyCheckedIn: return "您已签到，无需重复签到"
            case let .Forbidden(_, _, explanation): return "收到的记录含有违规修改，已拒收：\(explanation)"
            default: return "操作失败：\(e.localizedDescription)"
            }
        case let e as PhotoError:
            switch e {
            case .NotAnImage: return "该文件不是图片"
            case .Cancelled: return "已取消"
            default: return "照片无法保存：\(e.localizedDescription)"
            }
        case let e as SyncError:
            switch e {
            case .Offline: return "无法连接服务器，稍后将自动重试"
            case let .Revoked(reason): return "本设备已被注销：\(reason)"
            case .NotEnrolled: return "本机尚未登记"
            case .Cancelled: return "同步已取消"
            default: return "同步失败：\(e.localizedDescription)"
            }
        case let e as BundleError: return "证据包：\(e.localizedDescription)"
        default: return "操作失败：\(error.localizedDescription)"
        }
    }
}
