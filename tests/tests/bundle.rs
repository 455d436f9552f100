//! Evidence bundles end to end: a joint inspection recorded and signed on two devices, synced
//! through the real server, exported as a sealed bag, verified offline — and tampered with in each
//! way a receiver must catch; the bag also validates with independent tools.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use onevisit_core::bundle::{Format, VerifyReport};
use onevisit_core::document::DocumentKind;
use onevisit_core::record::{AnswerValue, Status};
use onevisit_core::store::Store;
use onevisit_flow_tests::{
    City, check_bundle as check, cp, export_bundle as export, fetch_all_photos, recorded_case, sign_everything, sync_ok,
};
use sha2::{Digest, Sha256, Sha512};

fn failed(report: &VerifyReport, kind: &str, needle: &str) -> bool {
    report.failures().iter().any(|c| c.kind == kind && c.detail.contains(needle))
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn files_under(dir: &Path, base: &Path, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            files_under(&p, base, out);
        } else {
            out.push(p.strip_prefix(base).unwrap().to_string_lossy().replace('\\', "/"));
        }
    }
}

/// What an attacker does after changing payload files: recompute every manifest.
fn recompute_manifests(bag: &Path) {
    let mut files = Vec::new();
    files_under(&bag.join("data"), bag, &mut files);
    files.sort();
    let line = |h: String, f: &str| format!("{h}  {f}\n");
    let (mut m256, mut m512) = (String::new(), String::new());
    for f in &files {
        let bytes = std::fs::read(bag.join(f)).unwrap();
        m256 += &line(hex::encode(Sha256::digest(&bytes)), f);
        m512 += &line(hex::encode(Sha512::digest(&bytes)), f);
    }
    std::fs::write(bag.join("manifest-sha256.txt"), m256).unwrap();
    std::fs::write(bag.join("manifest-sha512.txt"), m512).unwrap();
    let mut tags = Vec::new();
    files_under(bag, bag, &mut tags);
    tags.retain(|f| !f.starts_with("data/") && !f.starts_with("tagmanifest-"));
    tags.sort();
    let (mut t256, mut t512) = (String::new(), String::new());
    for f in &tags {
        let bytes = std::fs::read(bag.join(f)).unwrap();
        t256 += &line(hex::encode(Sha256::digest(&bytes)), f);
        t512 += &line(hex::encode(Sha512::digest(&bytes)), f);
    }
    std::fs::write(bag.join("tagmanifest-sha256.txt"), t256).unwrap();
    std::fs::write(bag.join("tagmanifest-sha512.txt"), t512).unwrap();
}

fn one_file(bag: &Path, under: &str, suffix: &str) -> PathBuf {
    let mut files = Vec::new();
    files_under(&bag.join(under), bag, &mut files);
    bag.join(files.into_iter().find(|f| f.ends_with(suffix)).unwrap_or_else(|| panic!("no {suffix} under {under}")))
}

#[test]
fn an_exported_bundle_verifies_and_every_kind_of_tampering_is_named() {
    let city = City::new();
    let (a, b, code) = recorded_case(&city);
    sign_everything(&city, &a, &b, &code);
    fetch_all_photos(&a, &code);
    sync_ok(&a);
    let bag = city.path().join("case");
    let summary = export(&a, &code, &bag, Format::Folder, true);
    assert_eq!(summary.photos, 2, "the photo and the party's handwritten signature");
    assert_eq!(summary.documents, 1);
    assert!(summary.proven_entries > 0);
    let report = check(&bag, &city.root);
    assert!(report.is_valid(), "{:#?}", report.failures());
    assert!(report.checks.iter().any(|c| c.kind == "audit" && c.detail.contains("已证明收录")));
    assert!(report.checks.iter().any(|c| c.kind == "document" && c.detail.contains("5 个签名有效")));
    assert!(report.checks.iter().any(|c| c.kind == "completeness" && c.ok && c.detail.contains("签署完整")));
    assert!(report.checks.iter().any(|c| c.kind == "receipt" && c.ok), "the server's receipts travel along");
    let bounded = |kind: &str| report.checks.iter().filter(|c| c.kind == kind && c.detail.contains("前已收到")).count();
    assert_eq!(bounded("document"), 5, "every signature is bounded by a server receipt: {:#?}", report.checks);
    assert_eq!(bounded("capture"), 2, "so is every capture: {:#?}", report.checks);
    let list = std::fs::read_to_string(bag.join("data/evidence-list.csv")).unwrap();
    assert!(list.contains("现场照片"));
    // The list names people by name and certificate number, says where documents were made, where
    // each item came from, how it was extracted and what it proves; a drawing names its document.
    for expected in [
        "操作人（姓名、执法证号）",
        "（执法证号 330482",
        "来源/载体",
        "提取方法",
        "证明对象",
        "证明检查项 XFJY-001-04 的现场情况",
        "签于文书 现场检查笔录",
    ] {
        assert!(list.contains(expected), "missing {expected} in\n{list}");
    }
    let document_row = list.lines().find(|l| l.contains("电子文书：现场检查笔录")).unwrap();
    assert!(document_row.contains("浙江省平湖市"), "the place of a document: {document_row}");
    assert!(!document_row.contains("\"scjg-01\""), "no internal ids: {document_row}");
    // The printed record: every signature with its device time and, beside it, the server's
    // receipt time (a trusted bound); the party's statement; no blank line left.
    let text = std::fs::read_to_string(one_file(&bag, "data/documents", "document.txt")).unwrap();
    assert_eq!(text.matches("服务器确认收到时间不晚于").count(), 5, "{text}");
    assert!(!text.contains("__________") && text.contains("当事人意见：以上笔录我已看过，与事实相符。"), "{text}");
    // The printout beside it, read back by an independent PDF reader (poppler): the same signatures,
    // numbered pages, the handwriting the bundle carries.
    let pdf = one_file(&bag, "data/documents", "document.pdf");
    let out = std::process::Command::new("pdftotext").args(["-enc", "UTF-8"]).arg(&pdf).arg("-").output();
    let printed = String::from_utf8(out.expect("pdftotext (apt-get install poppler-utils)").stdout).unwrap();
    assert_eq!(printed.matches("已电子签名").count(), 4, "{printed}");
    assert!(printed.replace(' ', "").contains("第1页共"), "{printed}");
    assert!(!printed.contains("手写签名图像不在本设备"), "the bundle carries the handwriting:\n{printed}");
    let extraction = std::fs::read_to_string(bag.join("data/extraction-record.txt")).unwrap();
    for expected in [
        "电子数据提取笔录",
        "提取人：",
        "同时在场的执法人员：",
        "电子数据持有人：",
        "提取方法：",
        "data/evidence-list.csv（SHA-256",
        "提取人签名",
    ] {
        assert!(extraction.contains(expected), "missing {expected} in\n{extraction}");
    }

    let tampered = |name: &str, change: &dyn Fn(&Path)| -> VerifyReport {
        let copy = city.path().join(name);
        copy_dir(&bag, &copy);
        change(&copy);
        let r = check(&copy, &city.root);
        assert!(!r.is_valid(), "{name}: tampering went unnoticed");
        r
    };

    // A flipped byte in a photo.
    let r = tampered("flipped", &|bag| {
        let photo = one_file(bag, "data/media", ".jpg");
        let mut bytes = std::fs::read(&photo).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x01;
        std::fs::write(&photo, bytes).unwrap();
    });
    assert!(failed(&r, "manifest", "文件被改动：data/media/"), "{:#?}", r.failures());
    assert!(failed(&r, "capture", "不是其采集记录所签的照片"), "{:#?}", r.failures());

    // A removed file.
    let r = tampered("removed", &|bag| std::fs::remove_file(one_file(bag, "data/captures", ".json")).unwrap());
    assert!(failed(&r, "manifest", "文件缺失：data/captures/"), "{:#?}", r.failures());

    // An added file.
    let r = tampered("added", &|bag| std::fs::write(bag.join("data/media/extra.jpg"), b"planted").unwrap());
    assert!(failed(&r, "manifest", "多出文件：data/media/extra.jpg"), "{:#?}", r.failures());

    // An altered document.
    let r = tampered("document", &|bag| {
        let doc = one_file(bag, "data/documents", "document.json");
        let text = std::fs::read_to_string(&doc).unwrap().replace("沈建国", "沈建明");
        std::fs::write(&doc, text).unwrap();
    });
    assert!(failed(&r, "manifest", "document.json"), "{:#?}", r.failures());
    assert!(failed(&r, "document", "被改动"), "{:#?}", r.failures());

    // A broken audit chain (an entry cut out, manifests recomputed to hide it).
    let r = tampered("audit", &|bag| {
        let log = one_file(bag, "data/audit", ".jsonl");
        let text = std::fs::read_to_string(&log).unwrap();
        let kept: Vec<&str> = text.lines().enumerate().filter(|(i, _)| *i != 2).map(|(_, l)| l).collect();
        std::fs::write(&log, kept.join("\n") + "\n").unwrap();
        recompute_manifests(bag);
    });
    assert!(failed(&r, "audit", "第 3 条被删除"), "{:#?}", r.failures());

    // A changed photo with every manifest recomputed: BagIt alone sees nothing, the seal does.
    let r = tampered("recomputed", &|bag| {
        let photo = one_file(bag, "data/media", ".jpg");
        let mut bytes = std::fs::read(&photo).unwrap();
        bytes[100] ^= 0xff;
        std::fs::write(&photo, bytes).unwrap();
        recompute_manifests(bag);
    });
    assert!(r.checks.iter().any(|c| c.kind == "manifest" && c.ok), "the recomputed manifests match the payload");
    assert!(failed(&r, "seal", "封签后被改动：manifest-sha256.txt、manifest-sha512.txt"), "{:#?}", r.failures());
}

#[test]
fn a_signature_made_after_the_signer_was_revoked_is_named() {
    let city = City::new();
    let (a, b, code) = recorded_case(&city);
    let doc = a.lock().unwrap().render_document(&code, DocumentKind::OnSiteRecord, None).unwrap().sha256;
    a.lock().unwrap().sign_document(&code, &doc).unwrap();
    sync_ok(&a);
    sync_ok(&b);
    let device_b = b.lock().unwrap().device_key().device_id();
    city.admin(&["revoke", &device_b, "--reason", "设备遗失"]);
    std::thread::sleep(std::time::Duration::from_millis(5));
    // B, offline and unaware, signs; its record reaches A by hand.
    b.lock().unwrap().sign_document(&code, &doc).unwrap();
    let handed = b.lock().unwrap().export_record(&code).unwrap();
    a.lock().unwrap().receive_record(&handed).unwrap();
    fetch_all_photos(&a, &code);
    let report = sync_ok(&a);
    assert_eq!(report.revocations, Some(1), "A learns of the revocation");
    let bag = city.path().join("case.zip");
    export(&a, &code, &bag, Format::Zip, false);
    let r = check(&bag, &city.root);
    assert!(failed(&r, "document", "由已吊销的证书签署"), "{:#?}", r.failures());
    assert!(failed(&r, "document", &device_b), "the failure names the device: {:#?}", r.failures());
}

#[test]
fn the_bag_validates_with_bagit_python_sha256sum_and_openssl() {
    let city = City::new();
    let (a, b, code) = recorded_case(&city);
    sign_everything(&city, &a, &b, &code);
    fetch_all_photos(&a, &code);
    let bag = city.path().join("case");
    export(&a, &code, &bag, Format::Folder, true);
    let zip = city.path().join("case.zip");
    export(&a, &code, &zip, Format::Zip, true);
    assert!(check(&zip, &city.root).is_valid(), "the zip verifies like the folder");

    let run = |cmd: &mut Command| {
        let out = cmd.current_dir(&bag).output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
        assert!(
            out.status.success(),
            "{cmd:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr)
    };
    // bagit.py --validate, as its module (the same code as the bagit.py script pip installs).
    let validated = run(Command::new("python3").args(["-m", "bagit", "--validate", "."]));
    assert!(validated.contains("is valid"), "{validated}");
    run(Command::new("sha256sum").args(["-c", "--quiet", "manifest-sha256.txt"]));
    run(Command::new("sha512sum").args(["-c", "--quiet", "manifest-sha512.txt"]));
    let verified = run(Command::new("openssl").args([
        "pkeyutl",
        "-verify",
        "-pubin",
        "-inkey",
        "seal/device-public-key.pem",
        "-rawin",
        "-in",
        "seal/seal.json",
        "-sigfile",
        "seal/seal.sig",
    ]));
    assert!(verified.contains("Signature Verified Successfully"), "{verified}");
    // The seal lists the hashes sha256sum prints for the sealed files.
    let seal: serde_json::Value = serde_json::from_slice(&std::fs::read(bag.join("seal/seal.json")).unwrap()).unwrap();
    let listed = run(Command::new("sha256sum").args([
        "bagit.txt",
        "bag-info.txt",
        "manifest-sha256.txt",
        "manifest-sha512.txt",
    ]));
    for line in listed.lines() {
        let (hash, file) = line.split_once("  ").unwrap();
        assert_eq!(seal["files"][file].as_str(), Some(hash), "{file}");
    }
    // An independent unzip of the zip holds the same bag.
    let unzipped = city.path().join("unzipped");
    std::fs::create_dir_all(&unzipped).unwrap();
    let out = Command::new("python3")
        .args(["-c", "import zipfile, sys; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])"])
        .arg(&zip)
        .arg(&unzipped)
        .status()
        .unwrap();
    assert!(out.success());
    let out = Command::new("python3")
        .args(["-c", "import bagit, sys; bagit.Bag(sys.argv[1]).validate(); print('valid')"])
        .arg(unzipped.join("case"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// The exporting device as an attacker: it changes a payload file, recomputes every manifest and
/// seals the bag again with its own key (which it has), so that only the content checks can tell.
fn reseal(bag: &Path, store: &Mutex<Store>) {
    recompute_manifests(bag);
    let mut seal: serde_json::Value =
        serde_json::from_slice(&std::fs::read(bag.join("seal/seal.json")).unwrap()).unwrap();
    for file in ["bagit.txt", "bag-info.txt", "manifest-sha256.txt", "manifest-sha512.txt"] {
        seal["files"][file] = hex::encode(Sha256::digest(std::fs::read(bag.join(file)).unwrap())).into();
    }
    let canonical = onevisit_core::canonical::to_canonical_json(&seal).unwrap();
    let signature = store.lock().unwrap().device_key().sign(&canonical).to_bytes();
    std::fs::write(bag.join("seal/seal.json"), &canonical).unwrap();
    std::fs::write(bag.join("seal/seal.sig"), signature).unwrap();
    recompute_manifests(bag);
}

#[test]
fn a_bundle_carrying_a_signature_whose_key_belongs_to_another_inspector_is_rejected() {
    let city = City::new();
    let (a, b, code) = recorded_case(&city);
    let doc = sign_everything(&city, &a, &b, &code);
    sync_ok(&b);
    fetch_all_photos(&b, &code);
    let bag = city.path().join("forged");
    export(&b, &code, &bag, Format::Folder, true);
    assert!(check(&bag, &city.root).is_valid());
    // B adds a statement naming scjg-01 (the lead), made with B's own, certified key.
    let signatures = one_file(&bag, "data/documents", "/signatures.json");
    let mut list: Vec<onevisit_core::document::DocumentSignature> =
        serde_json::from_slice(&std::fs::read(&signatures).unwrap()).unwrap();
    let statement = {
        let s = b.lock().unwrap();
        onevisit_core::document::SignedStatement {
            schema: onevisit_core::document::signature::SIGNATURE_SCHEMA.into(),
            document_sha256: doc.clone(),
            document_number: "x".into(),
            signer: onevisit_core::document::SignatureRole::Inspector {
                inspector: "scjg-01".into(),
                certificate_number: "330482022570".into(),
            },
            device: s.device_key().device_id(),
            device_public_key: hex::encode(s.device_key().public_bytes()),
            device_time_ms: chrono::Utc::now().timestamp_millis(),
            position: None,
            presence: None,
        }
    };
    list.push(onevisit_core::document::DocumentSignature::sign(&statement, b.lock().unwrap().device_key()).unwrap());
    std::fs::write(&signatures, serde_json::to_vec_pretty(&list).unwrap()).unwrap();
    reseal(&bag, &b);
    let report = check(&bag, &city.root);
    assert!(report.checks.iter().any(|c| c.kind == "seal" && c.ok), "the seal itself holds: {:#?}", report.failures());
    assert!(!report.is_valid());
    assert!(failed(&report, "document", "声明记名为 scjg-01"), "{:#?}", report.failures());
}

#[test]
fn a_photo_that_is_evidence_twice_goes_into_a_zip_once() {
    let city = City::new();
    let (a, b, code) = recorded_case(&city);
    sign_everything(&city, &a, &b, &code);
    // The lead reopens, corrects an answer, completes again: a second version, signed again, and
    // the party signs it with the same signature image (one photo, evidence twice).
    {
        let mut s = a.lock().unwrap();
        s.set_status(&code, Status::OnSite).unwrap();
        s.answer(&code, &cp("SCJG-001-01"), AnswerValue::Fail, Some("复核".into()), vec![]).unwrap();
        s.set_status(&code, Status::Recorded).unwrap();
    }
    sync_ok(&a);
    sync_ok(&b);
    let v2 = sign_everything(&city, &a, &b, &code);
    fetch_all_photos(&a, &code);
    let zip = city.path().join("twice.zip");
    export(&a, &code, &zip, Format::Zip, false);
    let report = check(&zip, &city.root);
    assert!(report.is_valid(), "{:#?}", report.failures());
    assert!(report.checks.iter().any(|c| c.kind == "document" && c.detail.contains(&v2[..12])));
}

#[test]
fn a_bundle_holding_a_document_not_fully_signed_never_verifies_as_complete() {
    let city = City::new();
    let (a, b, code) = recorded_case(&city);
    sign_everything(&city, &a, &b, &code);
    // The fire order, signed by one of the fire brigade's two officers only.
    let order = b
        .lock()
        .unwrap()
        .render_document(&code, DocumentKind::RectificationOrder, Some("xfjy".parse().unwrap()))
        .unwrap();
    b.lock().unwrap().sign_document(&code, &order.sha256).unwrap();
    sync_ok(&b);
    sync_ok(&a);
    fetch_all_photos(&a, &code);
    let bag = city.path().join("half-signed");
    export(&a, &code, &bag, Format::Folder, false);
    let report = check(&bag, &city.root);
    assert!(!report.is_valid());
    assert!(
        failed(&report, "completeness", "未签署完整，缺消防救援大队执法人员签名（已有 1 人，至少需 2 人）"),
        "{:#?}",
        report.failures()
    );
    assert!(failed(&report, "completeness", "当事人签名"), "{:#?}", report.failures());
    // Every signature present is still valid: only completeness fails, and the signed on-site
    // record is reported complete.
    assert!(report.failures().iter().all(|c| c.kind == "completeness"), "{:#?}", report.failures());
    assert!(report.checks.iter().any(|c| c.kind == "completeness" && c.ok && c.detail.contains("现场检查笔录")));
    // The evidence list says so too, not "(2 个签名)".
    let list = std::fs::read_to_string(bag.join("data/evidence-list.csv")).unwrap();
    assert!(list.contains("1 个签名，未签署完整"), "{list}");
    // The command says what is missing and never that everything verified.
    let out = Command::new(onevisit_flow_tests::cli_bin())
        .args(["verify", bag.to_str().unwrap(), "--root", &city.root])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{stdout}");
    assert!(!stdout.contains("全部核验通过") && stdout.contains("文书签署完整性"), "{stdout}");
}

#[test]
fn the_agency_seal_in_a_bundle_is_checked_and_a_removed_or_forged_seal_is_named() {
    let city = City::new();
    let (a, b, code) = recorded_case(&city);
    sign_everything(&city, &a, &b, &code);
    sync_ok(&b);
    fetch_all_photos(&b, &code);
    let bag = city.path().join("sealed");
    export(&b, &code, &bag, Format::Folder, false);
    let report = check(&bag, &city.root);
    assert!(report.is_valid(), "{:#?}", report.failures());
    assert!(report.checks.iter().any(|c| c.kind == "agency_seal" && c.ok && c.detail.contains("电子印章有效")));
    let seal_file = one_file(&bag, "data/documents", "/seal.json");
    let seal: onevisit_core::seal::AgencySeal = serde_json::from_slice(&std::fs::read(&seal_file).unwrap()).unwrap();

    // The exporting device removes the seal and seals the bag again: the record still holds it.
    let removed = city.path().join("removed");
    copy_dir(&bag, &removed);
    std::fs::remove_file(removed.join(seal_file.strip_prefix(&bag).unwrap())).unwrap();
    reseal(&removed, &b);
    assert!(failed(&check(&removed, &city.root), "agency_seal", "包中却缺少"));

    // It changes the sealed statement (another number): the SM2 signature breaks.
    let edited = city.path().join("edited");
    copy_dir(&bag, &edited);
    let mut changed = seal.clone();
    changed.seal.canonical = changed.seal.canonical.replacen("〔", "（", 1);
    std::fs::write(edited.join(seal_file.strip_prefix(&bag).unwrap()), serde_json::to_vec(&changed).unwrap()).unwrap();
    reseal(&edited, &b);
    assert!(failed(&check(&edited, &city.root), "agency_seal", "印章签名验证失败"));

    // It makes its own organisation key and certifies it with its device key: not the root's.
    let forged = city.path().join("forged-seal");
    copy_dir(&bag, &forged);
    let own = onevisit_core::seal::OrganisationKey::generate().unwrap();
    let mut certificate: onevisit_core::seal::OrganisationCertificate =
        serde_json::from_str(&seal.certificate.canonical).unwrap();
    certificate.seal_public_key = own.public_hex();
    certificate.issuer_public_key = hex::encode(b.lock().unwrap().device_key().public_bytes());
    let statement: onevisit_core::seal::SealStatement = serde_json::from_str(&seal.seal.canonical).unwrap();
    let fake = onevisit_core::seal::AgencySeal {
        seal: own.seal(&statement).unwrap(),
        certificate: onevisit_core::sync::statements::sign_statement(&certificate, b.lock().unwrap().device_key())
            .unwrap(),
    };
    std::fs::write(forged.join(seal_file.strip_prefix(&bag).unwrap()), serde_json::to_vec(&fake).unwrap()).unwrap();
    reseal(&forged, &b);
    assert!(failed(&check(&forged, &city.root), "agency_seal", "不是由租户根密钥签发"));
}
