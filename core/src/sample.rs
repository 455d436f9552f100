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

/// A joint inspection led by market supervision (scjg-01, with scjg-02) with the fire brigade
/// (xfjy-01, xfjy-02) of the `n`-th sample enterprise, over food safety and fire safety, due in
/// the week from `start`: two officers of each department, as the law requires.
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
        inspectors: vec![insp("scjg-01"), insp("scjg-02"), insp("xfjy-01"), insp("xfjy-02")],
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

/// A 双随机 plan over every department of `directory` with all its matters, due in the month from
/// `start`: grade A 10 %, B 20 %, C 40 %, D 80 % (the worse the credit, the more often drawn).
pub fn draw_plan(directory: &Directory, id: &str, start: NaiveDate) -> crate::draw::DrawPlan {
    use crate::draw::{DepartmentPlan, DrawPlan, GradeRatios};
    DrawPlan {
        id: id.to_string(),
        title: format!("{id} 双随机联合抽查"),
        window: TimeWindow { start, end: start + chrono::Days::new(30) },
        departments: directory
            .departments()
            .map(|d| DepartmentPlan {
                department: d.id.clone(),
                matters: directory.matters().filter(|m| m.department == d.id).map(|m| m.id.clone()).collect(),
                grade_ratios: None,
                inspectors: Vec::new(),
            })
            .collect(),
        grade_ratios: GradeRatios { a: 0.1, b: 0.2, c: 0.4, d: 0.8 },
        towns: Vec::new(),
        industries: Vec::new(),
        inspectors_per_department: 2,
        exclude_last_inspectors: true,
    }
}

/// A fire re-inspection (xfjy-01 leads, xfjy-02 joins) of the first sample enterprise, re-checking
/// finding `finding` (blocked evacuation route, due 2026-12-20) of task `of_task`, due the week of
/// 2026-12-21.
#[allow(clippy::expect_used, reason = "the identifiers are literals known to be valid")]
pub fn fire_reinspection_draft(directory: &Directory, of_task: crate::domain::TaskCode, finding: &str) -> TaskDraft {
    let day = |d| NaiveDate::from_ymd_opt(2026, 12, d).expect("valid literal");
    TaskDraft {
        enterprise: directory.enterprises().next().map(|e| e.uscc.clone()).expect("the sample has enterprises"),
        lead_department: DepartmentId::new("xfjy").expect("valid literal"),
        departments: vec![DepartmentId::new("xfjy").expect("valid literal")],
        inspectors: vec![
            InspectorId::new("xfjy-01").expect("valid literal"),
            InspectorId::new("xfjy-02").expect("valid literal"),
        ],
        lead_inspector: InspectorId::new("xfjy-01").expect("valid literal"),
        matters: vec![MatterId::new("XFJY-001").expect("valid literal")],
        window: TimeWindow { start: day(21), end: day(27) },
        source: TaskSource::ReInspection {
            of_task,
            findings: vec![crate::domain::FindingToRecheck {
                id: finding.to_string(),
                problem: "疏散通道堆放杂物".into(),
                legal_basis: "《中华人民共和国消防法》第二十八条".into(),
                deadline: Some(day(20)),
            }],
        },
    }
}

/// Towns and streets of the synthetic city (the sample's own).
const TOWNS: [&str; 10] = [
    "当湖街道",
    "钟埭街道",
    "曹桥街道",
    "乍浦镇",
    "新埭镇",
    "新仓镇",
    "独山港镇",
    "林埭镇",
    "广陈镇",
    "平湖经济技术开发区",
];

/// Industries of the synthetic city, each about as common as in the sample.
const INDUSTRIES: [&str; 10] =
    ["制造业", "制造业", "制造业", "餐饮", "化工", "交通运输", "住宿", "批发零售", "食品生产", "农业"];

/// A city of `enterprises` enterprises and `inspectors` inspectors over the sample's departments and
/// matters, for benchmarks and property tests: grades spread 2:3:2:1 over A–D, towns and
/// industries spread, one inspector in 50 with a declared conflict. The same arguments give the
/// same city.
#[allow(clippy::expect_used, reason = "generated identifiers are valid by construction")]
pub fn synthetic_city(enterprises: usize, inspectors: usize, seed: u64) -> Directory {
    use crate::domain::{CreditGrade, DirectoryData, Inspector};
    let sample = directory().expect("the shipped sample directory is valid").to_data();
    let mut state = seed;
    let mut next = move |n: usize| {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((state >> 33) % n.max(1) as u64) as usize
    };
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
    let grades = [
        CreditGrade::A,
        CreditGrade::A,
        CreditGrade::B,
        CreditGrade::B,
        CreditGrade::B,
        CreditGrade::C,
        CreditGrade::C,
        CreditGrade::D,
    ];
    let list: Vec<Enterprise> = (0..enterprises)
        .map(|n| {
            let mut org = [b'0'; 9];
            let mut rest = n;
            for c in org.iter_mut().rev() {
                *c = ALPHABET[rest % ALPHABET.len()];
                rest /= ALPHABET.len();
            }
            let first17 = format!("91330482{}", String::from_utf8_lossy(&org));
            let town = TOWNS[next(TOWNS.len())];
            Enterprise {
                uscc: Uscc::with_check_character(&first17).expect("valid by construction"),
                name: format!("平湖市第{n}号企业有限公司"),
                address: format!("浙江省平湖市{town}"),
                location: None,
                credit_grade: grades[next(grades.len())],
                town: Some(town.to_string()),
                industry: Some(INDUSTRIES[next(INDUSTRIES.len())].to_string()),
                legal_representative: None,
                licences: Vec::new(),
            }
        })
        .collect();
    let departments: Vec<DepartmentId> = sample.departments.iter().map(|d| d.id.clone()).collect();
    let people: Vec<Inspector> = (0..inspectors)
        .map(|n| {
            let department = departments[n % departments.len()].clone();
            let conflicts =
                if n % 50 == 49 && !list.is_empty() { vec![list[next(list.len())].uscc.clone()] } else { vec![] };
            Inspector {
                id: InspectorId::new(format!("{department}-{:04}", n / departments.len() + 1))
                    .expect("valid by construction"),
                name: format!("执法人员{n}"),
                certificate_number: format!("33048299{n:06}"),
                department,
                conflicts,
            }
        })
        .collect();
    let data = DirectoryData {
        departments: sample.departments,
        inspectors: people,
        enterprises: list,
        matters: sample.matters,
    };
    Directory::from_data(data).expect("generated directory is valid")
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
