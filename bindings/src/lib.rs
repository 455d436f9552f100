//! `onevisit-ffi`: the uniffi facade of the OneVisit core — the one surface the Android and iOS
//! apps call. It only adapts types: every rule lives in `onevisit-core`.
//!
//! Long calls (photo ingest, enrolment, sync, export, verify) are async: they run on a worker
//! thread, report to a [`progress::ProgressListener`] and stop at a [`background::Cancellation`].

pub mod background;
pub mod bundle;
pub mod display;
pub mod documents;
pub mod errors;
pub mod evidence;
pub mod inspection;
pub mod logging;
pub mod progress;
pub mod store;
pub mod sync;
pub mod types;

uniffi::setup_scaffolding!("onevisit");

/// The core's version: also the cheapest call across the boundary (the overhead benchmark's baseline).
#[uniffi::export]
pub fn core_version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}
