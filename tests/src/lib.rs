//! Whole-flow tests live in `tests/tests/`; `src/bin/` holds the helper processes they drive, and
//! this library the set-up they share.

use std::path::Path;

use onevisit_core::identity::KeyFileWrapper;
use onevisit_core::sample;
use onevisit_core::store::Store;

/// A new device store in `root` (with its key file there), operated by `inspector`, with the
/// sample directory imported.
pub fn device(root: &Path, inspector: &str) -> Store {
    std::fs::create_dir_all(root).expect("store directory");
    let wrapper = KeyFileWrapper::load_or_create(&root.join("device.key")).expect("key file");
    let mut store = Store::init(root, &wrapper, Some(inspector.parse().expect("inspector id"))).expect("init");
    store.import_directory(sample::directory().expect("sample directory")).expect("import");
    store
}
