//! Per-plugin manifests: `X.toml` beside `X.wasm` overrides the host's
//! `[runtime]` limits for that plugin and grants it capabilities — host
//! environment variables and directories — that a plugin has none of by
//! default. A denied access fails inside the plugin (the testkit answers 4.03
//! with the error), never in the host. A bad manifest keeps the plugin out at
//! start-up, and while running keeps the previous version serving; writing,
//! changing or removing a manifest reloads its plugin.
//!
//! The testkit's `/test/env` shows `COAPWASM_TEST_VAR` ("unset" if the plugin
//! cannot see it); GET `/test/file` reads `/data/hello.txt`, PUT writes the
//! payload to `/data/out.txt`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use coapwasm_tests::{Code, Message, Peer, Server};

/// The variable `/test/env` shows, and the value the host is started with.
const VAR: &str = "COAPWASM_TEST_VAR";
const VALUE: &str = "from the host environment";

/// What `hello.txt` in a granted directory holds.
const HELLO: &str = "hello from the host\n";

/// How long to wait for a log line; far beyond what a working host needs.
const LOG_WAIT: Duration = Duration::from_secs(10);

/// Creates `DIR/shared` holding `hello.txt` and returns its path.
fn shared_dir(dir: &Path) -> PathBuf {
    let shared = dir.join("shared");
    std::fs::create_dir_all(&shared).unwrap();
    std::fs::write(shared.join("hello.txt"), HELLO).unwrap();
    shared
}

/// A manifest granting `VAR` (and an absent variable, which is skipped) and
/// `host` at `/data`, read-only or not.
fn granting(host: &str, read_only: bool) -> String {
    format!(
        "[capabilities]\n\
         environment = [\"{VAR}\", \"COAPWASM_TEST_ABSENT_VAR\"]\n\
         [[capabilities.directories]]\n\
         host = {host:?}\n\
         guest = \"/data\"\n\
         read_only = {read_only}\n"
    )
}

fn path_str(path: &Path) -> String {
    path.to_str().expect("a UTF-8 temp path").to_string()
}

/// GET /test/env, which must answer 2.05; returns its text.
fn env(peer: &mut Peer) -> String {
    let response = peer.get("/test/env");
    assert_eq!(response.code, Code::CONTENT, "GET /test/env: {response}");
    response.payload_text().to_string()
}

fn put_file(peer: &mut Peer, payload: &str) -> Message {
    let request = peer
        .con(Code::PUT, "/test/file")
        .payload(payload.as_bytes());
    peer.exchange(&request)
}

/// Checks a 4.03 from /test/file that carries the plugin's error text.
fn assert_denied(response: &Message, what: &str) {
    assert_eq!(response.code, Code::FORBIDDEN, "{what}: {response}");
    assert!(
        response.payload_text().contains("/data/"),
        "{what}: the diagnostic names the file: {response}"
    );
}

/// Waits for the `count`-th "upgraded plugin" line naming testkit.
fn await_upgrade(server: &Server, count: usize) {
    let upgraded = |line: &str| line.contains("upgraded plugin") && line.contains("testkit");
    if server.log_count(LOG_WAIT, count, upgraded).is_none() {
        panic!(
            "no {count}. `upgraded plugin` line naming testkit within {LOG_WAIT:?}; log:\n{}",
            server.stderr()
        );
    }
}

fn mentions_manifest(line: &str) -> bool {
    line.to_lowercase().contains("manifest") || line.contains("testkit.toml")
}

#[test]
fn without_a_manifest_a_plugin_gets_no_environment_and_no_files() {
    let builder = Server::builder()
        .plugins(&["testkit", "led"])
        .env(VAR, VALUE);
    shared_dir(builder.dir());
    let mut server = builder.start();
    let mut peer = server.peer();

    assert_eq!(env(&mut peer), "unset", "the host's variable leaked");
    assert_denied(&peer.get("/test/file"), "GET /test/file");
    assert_denied(&put_file(&mut peer, "nope"), "PUT /test/file");

    for path in ["/test/counter", "/led"] {
        let response = peer.get(path);
        assert_eq!(response.code, Code::CONTENT, "{path}: {response}");
    }
    server.assert_running();
}

#[test]
fn manifest_grants_environment_and_a_read_only_directory() {
    let builder = Server::builder()
        .plugins(&["testkit", "led"])
        .env(VAR, VALUE);
    let shared = shared_dir(builder.dir());
    let mut server = builder
        .manifest("testkit", &granting(&path_str(&shared), true))
        .start();
    let mut peer = server.peer();

    assert_eq!(env(&mut peer), VALUE);
    let read = peer.get("/test/file");
    assert_eq!(read.code, Code::CONTENT, "{read}");
    assert_eq!(read.payload_text(), HELLO);

    assert_denied(
        &put_file(&mut peer, "must not land"),
        "PUT to a read-only grant",
    );
    assert!(
        !shared.join("out.txt").exists(),
        "a read-only grant let the plugin create out.txt"
    );
    assert_eq!(
        std::fs::read_to_string(shared.join("hello.txt")).unwrap(),
        HELLO
    );

    let led = peer.get("/led");
    assert_eq!(led.code, Code::CONTENT, "{led}");
    server.assert_running();
}

/// `read_only = false` lets the plugin write; the directory is given relative
/// to the manifest's folder.
#[test]
fn writable_directory_lets_the_plugin_write() {
    let builder = Server::builder().plugins(&["testkit"]);
    let shared = shared_dir(builder.dir());
    let server = builder
        .manifest("testkit", &granting("../shared", false))
        .start();
    let mut peer = server.peer();

    let payload = "written by the plugin";
    let write = put_file(&mut peer, payload);
    assert_eq!(write.code, Code::CHANGED, "{write}");
    let written = std::fs::read_to_string(shared.join("out.txt"))
        .unwrap_or_else(|e| panic!("out.txt on the host after a 2.04: {e}"));
    assert_eq!(written, payload);

    let read = peer.get("/test/file");
    assert_eq!(read.code, Code::CONTENT, "{read}");
    assert_eq!(read.payload_text(), HELLO);
}

/// A directory grant without `read_only` is read-only.
#[test]
fn directory_grants_are_read_only_by_default() {
    let builder = Server::builder().plugins(&["testkit"]);
    let shared = shared_dir(builder.dir());
    let manifest = format!(
        "[[capabilities.directories]]\nhost = {:?}\nguest = \"/data\"\n",
        path_str(&shared)
    );
    let server = builder.manifest("testkit", &manifest).start();
    let mut peer = server.peer();

    let read = peer.get("/test/file");
    assert_eq!(read.code, Code::CONTENT, "{read}");
    assert_eq!(read.payload_text(), HELLO);
    assert_denied(&put_file(&mut peer, "must not land"), "PUT, default grant");
    assert!(!shared.join("out.txt").exists());
    // Nothing granted for the environment.
    assert_eq!(env(&mut peer), "unset");
}

/// The number N in a diagnostic's "growing memory to N bytes".
fn grown_to(text: &str) -> Option<u64> {
    let at = text.find("growing memory to ")? + "growing memory to ".len();
    let digits: String = text[at..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().ok()
}

/// `[limits]` in a manifest overrides the host's `[runtime]` default for that
/// plugin: 8 MiB instead of 64 MiB, so the hog is stopped well below 16 MiB.
#[test]
fn manifest_limits_override_the_host_defaults() {
    let server = Server::builder()
        .plugins(&["testkit", "led"])
        .config("[runtime]\nmax_memory_bytes = 67108864\n")
        .manifest("testkit", "[limits]\nmax_memory_bytes = 8388608\n")
        .start();
    let mut peer = server.peer();

    let answer = peer.get("/test/hog");
    assert_eq!(answer.code, Code::INTERNAL_SERVER_ERROR, "{answer}");
    let text = answer.payload_text();
    let size = grown_to(text)
        .unwrap_or_else(|| panic!("no `growing memory to N bytes` in the diagnostic {text:?}"));
    assert!(
        size < 16 * 1024 * 1024,
        "stopped growing to {size} bytes: the manifest's 8 MiB did not apply ({text:?})"
    );

    for path in ["/led", "/test/counter"] {
        let response = peer.get(path);
        assert_eq!(response.code, Code::CONTENT, "{path}: {response}");
    }
}

/// A bad manifest at start-up keeps its plugin out, with a warning naming
/// the component and the manifest; the other plugins serve.
#[test]
fn bad_manifest_at_startup_skips_the_plugin() {
    let bad = [
        (
            "an unknown key",
            "[limits]\nmax_memory_bytes = 8388608\nsurprise = true\n",
        ),
        ("an unknown table", "[wishes]\nroot = true\n"),
        ("a bad value", "[limits]\nmax_memory_bytes = \"lots\"\n"),
        (
            "a missing directory",
            "[[capabilities.directories]]\nhost = \"no-such-folder\"\nguest = \"/data\"\n",
        ),
    ];
    for (what, manifest) in bad {
        let server = Server::builder()
            .plugins(&["testkit", "led"])
            .manifest("testkit", manifest)
            .start();
        let mut peer = server.peer();

        let counter = peer.get("/test/counter");
        assert_eq!(counter.code, Code::NOT_FOUND, "{what}: {counter}");
        let led = peer.get("/led");
        assert_eq!(led.code, Code::CONTENT, "{what}: {led}");

        let line = server
            .log_line(LOG_WAIT, |l| {
                l.contains("skipping plugin file") && l.contains("testkit.wasm")
            })
            .unwrap_or_else(|| {
                panic!(
                    "{what}: no `skipping plugin file` line naming testkit.wasm; log:\n{}",
                    server.stderr()
                )
            });
        assert!(line.contains("WARN"), "{what}: not a warning: {line}");
        assert!(
            mentions_manifest(&line),
            "{what}: the reason does not mention the manifest: {line}"
        );
    }
}

/// Writing, changing and removing a manifest while the server runs reloads
/// the plugin with the new grants; a bad one keeps the previous version, and
/// its grants, serving.
#[test]
fn manifest_changes_while_running_reload_the_plugin() {
    let builder = Server::builder()
        .plugins(&["testkit", "led"])
        .env(VAR, VALUE);
    let shared = shared_dir(builder.dir());
    let shared = path_str(&shared);
    let server = builder.start();
    let folder = server.plugins_folder();
    let mut peer = server.peer();
    assert_eq!(env(&mut peer), "unset");
    assert_denied(&peer.get("/test/file"), "GET before any manifest");

    // Added: the variable and a read-only directory.
    folder.write_manifest("testkit", &granting(&shared, true));
    await_upgrade(&server, 1);
    assert_eq!(env(&mut peer), VALUE);
    let read = peer.get("/test/file");
    assert_eq!(read.code, Code::CONTENT, "{read}");
    assert_eq!(read.payload_text(), HELLO);
    assert_denied(&put_file(&mut peer, "no"), "PUT to a read-only grant");

    // Changed: the directory only, writable now.
    let writable = format!(
        "[[capabilities.directories]]\nhost = {shared:?}\nguest = \"/data\"\nread_only = false\n"
    );
    folder.write_manifest("testkit", &writable);
    await_upgrade(&server, 2);
    assert_eq!(env(&mut peer), "unset", "the removed grant still applies");
    let write = put_file(&mut peer, "first");
    assert_eq!(write.code, Code::CHANGED, "{write}");
    let out = Path::new(&shared).join("out.txt");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "first");

    // Bad: the previous version keeps serving with its previous grants.
    folder.write_manifest("testkit", "[capabilities]\nenvironment = \"not a list\"\n");
    let line = server
        .log_line(LOG_WAIT, |l| {
            l.contains("reload failed") && l.contains("testkit")
        })
        .unwrap_or_else(|| {
            panic!(
                "no `reload failed` line naming testkit; log:\n{}",
                server.stderr()
            )
        });
    assert!(line.contains("WARN"), "not a warning: {line}");
    assert!(
        mentions_manifest(&line),
        "the reason does not mention the manifest: {line}"
    );
    assert_eq!(env(&mut peer), "unset");
    let write = put_file(&mut peer, "second");
    assert_eq!(write.code, Code::CHANGED, "after a bad manifest: {write}");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "second");
    let counter = peer.get("/test/counter");
    assert_eq!(counter.code, Code::CONTENT, "{counter}");

    // Removed: back to no grants at all.
    folder.remove("testkit.toml");
    await_upgrade(&server, 3);
    assert_denied(&peer.get("/test/file"), "GET after the manifest is removed");
    assert_denied(
        &put_file(&mut peer, "third"),
        "PUT after the manifest is removed",
    );
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "second");
    assert_eq!(env(&mut peer), "unset");
    let led = peer.get("/led");
    assert_eq!(led.code, Code::CONTENT, "{led}");
}
