//! Benchmark group `pdf`: an on-site record of three pages printed to PDF — layout, the shipped
//! CJK font subset, the handwriting image, a QR code per page — beside the plain-text page of the
//! same document (the reference: what printing adds).

use std::collections::HashMap;
use std::time::Instant;

use onevisit_core::document::{DocumentContent, SignedStatement};
use serde_json::json;

use crate::{emit, ms, percentile, round};

/// The fixed sample record the PDF golden tests print (signed by four officers and the party).
const FIXTURE: &str = include_str!("../../core/src/document/pdf/testdata/on_site_record.json");

/// Prints the record, grown to three pages, `rounds` times.
pub fn run(rounds: usize) {
    let json: serde_json::Value = serde_json::from_str(FIXTURE).expect("fixture");
    let sha256 = json["sha256"].as_str().expect("fixture hash").to_string();
    let mut content: DocumentContent = serde_json::from_value(json["content"].clone()).expect("fixture content");
    let statements: Vec<SignedStatement> =
        serde_json::from_value(json["statements"].clone()).expect("fixture statements");
    let png = onevisit_test_support::handwriting_png("fixture-record");
    let images = HashMap::from([(onevisit_core::audit::sha256_hex(&png), png)]);
    let received = HashMap::new();
    // Sealed, so that the seal's line and picture are drawn on every page.
    let seal = onevisit_core::record::seals::SealCheck::Sealed {
        agency: "平湖市市场监督管理局".into(),
        department: "scjg".into(),
        sealed_at_ms: 1_796_175_047_062,
        public_key: "ab".repeat(64),
    };
    let print = |c: &DocumentContent| {
        onevisit_core::document::render_pdf(c, &sha256, &statements, &received, &images, &seal).expect("pdf")
    };
    // More check points until the record runs to three pages, as a long joint inspection does.
    let base = content.checks.clone();
    let mut round_no = 0;
    while !String::from_utf8_lossy(&print(&content)).contains("/Count 3") {
        round_no += 1;
        content.checks.extend(base.iter().map(|c| {
            let mut c = c.clone();
            c.title = format!("{}（第 {round_no} 轮复核）", c.title);
            c
        }));
        assert!(round_no < 50, "the record never reached three pages");
    }
    let (mut pdf, mut text) = (Vec::new(), Vec::new());
    let mut bytes = 0;
    for _ in 0..rounds {
        let t = Instant::now();
        bytes = print(&content).len();
        pdf.push(ms(t.elapsed()));
        let t = Instant::now();
        let page = onevisit_core::document::render_page(&content, &statements, &received);
        text.push(ms(t.elapsed()));
        std::hint::black_box(page);
    }
    let text_p50 = percentile(&mut text, 0.5);
    emit(
        "pdf_render_3_pages_p50",
        percentile(&mut pdf, 0.5),
        "ms",
        json!({"target": "<= 50 ms", "reference": {"plain_text_page_p50_ms": round(text_p50)},
               "detail": {"rounds": rounds, "pages": 3, "check_points": content.checks.len(),
                          "pdf_bytes": bytes, "p95_ms": round(percentile(&mut pdf, 0.95))}}),
    );
}
