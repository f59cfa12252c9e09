//! The Go package `go.bytecodealliance.org/pkg` that generated Go bindings
//! import (the canonical ABI's allocation, handles, option and result types).
//!
//! wit-bindgen's Go generator ships its source in its crate; `build.rs`
//! embeds it here. Writing it beside the bindings, with a `replace` in their
//! `go.mod`, makes a Go plugin build that downloads no module.

use wit_bindgen_core::Files;

/// The folder, inside the generated module, that holds the package.
const DIR: &str = "go-pkg";

/// Every file of the package: path relative to its root, contents.
const FILES: &[(&str, &[u8])] = include!(concat!(env!("OUT_DIR"), "/go_pkg_files.rs"));

/// Adds the package to generated Go bindings and points their `go.mod` at it.
pub fn add(files: &mut Files) {
    for (path, contents) in FILES {
        files.push(&format!("{DIR}/{path}"), contents);
    }
    files.push(
        "go.mod",
        format!("\nreplace go.bytecodealliance.org/pkg => ./{DIR}\n").as_bytes(),
    );
}
