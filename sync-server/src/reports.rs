//! The city's figures and 督办 list on the server: every write stores its record's summary
//! (`TaskFacts`) in the same transaction, and a report reads those summaries only. Records stored
//! before summaries were kept (or under an older layout) are summarised once, on the first report.

use std::fmt::Write as _;
use std::sync::Arc;

use onevisit_core::domain::{DepartmentId, Directory, InspectorId, Uscc};
use onevisit_core::figures::{Ratio, Report, ReportQuery, TaskFacts, report};
use onevisit_core::record::InspectionRecord;
use serde::Serialize;

use crate::storage::{Storage, StorageError, StoredFacts};
use crate::tasks;

/// A report over the stored city, with the records that could not be read.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CityReport {
    /// The figures and the 督办 list.
    #[serde(flatten)]
    pub report: Report,
    /// Task codes whose stored record cannot be read (left out, never a failed report).
    pub unreadable: Vec<String>,
}

/// A record's summary as stored beside it; empty (computed again on the next report) if the
/// record cannot be read, which the write rules make impossible for an accepted record.
pub fn facts_of(record: &InspectionRecord) -> String {
    match TaskFacts::of(record) {
        Ok(facts) => facts.to_json(),
        Err(e) => {
            tracing::error!(task = %record.task().code, error = %e, "record cannot be summarised");
            String::new()
        }
    }
}

/// The report of `query` over every stored task. The summaries are parsed and the figures
/// computed off the async runtime (a city's year is a few hundred milliseconds of work).
pub async fn city_report<S: Storage>(storage: &S, query: &ReportQuery) -> Result<CityReport, StorageError> {
    let (facts, unreadable) = all_facts(storage).await?;
    let query = query.clone();
    let report = blocking(move || report(&facts, &query)).await?;
    Ok(CityReport { report, unreadable })
}

/// Every task's summary (records without a current one summarised now), and the task codes whose
/// record cannot be read.
pub async fn all_facts<S: Storage>(storage: &S) -> Result<(Vec<TaskFacts>, Vec<String>), StorageError> {
    let (facts, unreadable) = summaries(storage, storage.task_facts().await?).await?;
    Ok((facts.into_iter().map(|(_, f)| f).collect(), unreadable))
}

/// Stored summaries parsed, each with its task code, records with no current one summarised now
/// (and kept); and the task codes whose record cannot be read.
async fn summaries<S: Storage>(storage: &S, rows: Vec<StoredFacts>) -> Result<Parsed, StorageError> {
    let (mut parsed, missing) = blocking(move || parse_all(rows)).await?;
    let mut unreadable = Vec::new();
    for id in missing {
        match summarise(storage, &id).await? {
            Some(f) => parsed.push((id, f)),
            None => unreadable.push(id),
        }
    }
    Ok((parsed, unreadable))
}

/// Runs CPU-bound work on the blocking pool.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, StorageError> {
    tokio::task::spawn_blocking(work).await.map_err(|e| StorageError::Database(Box::new(e)))
}

/// Summaries parsed, each with its task code, and the ids of those that did not read.
type Parsed = (Vec<(String, TaskFacts)>, Vec<String>);

/// The stored summaries parsed, on every core, each with its task code; and the ids of records
/// with none that reads (stored before summaries, or under another layout).
fn parse_all(rows: Vec<StoredFacts>) -> Parsed {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(8);
    let chunk = rows.len().div_ceil(threads).max(1);
    let parse = |part: &[StoredFacts]| -> Parsed {
        let (mut facts, mut missing) = (Vec::with_capacity(part.len()), Vec::new());
        for (id, stored) in part {
            match stored.as_deref().and_then(TaskFacts::from_json) {
                Some(f) => facts.push((id.clone(), f)),
                None => missing.push(id.clone()),
            }
        }
        (facts, missing)
    };
    let parts: Vec<Parsed> = std::thread::scope(|scope| {
        let handles: Vec<_> = rows.chunks(chunk).map(|part| scope.spawn(move || parse(part))).collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))).collect()
    });
    let mut out = (Vec::with_capacity(rows.len()), Vec::new());
    for (facts, missing) in parts {
        out.0.extend(facts);
        out.1.extend(missing);
    }
    out
}

/// The summaries of every task, parsed and kept in memory by a serving process, refreshed with
/// only what was written since (by any replica): what the console's pages read, so that a page
/// costs the figures, not a hundred thousand rows read and parsed again.
#[derive(Default)]
pub struct FactsCache {
    state: tokio::sync::Mutex<CacheState>,
}

#[derive(Default)]
struct CacheState {
    /// The feed position the summaries reflect.
    head: u64,
    /// Where each task's summary sits in `facts`.
    index: std::collections::HashMap<String, usize>,
    /// The summaries (shared with readers; copied on write only while one holds them).
    facts: Arc<Vec<TaskFacts>>,
    /// Task codes whose record cannot be read.
    unreadable: std::collections::BTreeSet<String>,
}

/// A consistent view of every task's summary.
pub struct FactsSnapshot {
    /// The summaries.
    pub facts: Arc<Vec<TaskFacts>>,
    /// Task codes whose record cannot be read (left out).
    pub unreadable: Vec<String>,
}

impl FactsCache {
    /// The summaries as of now: the records written since the last call are read again.
    pub async fn current<S: Storage>(&self, storage: &S) -> Result<FactsSnapshot, StorageError> {
        let mut state = self.state.lock().await;
        let (head, rows) = storage.facts_since(state.head).await?;
        if !rows.is_empty() {
            let (summaries, lost) = summaries(storage, rows).await?;
            state.unreadable.extend(lost);
            let CacheState { index, facts, unreadable, .. } = &mut *state;
            let facts = Arc::make_mut(facts);
            for (id, f) in summaries {
                unreadable.remove(&id);
                match index.get(&id) {
                    Some(&at) => facts[at] = f,
                    None => {
                        index.insert(id, facts.len());
                        facts.push(f);
                    }
                }
            }
        }
        state.head = head;
        Ok(FactsSnapshot { facts: state.facts.clone(), unreadable: state.unreadable.iter().cloned().collect() })
    }

    /// The report of `query` from the cached summaries.
    pub async fn report<S: Storage>(&self, storage: &S, query: &ReportQuery) -> Result<CityReport, StorageError> {
        let FactsSnapshot { facts, unreadable } = self.current(storage).await?;
        let query = query.clone();
        let report = blocking(move || report(&facts, &query)).await?;
        Ok(CityReport { report, unreadable })
    }
}

/// Summarises a stored record and keeps the summary; `None` if the record cannot be read.
async fn summarise<S: Storage>(storage: &S, id: &str) -> Result<Option<TaskFacts>, StorageError> {
    let (record, version) = match tasks::load_record(storage, id).await {
        Ok(loaded) => loaded,
        Err(tasks::PlanError::Storage(e)) => return Err(e),
        Err(e) => {
            tracing::error!(task = id, error = %e, "stored record cannot be read for the report");
            return Ok(None);
        }
    };
    let Ok(facts) = TaskFacts::of(&record) else { return Ok(None) };
    storage.put_facts(id.to_string(), version, facts.to_json()).await?;
    Ok(Some(facts))
}

/// Names from the directory, the identifier where it has none (a department or enterprise the
/// directory no longer lists).
pub struct Names<'a>(pub &'a Directory);

impl Names<'_> {
    /// A department's name.
    pub fn department(&self, id: &str) -> String {
        DepartmentId::new(id).ok().and_then(|d| self.0.department(&d)).map_or(id.to_string(), |d| d.name.clone())
    }

    /// An inspector's name.
    pub fn inspector(&self, id: &str) -> String {
        InspectorId::new(id).ok().and_then(|i| self.0.inspector(&i)).map_or(id.to_string(), |i| i.name.clone())
    }

    /// An enterprise's name.
    pub fn enterprise(&self, uscc: &str) -> String {
        Uscc::parse(uscc).ok().and_then(|u| self.0.enterprise(&u)).map_or(uscc.to_string(), |e| e.name.clone())
    }
}

/// The report as the command centre reads it (zh-CN), names from the directory.
pub fn render_zh(city: &CityReport, directory: &Directory) -> String {
    let r = &city.report;
    let names = Names(directory);
    let department = |d: &str| names.department(d);
    let enterprise = |u: &str| names.enterprise(u);
    let mut out = String::new();
    let scope = r.department.as_deref().map_or("全市".to_string(), department);
    let _ =
        writeln!(out, "{scope} {} 至 {} 执法监管指标（按 {} 计算逾期，任务 {} 个）", r.from, r.to, r.today, r.tasks);
    let f = &r.figures;
    let line = |out: &mut String, name: &str, ratio: &Ratio| {
        let _ = writeln!(out, "  {name}：{}", ratio.display_zh());
    };
    line(&mut out, "掌上执法率", &f.handheld_enforcement);
    line(&mut out, "计划任务完成率", &f.planned_tasks_completed);
    line(&mut out, "到期任务完成率", &f.due_tasks_completed);
    line(&mut out, "后续处置率", &f.follow_up_disposed);
    line(&mut out, "跨部门联合监管率", &f.joint_supervision);
    let _ = writeln!(out, "  联合检查减少入企：{} 次", f.visits_saved);
    match f.median_days_to_close {
        Some(days) => {
            let _ = writeln!(out, "  问题闭环用时中位数：{days:.1} 天（本期闭环问题 {} 个）", f.findings_closed);
        }
        None => out.push_str("  问题闭环用时中位数：—（本期没有闭环的问题）\n"),
    }
    let s = &r.supervision;
    let _ = writeln!(out, "督办：逾期任务 {} 个", s.overdue_tasks.len());
    for t in &s.overdue_tasks {
        let _ = writeln!(
            out,
            "  {} {}（牵头：{}）应于 {} 前完成，已逾期 {} 天，{}",
            t.code,
            enterprise(&t.enterprise),
            department(&t.lead_department),
            t.due,
            t.days_overdue,
            t.status.label_zh()
        );
    }
    let _ = writeln!(out, "督办：逾期未整改问题 {} 个", s.overdue_rectifications.len());
    for x in &s.overdue_rectifications {
        let order = if x.ordered { "" } else { "，责令改正通知书未签全" };
        let next =
            x.reinspection.as_deref().map_or("，尚未安排复查".to_string(), |c| format!("，复查任务 {c} 待完成"));
        let _ = writeln!(
            out,
            "  {} {}【{}】{}：整改期限 {}，已逾期 {} 天{order}{next}",
            x.task,
            enterprise(&x.enterprise),
            department(&x.department),
            x.problem,
            x.deadline,
            x.days_overdue
        );
    }
    let _ = writeln!(out, "督办：存在未解决冲突的记录 {} 个", s.open_conflicts.len());
    for c in &s.open_conflicts {
        let _ = writeln!(out, "  {}：冲突 {} 处（{}）", c.code, c.conflicts, c.status.label_zh());
    }
    let _ = writeln!(out, "督办：未签全的文书 {} 份", s.unsigned_documents.len());
    for d in &s.unsigned_documents {
        let missing: Vec<String> = d.document.missing.iter().map(|m| m.label_zh()).collect();
        let missing =
            if missing.is_empty() { "存在无效签名".to_string() } else { format!("缺{}", missing.join("、")) };
        let _ = writeln!(out, "  {} {} {}：{missing}", d.code, d.document.kind.title_zh(), d.document.number);
    }
    if !city.unreadable.is_empty() {
        let _ = writeln!(out, "无法读取、未计入的记录 {} 个：{}", city.unreadable.len(), city.unreadable.join("、"));
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use chrono::NaiveDate;
    use onevisit_core::domain::{Task, TaskCode};
    use onevisit_core::record::{InspectionRecord, Stamp};

    use super::*;
    use crate::storage::NewRecord;
    use crate::storage::sqlite::SqliteStorage;

    fn record(n: usize) -> (InspectionRecord, NewRecord) {
        let directory = onevisit_core::sample::directory().unwrap();
        let draft =
            onevisit_core::sample::joint_task_draft(&directory, n, NaiveDate::from_ymd_opt(2026, 12, 1).unwrap());
        let code = TaskCode::parse(&format!("330482-20261201-{n:08}")).unwrap();
        let task = Task::from_draft(draft, code, &directory).unwrap();
        let stamp = Stamp { by: task.lead_inspector.clone(), at_ms: 1 };
        let mut record = InspectionRecord::create(task, automerge::ActorId::random(), stamp).unwrap();
        let doc = NewRecord {
            id: record.task().code.to_string(),
            task_json: "{}".into(),
            departments: vec!["scjg".into()],
            inspectors: vec!["scjg-01".into()],
            heads: Vec::new(),
            facts: facts_of(&record),
            snapshot: record.save(),
        };
        (record, doc)
    }

    #[tokio::test]
    async fn the_cache_follows_every_write_and_summarises_what_has_no_summary() {
        let dir = tempfile::tempdir().unwrap();
        let storage = SqliteStorage::open(dir.path()).unwrap();
        let cache = FactsCache::default();
        assert!(cache.current(&storage).await.unwrap().facts.is_empty());
        let (_, first) = record(1);
        let (_, second) = record(2);
        storage.create_records(vec![first.clone(), second]).await.unwrap();
        assert_eq!(cache.current(&storage).await.unwrap().facts.len(), 2);
        // A write to one record replaces its summary in place.
        let mut changed = TaskFacts::from_json(&first.facts).unwrap();
        changed.conflicts = 3;
        storage.append_record(first.id.clone(), 1, vec![], vec![], changed.to_json()).await.unwrap();
        let now = cache.current(&storage).await.unwrap();
        assert_eq!(now.facts.len(), 2);
        assert_eq!(now.facts.iter().find(|f| f.code == first.id).unwrap().conflicts, 3);
        // A record stored without a summary is summarised from its bytes; unreadable bytes are
        // listed, never a failure.
        let (_, mut third) = record(3);
        third.facts = String::new();
        let (_, mut broken) = record(4);
        broken.facts = String::new();
        broken.snapshot = vec![0xde, 0xad];
        storage.create_records(vec![third.clone(), broken.clone()]).await.unwrap();
        let now = cache.current(&storage).await.unwrap();
        assert_eq!(now.facts.len(), 3);
        assert!(now.facts.iter().any(|f| f.code == third.id));
        assert_eq!(now.unreadable, vec![broken.id.clone()]);
        // Nothing written since: the same summaries, nothing read again.
        let again = cache.current(&storage).await.unwrap();
        assert!(Arc::ptr_eq(&again.facts, &now.facts));
    }
}
