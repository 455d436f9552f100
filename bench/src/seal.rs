//! Benchmark group `seal`: the agency seal (SM2 with SM3 under an organisation key) made and
//! checked over a real seal statement, beside a device's Ed25519 signature of the same bytes (the
//! reference: what the national algorithm costs over the device signatures).

use std::time::Instant;

use onevisit_core::seal::{OrganisationKey, SEAL_SCHEMA, SealStatement, signature_hashes};
use serde_json::json;

use crate::{emit, ms, percentile, round};

/// Seals and verifies `rounds` times.
pub fn run(rounds: usize) {
    let organisation = OrganisationKey::generate().expect("organisation key");
    let public = organisation.public_hex();
    let device = onevisit_core::identity::DeviceKey::generate();
    let statement = SealStatement {
        schema: SEAL_SCHEMA.into(),
        document_sha256: "d6f104d124338254".repeat(4),
        document_number: "平消责改〔2026〕12号".into(),
        department: "xfjy".into(),
        agency: "平湖市消防救援大队".into(),
        signatures: signature_hashes(["a", "b", "c"]),
        sealed_at_ms: 1_796_175_047_062,
    };
    let (mut sign, mut verify, mut ed_sign, mut ed_verify) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        let t = Instant::now();
        let seal = organisation.seal(&statement).expect("seal");
        sign.push(ms(t.elapsed()));
        let t = Instant::now();
        seal.verify(&public).expect("verify");
        verify.push(ms(t.elapsed()));
        let t = Instant::now();
        let signature = device.sign(seal.canonical.as_bytes());
        ed_sign.push(ms(t.elapsed()));
        let t = Instant::now();
        device.verifying_key().verify_strict(seal.canonical.as_bytes(), &signature).expect("ed25519");
        ed_verify.push(ms(t.elapsed()));
    }
    let detail =
        json!({"rounds": rounds, "statement_bytes": serde_json::to_vec(&statement).map(|b| b.len()).unwrap_or(0)});
    let ed_sign = percentile(&mut ed_sign, 0.5);
    let ed_verify = percentile(&mut ed_verify, 0.5);
    emit(
        "seal_sign_p50",
        percentile(&mut sign, 0.5),
        "ms",
        json!({"reference": {"ed25519_sign_p50_ms": round(ed_sign)}, "detail": detail}),
    );
    emit(
        "seal_verify_p50",
        percentile(&mut verify, 0.5),
        "ms",
        json!({"reference": {"ed25519_verify_p50_ms": round(ed_verify)}, "detail": detail}),
    );
}
