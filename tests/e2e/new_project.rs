//! `coapwasm new`: for each language, a project written outside the
//! repository builds with its own build script, and its component, dropped
//! into a running host's plugins folder, serves the path it was given. And
//! `new` writes nothing over files, nor a plugin the host would refuse.

use std::path::{Path, PathBuf};
use std::time::Duration;

use coapwasm_tests::command::{self, Ran};
use coapwasm_tests::temp_dir::TempDir;
use coapwasm_tests::{CoapClient, Server, artifacts};

/// How long `new` may take: it writes a few files.
const NEW_WAIT: Duration = Duration::from_secs(30);

/// How long a build may take: the first one installs tools (componentize-py,
/// jco, Go) and compiles the Rust SDK's dependencies. About a minute at
/// most here, measured; far beyond it.
const BUILD_WAIT: Duration = Duration::from_secs(900);

/// How long a host may take to load the new component: the Python one
/// embeds CPython, 10 to 35 s to compile here.
const LOAD_WAIT: Duration = Duration::from_secs(180);

/// Runs `coapwasm ARGS` in `dir`.
fn coapwasm(args: &[&str], dir: &Path) -> Ran {
    command::run(&artifacts::binary(), args, dir, NEW_WAIT)
}

/// A temporary folder outside the repository (the system's temporary
/// folder, checked), where the build scripts cannot find the repository's
/// wit/ by searching upwards.
fn outside_the_repository() -> TempDir {
    let dir = TempDir::new();
    let repository = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    assert!(
        !dir.path().starts_with(repository),
        "{} is inside the repository",
        dir.path().display()
    );
    dir
}

/// Writes the `language` project `name` serving `path` in a fresh folder
/// outside the repository, builds it with its build.sh, and returns the
/// folder and the component the build's last line names.
fn new_and_build(language: &str, name: &str, path: &str) -> (TempDir, PathBuf) {
    let dir = outside_the_repository();
    let created = coapwasm(&["new", language, name, "--path", path], dir.path());
    assert!(created.status.success(), "{}", created.shown());
    let project = dir.path().join(name);
    assert!(
        created.stdout.contains(path) && created.stdout.contains("build.sh"),
        "new should say what it wrote and how to build it\n{}",
        created.shown()
    );
    assert!(project.join("wit/plugin.wit").is_file());

    let built = command::run(Path::new("bash"), &["build.sh"], &project, BUILD_WAIT);
    assert!(built.status.success(), "{}", built.shown());
    let component = built
        .stderr
        .lines()
        .last()
        .and_then(|line| line.strip_prefix("==> built "))
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("the build's last line names no .wasm\n{}", built.shown()));
    assert!(
        component.starts_with(&project) && component.is_file(),
        "the component {} should be in the project\n{}",
        component.display(),
        built.shown()
    );
    (dir, component)
}

/// Drops `component` into a running host's plugins folder and GETs `path`:
/// the template's answer, "hello" as text.
fn assert_serves(component: &Path, name: &str, path: &str) {
    let server = Server::builder().start();
    let bytes = std::fs::read(component).unwrap();
    server.plugins_folder().write_then_rename(
        &format!(".{name}.wasm.tmp"),
        &format!("{name}.wasm"),
        &bytes,
    );
    let added = server.log_line(LOAD_WAIT, |line| {
        line.contains("added plugin") && line.contains(&format!("plugin=\"{name}\""))
    });
    assert!(
        added.is_some(),
        "the host did not add {name} within {LOAD_WAIT:?}; log:\n{}",
        server.stderr()
    );
    let output = CoapClient::get(&server.uri(path)).run();
    output.assert_code("2.05");
    assert_eq!(output.payload_text(), "hello", "{}", output.shown());
}

#[test]
fn a_rust_project_builds_and_serves() {
    let (_dir, component) = new_and_build("rust", "rusty-greeter", "/greet/rust");
    assert_serves(&component, "rusty-greeter", "/greet/rust");
}

#[test]
fn a_c_project_builds_and_serves() {
    let (_dir, component) = new_and_build("c", "c-greeter", "/greet/c");
    assert_serves(&component, "c-greeter", "/greet/c");
}

#[test]
fn a_go_project_builds_and_serves() {
    let (_dir, component) = new_and_build("go", "go-greeter", "/greet/go");
    assert_serves(&component, "go-greeter", "/greet/go");
}

#[test]
fn a_python_project_builds_and_serves() {
    let (_dir, component) = new_and_build("python", "py-greeter", "/greet/python");
    assert_serves(&component, "py-greeter", "/greet/python");
}

#[test]
fn a_javascript_project_builds_and_serves() {
    let (_dir, component) = new_and_build("javascript", "js-greeter", "/greet/js");
    assert_serves(&component, "js-greeter", "/greet/js");
}

/// A folder that holds anything is refused, and left as it was.
#[test]
fn new_refuses_a_folder_that_is_not_empty() {
    let dir = outside_the_repository();
    let project = dir.path().join("taken");
    std::fs::create_dir(&project).unwrap();
    std::fs::write(project.join("notes.txt"), "mine").unwrap();

    let ran = coapwasm(&["new", "rust", "taken"], dir.path());
    assert!(!ran.status.success(), "{}", ran.shown());
    assert!(
        ran.stderr.contains("taken") && ran.stderr.contains("not empty"),
        "{}",
        ran.shown()
    );
    let entries: Vec<_> = std::fs::read_dir(&project).unwrap().collect();
    assert_eq!(entries.len(), 1, "nothing may be written beside notes.txt");

    // --dir elsewhere, or an empty folder, is fine.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let ran = coapwasm(&["new", "c", "taken", "--dir", "empty"], dir.path());
    assert!(ran.status.success(), "{}", ran.shown());
    assert!(empty.join("build.sh").is_file() && empty.join("hello.c").is_file());
}

/// A name or path the host would refuse, or that cannot go into the
/// sources, is refused before anything is written.
#[test]
fn new_refuses_an_invalid_name_or_path() {
    let dir = outside_the_repository();
    for (args, expected) in [
        (&["new", "rust", "My_Plugin"][..], "invalid plugin name"),
        (&["new", "python", "1st"][..], "invalid plugin name"),
        (
            &["new", "c", "fine", "--path", "no-slash"][..],
            "invalid resource path",
        ),
        (
            &["new", "go", "fine", "--path", "/a//b"][..],
            "invalid resource path",
        ),
        (
            &["new", "javascript", "fine", "--path", "/.well-known/core"][..],
            "invalid resource path",
        ),
        (
            &["new", "javascript", "fine", "--path", "/quote\"d"][..],
            "invalid resource path",
        ),
    ] {
        let ran = coapwasm(args, dir.path());
        assert!(!ran.status.success(), "{args:?}\n{}", ran.shown());
        assert!(ran.stderr.contains(expected), "{args:?}\n{}", ran.shown());
    }
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "nothing may be written"
    );
}
