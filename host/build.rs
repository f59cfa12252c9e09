//! Embeds what `coapwasm new` writes into a plugin project: the templates
//! in `examples/templates/<language>`, the WIT package in `wit/`, the Rust
//! SDK's sources and the other languages' helper modules in `plugins/sdk`,
//! and the workspace's manifest and lock file (a Rust project pins the
//! SDK's dependencies to the versions the repository builds with).
//!
//! The file lists are made by walking the folders, so a file added to a
//! template or the SDK later is embedded without touching this list.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// One embedded folder: the constant it becomes, the folder relative to the
/// workspace root, and, if only some of its entries belong, their names.
struct Group {
    constant: &'static str,
    folder: &'static str,
    only: Option<&'static [&'static str]>,
}

const GROUPS: &[Group] = &[
    Group {
        constant: "RUST_TEMPLATE",
        folder: "examples/templates/rust",
        only: None,
    },
    Group {
        constant: "C_TEMPLATE",
        folder: "examples/templates/c",
        only: None,
    },
    Group {
        constant: "GO_TEMPLATE",
        folder: "examples/templates/go",
        only: None,
    },
    Group {
        constant: "PYTHON_TEMPLATE",
        folder: "examples/templates/python",
        only: None,
    },
    Group {
        constant: "JAVASCRIPT_TEMPLATE",
        folder: "examples/templates/javascript",
        only: None,
    },
    Group {
        constant: "WIT",
        folder: "wit",
        only: None,
    },
    // The crate alone: plugins/sdk also holds the other languages' helpers.
    Group {
        constant: "RUST_SDK",
        folder: "plugins/sdk",
        only: Some(&["Cargo.toml", "src"]),
    },
    Group {
        constant: "PYTHON_SDK",
        folder: "plugins/sdk/python",
        only: None,
    },
    Group {
        constant: "JAVASCRIPT_SDK",
        folder: "plugins/sdk/javascript",
        only: None,
    },
    Group {
        constant: "WORKSPACE",
        folder: ".",
        only: Some(&["Cargo.toml", "Cargo.lock"]),
    },
];

/// What a build or a tool leaves in a folder: never part of a project.
const SKIPPED: &[&str] = &["node_modules", "target", "__pycache__"];

fn main() {
    let manifest_dir =
        PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let workspace = manifest_dir
        .parent()
        .expect("host/ has a parent")
        .to_path_buf();
    let mut code = String::new();
    for group in GROUPS {
        let folder = workspace.join(group.folder);
        let mut files = Vec::new();
        // A helper folder that does not exist yet embeds nothing.
        if folder.is_dir() {
            walk(&folder, &folder, group.only, &mut files);
        }
        files.sort();
        writeln!(code, "pub static {}: &[EmbeddedFile] = &[", group.constant).unwrap();
        for (relative, absolute) in &files {
            writeln!(
                code,
                "    EmbeddedFile {{ path: {relative:?}, bytes: include_bytes!({absolute:?}) }},"
            )
            .unwrap();
            println!("cargo::rerun-if-changed={absolute}");
        }
        writeln!(code, "];").unwrap();
    }
    // Cargo scans a folder for any change, so a file added to one is seen;
    // plugins/sdk covers its helper folders before they exist.
    for folder in ["examples/templates", "wit", "plugins/sdk"] {
        println!(
            "cargo::rerun-if-changed={}",
            workspace.join(folder).display()
        );
    }
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets it"));
    std::fs::write(out.join("embedded_files.rs"), code).expect("write embedded_files.rs");
}

/// Every file under `dir`, as (path relative to `root` with `/`, absolute path).
fn walk(root: &Path, dir: &Path, only: Option<&[&str]>, files: &mut Vec<(String, String)>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("a folder entry").path();
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        if SKIPPED.contains(&name.as_ref()) || name.ends_with(".pyc") {
            continue;
        }
        if dir == root && only.is_some_and(|only| !only.contains(&name.as_ref())) {
            continue;
        }
        if path.is_dir() {
            walk(root, &path, None, files);
        } else {
            let relative = path.strip_prefix(root).expect("under root");
            let relative = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            files.push((relative, path.display().to_string()));
        }
    }
}
