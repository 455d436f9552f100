//! 双随机 draws through the server's planning layer on every storage backend: commit before the
//! pool is frozen, publish once, a record anyone verifies, the history the draw reads, and
//! nothing planned when a draw cannot be made.

#![allow(clippy::unwrap_used, clippy::panic, reason = "test helpers: a panic is the failure being reported")]

use chrono::NaiveDate;
use onevisit_core::domain::{Directory, Task, TaskSource};
use onevisit_core::draw::{DrawError, GradeRatios};
use onevisit_server::draws::{self, DrawServiceError};
use onevisit_server::storage::{Storage, StorageError};
use onevisit_server::tasks;
use onevisit_server::tenant::Tenant;
use onevisit_test_support::on_every_backend;

on_every_backend!(
    a_committed_plan_is_published_once_as_a_verifiable_record_and_its_tasks,
    a_draw_that_cannot_be_made_plans_nothing_and_stays_unpublished,
    the_last_inspectors_of_an_enterprise_sit_out_its_next_draw,
);

const NOW: i64 = 1_796_000_000_000;

fn start() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 12, 7).unwrap()
}

/// A tenant over the sample directory; the data directory must outlive the test.
async fn setup<S: Storage>(storage: &S, data: &std::path::Path) -> (Tenant, Directory) {
    let tenant = Tenant::init(storage, data, "330482").await.unwrap();
    storage.put_directory(onevisit_core::domain::SAMPLE_DIRECTORY_JSON.to_string()).await.unwrap();
    (tenant, onevisit_core::sample::directory().unwrap())
}

fn plan_json(directory: &Directory, id: &str) -> String {
    serde_json::to_string(&onevisit_core::sample::draw_plan(directory, id, start())).unwrap()
}

async fn a_committed_plan_is_published_once_as_a_verifiable_record_and_its_tasks<S: Storage>(storage: S) {
    let data = tempfile::tempdir().unwrap();
    let (tenant, directory) = setup(&storage, data.path()).await;
    let json = plan_json(&directory, "2026-12-01");
    // Publishing before the commitment is refused.
    assert!(matches!(
        draws::publish(&storage, &tenant, &directory, "2026-12-01", NOW).await,
        Err(DrawServiceError::Storage(StorageError::UnknownDraw(_)))
    ));
    let preview = draws::preview(&storage, &directory, &json).await.unwrap();
    assert!(!preview.result.tasks.is_empty());
    assert!(storage.record_ids().await.unwrap().is_empty(), "a preview plans nothing");
    let commitment = draws::commit(&storage, &tenant, &directory, &json, NOW).await.unwrap();
    assert!(matches!(
        draws::commit(&storage, &tenant, &directory, &json, NOW + 1).await,
        Err(DrawServiceError::Storage(StorageError::DrawExists(_)))
    ));
    let published = draws::publish(&storage, &tenant, &directory, "2026-12-01", NOW + 60_000).await.unwrap();
    let (record, pool) = draws::verify(&serde_json::to_string(&published.record).unwrap(), &tenant.root_key()).unwrap();
    assert_eq!(pool.enterprises.len(), directory.enterprises().count());
    assert_eq!(record.seed_commitment, commitment.seed_commitment);
    assert_eq!(record.task_codes.len(), record.result.tasks.len());
    assert_eq!(published.created, record.task_codes.len());
    // Every task is stored as drawn: its enterprise, departments, inspectors and source.
    let stored: Vec<Task> =
        storage.planned_tasks().await.unwrap().iter().map(|j| serde_json::from_str(j).unwrap()).collect();
    assert_eq!(stored.len(), record.task_codes.len());
    for (code, drawn) in record.task_codes.iter().zip(&record.result.tasks) {
        let task = stored.iter().find(|t| &t.code == code).unwrap();
        assert_eq!(task.enterprise, drawn.enterprise);
        assert_eq!(task.lead_inspector, drawn.lead_inspector);
        assert_eq!(task.source, TaskSource::RandomDraw);
        let mut inspectors: Vec<_> = drawn.departments.iter().flat_map(|d| d.inspectors.clone()).collect();
        inspectors.sort();
        assert_eq!(task.inspectors, inspectors);
        let meta = storage.record_meta(code.to_string()).await.unwrap().unwrap();
        assert_eq!(meta.inspectors.len(), inspectors.len());
    }
    // Once published, never again: neither a second publication nor a re-draw.
    assert!(matches!(
        draws::publish(&storage, &tenant, &directory, "2026-12-01", NOW + 120_000).await,
        Err(DrawServiceError::Storage(StorageError::DrawPublished(_)))
    ));
    assert_eq!(storage.record_ids().await.unwrap().len(), record.task_codes.len());
    let listed = storage.draws().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(draws::task_codes(&listed[0]).unwrap(), record.task_codes);
}

async fn a_draw_that_cannot_be_made_plans_nothing_and_stays_unpublished<S: Storage>(storage: S) {
    let data = tempfile::tempdir().unwrap();
    let (tenant, directory) = setup(&storage, data.path()).await;
    // Three of four fire inspectors declare a conflict with one enterprise after the commitment.
    let mut plan = onevisit_core::sample::draw_plan(&directory, "P-staff", start());
    plan.grade_ratios = GradeRatios { a: 1.0, b: 1.0, c: 1.0, d: 1.0 };
    let json = serde_json::to_string(&plan).unwrap();
    draws::commit(&storage, &tenant, &directory, &json, NOW).await.unwrap();
    let mut data_now = directory.to_data();
    let target = data_now.enterprises[5].uscc.clone();
    for i in data_now.inspectors.iter_mut().filter(|i| i.department.as_str() == "xfjy").take(3) {
        i.conflicts.push(target.clone());
    }
    let changed = Directory::from_data(data_now).unwrap();
    let Err(DrawServiceError::Draw(DrawError::Understaffed(list))) =
        draws::publish(&storage, &tenant, &changed, "P-staff", NOW + 1_000).await
    else {
        panic!("must be refused as understaffed")
    };
    assert!(list.iter().any(|s| s.enterprise == target && s.department.as_str() == "xfjy"));
    assert!(storage.record_ids().await.unwrap().is_empty());
    assert!(storage.draw("P-staff".into()).await.unwrap().unwrap().record.is_none());
    // A plan whose ratios draw nobody publishes nothing either.
    let mut empty = onevisit_core::sample::draw_plan(&directory, "P-zero", start());
    empty.grade_ratios = GradeRatios { a: 0.0, b: 0.0, c: 0.0, d: 0.0 };
    draws::commit(&storage, &tenant, &directory, &serde_json::to_string(&empty).unwrap(), NOW).await.unwrap();
    assert!(matches!(
        draws::publish(&storage, &tenant, &directory, "P-zero", NOW + 1_000).await,
        Err(DrawServiceError::NothingDrawn)
    ));
    // Bad plans are refused at commitment, with their typed error.
    let mut bad = onevisit_core::sample::draw_plan(&directory, "P-bad", start());
    bad.departments[0].matters.push("NOPE-001".parse().unwrap());
    assert!(matches!(
        draws::commit(&storage, &tenant, &directory, &serde_json::to_string(&bad).unwrap(), NOW).await,
        Err(DrawServiceError::Draw(DrawError::UnknownMatter(_)))
    ));
    assert!(matches!(
        draws::commit(&storage, &tenant, &directory, "{\"id\": 1}", NOW).await,
        Err(DrawServiceError::MalformedPlan(_))
    ));
    assert!(storage.draw("P-bad".into()).await.unwrap().is_none());
    assert!(storage.record_ids().await.unwrap().is_empty());
}

async fn the_last_inspectors_of_an_enterprise_sit_out_its_next_draw<S: Storage>(storage: S) {
    let data = tempfile::tempdir().unwrap();
    let (tenant, directory) = setup(&storage, data.path()).await;
    // Market supervision inspected every enterprise last with scjg-01 and scjg-02.
    let conflicted: Vec<_> = directory.inspectors().flat_map(|i| i.conflicts.clone()).collect();
    let drafts: Vec<_> = directory
        .enterprises()
        .filter(|e| !conflicted.contains(&e.uscc))
        .map(|e| onevisit_core::domain::TaskDraft {
            enterprise: e.uscc.clone(),
            lead_department: "scjg".parse().unwrap(),
            departments: vec!["scjg".parse().unwrap()],
            inspectors: vec!["scjg-01".parse().unwrap(), "scjg-02".parse().unwrap()],
            lead_inspector: "scjg-01".parse().unwrap(),
            matters: vec!["SCJG-002".parse().unwrap()],
            window: onevisit_core::domain::TimeWindow { start: start() - chrono::Days::new(90), end: start() },
            source: TaskSource::RandomDraw,
        })
        .collect();
    let before = drafts.len();
    tasks::create(&storage, &tenant, &directory, drafts, NOW).await.unwrap();
    let mut plan = onevisit_core::sample::draw_plan(&directory, "P-last", start());
    plan.departments.retain(|d| d.department.as_str() == "scjg");
    plan.departments[0].matters = vec!["SCJG-002".parse().unwrap()]; // applies to every industry
    plan.grade_ratios = GradeRatios { a: 1.0, b: 1.0, c: 1.0, d: 1.0 };
    let mut plan_kept = plan.clone();
    let json = serde_json::to_string(&plan).unwrap();
    draws::commit(&storage, &tenant, &directory, &json, NOW).await.unwrap();
    let published = draws::publish(&storage, &tenant, &directory, "P-last", NOW + 1_000).await.unwrap();
    let record = published.content;
    let mut checked = 0;
    for task in &record.result.tasks {
        let inspected_before = !conflicted.contains(&task.enterprise);
        let drawn: Vec<&str> = task.departments[0].inspectors.iter().map(|i| i.as_str()).collect();
        if inspected_before {
            assert!(!drawn.contains(&"scjg-01") && !drawn.contains(&"scjg-02"), "{drawn:?}");
            checked += 1;
        }
    }
    assert_eq!(checked, before);
    // The same plan with the rule switched off may draw them again: the history is the only reason.
    plan_kept.id = "P-last-off".into();
    plan_kept.exclude_last_inspectors = false;
    let preview = draws::preview(&storage, &directory, &serde_json::to_string(&plan_kept).unwrap()).await.unwrap();
    assert!(preview.result.tasks.iter().any(|t| t.departments[0].inspectors.iter().any(|i| i.as_str() == "scjg-01")));
}
