//! The materialised task index: what lists and searches read, so that they never load Automerge.

use chrono::{Datelike, NaiveDate};
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;

use crate::domain::{DepartmentId, Task, TaskCode, TaskSource, Uscc};
use crate::record::{RecordSummary, Status};

/// Which tasks to list; every given criterion must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskFilter {
    /// Only tasks in this status.
    pub status: Option<Status>,
    /// Only tasks whose time window contains this day.
    pub date: Option<NaiveDate>,
    /// Only tasks inspecting this enterprise.
    pub enterprise: Option<Uscc>,
    /// Only tasks this department takes part in.
    pub department: Option<DepartmentId>,
    /// At most this many rows.
    pub limit: Option<usize>,
}

/// One line of a task list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskRow {
    /// Task code.
    pub code: String,
    /// Target enterprise's USCC.
    pub enterprise_uscc: String,
    /// Target enterprise's name.
    pub enterprise_name: String,
    /// Lead department.
    pub lead_department: String,
    /// First day of the window.
    pub window_start: NaiveDate,
    /// Last day of the window.
    pub window_end: NaiveDate,
    /// Source (machine name, see [`TaskSource::kind`]).
    pub source: &'static str,
    /// Status.
    pub status: Status,
    /// Check points answered.
    pub answered: u32,
    /// Check points of the selected matters.
    pub check_points: u32,
    /// Findings recorded.
    pub findings: u32,
    /// Open conflicts.
    pub conflicts: u32,
    /// Last local change, ms since the Unix epoch.
    pub updated_at_ms: i64,
}

/// What the index stores about a task besides its record's summary.
pub struct IndexEntry<'a> {
    /// The task.
    pub task: &'a Task,
    /// The enterprise's name, from the directory.
    pub enterprise_name: &'a str,
    /// How many check points the task's matters hold.
    pub check_points: usize,
}

/// Writes a new task's index row and its departments (inside the creating transaction).
pub fn insert(tx: &Connection, entry: &IndexEntry<'_>, summary: &RecordSummary, now_ms: i64) -> rusqlite::Result<()> {
    let task = entry.task;
    tx.prepare_cached(
        "INSERT INTO task_index (code, enterprise_uscc, enterprise_name, lead_department, window_start, window_end,
             source, status, answered, check_points, findings, conflicts, updated_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    )?
    .execute(params![
        task.code.as_str(),
        task.enterprise.as_str(),
        entry.enterprise_name,
        task.lead_department.as_str(),
        day_number(task.window.start),
        day_number(task.window.end),
        task.source.kind(),
        summary.status.as_str(),
        summary.answered as i64,
        entry.check_points as i64,
        summary.findings as i64,
        summary.conflicts as i64,
        now_ms,
    ])?;
    let mut dept = tx.prepare_cached("INSERT INTO task_departments (department, code) VALUES (?1, ?2)")?;
    for d in &task.departments {
        dept.execute(params![d.as_str(), task.code.as_str()])?;
    }
    Ok(())
}

/// Refreshes a task's counts after an edit (inside the edit's transaction). The status column,
/// which is indexed, is written only when it changed, so most edits leave the indexes untouched.
pub fn update(tx: &Connection, code: &TaskCode, summary: &RecordSummary, now_ms: i64) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "UPDATE task_index SET answered = ?2, findings = ?3, conflicts = ?4, updated_at_ms = ?5 WHERE code = ?1",
    )?
    .execute(params![
        code.as_str(),
        summary.answered as i64,
        summary.findings as i64,
        summary.conflicts as i64,
        now_ms
    ])?;
    tx.prepare_cached("UPDATE task_index SET status = ?2 WHERE code = ?1 AND status <> ?2")?
        .execute(params![code.as_str(), summary.status.as_str()])?;
    Ok(())
}

const COLUMNS: &str = "t.code, t.enterprise_uscc, t.enterprise_name, t.lead_department, t.window_start, t.window_end,
    t.source, t.status, t.answered, t.check_points, t.findings, t.conflicts, t.updated_at_ms";

/// A day as the index stores it: yyyymmdd, so that integer order is date order.
fn day_number(day: NaiveDate) -> i64 {
    i64::from(day.year()) * 10_000 + i64::from(day.month()) * 100 + i64::from(day.day())
}

/// An index column holding something this code never writes.
#[derive(Debug, thiserror::Error)]
#[error("任务索引中有意外的值")]
struct UnexpectedIndexValue;

fn bad(column: usize) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(column, rusqlite::types::Type::Text, Box::new(UnexpectedIndexValue))
}

fn day_column(r: &Row<'_>, column: usize) -> rusqlite::Result<NaiveDate> {
    let n: i64 = r.get(column)?;
    let (y, m, d) = (n / 10_000, (n / 100) % 100, n % 100);
    NaiveDate::from_ymd_opt(y as i32, m as u32, d as u32).ok_or_else(|| bad(column))
}

fn row(r: &Row<'_>) -> rusqlite::Result<TaskRow> {
    let source = r.get_ref(6)?.as_str()?;
    let status = r.get_ref(7)?.as_str()?;
    Ok(TaskRow {
        code: r.get(0)?,
        enterprise_uscc: r.get(1)?,
        enterprise_name: r.get(2)?,
        lead_department: r.get(3)?,
        window_start: day_column(r, 4)?,
        window_end: day_column(r, 5)?,
        source: TaskSource::KINDS.into_iter().find(|k| *k == source).ok_or_else(|| bad(6))?,
        status: Status::parse(status).ok_or_else(|| bad(7))?,
        answered: r.get(8)?,
        check_points: r.get(9)?,
        findings: r.get(10)?,
        conflicts: r.get(11)?,
        updated_at_ms: r.get(12)?,
    })
}

/// Lists tasks matching `filter`, latest window first (then by code, descending).
pub fn list(conn: &Connection, filter: &TaskFilter) -> rusqlite::Result<Vec<TaskRow>> {
    let mut sql = format!("SELECT {COLUMNS} FROM task_index t");
    let mut args: Vec<rusqlite::types::Value> = Vec::new();
    let mut clauses: Vec<String> = Vec::new();
    if let Some(department) = &filter.department {
        // A correlated lookup rather than a join keeps the scan in list order: no sort step.
        clauses.push("EXISTS (SELECT 1 FROM task_departments d WHERE d.department = ? AND d.code = t.code)".into());
        args.push(department.to_string().into());
    }
    if let Some(status) = filter.status {
        clauses.push("t.status = ?".into());
        args.push(status.as_str().to_string().into());
    }
    if let Some(date) = filter.date {
        clauses.push("t.window_start <= ? AND t.window_end >= ?".into());
        args.push(day_number(date).into());
        args.push(day_number(date).into());
    }
    if let Some(enterprise) = &filter.enterprise {
        clauses.push("t.enterprise_uscc = ?".into());
        args.push(enterprise.to_string().into());
    }
    if !clauses.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&clauses.join(" AND "));
    }
    sql.push_str(" ORDER BY t.window_start DESC, t.code DESC");
    if let Some(limit) = filter.limit {
        sql.push_str(&format!(" LIMIT {limit}"));
    }
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(rusqlite::params_from_iter(args.iter()), row)?;
    rows.collect()
}

/// One task's index row.
pub fn get(conn: &Connection, code: &TaskCode) -> rusqlite::Result<Option<TaskRow>> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM task_index t WHERE t.code = ?1"))?
        .query_row([code.as_str()], row)
        .optional()
}
