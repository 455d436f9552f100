//! The shipped sample data and a ready joint-inspection task over it, for the demo, benchmarks
//! and tests.

use chrono::NaiveDate;

use crate::domain::{
    DepartmentId, Directory, DirectoryError, Enterprise, InspectorId, MatterId, SAMPLE_DIRECTORY_JSON, TaskDraft,
    TaskSource, TimeWindow, Uscc,
};

/// The sample directory of Pinghu's departments, matters, enterprises and inspectors.
pub fn directory() -> Result<Directory, DirectoryError> {
    Directory::from_json(SAMPLE_DIRECTORY_JSON.as_bytes())
}

/// A joint inspection led by market supervision (scjg-01) with the fire brigade (xfjy-01) of the
/// `n`-th sample enterprise, over food safety and fire safety, due in the week from `start`.
#[allow(clippy::expect_used, reason = "the identifiers are literals known to be valid")]
pub fn joint_task_draft(directory: &Directory, n: usize, start: NaiveDate) -> TaskDraft {
    let enterprises: Vec<Uscc> = directory.enterprises().map(|e| e.uscc.clone()).collect();
    let dept = |s: &str| DepartmentId::new(s).expect("valid literal");
    let insp = |s: &str| InspectorId::new(s).expect("valid literal");
    let matter = |s: &str| MatterId::new(s).expect("valid literal");
    TaskDraft {
        enterprise: enterprises[n % enterprises.len()].clone(),
        lead_department: dept("scjg"),
        departments: vec![dept("scjg"), dept("xfjy")],
        inspectors: vec![insp("scjg-01"), insp("xfjy-01")],
        lead_inspector: insp("scjg-01"),
        matters: vec![matter("SCJG-001"), matter("XFJY-001")],
        window: TimeWindow { start, end: start + chrono::Days::new(6) },
        source: TaskSource::RandomDraw,
    }
}

/// The `n`-th task of a city's year spread over the whole directory: two departments (the lead
/// and a partner, every pair in turn), one inspector and one matter of each, the `n`-th
/// enterprise, due in the week from `start`. `None` when the directory has fewer than two
/// departments with an inspector and a matter each.
pub fn city_task_draft(directory: &Directory, n: usize, start: NaiveDate) -> Option<TaskDraft> {
    let staffed: Vec<(&DepartmentId, Vec<InspectorId>, Vec<MatterId>)> = directory
        .departments()
        .map(|d| {
            let inspectors = directory.inspectors().filter(|i| i.department == d.id).map(|i| i.id.clone()).collect();
            let matters = directory.matters().filter(|m| m.department == d.id).map(|m| m.id.clone()).collect();
            (&d.id, inspectors, matters)
        })
        .filter(|(_, inspectors, matters): &(_, Vec<_>, Vec<_>)| !inspectors.is_empty() && !matters.is_empty())
        .collect();
    let count = staffed.len();
    if count < 2 {
        return None;
    }
    let enterprises: Vec<&Enterprise> = directory.enterprises().collect();
    let enterprise = enterprises.get(n % enterprises.len().max(1))?;
    let round = n / count;
    let lead = &staffed[n % count];
    let partner = &staffed[(n + 1 + round % (count - 1)) % count];
    let pick = |list: &[InspectorId]| list[round % list.len()].clone();
    let matter = |list: &[MatterId]| list[round % list.len()].clone();
    Some(TaskDraft {
        enterprise: enterprise.uscc.clone(),
        lead_department: lead.0.clone(),
        departments: vec![lead.0.clone(), partner.0.clone()],
        inspectors: vec![pick(&lead.1), pick(&partner.1)],
        lead_inspector: pick(&lead.1),
        matters: vec![matter(&lead.2), matter(&partner.2)],
        window: TimeWindow { start, end: start + chrono::Days::new(6) },
        source: TaskSource::RandomDraw,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::domain::{Task, TaskCode};

    #[test]
    fn city_drafts_are_valid_tasks_spread_over_every_department_and_inspector() {
        let directory = directory().unwrap();
        let start = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        let code = TaskCode::parse("330482-20261201-AAAAAAAA").unwrap();
        let mut leads = BTreeSet::new();
        let mut inspectors = BTreeSet::new();
        for n in 0..200 {
            let draft = city_task_draft(&directory, n, start).unwrap();
            assert_ne!(draft.departments[0], draft.departments[1], "two different departments");
            leads.insert(draft.lead_department.clone());
            inspectors.extend(draft.inspectors.iter().cloned());
            Task::from_draft(draft, code.clone(), &directory).unwrap();
        }
        assert_eq!(leads.len(), directory.departments().count());
        assert_eq!(inspectors.len(), directory.inspectors().count());
    }
}
