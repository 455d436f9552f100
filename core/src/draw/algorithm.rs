//! The draw itself (algorithm `onevisit-draw/1`): a pure function of the parameters, the frozen
//! pool and the seed.
//!
//! For each department in plan order: the enterprises that pass the filters and to which one of
//! its matters applies are its eligible ones; every eligible enterprise of a grade with a
//! non-zero ratio must have enough inspectors who need not step aside (else the whole draw
//! fails, naming each shortfall); of the n eligible enterprises of a grade, round-half-up(n ×
//! ratio) are chosen with the stream ("enterprises", department, grade) over them in USCC order;
//! for each chosen enterprise the inspectors are chosen with the stream ("inspectors",
//! department, USCC) over the department's pool (sorted) less those who step aside. Then the
//! departments that chose one enterprise become one joint task, led by the first of them in plan
//! order, whose first drawn inspector is the lead inspector.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::pool::{PoolEnterprise, PoolMatter, PoolSnapshot, RecusalReason};
use super::stream::Stream;
use super::{DrawError, DrawParameters, Shortfall};
use crate::domain::{CreditGrade, DepartmentId, InspectorId, MatterId, Uscc};

/// What a draw chose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrawResult {
    /// One task per enterprise drawn, by USCC.
    pub tasks: Vec<DrawnTask>,
    /// Each department's counts, in plan order.
    pub departments: Vec<DepartmentTally>,
    /// Visits the departments would have made separately (one per department per enterprise).
    pub separate_visits: u64,
    /// Visits made: one per joint task.
    pub joint_visits: u64,
}

impl DrawResult {
    /// Visits saved by joint tasks (综合查一次).
    pub fn visits_saved(&self) -> u64 {
        self.separate_visits - self.joint_visits
    }
}

/// One enterprise drawn, with every department that drew it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrawnTask {
    /// The enterprise.
    pub enterprise: Uscc,
    /// The lead department (the first in plan order of those that drew it).
    pub lead_department: DepartmentId,
    /// The lead department's first drawn inspector.
    pub lead_inspector: InspectorId,
    /// Each department that drew it, in plan order.
    pub departments: Vec<DrawnDepartment>,
}

/// One department's part of a drawn task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrawnDepartment {
    /// The department.
    pub department: DepartmentId,
    /// Its matters that apply to the enterprise.
    pub matters: Vec<MatterId>,
    /// Its inspectors, in the order drawn.
    pub inspectors: Vec<InspectorId>,
}

/// Counts by credit grade.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GradeCounts {
    /// Grade A.
    #[serde(rename = "A")]
    pub a: u64,
    /// Grade B.
    #[serde(rename = "B")]
    pub b: u64,
    /// Grade C.
    #[serde(rename = "C")]
    pub c: u64,
    /// Grade D.
    #[serde(rename = "D")]
    pub d: u64,
}

impl GradeCounts {
    /// The count of one grade.
    pub fn of(&self, grade: CreditGrade) -> u64 {
        match grade {
            CreditGrade::A => self.a,
            CreditGrade::B => self.b,
            CreditGrade::C => self.c,
            CreditGrade::D => self.d,
        }
    }

    fn set(&mut self, grade: CreditGrade, n: u64) {
        match grade {
            CreditGrade::A => self.a = n,
            CreditGrade::B => self.b = n,
            CreditGrade::C => self.c = n,
            CreditGrade::D => self.d = n,
        }
    }

    /// The sum over grades.
    pub fn total(&self) -> u64 {
        self.a + self.b + self.c + self.d
    }
}

/// One department's eligible and drawn enterprises by grade.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DepartmentTally {
    /// The department.
    pub department: DepartmentId,
    /// Eligible enterprises by grade.
    pub eligible: GradeCounts,
    /// Drawn enterprises by grade.
    pub drawn: GradeCounts,
}

/// The pool read for lookups.
struct Index<'a> {
    matters: HashMap<&'a MatterId, &'a PoolMatter>,
    inspector_department: HashMap<&'a InspectorId, &'a DepartmentId>,
    /// Recusals by enterprise and the inspector's department, in the pool's (sorted) order.
    recusals: HashMap<(&'a Uscc, &'a DepartmentId), Vec<(&'a InspectorId, &'a RecusalReason)>>,
}

impl<'a> Index<'a> {
    fn new(pool: &'a PoolSnapshot) -> Index<'a> {
        let inspector_department: HashMap<&InspectorId, &DepartmentId> =
            pool.inspectors.iter().map(|i| (&i.id, &i.department)).collect();
        let mut recusals: HashMap<_, Vec<_>> = HashMap::new();
        for r in &pool.recusals {
            if let Some(department) = inspector_department.get(&r.inspector) {
                recusals.entry((&r.enterprise, *department)).or_default().push((&r.inspector, &r.reason));
            }
        }
        Index { matters: pool.matters.iter().map(|m| (&m.id, m)).collect(), inspector_department, recusals }
    }
}

/// Runs the draw. Fails, choosing nothing, when the parameters name what the pool lacks, when the
/// filters leave no enterprise, or when any eligible enterprise cannot be staffed.
pub fn run(parameters: &DrawParameters, pool: &PoolSnapshot, seed: &[u8]) -> Result<DrawResult, DrawError> {
    if !pool.recusals.windows(2).all(|w| w[0] < w[1]) || !pool.enterprises.windows(2).all(|w| w[0].uscc < w[1].uscc) {
        return Err(DrawError::PoolNotCanonical);
    }
    let index = Index::new(pool);
    let in_pool: Vec<&PoolEnterprise> = pool
        .enterprises
        .iter()
        .filter(|e| parameters.towns.is_empty() || e.town.as_ref().is_some_and(|t| parameters.towns.contains(t)))
        .filter(|e| {
            parameters.industries.is_empty() || e.industry.as_ref().is_some_and(|i| parameters.industries.contains(i))
        })
        .collect();
    if in_pool.is_empty() {
        return Err(DrawError::EmptyPool);
    }
    let need = parameters.inspectors_per_department as usize;
    let mut shortfalls = Vec::new();
    let mut tallies = Vec::with_capacity(parameters.departments.len());
    // The departments that drew each enterprise, by its position in the (sorted) pool.
    let mut hits: Vec<Vec<DrawnDepartment>> = vec![Vec::new(); in_pool.len()];
    for share in &parameters.departments {
        let canonical =
            share.inspectors.windows(2).all(|w| w[0] < w[1]) && share.matters.windows(2).all(|w| w[0] < w[1]);
        if !canonical {
            return Err(DrawError::ParametersNotCanonical(share.department.clone()));
        }
        let matters = share
            .matters
            .iter()
            .map(|m| match index.matters.get(m) {
                Some(pm) if pm.department == share.department => Ok(*pm),
                _ => Err(DrawError::PoolLacksMatter(m.clone())),
            })
            .collect::<Result<Vec<_>, _>>()?;
        for i in &share.inspectors {
            if index.inspector_department.get(i) != Some(&&share.department) {
                return Err(DrawError::PoolLacksInspector(i.clone()));
            }
        }
        // The matters that apply, per industry: enterprises share a handful of lists.
        let mut lists: Vec<Vec<MatterId>> = Vec::new();
        let mut list_of: HashMap<Option<&str>, Option<usize>> = HashMap::new();
        let mut by_grade: BTreeMap<CreditGrade, Vec<(usize, &PoolEnterprise, usize)>> = BTreeMap::new();
        for (position, e) in in_pool.iter().enumerate() {
            let industry = e.industry.as_deref();
            let list = *list_of.entry(industry).or_insert_with(|| {
                let applying: Vec<MatterId> =
                    matters.iter().filter(|m| m.applies_to(industry)).map(|m| m.id.clone()).collect();
                (!applying.is_empty()).then(|| {
                    lists.push(applying);
                    lists.len() - 1
                })
            });
            if let Some(list) = list {
                by_grade.entry(e.credit_grade).or_default().push((position, e, list));
            }
        }
        // Who steps aside for an enterprise in this department (usually nobody): the pool's
        // recusals are sorted, so one inspector's entries are adjacent and counted once.
        let stepping_aside = |e: &PoolEnterprise| -> Vec<(&InspectorId, &RecusalReason)> {
            let mut list: Vec<(&InspectorId, &RecusalReason)> = Vec::new();
            let key = (&e.uscc, &share.department);
            for (i, reason) in index.recusals.get(&key).map(Vec::as_slice).unwrap_or_default() {
                let applies = parameters.exclude_last_inspectors || matches!(reason, RecusalReason::Declared);
                if applies && list.last().is_none_or(|(last, _)| last != i) && share.inspectors.binary_search(i).is_ok()
                {
                    list.push((i, reason));
                }
            }
            list
        };
        let free = |aside: &[(&InspectorId, &RecusalReason)]| -> Vec<&InspectorId> {
            share.inspectors.iter().filter(|i| !aside.iter().any(|(a, _)| a == i)).collect()
        };
        let mut tally = DepartmentTally {
            department: share.department.clone(),
            eligible: GradeCounts::default(),
            drawn: GradeCounts::default(),
        };
        for (grade, eligible) in &by_grade {
            tally.eligible.set(*grade, eligible.len() as u64);
            if share.ratios.of(*grade) == 0 {
                continue;
            }
            for (_, e, _) in eligible {
                let aside = stepping_aside(e);
                if share.inspectors.len() - aside.len() < need {
                    shortfalls.push(Shortfall {
                        department: share.department.clone(),
                        enterprise: e.uscc.clone(),
                        needed: need,
                        available: free(&aside).into_iter().cloned().collect(),
                        stepping_aside: aside.iter().map(|(i, r)| ((*i).clone(), r.label_zh())).collect(),
                    });
                }
            }
            if !shortfalls.is_empty() {
                continue; // keep naming every shortfall; nothing is drawn
            }
            let k = share.ratios.count(*grade, eligible.len());
            let mut stream = Stream::new(seed, &["enterprises", share.department.as_str(), grade.letter()]);
            let chosen = stream.choose(eligible.len(), k);
            tally.drawn.set(*grade, chosen.len() as u64);
            for c in chosen {
                let (position, e, list) = eligible[c];
                let free = free(&stepping_aside(e));
                let mut stream = Stream::new(seed, &["inspectors", share.department.as_str(), e.uscc.as_str()]);
                let inspectors = stream.choose(free.len(), need).into_iter().map(|i| free[i].clone()).collect();
                hits[position].push(DrawnDepartment {
                    department: share.department.clone(),
                    matters: lists[list].clone(),
                    inspectors,
                });
            }
        }
        tallies.push(tally);
    }
    if !shortfalls.is_empty() {
        return Err(DrawError::Understaffed(shortfalls));
    }
    let separate_visits = hits.iter().map(|d| d.len() as u64).sum();
    let tasks: Vec<DrawnTask> = in_pool
        .iter()
        .zip(hits)
        .filter_map(|(e, departments)| {
            let uscc = &e.uscc;
            let lead = departments.first()?;
            Some(DrawnTask {
                enterprise: uscc.clone(),
                lead_department: lead.department.clone(),
                lead_inspector: lead.inspectors.first()?.clone(),
                departments,
            })
        })
        .collect();
    Ok(DrawResult { joint_visits: tasks.len() as u64, tasks, departments: tallies, separate_visits })
}
