//! Golden tests: the fixed sample documents printed to PDF and read back page by page with
//! poppler's `pdftotext` (an independent PDF reader), pictures of each page kept in
//! `target/test-artefacts/pdf/`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::*;

struct Fixture {
    name: &'static str,
    sha256: String,
    content: DocumentContent,
    statements: Vec<SignedStatement>,
}

fn fixture(name: &'static str) -> Fixture {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("src/document/pdf/testdata/{name}.json"));
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    Fixture {
        name,
        sha256: json["sha256"].as_str().unwrap().to_string(),
        content: serde_json::from_value(json["content"].clone()).unwrap(),
        statements: serde_json::from_value(json["statements"].clone()).unwrap(),
    }
}

/// The handwriting the fixture's statements name, drawn again from its seed.
fn handwriting(f: &Fixture) -> Handwriting {
    let mut images = HashMap::new();
    for seed in ["fixture-record", "fixture-order-witness"] {
        let png = onevisit_test_support::handwriting_png(seed);
        let sha = crate::audit::sha256_hex(&png);
        if f.statements.iter().any(|s| s.handwriting() == Some(sha.as_str())) {
            images.insert(sha, png);
        }
    }
    assert_eq!(images.len(), 1, "each fixture shows one drawing");
    images
}

/// Two trusted times from the server's receipts, so that the printout shows both kinds.
fn received(f: &Fixture) -> HashMap<(String, i64), i64> {
    f.statements.iter().take(2).map(|s| ((s.device.clone(), s.device_time_ms), s.device_time_ms + 61_000)).collect()
}

/// The golden on-site record as the server sealed it; the golden order not yet sealed.
fn seal_of(f: &Fixture) -> SealCheck {
    match f.name {
        "on_site_record" => SealCheck::Sealed {
            agency: "平湖市市场监督管理局".into(),
            department: "scjg".into(),
            sealed_at_ms: 1_796_175_047_062,
            public_key: "ab".repeat(64),
        },
        _ => SealCheck::Unsealed,
    }
}

fn print(f: &Fixture) -> Vec<u8> {
    render_pdf(&f.content, &f.sha256, &f.statements, &received(f), &handwriting(f), &seal_of(f)).unwrap()
}

fn artefacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-artefacts/pdf");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn poppler(program: &str) -> Command {
    let found = Command::new(program).arg("-v").output().is_ok();
    assert!(found, "{program} (poppler-utils) is needed: apt-get install poppler-utils");
    Command::new(program)
}

/// The PDF's pages as `pdftotext` reads them: lines trimmed, blank lines dropped.
fn pages_of(pdf: &Path) -> Vec<String> {
    let out = poppler("pdftotext").arg("-enc").arg("UTF-8").arg(pdf).arg("-").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let mut pages: Vec<String> = text
        .split('\u{c}')
        .map(|p| p.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join("\n"))
        .collect();
    // pdftotext ends the last page with a form feed too.
    if pages.last().is_some_and(String::is_empty) {
        pages.pop();
    }
    pages
}

/// Writes the PDF and a picture of each page to the artefacts, and returns its pages' text.
fn printed(f: &Fixture) -> (PathBuf, Vec<String>) {
    let path = artefacts().join(format!("{}.pdf", f.name));
    std::fs::write(&path, print(f)).unwrap();
    let status =
        poppler("pdftoppm").args(["-r", "110", "-png"]).arg(&path).arg(artefacts().join(f.name)).status().unwrap();
    assert!(status.success());
    let pages = pages_of(&path);
    (path, pages)
}

fn golden(f: &Fixture, pages: &[String]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/document/pdf/testdata");
    let bless = std::env::var_os("ONEVISIT_BLESS").is_some();
    for (i, page) in pages.iter().enumerate() {
        let path = dir.join(format!("{}.page-{}.txt", f.name, i + 1));
        if bless {
            std::fs::write(&path, format!("{page}\n")).unwrap();
        }
        let expected = std::fs::read_to_string(&path).unwrap_or_default();
        assert_eq!(
            page.trim_end(),
            expected.trim_end(),
            "page {} of {} differs from {}",
            i + 1,
            f.name,
            path.display()
        );
    }
    let extra = dir.join(format!("{}.page-{}.txt", f.name, pages.len() + 1));
    assert!(!extra.exists(), "the golden has more pages than the printout: {}", extra.display());
}

#[test]
fn the_on_site_record_prints_page_by_page_as_its_golden_with_every_template_field() {
    let f = fixture("on_site_record");
    let (_, pages) = printed(&f);
    assert!(pages.len() >= 2, "the sample record runs onto a second page: {pages:#?}");
    golden(&f, &pages);
    let all = pages.join("\n");
    for field in [
        &f.content.issuer,
        "现场检查笔录",
        "平市监现检〔2026〕7号",
        "当事人：",
        "统一社会信用代码：",
        "地址：",
        "在场人员：沈建国（现场负责人",
        "法定代表人（负责人）：",
        "主体资格证照：",
        "检查地点：",
        "检查时间：",
        "检查人：",
        "执法证号",
        "记录人：",
        "告知：",
        "出示证件：",
        "是否申请回避：",
        "其他关系可能影响公正执法",
        "检查情况：",
        "检查依据：",
        "发现问题：",
        "《中华人民共和国消防法》第十六条",
        "当事人陈述、申辩：",
        "当事人意见：以上笔录我已看过，与事实相符。",
        "服务器确认收到时间不晚于",
        "尚未经服务器确认收到",
        "检查码：",
        "文书版本：第 1 版（版本为文书元数据，不属于文号）",
    ] {
        assert!(all.contains(field), "missing {field} in\n{all}");
    }
    assert_eq!(all.matches("已电子签名").count(), 4, "four officers signed:\n{all}");
    assert!(!all.contains("（第1版）") && !all.contains("__________"), "{all}");
    signature_block_on_every_page(&f, &pages);
    // The agency's seal: its line and its picture (the agency's name in the ring) on every page.
    for page in &pages {
        assert!(page.contains("机关电子印章：平湖市市场监督管理局 已加盖（SM2，"), "{page}");
        assert!(page.matches("平湖市市场监督管理局").count() >= 2, "the seal line and the ring:\n{page}");
    }
}

#[test]
fn the_fire_order_prints_page_by_page_as_its_golden_with_its_service_by_leaving_it() {
    let f = fixture("rectification_order");
    let (_, pages) = printed(&f);
    golden(&f, &pages);
    let all = pages.join("\n");
    for field in [
        &f.content.issuer,
        "责令",
        "平消责改〔2026〕12号",
        "经查（见现场检查笔录 平市监现检〔2026〕7号）",
        "违反了《中华人民共和国消防法》第十六条",
        "责令你单位",
        "申请行政复议",
        "人民法院",
        "受送达人拒绝签收。拒签理由：不认可检查结果。",
        "见证人：村委会 张伟（身份证 330482198001011234），见证人已手写签名",
        "留置送达",
    ] {
        assert!(all.contains(field), "missing {field} in\n{all}");
    }
    signature_block_on_every_page(&f, &pages);
    for page in &pages {
        assert!(page.contains("受送达人签收：拒绝签收，留置送达；见证人签名："), "{page}");
        assert!(page.contains("村委会 张伟"), "{page}");
    }
}

/// Every page ends with its block: the party's line, the officers, the hash and 第 X 页 共 Y 页.
fn signature_block_on_every_page(f: &Fixture, pages: &[String]) {
    let total = pages.len();
    for (i, page) in pages.iter().enumerate() {
        // pdftotext reads the printed "第 1 页 共 2 页" without its spaces.
        let page_number = format!("第{}页共{total}页", i + 1);
        assert!(page.replace(' ', "").contains(&page_number), "page {}:\n{page}", i + 1);
        assert!(page.contains("执法人员签名："), "page {}:\n{page}", i + 1);
        assert!(page.contains(&format!("文书 SHA-256：{}…", &f.sha256[..16])), "page {}:\n{page}", i + 1);
        for officer in &f.content.inspectors {
            assert!(page.contains(&officer.name), "{} not in the block of page {}", officer.name, i + 1);
        }
    }
}

#[test]
fn each_page_carries_a_qr_code_of_the_document_hash_that_a_scanner_reads() {
    let f = fixture("on_site_record");
    let (path, pages) = printed(&f);
    let prefix = artefacts().join("qr-check");
    let status = poppler("pdftoppm").args(["-r", "150", "-gray", "-png"]).arg(&path).arg(&prefix).status().unwrap();
    assert!(status.success());
    for n in 1..=pages.len() {
        let picture = artefacts().join(format!("qr-check-{n}.png"));
        let image = image::open(&picture).unwrap().to_luma8();
        let mut prepared = rqrr::PreparedImage::prepare(image);
        // The seal's ring and star may look like a finder pattern to the detector; what counts is
        // that exactly one code reads, and reads as the hash.
        let read: Vec<String> =
            prepared.detect_grids().iter().filter_map(|g| g.decode().ok()).map(|(_, t)| t).collect();
        assert_eq!(read, vec![format!("onevisit-document:sha256:{}", f.sha256)], "one QR code on page {n}");
    }
}

#[test]
fn the_font_is_embedded_as_a_subset_and_the_handwriting_as_an_image() {
    let f = fixture("on_site_record");
    let (path, _) = printed(&f);
    let fonts = poppler("pdffonts").arg(&path).output().unwrap();
    let fonts = String::from_utf8_lossy(&fonts.stdout).to_string();
    let line = fonts.lines().find(|l| l.contains("WenQuanYiMicroHei")).unwrap_or_else(|| panic!("{fonts}"));
    // name, type "CID TrueType", encoding "Identity-H", emb, sub, uni.
    let columns: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(columns[columns.len() - 5..columns.len() - 2], ["yes", "yes", "yes"], "{fonts}");
    let images = poppler("pdfimages").arg("-list").arg(&path).output().unwrap();
    let images = String::from_utf8_lossy(&images.stdout).to_string();
    // Each page shows the handwriting (image + its soft mask), one object shared by every page.
    let listed: Vec<&str> = images.lines().skip(2).collect();
    assert!(listed.iter().any(|l| l.contains(" image ")) && listed.iter().any(|l| l.contains(" smask ")), "{images}");
    // Small: the subset carries the glyphs used, not the 5 MB font.
    assert!(std::fs::metadata(&path).unwrap().len() < 400_000);
}

#[test]
fn printing_again_gives_the_same_bytes() {
    let f = fixture("rectification_order");
    assert_eq!(print(&f), print(&f));
}

#[test]
fn handwriting_this_device_does_not_hold_or_cannot_decode_is_described_and_the_rest_prints() {
    let f = fixture("on_site_record");
    let missing =
        render_pdf(&f.content, &f.sha256, &f.statements, &HashMap::new(), &HashMap::new(), &SealCheck::Unsealed)
            .unwrap();
    let path = artefacts().join("missing-handwriting.pdf");
    std::fs::write(&path, &missing).unwrap();
    let pages = pages_of(&path);
    assert!(pages.iter().all(|p| p.contains("沈建国（手写签名图像不在本设备）")), "{pages:#?}");

    let mut garbage = handwriting(&f);
    for bytes in garbage.values_mut() {
        *bytes = b"\x89PNG\r\n\x1a\n not really a picture".to_vec();
    }
    let pdf =
        render_pdf(&f.content, &f.sha256, &f.statements, &HashMap::new(), &garbage, &SealCheck::Unsealed).unwrap();
    let path = artefacts().join("garbage-handwriting.pdf");
    std::fs::write(&path, &pdf).unwrap();
    assert_eq!(pages_of(&path).len(), pages.len());
    assert!(!String::from_utf8_lossy(&pdf).contains("/Subtype /Image"), "nothing undecodable is embedded");
}

#[test]
fn an_unsigned_document_prints_blank_lines_for_every_signature() {
    let f = fixture("on_site_record");
    let pdf = render_pdf(&f.content, &f.sha256, &[], &HashMap::new(), &HashMap::new(), &SealCheck::Unsealed).unwrap();
    let path = artefacts().join("unsigned.pdf");
    std::fs::write(&path, &pdf).unwrap();
    let all = pages_of(&path).join("\n");
    assert_eq!(all.matches("（未签）").count(), pages_of(&path).len() * (1 + f.content.inspectors.len()), "{all}");
    assert!(!all.contains("已电子签名") && !all.contains("已签）"), "{all}");
}

#[test]
fn a_character_missing_from_the_font_still_reads_back_as_itself() {
    let mut f = fixture("rectification_order");
    // U+2A6A5 (CJK Extension B) is not in the shipped font: drawn as an empty box, copied as itself.
    f.content.party.name = "𪚥记餐饮店".into();
    let pdf = render_pdf(&f.content, &f.sha256, &f.statements, &HashMap::new(), &HashMap::new(), &SealCheck::Unsealed)
        .unwrap();
    let path = artefacts().join("missing-glyph.pdf");
    std::fs::write(&path, &pdf).unwrap();
    assert!(pages_of(&path).join("\n").contains("当事人：𪚥记餐饮店"));
}
