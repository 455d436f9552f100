//! Text output for people (zh-CN labels), and JSON output for machines.

use onevisit_core::audit::AuditReport;
use onevisit_core::record::{AnswerValue, Conflict, RecordView, Recusal, Status};
use onevisit_core::store::TaskRow;
use serde::Serialize;

/// Prints `value` as pretty JSON.
pub(crate) fn json<T: Serialize>(value: &T) {
    // Serialising our own plain view types cannot fail.
    outln!("{}", serde_json::to_string_pretty(value).unwrap_or_default());
}

/// A device time in Beijing time (the time of the documents), whatever this machine's zone.
pub(crate) fn time(ms: i64) -> String {
    match onevisit_core::beijing::date_time(ms) {
        t if t.is_empty() => ms.to_string(),
        t => t,
    }
}

/// A task list as a table.
pub(crate) fn task_rows(rows: &[TaskRow]) -> String {
    let mut out = format!("{} 个任务\n", rows.len());
    for r in rows {
        out.push_str(&format!(
            "{}  {}  {} 至 {}  {}（{}）  已答 {}/{}  问题 {}  冲突 {}\n",
            r.code,
            r.status.label_zh(),
            r.window_start,
            r.window_end,
            r.enterprise_name,
            r.enterprise_uscc,
            r.answered,
            r.check_points,
            r.findings,
            r.conflicts
        ));
    }
    out
}

/// A whole record.
pub(crate) fn record(v: &RecordView) -> String {
    let mut o = String::new();
    o.push_str(&format!("══ 检查记录 {} [{}] ══（时间均为北京时间）\n", v.task_code, v.status_label));
    o.push_str(&format!("检查对象：{}（统一社会信用代码 {}）\n", v.enterprise_name, v.enterprise_uscc));
    o.push_str(&format!("地址：{}\n", v.enterprise_address));
    o.push_str(&format!("任务来源：{}   检查时限：{}   牵头部门：{}\n", v.source, v.window, v.lead_department));
    let team: Vec<String> = v
        .inspectors
        .iter()
        .map(|i| format!("{}（{}，执法证号 {}）", i.name, i.department, i.certificate_number))
        .collect();
    o.push_str(&format!("执法人员：{}\n", team.join("、")));
    if v.arrivals.is_empty() {
        o.push_str("到达现场：未签到\n");
    }
    for c in &v.arrivals {
        o.push_str(&format!(
            "到达现场：{} {}  位置 {:.6}, {:.6}（WGS-84，精度 {} 米）\n",
            c.stamp.by,
            time(c.stamp.at_ms),
            c.position.latitude(),
            c.position.longitude(),
            c.position.accuracy_m
        ));
    }
    match &v.identity {
        Some(i) => o.push_str(&format!("出示执法证件：已出示（{}）\n", i.certificate_numbers.join("、"))),
        None => o.push_str("出示执法证件：未记录\n"),
    }
    match &v.party {
        Some(p) => {
            o.push_str(&format!("当事人代表：{}（{}），{}\n", p.name, p.role, recusal_zh(&p.recusal)));
        }
        None => o.push_str("当事人代表：未记录\n"),
    }
    for s in &v.sections {
        o.push_str(&format!("── {} ──\n", s.department_name));
        for c in &s.check_points {
            let answer = c.answer.clone().unwrap_or_else(|| "（未检查）".into());
            let mark = if c.conflicted { "  ⚠ 存在冲突" } else { "" };
            let by = c.by.as_ref().map(|b| format!("  [{b}]")).unwrap_or_default();
            o.push_str(&format!("  {} {}：{}{}{}\n", c.id, c.title, answer, by, mark));
            if let Some(n) = &c.note {
                o.push_str(&format!("      备注：{n}\n"));
            }
        }
    }
    if v.findings.is_empty() {
        o.push_str("发现问题：无\n");
    } else {
        o.push_str("发现问题：\n");
        for (i, f) in v.findings.iter().enumerate() {
            let deadline = f.deadline.map(|d| format!("，责令于 {d} 前改正")).unwrap_or_default();
            o.push_str(&format!("  {}. {}（依据 {}{}）[{}]\n", i + 1, f.problem, f.legal_basis, deadline, f.stamp.by));
        }
    }
    if v.open_conflicts > 0 {
        o.push_str(&format!("待解决冲突：{} 项\n", v.open_conflicts));
    }
    o
}

/// Open conflicts, each value numbered from 1.
pub(crate) fn conflicts(list: &[Conflict]) -> String {
    if list.is_empty() {
        return "没有待解决的冲突\n".into();
    }
    let mut o = format!("{} 项冲突：\n", list.len());
    for c in list {
        o.push_str(&format!("  {}（解决时写 {}）\n", c.field.label_zh(), c.field));
        for (i, v) in list_values(c).into_iter().enumerate() {
            o.push_str(&format!("    [{}] {}\n", i + 1, v));
        }
    }
    o
}

fn recusal_zh(r: &Recusal) -> String {
    match r {
        Recusal::NotRequested => "不申请回避".to_string(),
        Recusal::Requested { reason } => format!("申请回避：{reason}"),
    }
}

fn list_values(c: &Conflict) -> Vec<String> {
    c.values
        .iter()
        .map(|v| {
            let answer = v.value.get("value").and_then(|x| serde_json::from_value::<AnswerValue>(x.clone()).ok());
            let status = v.value.get("status").and_then(|x| serde_json::from_value::<Status>(x.clone()).ok());
            let party = serde_json::from_value::<onevisit_core::record::PartyRepresentative>(v.value.clone()).ok();
            let shown = match (answer, status, party) {
                (Some(a), _, _) => a.display_zh(),
                (_, Some(s), _) => s.label_zh().to_string(),
                (_, _, Some(p)) => format!("{}（{}），{}", p.name, p.role, recusal_zh(&p.recusal)),
                _ => v.value.to_string(),
            };
            let note = v.value.get("note").and_then(|n| n.as_str()).map(|n| format!("，备注：{n}")).unwrap_or_default();
            format!("{shown}{note} —— {} 于 {}", v.by, time(v.at_ms))
        })
        .collect()
}

/// An audit verification report.
pub(crate) fn audit(report: &AuditReport) -> String {
    let mut o = format!(
        "审计日志：{} 条记录，{} 条签名有效，设备记录的最新序号 {}\n",
        report.entries, report.authentic, report.head_seq
    );
    for s in &report.segments {
        o.push_str(&format!("新链段：第 {} 条起（{}）：{}\n", s.seq, s.held_zh(), s.explanation));
    }
    if report.is_intact() {
        o.push_str("结果：哈希链完整，全部签名验证通过 ✓\n");
    } else {
        o.push_str("结果：验证失败 ✗\n");
        for p in &report.problems {
            o.push_str(&format!("  - {p}\n"));
        }
    }
    o
}
