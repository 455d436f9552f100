//! The enterprise's file (一企一档): every task of one enterprise in date order — why it exists,
//! who went, its status, its findings with their deadlines, its orders to rectify and whether
//! they are signed, and the re-inspections planned for them.

use chrono::NaiveDate;
use onevisit_core::document::DocumentKind;
use onevisit_core::domain::{Directory, TaskSource, Uscc};
use serde::Serialize;

use crate::followups::{self, FollowupError, Trust};
use crate::storage::Storage;
use crate::tasks;
use crate::tenant::Tenant;

/// One enterprise's file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EnterpriseFile {
    /// Its USCC.
    pub uscc: String,
    /// Its name (empty when the directory no longer lists it).
    pub name: String,
    /// Its credit grade, if listed.
    pub credit_grade: Option<String>,
    /// Its tasks, oldest first.
    pub tasks: Vec<FileTask>,
}

/// One task in the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileTask {
    /// The task code.
    pub code: String,
    /// Why it exists (machine name) …
    pub source: String,
    /// … and in Chinese.
    pub source_zh: String,
    /// The task it re-inspects, for a re-inspection.
    pub of_task: Option<String>,
    /// First and last day.
    pub window: (NaiveDate, NaiveDate),
    /// Its status (machine name) …
    pub status: String,
    /// … and in Chinese.
    pub status_zh: String,
    /// The departments taking part.
    pub departments: Vec<String>,
    /// The inspectors assigned.
    pub inspectors: Vec<String>,
    /// Its findings.
    pub findings: Vec<FileFinding>,
    /// Its orders to rectify (latest version per department).
    pub orders: Vec<FileOrder>,
    /// The re-inspections planned for it.
    pub reinspections: Vec<String>,
}

/// A finding in the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileFinding {
    /// Its identifier in the record.
    pub id: String,
    /// The department.
    pub department: String,
    /// What is wrong.
    pub problem: String,
    /// Whether rectification was ordered, by when.
    pub deadline: Option<NaiveDate>,
    /// The re-inspection that names it, if planned.
    pub reinspection: Option<String>,
    /// What the latest re-inspection found (zh-CN), if one recorded a result.
    pub result: Option<String>,
    /// Whether its loop is closed (rectified, or handed over for a case).
    pub settled: bool,
}

/// An order to rectify in the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileOrder {
    /// The issuing department.
    pub department: String,
    /// Its number (文号).
    pub number: String,
    /// Whether it counts as signed (two inspectors and the party, certificates checked).
    pub signed: bool,
}

/// The file of the enterprise `uscc`: only its own records are read.
pub async fn file<S: Storage>(
    storage: &S,
    tenant: &Tenant,
    directory: &Directory,
    uscc: &Uscc,
    now_ms: i64,
) -> Result<EnterpriseFile, FollowupError> {
    let mut tasks: Vec<_> = tasks::planned(storage).await?.into_iter().filter(|t| &t.enterprise == uscc).collect();
    tasks.sort_by(|a, b| (a.window.start, &a.code).cmp(&(b.window.start, &b.code)));
    let reinspections: Vec<(String, String, Vec<String>)> = tasks
        .iter()
        .filter_map(|t| match &t.source {
            TaskSource::ReInspection { of_task, findings } => {
                Some((t.code.to_string(), of_task.to_string(), findings.iter().map(|f| f.id.clone()).collect()))
            }
            _ => None,
        })
        .collect();
    let trust = Trust::now(storage, tenant, now_ms).await?;
    let mut records = Vec::with_capacity(tasks.len());
    for planned in &tasks {
        records.push(tasks::load_record(storage, planned.code.as_str()).await?.0);
    }
    // What the re-inspections found, by (inspected task, finding), oldest first.
    let mut results: Vec<(String, onevisit_core::record::Recheck)> = Vec::new();
    for record in &records {
        if let TaskSource::ReInspection { of_task, .. } = &record.task().source {
            results.extend(record.rechecks()?.into_iter().map(|r| (of_task.to_string(), r)));
        }
    }
    results.sort_by_key(|(_, r)| r.stamp.at_ms);
    let mut out = Vec::with_capacity(tasks.len());
    for record in &records {
        let task = record.task().clone();
        let status = record.status()?;
        let mine: Vec<&(String, String, Vec<String>)> =
            reinspections.iter().filter(|(_, of, _)| of == task.code.as_str()).collect();
        let findings = record
            .findings()?
            .into_iter()
            .map(|f| {
                let found: Vec<_> =
                    results.iter().filter(|(of, r)| of == task.code.as_str() && r.finding == f.id).collect();
                (f, found)
            })
            .map(|(f, found)| FileFinding {
                reinspection: mine
                    .iter()
                    .rev()
                    .find(|(_, _, ids)| ids.contains(&f.id))
                    .map(|(code, _, _)| code.clone()),
                result: found.last().map(|(_, r)| r.outcome.label_zh()),
                settled: found.iter().any(|(_, r)| r.outcome.settles()),
                id: f.id,
                department: f.department.to_string(),
                problem: f.problem,
                deadline: f.deadline.filter(|_| f.rectification_required),
            })
            .collect();
        let mut orders = Vec::new();
        for department in &task.departments {
            if let Some(order) = record.latest_document(DocumentKind::RectificationOrder, department)? {
                orders.push(FileOrder {
                    department: department.to_string(),
                    number: order.number.clone(),
                    signed: followups::order_signed(record, department, &trust.signer())?,
                });
            }
        }
        let of_task = match &task.source {
            TaskSource::ReInspection { of_task, .. } => Some(of_task.to_string()),
            _ => None,
        };
        out.push(FileTask {
            code: task.code.to_string(),
            source: task.source.kind().to_string(),
            source_zh: task.source.label_zh().to_string(),
            of_task,
            window: (task.window.start, task.window.end),
            status: status.as_str().to_string(),
            status_zh: status.label_zh().to_string(),
            departments: task.departments.iter().map(ToString::to_string).collect(),
            inspectors: task.inspectors.iter().map(ToString::to_string).collect(),
            findings,
            orders,
            reinspections: mine.iter().map(|(code, _, _)| code.clone()).collect(),
        });
    }
    let listed = directory.enterprise(uscc);
    Ok(EnterpriseFile {
        uscc: uscc.to_string(),
        name: listed.map(|e| e.name.clone()).unwrap_or_default(),
        credit_grade: listed.map(|e| e.credit_grade.letter().to_string()),
        tasks: out,
    })
}
