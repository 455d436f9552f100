//! A draw plan as a planner writes it, and the validated parameters a draw record carries.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::DrawError;
use crate::domain::{CreditGrade, DepartmentId, Directory, InspectorId, MatterId, TimeWindow};

/// Ratios in signed data are integers: parts per ten thousand (万分之一).
pub const RATIO_SCALE: u32 = 10_000;

/// How large a share of each credit grade is drawn, as a planner writes it (0–1).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GradeRatios {
    /// Grade A (good credit).
    #[serde(rename = "A")]
    pub a: f64,
    /// Grade B.
    #[serde(rename = "B")]
    pub b: f64,
    /// Grade C.
    #[serde(rename = "C")]
    pub c: f64,
    /// Grade D (bad credit).
    #[serde(rename = "D")]
    pub d: f64,
}

/// A 双随机 draw plan (JSON): which departments inspect which matters, among which enterprises,
/// at which ratios by credit grade.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DrawPlan {
    /// The plan's identifier, unique in the tenant (e.g. 2026-12-双随机-01).
    pub id: String,
    /// Its title as published.
    pub title: String,
    /// When the drawn inspections are due.
    pub window: TimeWindow,
    /// The departments taking part, in lead order: of several departments that draw one
    /// enterprise, the first listed leads the joint task.
    pub departments: Vec<DepartmentPlan>,
    /// Ratios by credit grade (信用分级分类监管) for every department that states none of its own.
    pub grade_ratios: GradeRatios,
    /// Only enterprises in these towns or streets (乡镇街道); empty: every one.
    #[serde(default)]
    pub towns: Vec<String>,
    /// Only enterprises of these industries; empty: every one.
    #[serde(default)]
    pub industries: Vec<String>,
    /// Inspectors drawn from each department for each enterprise (two officers act together).
    #[serde(default = "two")]
    pub inspectors_per_department: u32,
    /// Whether the inspectors who last inspected an enterprise for a department sit this one out.
    #[serde(default = "yes")]
    pub exclude_last_inspectors: bool,
}

fn two() -> u32 {
    2
}

fn yes() -> bool {
    true
}

/// One department's part of a plan: its matters, its own ratios if any, its pool of inspectors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DepartmentPlan {
    /// The department.
    pub department: DepartmentId,
    /// Its matters inspected in this draw.
    pub matters: Vec<MatterId>,
    /// Its own ratios by credit grade, instead of the plan's.
    #[serde(default)]
    pub grade_ratios: Option<GradeRatios>,
    /// The inspectors it draws from; empty: every inspector of the department.
    #[serde(default)]
    pub inspectors: Vec<InspectorId>,
}

/// Ratios by credit grade in parts per ten thousand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ratios {
    /// Grade A.
    #[serde(rename = "A")]
    pub a: u32,
    /// Grade B.
    #[serde(rename = "B")]
    pub b: u32,
    /// Grade C.
    #[serde(rename = "C")]
    pub c: u32,
    /// Grade D.
    #[serde(rename = "D")]
    pub d: u32,
}

impl Ratios {
    /// The ratio of one grade, in parts per ten thousand.
    pub fn of(&self, grade: CreditGrade) -> u32 {
        match grade {
            CreditGrade::A => self.a,
            CreditGrade::B => self.b,
            CreditGrade::C => self.c,
            CreditGrade::D => self.d,
        }
    }

    /// How many of `n` enterprises of `grade` are drawn: the ratio of `n`, rounded half up.
    pub fn count(&self, grade: CreditGrade, n: usize) -> usize {
        let n = n as u64;
        ((n * u64::from(self.of(grade)) + u64::from(RATIO_SCALE / 2)) / u64::from(RATIO_SCALE)) as usize
    }
}

/// The validated plan as a draw record carries it: identifiers checked against the directory,
/// lists sorted, ratios as integers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrawParameters {
    /// The plan's identifier.
    pub plan_id: String,
    /// Its title.
    pub title: String,
    /// When the drawn inspections are due.
    pub window: TimeWindow,
    /// The departments, in lead order.
    pub departments: Vec<DepartmentParameters>,
    /// The towns filter (sorted; empty: every one).
    pub towns: Vec<String>,
    /// The industries filter (sorted; empty: every one).
    pub industries: Vec<String>,
    /// Inspectors per department per enterprise.
    pub inspectors_per_department: u32,
    /// Whether the last inspectors of an enterprise sit this one out.
    pub exclude_last_inspectors: bool,
}

/// One department's validated part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DepartmentParameters {
    /// The department.
    pub department: DepartmentId,
    /// Its matters, sorted.
    pub matters: Vec<MatterId>,
    /// Its ratios by credit grade.
    pub ratios: Ratios,
    /// Its pool of inspectors, sorted.
    pub inspectors: Vec<InspectorId>,
}

impl DrawPlan {
    /// Checks the plan against the directory: known departments, matters of the department that
    /// inspects them, inspectors of their department, ratios within 0–1, two officers at least.
    pub fn validate(&self, directory: &Directory) -> Result<DrawParameters, DrawError> {
        if self.id.trim().is_empty() || self.id.chars().any(char::is_control) {
            return Err(DrawError::BadPlanId(self.id.clone()));
        }
        if self.departments.is_empty() {
            return Err(DrawError::NoDepartments);
        }
        if self.window.end < self.window.start {
            return Err(DrawError::InvertedWindow);
        }
        if self.inspectors_per_department < 2 {
            return Err(DrawError::TooFewInspectorsPerDepartment(self.inspectors_per_department));
        }
        let plan_ratios = ratios(&self.grade_ratios, None)?;
        let mut seen = BTreeSet::new();
        let mut departments = Vec::with_capacity(self.departments.len());
        for d in &self.departments {
            if directory.department(&d.department).is_none() {
                return Err(DrawError::UnknownDepartment(d.department.clone()));
            }
            if !seen.insert(d.department.clone()) {
                return Err(DrawError::DuplicateDepartment(d.department.clone()));
            }
            if d.matters.is_empty() {
                return Err(DrawError::NoMatters(d.department.clone()));
            }
            for m in &d.matters {
                let matter = directory.matter(m).ok_or_else(|| DrawError::UnknownMatter(m.clone()))?;
                if matter.department != d.department {
                    return Err(DrawError::MatterOfAnotherDepartment {
                        matter: m.clone(),
                        department: d.department.clone(),
                    });
                }
            }
            let inspectors: BTreeSet<InspectorId> = if d.inspectors.is_empty() {
                directory.inspectors().filter(|i| i.department == d.department).map(|i| i.id.clone()).collect()
            } else {
                for i in &d.inspectors {
                    let inspector = directory.inspector(i).ok_or_else(|| DrawError::UnknownInspector(i.clone()))?;
                    if inspector.department != d.department {
                        return Err(DrawError::InspectorOfAnotherDepartment {
                            inspector: i.clone(),
                            department: d.department.clone(),
                        });
                    }
                }
                d.inspectors.iter().cloned().collect()
            };
            let ratios = match &d.grade_ratios {
                Some(own) => ratios(own, Some(&d.department))?,
                None => plan_ratios,
            };
            departments.push(DepartmentParameters {
                department: d.department.clone(),
                matters: d.matters.iter().cloned().collect::<BTreeSet<_>>().into_iter().collect(),
                ratios,
                inspectors: inspectors.into_iter().collect(),
            });
        }
        Ok(DrawParameters {
            plan_id: self.id.clone(),
            title: self.title.clone(),
            window: self.window,
            departments,
            towns: sorted(&self.towns),
            industries: sorted(&self.industries),
            inspectors_per_department: self.inspectors_per_department,
            exclude_last_inspectors: self.exclude_last_inspectors,
        })
    }
}

fn sorted(list: &[String]) -> Vec<String> {
    list.iter().map(|s| s.trim().to_string()).collect::<BTreeSet<_>>().into_iter().collect()
}

/// A planner's ratios as integers; each must lie within 0–1.
fn ratios(given: &GradeRatios, department: Option<&DepartmentId>) -> Result<Ratios, DrawError> {
    let one = |grade: CreditGrade, value: f64| {
        if (0.0..=1.0).contains(&value) {
            Ok((value * f64::from(RATIO_SCALE)).round() as u32)
        } else {
            Err(DrawError::RatioOutOfRange { department: department.cloned(), grade, value: value.to_string() })
        }
    };
    Ok(Ratios {
        a: one(CreditGrade::A, given.a)?,
        b: one(CreditGrade::B, given.b)?,
        c: one(CreditGrade::C, given.c)?,
        d: one(CreditGrade::D, given.d)?,
    })
}
