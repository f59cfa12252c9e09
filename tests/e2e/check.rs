//! `coapwasm check`: what the host would serve from a component, or why it
//! would refuse it, with a non-zero exit status for a refusal; with
//! `--plugins`, a clash with a plugin of that folder, named.

use std::path::{Path, PathBuf};
use std::time::Duration;

use coapwasm_tests::command::{self, Ran};
use coapwasm_tests::temp_dir::TempDir;
use coapwasm_tests::{PluginsFolder, artifacts};

/// How long a check may take: compiling every example plugin at once,
/// the Python one (CPython inside) 10 to 35 s here; far beyond it.
const CHECK_WAIT: Duration = Duration::from_secs(300);

/// Each example plugin (README, "The example plugins"), with the Rust
/// template, and a line of its description as check prints it: a path with
/// its methods as CoAP names them, in code order.
const EXAMPLES: &[(&str, &str, &str)] = &[
    (
        "temperature",
        "temperature",
        "/temperature GET, PUT; observable, sampled every",
    ),
    ("led", "led", "/led GET, POST, PUT; observable"),
    ("light", "light", "/actuators/light GET, PUT; observable"),
    ("info", "info", "/info GET"),
    ("firmware", "firmware", "/firmware/image GET"),
    (
        "sensors",
        "sensors",
        "/sensors/* GET, PUT, DELETE (the members of a collection)",
    ),
    (
        "humidity",
        "humidity",
        "/humidity GET; observable, sampled every 2000 ms",
    ),
    ("counter", "counter", "/counter GET, POST; observable"),
    ("greeting", "greeting", "/greeting GET, PUT, DELETE"),
    ("dice", "dice", "/dice GET, PUT"),
    ("hello", "hello", "/hello GET, PUT; observable"),
];

fn check(args: &[&str], dir: &Path) -> Ran {
    let mut all = vec!["check"];
    all.extend_from_slice(args);
    command::run(&artifacts::binary(), &all, dir, CHECK_WAIT)
}

fn path_text(path: &Path) -> String {
    path.display().to_string()
}

#[test]
fn every_example_plugin_is_described() {
    let dir = TempDir::new();
    let files: Vec<PathBuf> = EXAMPLES
        .iter()
        .map(|(file, _, _)| artifacts::plugin(&format!("{file}.wasm")))
        .collect();
    let args: Vec<String> = files.iter().map(|f| path_text(f)).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let ran = check(&args, dir.path());
    assert!(ran.status.success(), "{}", ran.shown());
    for ((_, name, line), file) in EXAMPLES.iter().zip(&files) {
        assert!(
            ran.stdout.contains(&format!(
                "{}: the host would serve it\n  plugin {name} version ",
                file.display()
            )),
            "{name}\n{}",
            ran.shown()
        );
        assert!(ran.stdout.contains(line), "{line:?}\n{}", ran.shown());
    }
    // The link-format attributes, as /.well-known/core would show them.
    assert!(
        ran.stdout.contains("</led>;ct=50;rt=\"light actuator\""),
        "{}",
        ran.shown()
    );
}

#[test]
fn garbage_is_refused_with_the_reason() {
    let dir = TempDir::new();
    let file = dir.path().join("garbage.wasm");
    std::fs::write(&file, b"this is not WebAssembly at all, just text").unwrap();
    let ran = check(&[&path_text(&file)], dir.path());
    assert!(!ran.status.success(), "{}", ran.shown());
    assert!(
        ran.stderr.contains(&format!(
            "{}: the host would refuse it: not a valid WebAssembly component",
            file.display()
        )),
        "{}",
        ran.shown()
    );
    assert!(!ran.stdout.contains("would serve"), "{}", ran.shown());
}

/// A core module (what `cargo build --target wasm32-unknown-unknown` or a
/// build without componentize writes): the smallest valid one, the magic
/// and version 1, and a real one's start (its type section).
#[test]
fn a_core_module_is_told_to_build_for_wasip2_or_componentize() {
    let dir = TempDir::new();
    for (file_name, bytes) in [
        ("empty-module.wasm", &b"\0asm\x01\0\0\0"[..]),
        ("module.wasm", &b"\0asm\x01\0\0\0\x01\x04\x01\x60\0\0"[..]),
    ] {
        let file = dir.path().join(file_name);
        std::fs::write(&file, bytes).unwrap();
        let ran = check(&[&path_text(&file)], dir.path());
        assert!(!ran.status.success(), "{}", ran.shown());
        assert!(
            ran.stderr
                .contains("core WebAssembly module, not a component")
                && ran.stderr.contains("wasm32-wasip2")
                && ran.stderr.contains("componentize"),
            "{}",
            ran.shown()
        );
    }
}

/// The manifest beside the file is read as the host reads it: an invalid
/// one is a refusal, a valid one is named.
#[test]
fn the_manifest_beside_the_file_counts() {
    let dir = TempDir::new();
    let file = dir.path().join("led.wasm");
    std::fs::copy(artifacts::plugin("led.wasm"), &file).unwrap();
    std::fs::write(dir.path().join("led.toml"), "[limits]\nmax_memory = 1\n").unwrap();
    let ran = check(&["led.wasm"], dir.path());
    assert!(!ran.status.success(), "{}", ran.shown());
    assert!(ran.stderr.contains("invalid manifest"), "{}", ran.shown());

    std::fs::write(
        dir.path().join("led.toml"),
        "[limits]\nmax_memory_bytes = 8388608\n",
    )
    .unwrap();
    let ran = check(&["led.wasm"], dir.path());
    assert!(ran.status.success(), "{}", ran.shown());
    assert!(ran.stdout.contains("manifest "), "{}", ran.shown());
}

/// With `--plugins`, a component claiming a path a plugin of the folder
/// serves is refused, naming that plugin and the path; one that fits is
/// described.
#[test]
fn a_path_clash_with_the_plugins_folder_names_the_other_plugin() {
    let dir = TempDir::new();
    let folder = PluginsFolder::new(dir.path().join("plugins"));
    std::fs::create_dir(folder.path()).unwrap();
    std::fs::copy(artifacts::plugin("led.wasm"), folder.file("led.wasm")).unwrap();
    std::fs::copy(artifacts::plugin("info.wasm"), folder.file("info.wasm")).unwrap();
    let plugins = path_text(folder.path());

    let clash = path_text(&artifacts::plugin("clash.wasm"));
    let ran = check(&["--plugins", &plugins, &clash], dir.path());
    assert!(!ran.status.success(), "{}", ran.shown());
    assert!(
        ran.stderr
            .contains("path /led is already served by plugin \"led\"")
            && ran.stderr.contains("led.wasm"),
        "{}",
        ran.shown()
    );

    let fits = path_text(&artifacts::plugin("temperature.wasm"));
    let ran = check(&["--plugins", &plugins, &fits], dir.path());
    assert!(ran.status.success(), "{}", ran.shown());
    assert!(ran.stdout.contains("plugin temperature"), "{}", ran.shown());

    // A file of the folder itself is a new version of itself, no clash.
    let own = path_text(&folder.file("led.wasm"));
    let ran = check(&["--plugins", &plugins, &own], dir.path());
    assert!(ran.status.success(), "{}", ran.shown());
}
