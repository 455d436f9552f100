//! Benchmark group `draw`: a 双随机 draw over a city of 100,000 enterprises and 2,000 inspectors
//! with a year of history (one last inspection per enterprise), as `draw publish` computes it —
//! the pool frozen and hashed, the draw, the record signed — and as `draw verify` recomputes it.

use std::time::Instant;

use chrono::NaiveDate;
use onevisit_core::domain::{InspectorId, TaskCode};
use onevisit_core::draw::{self, DrawRecord, LastInspection, PoolSnapshot, SignedDrawRecord};
use onevisit_core::identity::DeviceKey;
use onevisit_core::sample;
use serde_json::json;

use crate::{emit, ms, round};

/// Runs the group over `enterprises` enterprises and `inspectors` inspectors, `rounds` times.
pub fn run(enterprises: usize, inspectors: usize, rounds: usize) {
    let directory = sample::synthetic_city(enterprises, inspectors, 1);
    let start = NaiveDate::from_ymd_opt(2026, 12, 1).expect("date");
    // A quarter's plan of a city: every department with all its matters, the worse the credit
    // the more often drawn (the sample plan's ratios are ten times these, for a 60-enterprise demo).
    let mut plan = sample::draw_plan(&directory, "bench", start);
    plan.grade_ratios = onevisit_core::draw::GradeRatios { a: 0.01, b: 0.02, c: 0.04, d: 0.08 };
    // Each enterprise was inspected last year by two inspectors of one department.
    let by_department: Vec<(onevisit_core::domain::DepartmentId, Vec<InspectorId>)> = directory
        .departments()
        .map(|d| {
            (d.id.clone(), directory.inspectors().filter(|i| i.department == d.id).map(|i| i.id.clone()).collect())
        })
        .collect();
    let code = TaskCode::parse("330482-20251201-AAAAAAAA").expect("literal");
    let last: Vec<LastInspection> = directory
        .enterprises()
        .enumerate()
        .map(|(n, e)| {
            let (department, people) = &by_department[n % by_department.len()];
            LastInspection {
                enterprise: e.uscc.clone(),
                department: department.clone(),
                inspectors: vec![people[n % people.len()].clone(), people[(n + 1) % people.len()].clone()],
                task: code.clone(),
            }
        })
        .collect();
    let root = DeviceKey::generate();
    let seed = [7u8; 32];
    let (mut take, mut hash, mut draw_ms, mut sign, mut verify, mut total) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    let mut size = 0;
    let mut tasks = 0;
    let mut saved = 0;
    for _ in 0..rounds {
        let t0 = Instant::now();
        let parameters = plan.validate(&directory).expect("valid plan");
        let pool = PoolSnapshot::take(&parameters, &directory, &last);
        let t1 = Instant::now();
        let pool_sha256 = pool.sha256().expect("pool hash");
        let t2 = Instant::now();
        let result = draw::run(&parameters, &pool, &seed).expect("staffed");
        let t3 = Instant::now();
        tasks = result.tasks.len();
        saved = result.visits_saved();
        let record = DrawRecord {
            schema: draw::record::DRAW_RECORD_SCHEMA.into(),
            tenant: "330482".into(),
            algorithm: draw::ALGORITHM.into(),
            seed_commitment: draw::seed_commitment(&seed),
            committed_at_ms: 1,
            seed: hex::encode(seed),
            pool_taken_at_ms: 2,
            pool_sha256,
            task_codes: Vec::new(),
            published_at_ms: 2,
            issuer_public_key: hex::encode(root.public_bytes()),
            parameters,
            result,
        };
        let signed = SignedDrawRecord::issue(&record, pool, &root).expect("sign");
        let t4 = Instant::now();
        size = signed.canonical.len() + serde_json::to_string(&signed.pool).map(|p| p.len()).unwrap_or(0);
        signed.verify(&root.verifying_key()).expect("verifies");
        let t5 = Instant::now();
        take.push(ms(t1 - t0));
        hash.push(ms(t2 - t1));
        draw_ms.push(ms(t3 - t2));
        sign.push(ms(t4 - t3));
        total.push(ms(t4 - t0));
        verify.push(ms(t5 - t4));
    }
    let p50 = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    emit(
        "draw_publish_ms",
        p50(&mut total),
        "ms",
        json!({"enterprises": enterprises, "inspectors": inspectors, "history": last.len(), "target": "<= 1000",
               "grade_ratios": {"A": 0.01, "B": 0.02, "C": 0.04, "D": 0.08},
               "pool_take_ms": round(p50(&mut take)), "pool_hash_ms": round(p50(&mut hash)),
               "draw_ms": round(p50(&mut draw_ms)), "record_sign_ms": round(p50(&mut sign)),
               "tasks": tasks, "visits_saved": saved, "record_bytes": size,
               "detail": "plan validated, pool frozen (directory + one last inspection per enterprise) and hashed, the draw over 9 departments, the record signed; median of the rounds"}),
    );
    emit(
        "draw_verify_ms",
        p50(&mut verify),
        "ms",
        json!({"reference_publish_ms": round(p50(&mut total)),
               "detail": "signature, seed commitment, pool hash and the draw recomputed from the record alone"}),
    );
}
