//! The maps of the repository stay true: every top-level folder and every workspace crate is
//! described in the README's Layout section and in ARCHITECTURE.md.

use std::path::Path;

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn the_readme_layout_and_architecture_describe_every_top_level_folder_and_crate() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let readme = read(&root.join("README.md"));
    let layout = readme.split("## Layout").nth(1).expect("a Layout section").split("\n## ").next().unwrap_or("");
    let architecture = read(&root.join("ARCHITECTURE.md"));
    let mut folders: Vec<String> = std::fs::read_dir(&root)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.') && n != "target")
        .collect();
    // Every workspace member too (a crate in a folder not yet created would show here).
    let manifest = read(&root.join("Cargo.toml"));
    let members = manifest.split("members = [").nth(1).and_then(|m| m.split(']').next()).expect("workspace members");
    folders.extend(members.split(',').map(|m| m.trim().trim_matches('"').to_string()).filter(|m| !m.is_empty()));
    folders.sort();
    folders.dedup();
    let mut missing = Vec::new();
    for name in &folders {
        if !layout.lines().any(|l| l.starts_with(&format!("{name}/"))) {
            missing.push(format!("README Layout: {name}/"));
        }
        if !architecture.contains(&format!("`{name}/`")) {
            missing.push(format!("ARCHITECTURE.md: `{name}/`"));
        }
    }
    assert!(missing.is_empty(), "not described: {missing:#?}");
}
