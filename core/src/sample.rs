//! The shipped sample data and a ready joint-inspection task over it, for the demo, benchmarks
//! and tests.

use chrono::NaiveDate;

use crate::domain::{
    DepartmentId, Directory, DirectoryError, InspectorId, MatterId, SAMPLE_DIRECTORY_JSON, TaskDraft, TaskSource,
    TimeWindow, Uscc,
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
