//! Several devices recording one joint inspection offline, on real store files.

use std::path::Path;

use chrono::NaiveDate;
use onevisit_core::identity::KeyFileWrapper;
use onevisit_core::record::{AnswerValue, FindingDraft, Position, Status};
use onevisit_core::sample;
use onevisit_core::store::Store;
use onevisit_flow_tests::{Lcg, cp, crash_recorder, device, on_site_device};

fn reopen(root: &Path) -> Store {
    Store::open(root, &KeyFileWrapper::load(&root.join("device.key")).unwrap()).unwrap()
}

#[test]
fn three_devices_of_two_departments_converge_whatever_the_merge_order() {
    for seed in 1..=5u64 {
        let tmp = tempfile::tempdir().unwrap();
        let names = ["scjg-01", "scjg-02", "xfjy-01"];
        let mut devices: Vec<Store> = names.iter().map(|n| device(&tmp.path().join(n), n)).collect();
        let dir = devices[0].directory().unwrap();
        let mut draft = sample::joint_task_draft(&dir, 3, NaiveDate::from_ymd_opt(2026, 12, 1).unwrap());
        draft.inspectors.push("scjg-02".parse().unwrap());
        let code = devices[0].create_task(draft).unwrap().code;
        let initial = devices[0].export_record(&code).unwrap();
        for d in &mut devices[1..] {
            d.receive_record(&initial).unwrap();
        }

        // Offline, concurrently.
        let here = Position::wgs84(30.7, 121.0, 5).unwrap();
        for d in devices.iter_mut() {
            d.check_in(&code, here).unwrap();
        }
        devices[0].answer(&code, &cp("SCJG-001-01"), AnswerValue::Pass, None, vec![]).unwrap();
        devices[0]
            .answer(
                &code,
                &cp("SCJG-001-03"),
                AnswerValue::Number { value: "2".into(), unit: "℃".into() },
                None,
                vec![],
            )
            .unwrap();
        devices[1].answer(&code, &cp("SCJG-001-04"), AnswerValue::Fail, Some("过期酱油 2 瓶".into()), vec![]).unwrap();
        devices[1].answer(&code, &cp("SCJG-001-01"), AnswerValue::Fail, None, vec![]).unwrap();
        devices[2].answer(&code, &cp("XFJY-001-01"), AnswerValue::Pass, None, vec![]).unwrap();
        devices[2]
            .add_finding(
                &code,
                FindingDraft {
                    department: "xfjy".parse().unwrap(),
                    check_point: None,
                    problem: "安全出口上锁".into(),
                    legal_basis: "《中华人民共和国消防法》第二十八条".into(),
                    rectification_required: true,
                    deadline: NaiveDate::from_ymd_opt(2026, 12, 10),
                },
            )
            .unwrap();

        // Pairwise exchanges in a seeded random order until every device has heard from every other.
        let mut rng = Lcg(seed);
        let mut heard = [[false; 3]; 3];
        let mut rounds = 0;
        while (0..3).any(|i| (0..3).any(|j| i != j && !heard[i][j])) && rounds < 100 {
            rounds += 1;
            let (from, to) = (rng.below(3), rng.below(3));
            if from == to {
                continue;
            }
            let bytes = devices[from].export_record(&code).unwrap();
            devices[to].receive_record(&bytes).unwrap();
            heard[to][from] = true;
            let known = heard[from];
            for (h, k) in heard[to].iter_mut().zip(known) {
                *h |= k;
            }
        }
        // One more full pass so that knowledge passed on second-hand reaches everyone.
        for to in 0..3 {
            for from in 0..3 {
                if from != to {
                    let bytes = devices[from].export_record(&code).unwrap();
                    devices[to].receive_record(&bytes).unwrap();
                }
            }
        }

        let heads: Vec<_> = devices.iter_mut().map(|d| d.record(&code).unwrap().heads()).collect();
        assert!(heads.windows(2).all(|w| w[0] == w[1]), "seed {seed}: heads differ");
        let views: Vec<String> = devices
            .iter_mut()
            .map(|d| serde_json::to_string(&d.record(&code).unwrap().view(&dir).unwrap()).unwrap())
            .collect();
        assert!(views.windows(2).all(|w| w[0] == w[1]), "seed {seed}: rendered records differ");
        let conflicts = devices[1].conflicts(&code).unwrap();
        assert_eq!(conflicts.len(), 1, "seed {seed}: exactly the SCJG-001-01 answers conflict");
        for d in devices.iter_mut() {
            let row = d.task_row(&code).unwrap();
            assert_eq!((row.status.as_str(), row.answered, row.findings, row.conflicts), ("on_site", 4, 1, 1));
            assert!(d.verify_audit().unwrap().is_intact());
        }
        // The lead resolves; after one more exchange nobody sees a conflict, and the record completes later.
        devices[0].resolve_conflict(&code, &conflicts[0].field, 0).unwrap();
        let bytes = devices[0].export_record(&code).unwrap();
        for d in &mut devices[1..] {
            d.receive_record(&bytes).unwrap();
            assert!(d.conflicts(&code).unwrap().is_empty());
            assert_eq!(d.task_row(&code).unwrap().status, Status::OnSite);
        }
    }
}

#[test]
fn a_killed_recorder_loses_no_acknowledged_edit() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("device");
    let code = on_site_device(&root);
    let (mut child, mut lines) = crash_recorder(&root, &code);
    let mut last = String::new();
    for _ in 0..60 {
        last = lines.next().unwrap().unwrap();
    }
    child.kill().unwrap(); // SIGKILL: no destructor, no flush, mid-edit
    child.wait().unwrap();
    // Whatever it printed after our last read was acknowledged too; take the final acknowledged line.
    for line in lines.map_while(Result::ok) {
        last = line;
    }
    let parts: Vec<&str> = last.split(' ').collect();
    let (n, acked_cp, acked_note) = (parts[1].parse::<u32>().unwrap(), parts[2], parts[3]);
    assert!(n >= 59);

    let mut s = reopen(&root);
    let record = s.record(&code).unwrap();
    let answer = record.answers().unwrap().into_iter().find(|(_, a)| a.check_point.as_str() == acked_cp).unwrap().1;
    let note = answer.note.unwrap();
    let stored: u32 = note.trim_start_matches("edit-").parse().unwrap();
    assert!(
        stored >= acked_note.trim_start_matches("edit-").parse().unwrap(),
        "acknowledged {acked_note}, found {note}"
    );
    let report = s.verify_audit().unwrap();
    assert!(report.is_intact(), "{report:?}");
    assert!(report.head_seq >= u64::from(n) + 5, "every acknowledged edit has its audit entry");
}
