//! Finds the Go runtime package that wit-bindgen's Go generator ships in its
//! crate (`go.bytecodealliance.org/pkg`, which generated Go bindings import)
//! so that `componentize` can write it beside the bindings: a Go build then
//! needs no module download.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let package = go_pkg_dir();
    let mut files = Vec::new();
    collect(&package, &package, &mut files);
    files.sort();
    let mut source = String::from("&[\n");
    for (relative, absolute) in &files {
        writeln!(source, "    ({relative:?}, include_bytes!({absolute:?})),").unwrap();
        println!("cargo::rerun-if-changed={absolute}");
    }
    source.push(']');
    let out = PathBuf::from(env::var_os("OUT_DIR").unwrap()).join("go_pkg_files.rs");
    fs::write(out, source).unwrap();
}

/// `src/pkg` of the wit-bindgen-go crate this package depends on, from
/// `cargo metadata` (the only way to learn where a dependency's source is).
fn go_pkg_dir() -> PathBuf {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let manifest = Path::new(&env::var_os("CARGO_MANIFEST_DIR").unwrap()).join("Cargo.toml");
    let output = Command::new(cargo)
        // Not --offline: a build of one package may not have downloaded the
        // packages of the others, whose manifests metadata reads.
        .args([
            "metadata",
            "--format-version=1",
            "--locked",
            "--manifest-path",
        ])
        .arg(&manifest)
        .output()
        .expect("running cargo metadata");
    assert!(
        output.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let this = env::var("CARGO_PKG_NAME").unwrap();
    let packages = metadata["packages"].as_array().unwrap();
    // The version this package resolved to: its dependency edge in the graph.
    let this_id = packages
        .iter()
        .find(|p| p["name"] == this.as_str())
        .map(|p| p["id"].clone())
        .unwrap();
    let node = metadata["resolve"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["id"] == this_id)
        .unwrap();
    let go = node["deps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "wit_bindgen_go")
        .map(|d| d["pkg"].clone())
        .unwrap();
    let manifest_path = packages
        .iter()
        .find(|p| p["id"] == go)
        .and_then(|p| p["manifest_path"].as_str())
        .unwrap();
    Path::new(manifest_path).parent().unwrap().join("src/pkg")
}

/// The Go sources, `go.mod` and `LICENSE` under `dir`, relative to `root`.
fn collect(root: &Path, dir: &Path, files: &mut Vec<(String, String)>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            // `docs` is the package's website, not code.
            if name != "docs" && !name.starts_with('.') {
                collect(root, &path, files);
            }
        } else if name.ends_with(".go") || name == "go.mod" || name == "LICENSE" {
            let relative = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            files.push((relative, path.to_string_lossy().into_owned()));
        }
    }
}
