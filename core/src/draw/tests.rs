#![allow(clippy::unwrap_used, reason = "tests")]

use std::collections::{BTreeMap, BTreeSet, HashSet};

use chrono::NaiveDate;

use super::*;
use crate::domain::{Directory, Task, TaskCode, TaskDraft, TaskSource, TimeWindow};
use crate::identity::DeviceKey;
use crate::sample;

/// A small deterministic generator for random pools.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 33) % n.max(1) as u64) as usize
    }
}

fn start() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 12, 1).unwrap()
}

fn seed(n: u8) -> [u8; 32] {
    [n; 32]
}

/// A published record of `plan` over `directory` (no history), signed by `root`.
fn publish(plan: &DrawPlan, directory: &Directory, seed: &[u8; 32], root: &DeviceKey) -> SignedDrawRecord {
    let parameters = plan.validate(directory).unwrap();
    let pool = PoolSnapshot::take(&parameters, directory, &[]);
    let result = run(&parameters, &pool, seed).unwrap();
    let record = DrawRecord {
        schema: record::DRAW_RECORD_SCHEMA.into(),
        tenant: "330482".into(),
        algorithm: ALGORITHM.into(),
        seed_commitment: seed_commitment(seed),
        committed_at_ms: 1_000,
        seed: hex::encode(seed),
        pool_taken_at_ms: 2_000,
        pool_sha256: pool.sha256().unwrap(),
        task_codes: Vec::new(),
        published_at_ms: 2_000,
        issuer_public_key: hex::encode(root.public_bytes()),
        parameters,
        result,
    };
    SignedDrawRecord::issue(&record, pool, root).unwrap()
}

#[test]
fn the_same_plan_pool_and_seed_give_the_same_draw_and_another_seed_another() {
    let directory = sample::synthetic_city(2_000, 90, 7);
    let plan = sample::draw_plan(&directory, "2026-12-01", start());
    let parameters = plan.validate(&directory).unwrap();
    let pool = PoolSnapshot::take(&parameters, &directory, &[]);
    let first = run(&parameters, &pool, &seed(1)).unwrap();
    assert_eq!(run(&parameters, &pool, &seed(1)).unwrap(), first);
    // Through JSON and back (another machine reading the record) the draw is the same.
    let pool_again: PoolSnapshot = serde_json::from_str(&serde_json::to_string(&pool).unwrap()).unwrap();
    let parameters_again: DrawParameters = serde_json::from_str(&serde_json::to_string(&parameters).unwrap()).unwrap();
    assert_eq!(run(&parameters_again, &pool_again, &seed(1)).unwrap(), first);
    let other = run(&parameters, &pool, &seed(2)).unwrap();
    assert_ne!(other.tasks, first.tasks);
    assert!(first.tasks.len() > 300, "{}", first.tasks.len());
}

#[test]
fn a_changed_pool_or_seed_changes_what_the_record_commits_to() {
    let directory = sample::directory().unwrap();
    let root = DeviceKey::generate();
    let plan = sample::draw_plan(&directory, "P1", start());
    let a = publish(&plan, &directory, &seed(1), &root);
    let b = publish(&plan, &directory, &seed(2), &root);
    assert_ne!(crate::audit::sha256_hex(a.canonical.as_bytes()), crate::audit::sha256_hex(b.canonical.as_bytes()));
    let mut data = directory.to_data();
    data.enterprises[0].credit_grade = match data.enterprises[0].credit_grade {
        crate::domain::CreditGrade::A => crate::domain::CreditGrade::D,
        _ => crate::domain::CreditGrade::A,
    };
    let changed = Directory::from_data(data).unwrap();
    let parameters = plan.validate(&directory).unwrap();
    let before = PoolSnapshot::take(&parameters, &directory, &[]).sha256().unwrap();
    let after = PoolSnapshot::take(&parameters, &changed, &[]).sha256().unwrap();
    assert_ne!(before, after);
    let c = publish(&plan, &changed, &seed(1), &root);
    assert_ne!(a.canonical, c.canonical);
}

#[test]
fn a_published_record_verifies_and_every_kind_of_tampering_is_named() {
    let directory = sample::directory().unwrap();
    let root = DeviceKey::generate();
    let plan = sample::draw_plan(&directory, "P1", start());
    let signed = publish(&plan, &directory, &seed(3), &root);
    let record = signed.verify(&root.verifying_key()).unwrap();
    assert!(!record.result.tasks.is_empty());

    // The result edited without the root key: the signature fails.
    let mut edited = record.clone();
    edited.result.tasks.remove(0);
    let forged = SignedDrawRecord {
        canonical: String::from_utf8(crate::canonical::to_canonical_json(&edited).unwrap()).unwrap(),
        signature: signed.signature.clone(),
        pool: signed.pool.clone(),
    };
    assert!(matches!(forged.verify(&root.verifying_key()), Err(DrawVerifyError::Signature(_))));
    // Edited and re-signed by the root itself (a dishonest operator): the recomputed draw differs.
    let resigned = SignedDrawRecord::issue(&edited, signed.pool.clone(), &root).unwrap();
    assert!(matches!(resigned.verify(&root.verifying_key()), Err(DrawVerifyError::ResultMismatch(_))));
    // An inspector swapped in the result, re-signed.
    let mut swapped = record.clone();
    let lead = &mut swapped.result.tasks[0].departments[0].inspectors[0];
    *lead = crate::domain::InspectorId::new("zzzz-99").unwrap();
    let resigned = SignedDrawRecord::issue(&swapped, signed.pool.clone(), &root).unwrap();
    assert!(matches!(resigned.verify(&root.verifying_key()), Err(DrawVerifyError::ResultMismatch(_))));
    // Another seed revealed than the one committed to.
    let mut reseeded = record.clone();
    reseeded.seed = hex::encode(seed(4));
    let resigned = SignedDrawRecord::issue(&reseeded, signed.pool.clone(), &root).unwrap();
    assert!(matches!(resigned.verify(&root.verifying_key()), Err(DrawVerifyError::SeedMismatch(_))));
    // The commitment made only after the pool was frozen.
    let mut late = record.clone();
    late.committed_at_ms = late.pool_taken_at_ms;
    let resigned = SignedDrawRecord::issue(&late, signed.pool.clone(), &root).unwrap();
    assert!(matches!(resigned.verify(&root.verifying_key()), Err(DrawVerifyError::CommittedAfterPool)));
    // The pool beside the record edited (an enterprise taken out): it no longer has the hash signed.
    let mut repooled = signed.clone();
    repooled.pool.enterprises.remove(0);
    assert!(matches!(repooled.verify(&root.verifying_key()), Err(DrawVerifyError::PoolHashMismatch)));
    // Signed by another key than the tenant's root.
    let other = DeviceKey::generate();
    let mut foreign = record.clone();
    foreign.issuer_public_key = hex::encode(other.public_bytes());
    let signed_by_other = SignedDrawRecord::issue(&foreign, signed.pool.clone(), &other).unwrap();
    assert!(matches!(signed_by_other.verify(&root.verifying_key()), Err(DrawVerifyError::Signature(_))));
}

/// A random small city: departments with 2–6 inspectors, random declared conflicts and history.
fn random_city(rng: &mut Lcg) -> (Directory, Vec<LastInspection>) {
    let directory = sample::synthetic_city(50 + rng.below(300), 18 + rng.below(40), rng.below(1_000) as u64);
    let enterprises: Vec<_> = directory.enterprises().map(|e| e.uscc.clone()).collect();
    let mut data = directory.to_data();
    for inspector in &mut data.inspectors {
        for _ in 0..rng.below(4) {
            inspector.conflicts.push(enterprises[rng.below(enterprises.len())].clone());
        }
    }
    let directory = Directory::from_data(data).unwrap();
    let mut tasks = Vec::new();
    let departments: Vec<_> = directory.departments().map(|d| d.id.clone()).collect();
    for n in 0..rng.below(200) {
        let d = &departments[rng.below(departments.len())];
        let people: Vec<_> = directory.inspectors().filter(|i| &i.department == d).map(|i| i.id.clone()).collect();
        let matter = directory.matters().find(|m| &m.department == d).unwrap().id.clone();
        let draft = TaskDraft {
            enterprise: enterprises[rng.below(enterprises.len())].clone(),
            lead_department: d.clone(),
            departments: vec![d.clone()],
            inspectors: vec![people[0].clone(), people[1].clone()],
            lead_inspector: people[0].clone(),
            matters: vec![matter],
            window: TimeWindow { start: start() - chrono::Days::new(400 - n as u64), end: start() },
            source: TaskSource::RandomDraw,
        };
        let code = TaskCode::generate("330482", start()).unwrap();
        tasks.push(Task::from_draft(draft, code, &directory).unwrap());
    }
    let last = last_inspections(&tasks, &directory);
    (directory, last)
}

#[test]
fn nobody_who_must_step_aside_is_ever_drawn_over_random_pools() {
    let mut rng = Lcg(11);
    let mut drawn_total = 0;
    let mut understaffed = 0;
    for round in 0..60 {
        let (directory, last) = random_city(&mut rng);
        let mut plan = sample::draw_plan(&directory, "P", start());
        plan.exclude_last_inspectors = round % 2 == 0;
        plan.grade_ratios = GradeRatios { a: 0.3, b: 0.5, c: 0.7, d: 1.0 };
        let parameters = plan.validate(&directory).unwrap();
        let pool = PoolSnapshot::take(&parameters, &directory, &last);
        let result = match run(&parameters, &pool, &seed(round as u8)) {
            Ok(r) => r,
            Err(DrawError::Understaffed(list)) => {
                // Every shortfall is real: fewer free inspectors than needed, all named.
                for s in &list {
                    assert!(s.available.len() < s.needed);
                }
                understaffed += 1;
                continue;
            }
            Err(e) => panic!("{e}"),
        };
        let declared: HashSet<(String, String)> = directory
            .inspectors()
            .flat_map(|i| i.conflicts.iter().map(move |u| (i.id.to_string(), u.to_string())))
            .collect();
        let previous: HashSet<(String, String)> = last
            .iter()
            .flat_map(|l| l.inspectors.iter().map(move |i| (i.to_string(), l.enterprise.to_string())))
            .collect();
        for task in &result.tasks {
            for d in &task.departments {
                assert_eq!(d.inspectors.len(), 2);
                assert_eq!(d.inspectors.iter().collect::<BTreeSet<_>>().len(), 2, "two different officers");
                for i in &d.inspectors {
                    let pair = (i.to_string(), task.enterprise.to_string());
                    assert!(!declared.contains(&pair), "declared conflict drawn: {pair:?}");
                    if plan.exclude_last_inspectors {
                        assert!(!previous.contains(&pair), "last inspector drawn again: {pair:?}");
                    }
                    assert_eq!(directory.inspector(i).unwrap().department, d.department);
                }
                drawn_total += 1;
            }
        }
    }
    assert!(drawn_total > 1_000 && understaffed > 0, "{drawn_total} drawn, {understaffed} understaffed");
}

#[test]
fn each_grade_is_drawn_at_its_ratio_in_every_draw_and_every_enterprise_equally_often() {
    let directory = sample::synthetic_city(400, 45, 3);
    let mut plan = sample::draw_plan(&directory, "P", start());
    plan.grade_ratios = GradeRatios { a: 0.05, b: 0.1, c: 0.25, d: 0.5 };
    let parameters = plan.validate(&directory).unwrap();
    let pool = PoolSnapshot::take(&parameters, &directory, &[]);
    let share = &parameters.departments[1]; // market supervision
    let mut times: BTreeMap<String, u32> = BTreeMap::new();
    let mut per_grade = BTreeMap::new();
    const DRAWS: u32 = 400;
    for n in 0..DRAWS {
        let mut s = [0u8; 32];
        s[..4].copy_from_slice(&n.to_be_bytes());
        let result = run(&parameters, &pool, &s).unwrap();
        let tally = result.departments.iter().find(|t| t.department == share.department).unwrap();
        for grade in crate::domain::CreditGrade::ALL {
            let eligible = tally.eligible.of(grade) as f64;
            let drawn = tally.drawn.of(grade) as f64;
            // Exact in every draw: the ratio of the eligible, rounded half up (within half an enterprise).
            assert!((drawn - eligible * f64::from(share.ratios.of(grade)) / 10_000.0).abs() <= 0.5);
            per_grade.insert(grade, if eligible > 0.0 { drawn / eligible } else { 0.0 });
        }
        for task in &result.tasks {
            if task.departments.iter().any(|d| d.department == share.department) {
                *times.entry(task.enterprise.to_string()).or_default() += 1;
            }
        }
    }
    // Over many draws each enterprise is drawn about ratio × draws times (5 standard deviations).
    for e in directory.enterprises() {
        let applies = directory
            .matters()
            .filter(|m| m.department == share.department)
            .any(|m| m.applies_to(e.industry.as_deref()));
        let got = f64::from(times.get(e.uscc.as_str()).copied().unwrap_or(0));
        if !applies {
            assert_eq!(got, 0.0);
            continue;
        }
        // Each draw takes round-half-up(n × ratio) of the n eligible: that share is each one's chance.
        let p = per_grade[&e.credit_grade];
        let expected = p * f64::from(DRAWS);
        let sd = (f64::from(DRAWS) * p * (1.0 - p)).sqrt();
        assert!((got - expected).abs() <= 5.0 * sd + 1.0, "{} grade {:?}: {got} vs {expected}", e.uscc, e.credit_grade);
    }
}

#[test]
fn departments_that_draw_one_enterprise_make_one_joint_task_led_by_the_first_in_plan_order() {
    let directory = sample::synthetic_city(300, 90, 5);
    let mut plan = sample::draw_plan(&directory, "P", start());
    plan.grade_ratios = GradeRatios { a: 0.5, b: 0.5, c: 0.5, d: 0.5 };
    let parameters = plan.validate(&directory).unwrap();
    let pool = PoolSnapshot::take(&parameters, &directory, &[]);
    let result = run(&parameters, &pool, &seed(9)).unwrap();
    let order: Vec<_> = parameters.departments.iter().map(|d| d.department.clone()).collect();
    let mut hits = 0;
    let mut joint = 0;
    for task in &result.tasks {
        let positions: Vec<usize> =
            task.departments.iter().map(|d| order.iter().position(|o| o == &d.department).unwrap()).collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "plan order, each department once");
        assert_eq!(task.lead_department, order[positions[0]]);
        assert_eq!(&task.lead_inspector, &task.departments[0].inspectors[0]);
        hits += task.departments.len() as u64;
        joint += u64::from(task.departments.len() > 1);
    }
    assert_eq!(result.separate_visits, hits);
    assert_eq!(result.joint_visits, result.tasks.len() as u64);
    assert_eq!(result.visits_saved(), hits - result.tasks.len() as u64);
    assert!(joint > 50 && result.visits_saved() > 50, "{joint} joint tasks, {} saved", result.visits_saved());
    // The enterprise set is the union of every department's draws.
    let uniq: BTreeSet<_> = result.tasks.iter().map(|t| t.enterprise.clone()).collect();
    assert_eq!(uniq.len(), result.tasks.len());
}

#[test]
fn a_plan_that_cannot_be_staffed_names_every_shortfall_and_draws_nothing() {
    let directory = sample::directory().unwrap();
    // Three of the four fire inspectors declare a conflict with the first enterprise.
    let mut data = directory.to_data();
    let target = data.enterprises[0].uscc.clone();
    for i in data.inspectors.iter_mut().filter(|i| i.department.as_str() == "xfjy").take(3) {
        i.conflicts.push(target.clone());
    }
    let directory = Directory::from_data(data).unwrap();
    let plan = sample::draw_plan(&directory, "P", start());
    let parameters = plan.validate(&directory).unwrap();
    let pool = PoolSnapshot::take(&parameters, &directory, &[]);
    let Err(DrawError::Understaffed(list)) = run(&parameters, &pool, &seed(1)) else { panic!("must fail") };
    let fire: Vec<_> = list.iter().filter(|s| s.department.as_str() == "xfjy").collect();
    assert!(fire.iter().any(|s| s.enterprise == target && s.available.len() == 1 && s.stepping_aside.len() == 3));
    let message = DrawError::Understaffed(list.clone()).to_string();
    assert!(message.contains(target.as_str()) && message.contains("本人申报回避"), "{message}");
}

#[test]
fn bad_plans_get_typed_errors() {
    let directory = sample::directory().unwrap();
    let good = sample::draw_plan(&directory, "P", start());
    let check = |edit: &dyn Fn(&mut DrawPlan), expected: &dyn Fn(&DrawError) -> bool| {
        let mut plan = good.clone();
        edit(&mut plan);
        let err = plan.validate(&directory).unwrap_err();
        assert!(expected(&err), "{err:?}");
        assert!(!err.to_string().is_empty());
    };
    check(&|p| p.departments[0].matters.push("NOPE-001".parse().unwrap()), &|e| {
        matches!(e, DrawError::UnknownMatter(_))
    });
    check(&|p| p.departments[0].matters = vec!["SCJG-001".parse().unwrap()], &|e| {
        matches!(e, DrawError::MatterOfAnotherDepartment { .. })
    });
    check(&|p| p.grade_ratios.d = 1.5, &|e| matches!(e, DrawError::RatioOutOfRange { department: None, .. }));
    check(&|p| p.grade_ratios.a = -0.1, &|e| matches!(e, DrawError::RatioOutOfRange { .. }));
    check(&|p| p.departments[1].grade_ratios = Some(GradeRatios { a: 0.1, b: 2.0, c: 0.1, d: 0.1 }), &|e| {
        matches!(e, DrawError::RatioOutOfRange { department: Some(_), .. })
    });
    check(&|p| p.departments.clear(), &|e| matches!(e, DrawError::NoDepartments));
    check(&|p| p.departments.push(p.departments[0].clone()), &|e| matches!(e, DrawError::DuplicateDepartment(_)));
    check(&|p| p.inspectors_per_department = 1, &|e| matches!(e, DrawError::TooFewInspectorsPerDepartment(1)));
    check(&|p| p.departments[0].inspectors = vec!["scjg-01".parse().unwrap()], &|e| {
        matches!(e, DrawError::InspectorOfAnotherDepartment { .. })
    });
    check(&|p| p.id = " ".into(), &|e| matches!(e, DrawError::BadPlanId(_)));
    check(&|p| p.window.end = p.window.start - chrono::Days::new(1), &|e| matches!(e, DrawError::InvertedWindow));
    // Filters that leave nobody: an empty pool, at draw time.
    let mut plan = good.clone();
    plan.towns = vec!["不存在的镇".into()];
    let parameters = plan.validate(&directory).unwrap();
    let pool = PoolSnapshot::take(&parameters, &directory, &[]);
    assert_eq!(run(&parameters, &pool, &seed(1)), Err(DrawError::EmptyPool));
    // Unknown fields in a plan file are refused rather than ignored.
    let mut json = serde_json::to_value(&good).unwrap();
    json["ratio"] = serde_json::json!(0.5);
    assert!(serde_json::from_value::<DrawPlan>(json).is_err());
}

#[test]
fn the_sample_city_is_staffed_for_its_plan_with_its_declared_conflicts_and_a_year_of_history() {
    let directory = sample::directory().unwrap();
    assert!(directory.inspectors().filter(|i| !i.conflicts.is_empty()).count() >= 9);
    let tasks: Vec<Task> = (0..200)
        .map(|n| {
            let draft = sample::city_task_draft(&directory, n, start() - chrono::Days::new(365 - n as u64)).unwrap();
            Task::from_draft(draft, TaskCode::generate("330482", start()).unwrap(), &directory).unwrap()
        })
        .collect();
    let last = last_inspections(&tasks, &directory);
    let plan = sample::draw_plan(&directory, "P", start());
    let parameters = plan.validate(&directory).unwrap();
    let pool = PoolSnapshot::take(&parameters, &directory, &last);
    assert!(pool.recusals.iter().any(|r| r.reason == RecusalReason::Declared));
    assert!(pool.recusals.iter().any(|r| matches!(r.reason, RecusalReason::LastInspection { .. })));
    let result = run(&parameters, &pool, &seed(5)).unwrap();
    assert!(result.visits_saved() > 0 && result.tasks.len() > 10, "{:?}", result.tasks.len());
}
