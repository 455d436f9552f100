//! Diagnostics carry ids and hashes only: a whole joint inspection — enrolment, syncs, a photo, a
//! finding, signatures, an evidence bundle exported and verified — logs no party name, no USCC and
//! no inspector name, neither on the devices (every crate's events, down to `trace`) nor on the
//! server (down to `debug`).

use std::io::Write;
use std::sync::{Arc, Mutex};

use onevisit_core::bundle;
use onevisit_flow_tests::{
    City, ServerProcess, check_bundle, export_bundle, fetch_all_photos, recorded_case, sign_everything,
};
use tracing_subscriber::fmt::MakeWriter;

/// Every log line of this process, as text.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[test]
fn a_whole_inspection_logs_no_party_name_uscc_or_inspector_name() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(captured.clone())
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .finish();
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let mut city = City::new();
    let server_log = city.path().join("server.log");
    let addr = city.server.addr.clone();
    city.server.kill();
    city.server = ServerProcess::start_logging_to(&city.data, &addr, &server_log);

    let (a, b, code) = recorded_case(&city);
    sign_everything(&city, &a, &b, &code);
    fetch_all_photos(&a, &code);
    let bag = city.path().join("bundle.zip");
    export_bundle(&a, &code, &bag, bundle::Format::Zip, true);
    assert!(check_bundle(&bag, &city.root).is_valid());
    city.server.kill();

    let device_logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let server_logs = std::fs::read_to_string(&server_log).unwrap();
    // The logs are there (the check below cannot pass on silence).
    for step in
        ["sync started", "sync finished", "store migrated", "evidence bundle exported", "evidence bundle verified"]
    {
        assert!(device_logs.contains(step), "no {step:?} in the device's logs");
    }
    assert!(device_logs.lines().count() > 100, "the trace level logs every crate");
    assert!(!server_logs.trim().is_empty(), "the server logged nothing");

    let directory = onevisit_core::sample::directory().unwrap();
    let mut personal: Vec<String> = vec!["沈建国".into()];
    for e in directory.enterprises() {
        personal.push(e.name.clone());
        personal.push(e.uscc.to_string());
        personal.push(e.address.clone());
    }
    personal.extend(directory.inspectors().map(|i| i.name.clone()));
    personal.extend(directory.inspectors().map(|i| i.certificate_number.clone()));
    for (whose, logs) in [("device", &device_logs), ("server", &server_logs)] {
        for value in &personal {
            assert!(!logs.contains(value.as_str()), "the {whose} logged {value:?}");
        }
    }
}
