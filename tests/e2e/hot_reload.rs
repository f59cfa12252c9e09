//! Hot reload: the host watches its plugins folder and adds, upgrades and
//! removes plugins while it serves, never serving a half-written or invalid
//! file; plugin state lives in a persistent key-value store, and compiled
//! components in a cache, both under the data directory.
//!
//! The `versioned` test plugin comes in three builds (see
//! `tests/plugins/versioned`): v1 and v2 answer "v1" or "v2" at /versioned,
//! "moved" answers at /versioned-moved instead; all keep a counter at
//! /versioned/state under the same plugin name.
//!
//! The host's log lines ("added plugin", "upgraded plugin", "removed plugin",
//! "reload failed") serve as synchronisation points; the assertions are on
//! what CoAP clients get.

use coapwasm_tests::link_format;
use coapwasm_tests::{CoapClient, Code, Message, Peer, REPLY_TIMEOUT, Server, Type, artifacts};
use coapwasm_tests::{SILENCE, option};
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// How long to wait for a log line that marks a reload; far beyond what a
/// working host needs (debounce plus compiling a small component).
const LOG_WAIT: Duration = Duration::from_secs(10);

/// The file every test serves the versioned plugin from.
const FILE: &str = "versioned.wasm";

/// The bytes of one build of the versioned plugin: "v1", "v2" or "moved".
fn variant(name: &str) -> Vec<u8> {
    let path = artifacts::test_plugin(&format!("versioned-{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// A server whose plugins folder holds `led.wasm` and v1 as `versioned.wasm`.
fn server_with_v1() -> Server {
    Server::builder()
        .plugins(&["led"])
        .test_plugin_as("versioned-v1", FILE)
        .start()
}

/// GET /versioned, which must answer 2.05 text; returns the text.
fn version(peer: &mut Peer) -> String {
    let response = peer.get("/versioned");
    assert_eq!(response.code, Code::CONTENT, "GET /versioned: {response}");
    assert_eq!(response.content_format(), Some(0), "{response}");
    response.payload_text().to_string()
}

/// GET or POST /versioned/state; checks the code and returns the counter.
fn state(peer: &mut Peer, code: Code) -> u64 {
    let response = peer.call(code, "/versioned/state");
    let expected = if code == Code::POST {
        Code::CHANGED
    } else {
        Code::CONTENT
    };
    assert_eq!(
        response.code, expected,
        "{code} /versioned/state: {response}"
    );
    response
        .payload_text()
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("no counter in {response}"))
}

/// The targets /.well-known/core lists, asked with coap-client, sorted.
fn discovered(server: &Server) -> Vec<String> {
    let output = CoapClient::get(&server.uri("/.well-known/core")).run();
    output.assert_code("2.05");
    let links = link_format::parse(output.payload_text())
        .unwrap_or_else(|e| panic!("not link-format ({e})\n{}", output.shown()));
    let mut targets = link_format::targets(&links);
    targets.sort();
    targets
}

fn sorted(paths: &[&str]) -> Vec<String> {
    let mut paths: Vec<String> = paths.iter().map(|p| p.to_string()).collect();
    paths.sort();
    paths
}

/// Whether `line` names the file `name` itself, not a longer name containing
/// it such as `.versioned.wasm.tmp` or `versioned.wasm.part`.
fn names_file(line: &str, name: &str) -> bool {
    let part_of_name = |c: char| c.is_alphanumeric() || matches!(c, '.' | '-' | '_');
    line.match_indices(name).any(|(at, _)| {
        let before = line[..at].chars().next_back();
        let after = line[at + name.len()..].chars().next();
        !before.is_some_and(|c| part_of_name(c) && c != '/')
            && !after.is_some_and(|c| c.is_alphanumeric() || matches!(c, '-' | '_'))
            && !line[at + name.len()..].starts_with(".tmp")
            && !line[at + name.len()..].starts_with(".part")
    })
}

/// A reload log line: `what` ("added plugin", ...) naming `file`.
fn reload_line(what: &'static str, file: &'static str) -> impl Fn(&str) -> bool {
    move |line| line.contains(what) && names_file(line, file)
}

/// Waits for the `count`-th log line saying `what` about `file` and returns it,
/// after checking it carries `ms=<n>`.
fn await_reload(server: &Server, what: &'static str, file: &'static str, count: usize) -> String {
    let lines = server
        .log_count(LOG_WAIT, count, reload_line(what, file))
        .unwrap_or_else(|| {
            panic!(
                "no {count}. `{what}` line naming {file} within {LOG_WAIT:?}; log:\n{}",
                server.stderr()
            )
        });
    let line = lines[count - 1].clone();
    assert!(
        ms_field(&line).is_some(),
        "`{what}` line without ms=<n>: {line}"
    );
    line
}

/// The number in a `ms=<n>` field of a log line.
fn ms_field(line: &str) -> Option<u64> {
    line.match_indices("ms=").find_map(|(at, _)| {
        let starts_field = line[..at]
            .chars()
            .next_back()
            .is_none_or(|c| c.is_whitespace() || c == '{' || c == ',');
        let digits: String = line[at + 3..]
            .chars()
            .take_while(|c| c.is_ascii_digit())
            .collect();
        if starts_field {
            digits.parse().ok()
        } else {
            None
        }
    })
}

/// Checks that a WARN `reload failed` line names `file` and gives a reason.
fn assert_reload_failure_line(server: &Server, line: &str, file: &str) {
    assert!(line.contains("WARN"), "not a warning: {line}");
    let rest = line
        .replace(&server.plugins_dir().display().to_string(), "")
        .to_lowercase();
    let after = rest[rest.find("reload failed").unwrap() + "reload failed".len()..]
        .replace(&file.to_lowercase(), "");
    let reason_words = after
        .split(|c: char| !c.is_alphabetic())
        .filter(|w| w.len() >= 3 && !["plugin", "file", "wasm", "versioned"].contains(w))
        .count();
    assert!(reason_words >= 2, "no reason given: {line}");
}

/// GETs /versioned over and over on its own socket until stopped, bounded in
/// count and time, so a test can check that every request a change of file
/// overlaps is served by one version or the other.
struct Poller {
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<Vec<Message>>>,
}

impl Poller {
    const MAX_REQUESTS: usize = 20_000;
    const MAX_TIME: Duration = Duration::from_secs(60);

    fn start(server: &Server) -> Poller {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let mut peer = server.peer();
        let thread = thread::spawn(move || {
            let deadline = Instant::now() + Self::MAX_TIME;
            let mut responses = Vec::new();
            while !stopped.load(Ordering::Relaxed)
                && responses.len() < Self::MAX_REQUESTS
                && Instant::now() < deadline
            {
                responses.push(peer.get("/versioned"));
            }
            responses
        });
        Poller {
            stop,
            thread: Some(thread),
        }
    }

    /// Stops polling and asserts every answer was 2.05 with one of `allowed`;
    /// returns how many requests were answered.
    fn finish(mut self, allowed: &[&str]) -> usize {
        self.stop.store(true, Ordering::Relaxed);
        let responses = match self.thread.take().unwrap().join() {
            Ok(responses) => responses,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        assert!(!responses.is_empty(), "the poller sent no request");
        for response in &responses {
            assert!(
                response.code == Code::CONTENT
                    && allowed.contains(&String::from_utf8_lossy(&response.payload).as_ref()),
                "a request during the change was not served by one of {allowed:?}: {response}"
            );
        }
        responses.len()
    }
}

impl Drop for Poller {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

// --- the folder changes -------------------------------------------------

/// A new *.wasm file, copied into the folder while the host runs: its
/// resources serve and appear in /.well-known/core; the others are untouched.
#[test]
fn new_file_is_added_and_served() {
    let server = Server::with_plugins(&["led"]);
    let mut peer = server.peer();
    assert_eq!(peer.get("/versioned").code, Code::NOT_FOUND);
    assert_eq!(discovered(&server), ["/led"]);

    server.plugins_folder().overwrite(FILE, &variant("v1"));
    let line = await_reload(&server, "added plugin", FILE, 1);
    assert!(line.contains("INFO"), "not INFO: {line}");

    assert_eq!(version(&mut peer), "v1");
    assert_eq!(state(&mut peer, Code::GET), 0);
    assert_eq!(
        discovered(&server),
        sorted(&["/led", "/versioned", "/versioned/state"])
    );
    assert_eq!(peer.get("/led").code, Code::CONTENT);
}

/// A file replaced by another version: the next requests get the new one.
#[test]
fn replaced_file_upgrades_the_plugin() {
    let server = server_with_v1();
    let mut peer = server.peer();
    assert_eq!(version(&mut peer), "v1");

    server
        .plugins_folder()
        .write_then_rename(".versioned.wasm.tmp", FILE, &variant("v2"));
    let line = await_reload(&server, "upgraded plugin", FILE, 1);
    assert!(line.contains("INFO"), "not INFO: {line}");

    assert_eq!(version(&mut peer), "v2");
    assert_eq!(
        discovered(&server),
        sorted(&["/led", "/versioned", "/versioned/state"])
    );
    assert!(
        server
            .log_lines(reload_line("added plugin", FILE))
            .is_empty(),
        "an upgrade is not an addition:\n{}",
        server.stderr()
    );
}

/// A deleted file: its paths answer 4.04 and leave discovery; the plugin can
/// come back later, with the state it had.
#[test]
fn deleted_file_removes_the_plugin() {
    let server = server_with_v1();
    let mut peer = server.peer();
    assert_eq!(state(&mut peer, Code::POST), 1);

    server.plugins_folder().remove(FILE);
    let line = await_reload(&server, "removed plugin", FILE, 1);
    assert!(line.contains("INFO"), "not INFO: {line}");

    for path in ["/versioned", "/versioned/state"] {
        let response = peer.get(path);
        assert_eq!(response.code, Code::NOT_FOUND, "GET {path}: {response}");
    }
    assert_eq!(discovered(&server), ["/led"]);
    assert_eq!(peer.get("/led").code, Code::CONTENT);

    server.plugins_folder().overwrite(FILE, &variant("v1"));
    await_reload(&server, "added plugin", FILE, 1);
    assert_eq!(version(&mut peer), "v1");
    assert_eq!(
        state(&mut peer, Code::GET),
        1,
        "the store keeps a removed plugin's state"
    );
}

/// Files that are no plugin replacing a served one: each is refused with one
/// WARN line naming it and the reason, and the old version keeps serving;
/// a good file afterwards is loaded.
#[test]
fn invalid_replacement_keeps_the_old_version() {
    let server = server_with_v1();
    let mut peer = server.peer();
    assert_eq!(version(&mut peer), "v1");

    let garbage: Vec<u8> = (0..4096u32).map(|i| (i * 7919 % 251) as u8).collect();
    let core_module = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
    for (attempt, bytes) in [&garbage[..], &core_module[..]].into_iter().enumerate() {
        let count = attempt + 1;
        server.plugins_folder().overwrite(FILE, bytes);
        let lines = server
            .log_count(LOG_WAIT, count, reload_line("reload failed", FILE))
            .unwrap_or_else(|| {
                panic!(
                    "no {count}. `reload failed` line naming {FILE}; log:\n{}",
                    server.stderr()
                )
            });
        assert_reload_failure_line(&server, &lines[count - 1], FILE);

        assert_eq!(version(&mut peer), "v1", "attempt {count}");
        assert_eq!(state(&mut peer, Code::GET), 0, "attempt {count}");
        assert_eq!(
            discovered(&server),
            sorted(&["/led", "/versioned", "/versioned/state"]),
            "attempt {count}"
        );
        // One line per failed file, not one per file-system event.
        thread::sleep(SILENCE);
        let failures = server.log_lines(reload_line("reload failed", FILE));
        assert_eq!(failures.len(), count, "{failures:#?}");
    }

    server
        .plugins_folder()
        .write_then_rename(".versioned.wasm.tmp", FILE, &variant("v2"));
    await_reload(&server, "upgraded plugin", FILE, 1);
    assert_eq!(version(&mut peer), "v2");
}

/// `cp` over the served file in two chunks with a pause between them: every
/// request meanwhile is served by v1 or v2, and in the end v2 serves. With a
/// debounce far longer than the pause, the half file is not even tried.
#[test]
fn file_written_in_chunks_is_never_served_half() {
    let server = Server::builder()
        .config("[reload]\ndebounce_ms = 1000\n")
        .plugins(&["led"])
        .test_plugin_as("versioned-v1", FILE)
        .start();
    let mut peer = server.peer();
    assert_eq!(version(&mut peer), "v1");

    let poller = Poller::start(&server);
    server
        .plugins_folder()
        .write_in_chunks(FILE, &variant("v2"), 2, Duration::from_millis(50));
    await_reload(&server, "upgraded plugin", FILE, 1);
    assert_eq!(version(&mut peer), "v2");
    let served = poller.finish(&["v1", "v2"]);
    eprintln!("{served} requests during the write");

    let failures = server.log_lines(|l| l.contains("reload failed"));
    assert!(
        failures.is_empty(),
        "a 50 ms pause must not end a 1000 ms debounce: {failures:#?}"
    );
}

/// The same with the default debounce and a pause that outlasts it: the half
/// file is tried and refused with a warning while v1 serves, and the complete
/// file is then loaded.
#[test]
fn half_written_file_fails_and_the_complete_one_loads() {
    let server = server_with_v1();
    let mut peer = server.peer();
    assert_eq!(version(&mut peer), "v1");

    let poller = Poller::start(&server);
    let v2 = variant("v2");
    let write = server.plugins_folder().begin_write(FILE, &v2, v2.len() / 2);
    let failure = server
        .log_line(LOG_WAIT, reload_line("reload failed", FILE))
        .unwrap_or_else(|| panic!("no `reload failed` line for the half file"));
    assert_reload_failure_line(&server, &failure, FILE);
    assert_eq!(version(&mut peer), "v1");

    write.finish();
    await_reload(&server, "upgraded plugin", FILE, 1);
    assert_eq!(version(&mut peer), "v2");
    poller.finish(&["v1", "v2"]);
}

/// Write-then-rename, the way installers and `mv` deliver files: staged
/// under names not ending in .wasm (`versioned.wasm.part`,
/// `.versioned.wasm.tmp`), which are ignored however long they sit there,
/// then renamed into place, which is one change.
#[test]
fn file_renamed_into_place_is_loaded_once() {
    let server = Server::with_plugins(&["led"]);
    let mut peer = server.peer();
    let folder = server.plugins_folder();

    folder.stage("versioned.wasm.part", &variant("v1"));
    thread::sleep(2 * SILENCE);
    assert_eq!(peer.get("/versioned").code, Code::NOT_FOUND);
    assert_eq!(discovered(&server), ["/led"]);
    folder.rename("versioned.wasm.part", FILE);
    await_reload(&server, "added plugin", FILE, 1);
    assert_eq!(version(&mut peer), "v1");

    folder.stage(".versioned.wasm.tmp", &variant("v2"));
    thread::sleep(2 * SILENCE);
    assert_eq!(version(&mut peer), "v1", "a .tmp file was loaded");
    folder.rename(".versioned.wasm.tmp", FILE);
    await_reload(&server, "upgraded plugin", FILE, 1);
    assert_eq!(version(&mut peer), "v2");

    thread::sleep(SILENCE);
    let log = server.stderr();
    let reloads: Vec<&str> = log
        .lines()
        .filter(|l| {
            [
                "added plugin",
                "upgraded plugin",
                "removed plugin",
                "reload failed",
            ]
            .iter()
            .any(|what| l.contains(what))
        })
        .collect();
    assert_eq!(
        reloads.len(),
        2,
        "one addition and one upgrade, nothing for the staged files:\n{log}"
    );
}

/// A version that serves other paths moves its routes: /versioned is gone
/// (4.04, not in discovery), /versioned-moved serves; and back again.
#[test]
fn new_version_moves_its_routes() {
    let server = server_with_v1();
    let mut peer = server.peer();
    assert_eq!(state(&mut peer, Code::POST), 1);
    let folder = server.plugins_folder();

    folder.write_then_rename(".versioned.wasm.tmp", FILE, &variant("moved"));
    await_reload(&server, "upgraded plugin", FILE, 1);
    let response = peer.get("/versioned");
    assert_eq!(response.code, Code::NOT_FOUND, "{response}");
    let response = peer.get("/versioned-moved");
    assert_eq!(response.code, Code::CONTENT, "{response}");
    assert_eq!(response.payload_text(), "moved");
    assert_eq!(state(&mut peer, Code::GET), 1);
    assert_eq!(
        discovered(&server),
        sorted(&["/led", "/versioned-moved", "/versioned/state"])
    );

    folder.write_then_rename(".versioned.wasm.tmp", FILE, &variant("v1"));
    await_reload(&server, "upgraded plugin", FILE, 2);
    let response = peer.get("/versioned-moved");
    assert_eq!(response.code, Code::NOT_FOUND, "{response}");
    assert_eq!(version(&mut peer), "v1");
    assert_eq!(
        discovered(&server),
        sorted(&["/led", "/versioned", "/versioned/state"])
    );
}

/// A burst of overwrites in place, faster than the debounce: whatever the
/// host makes of the intermediate states, every request is served by v1 or
/// v2, and it settles on the last file written.
#[test]
fn burst_of_changes_settles_on_the_last_file() {
    let server = server_with_v1();
    let mut peer = server.peer();
    assert_eq!(version(&mut peer), "v1");
    let (v1, v2) = (variant("v1"), variant("v2"));

    let poller = Poller::start(&server);
    let folder = server.plugins_folder();
    for round in 0..10 {
        let bytes = if round % 2 == 0 { &v1 } else { &v2 };
        folder.overwrite(FILE, bytes);
        folder.write_then_rename(".versioned.wasm.tmp", FILE, bytes);
    }
    // The last file written was v2.
    let deadline = Instant::now() + LOG_WAIT;
    let mut attempts = 0;
    while version(&mut peer) != "v2" {
        attempts += 1;
        assert!(
            Instant::now() < deadline && attempts < 1000,
            "v2 not served within {LOG_WAIT:?} of the burst; log:\n{}",
            server.stderr()
        );
        thread::sleep(Duration::from_millis(50));
    }
    // Long after the last change, still v2: no stale reload came later.
    thread::sleep(2 * SILENCE);
    assert_eq!(version(&mut peer), "v2");
    poller.finish(&["v1", "v2"]);
}

/// A request being handled by v1 when v2 replaces it finishes in v1, while
/// new requests are already served by v2.
#[test]
fn request_inside_the_old_version_finishes_there() {
    let server = server_with_v1();
    let mut slow = server.peer();
    let mut fast = server.peer();
    assert_eq!(version(&mut fast), "v1");

    // Long enough that the swap happens while it runs; the empty ACK the host
    // sends after separate_response_after_ms shows the request is in progress.
    let request = slow.con(Code::GET, "/versioned?ms=6000");
    slow.send(&request);
    let ack = slow.expect(REPLY_TIMEOUT, "an empty ACK to the slow request");
    assert!(
        ack.mtype == Type::Ack && ack.code == Code::EMPTY && ack.mid == request.mid,
        "expected an empty ACK for a request still being handled: {ack}"
    );

    server
        .plugins_folder()
        .write_then_rename(".versioned.wasm.tmp", FILE, &variant("v2"));
    await_reload(&server, "upgraded plugin", FILE, 1);
    assert_eq!(version(&mut fast), "v2");
    assert!(
        slow.recv(Duration::from_millis(1)).is_none(),
        "the slow request was answered before v2 served: the swap should not wait for it"
    );

    let response = slow.expect(REPLY_TIMEOUT, "the separate response from v1");
    assert_eq!(response.token, request.token, "{response}");
    if response.mtype == Type::Con {
        slow.send(&Message::new(Type::Ack, Code::EMPTY, response.mid));
    }
    assert_eq!(response.code, Code::CONTENT, "{response}");
    assert_eq!(
        response.payload_text(),
        "v1",
        "the request that entered v1 finishes there"
    );
}

// --- state and restarts -------------------------------------------------

/// The counter in the key-value store survives an upgrade and a restart, and
/// each plugin sees only its own namespace: testkit's /test/counter keeps its
/// count under the same key name.
#[test]
fn state_survives_upgrade_and_restart() {
    let mut server = Server::builder()
        .plugins(&["testkit"])
        .test_plugin_as("versioned-v1", FILE)
        .start();
    let mut peer = server.peer();
    for expected in 1..=3 {
        assert_eq!(state(&mut peer, Code::POST), expected);
    }
    assert_eq!(coapwasm_tests::testkit::read_counter(&mut peer), 0);
    assert_eq!(peer.call(Code::POST, "/test/counter").code, Code::CHANGED);

    server
        .plugins_folder()
        .write_then_rename(".versioned.wasm.tmp", FILE, &variant("v2"));
    await_reload(&server, "upgraded plugin", FILE, 1);
    assert_eq!(version(&mut peer), "v2");
    assert_eq!(state(&mut peer, Code::GET), 3, "the upgrade lost the state");
    assert_eq!(state(&mut peer, Code::POST), 4);

    server.restart();
    let mut peer = server.peer();
    assert_eq!(version(&mut peer), "v2");
    assert_eq!(state(&mut peer, Code::GET), 4, "the restart lost the state");
    assert_eq!(coapwasm_tests::testkit::read_counter(&mut peer), 1);
}

fn put_led(server: &Server, state: &str) {
    let mut peer = server.peer();
    let put = peer
        .con(Code::PUT, "/led")
        .uint_option(option::CONTENT_FORMAT, 50)
        .payload(format!(r#"{{"state":"{state}"}}"#).as_bytes());
    let response = peer.exchange(&put);
    assert_eq!(response.code, Code::CHANGED, "{response}");
}

fn led(server: &Server) -> serde_json::Value {
    let response = server.peer().get("/led");
    assert_eq!(response.code, Code::CONTENT, "{response}");
    response.payload_json()
}

/// The LED's state survives an orderly restart.
#[test]
fn led_state_survives_restart() {
    let mut server = Server::with_plugins(&["led"]);
    assert_eq!(led(&server), json!({"state": "off"}));
    put_led(&server, "on");

    server.restart();
    assert_eq!(led(&server), json!({"state": "on"}));

    let output = CoapClient::get(&server.uri("/led")).method("post").run();
    output.assert_code("2.04");
    assert_eq!(output.payload_json(), json!({"state": "off"}));
    server.restart();
    assert_eq!(led(&server), json!({"state": "off"}));
}

/// A 2.04 means the change is stored: SIGKILL right after it loses nothing.
#[test]
fn led_state_survives_kill_9() {
    let mut server = Server::with_plugins(&["led"]);
    for state in ["on", "off", "on"] {
        put_led(&server, state);
        server.kill();
        server.restart();
        assert_eq!(
            led(&server),
            json!({"state": state}),
            "after PUT {state}, 2.04 and kill -9"
        );
    }
}

/// The second start with the same data directory loads every plugin from the
/// compiled-component cache (`cached=true` in its "loaded plugin" line), and
/// the cached plugins serve; a file that changed meanwhile is compiled anew,
/// and its new version serves.
#[test]
fn restart_loads_plugins_from_the_compile_cache() {
    let mut server = Server::builder()
        .plugins(&["led", "info"])
        .test_plugin_as("versioned-v1", FILE)
        .start();
    let files = ["led.wasm", "info.wasm", FILE];
    // The log is read by another thread, so it may lag behind `listening on`.
    let loaded = |server: &Server, file: &'static str| -> String {
        let lines = server
            .log_count(LOG_WAIT, 1, move |l| {
                l.contains("loaded plugin") && names_file(l, file)
            })
            .unwrap_or_default();
        assert_eq!(
            lines.len(),
            1,
            "one `loaded plugin` line for {file}:\n{}",
            server.stderr()
        );
        lines[0].clone()
    };
    for file in files {
        let line = loaded(&server, file);
        assert!(line.contains("cached=false"), "first start: {line}");
    }
    assert!(server.data_dir().is_dir(), "no data directory was created");

    server.restart();
    for file in files {
        let line = loaded(&server, file);
        assert!(line.contains("cached=true"), "second start: {line}");
    }
    let mut peer = server.peer();
    assert_eq!(peer.get("/led").code, Code::CONTENT);
    assert_eq!(peer.get("/info").code, Code::CONTENT);
    assert_eq!(version(&mut peer), "v1");

    server.stop();
    server.plugins_folder().overwrite(FILE, &variant("v2"));
    server.restart();
    let line = loaded(&server, FILE);
    assert!(line.contains("cached=false"), "a changed file: {line}");
    assert!(loaded(&server, "led.wasm").contains("cached=true"));
    assert_eq!(version(&mut server.peer()), "v2", "a stale compile served");
}

/// `data_dir` in the config file, and without it the default `coapwasm-data`
/// in the working directory, hold the state across a restart.
#[test]
fn data_dir_from_config_or_default() {
    for (config, expected) in [
        (Some("data_dir = \"{data}\"\n"), "data"),
        (None, "coapwasm-data"),
    ] {
        let mut builder = Server::builder().plugins(&["led"]).without_data_dir_flag();
        if let Some(config) = config {
            builder = builder.config(config);
        }
        let mut server = builder.start();
        put_led(&server, "on");
        server.restart();
        assert_eq!(led(&server), json!({"state": "on"}), "data dir {expected}");
        let dir = server.dir().join(expected);
        assert!(dir.is_dir(), "{} was not created", dir.display());
    }
}

// --- under load -----------------------------------------------------------

/// Client sockets, and requests each keeps in flight: at least 8 in flight
/// at any moment, 12 most of the time.
const LOAD_SOCKETS: usize = 4;
const LOAD_WINDOW: usize = 3;
/// Requests one load socket sends before another takes its place.
const MIDS_PER_SOCKET: u32 = 60_000;
const UPGRADES: usize = 50;
const LOAD_TEST_LIMIT: Duration = Duration::from_secs(120);

/// What one load socket saw.
#[derive(Default)]
struct LoadReport {
    sent: u64,
    answers: HashMap<String, u64>,
    separate: u64,
    failures: Vec<String>,
}

/// Keeps `LOAD_WINDOW` CON GETs of /versioned in flight on one socket,
/// matching responses by token, until `stop` (then drains) or `deadline`.
/// Never retransmits: on loopback a request without an answer is lost by the
/// server.
fn load_socket(
    server: SocketAddr,
    stop: Arc<AtomicBool>,
    answered: Arc<AtomicU64>,
    deadline: Instant,
) -> LoadReport {
    let mut peer = Peer::new(server);
    let mut report = LoadReport::default();
    // token -> (mid, sent at)
    let mut in_flight: HashMap<Vec<u8>, (u16, Instant)> = HashMap::new();
    let mut done: HashSet<Vec<u8>> = HashSet::new();
    let mut sent_on_socket = 0;
    let fail = |report: &mut LoadReport, what: String| {
        if report.failures.len() < 50 {
            report.failures.push(what);
        }
    };
    for _ in 0..10_000_000u64 {
        let now = Instant::now();
        if now >= deadline {
            fail(
                &mut report,
                format!("test deadline reached with {} in flight", in_flight.len()),
            );
            break;
        }
        let stopping = stop.load(Ordering::Relaxed);
        if stopping && in_flight.is_empty() {
            break;
        }
        // A message id may not be used again within EXCHANGE_LIFETIME
        // (RFC 7252 §4.4), which 65,536 requests of one socket would do at
        // this rate: a drained socket gives way to a fresh one first.
        if sent_on_socket >= MIDS_PER_SOCKET && in_flight.is_empty() {
            peer = Peer::new(server);
            sent_on_socket = 0;
            done.clear();
        }
        while !stopping && in_flight.len() < LOAD_WINDOW && sent_on_socket < MIDS_PER_SOCKET {
            sent_on_socket += 1;
            let request = peer.con(Code::GET, "/versioned");
            peer.send(&request);
            in_flight.insert(request.token.clone(), (request.mid, Instant::now()));
            report.sent += 1;
        }
        let expired: Vec<Vec<u8>> = in_flight
            .iter()
            .filter(|(_, (_, at))| now.duration_since(*at) > REPLY_TIMEOUT)
            .map(|(token, _)| token.clone())
            .collect();
        for token in expired {
            let (mid, _) = in_flight.remove(&token).unwrap();
            fail(
                &mut report,
                format!("lost: no response within {REPLY_TIMEOUT:?} to mid {mid:#06x}"),
            );
        }
        let Some(bytes) = peer.recv_raw(Duration::from_millis(50)) else {
            continue;
        };
        let reply = match Message::decode(&bytes) {
            Ok(reply) => reply,
            Err(e) => {
                fail(&mut report, format!("malformed datagram: {e}"));
                continue;
            }
        };
        if reply.mtype == Type::Ack && reply.code == Code::EMPTY {
            // A request taking longer than separate_response_after_ms.
            if !in_flight.values().any(|(mid, _)| *mid == reply.mid) {
                fail(&mut report, format!("empty ACK for no request: {reply}"));
            }
            continue;
        }
        if reply.mtype == Type::Con {
            peer.send(&Message::new(Type::Ack, Code::EMPTY, reply.mid));
        }
        match in_flight.remove(&reply.token) {
            Some((mid, _)) => {
                if reply.mtype == Type::Ack && reply.mid != mid {
                    fail(&mut report, format!("ACK with the wrong mid: {reply}"));
                } else if reply.mtype == Type::Rst {
                    fail(&mut report, format!("reset: {reply}"));
                }
                if reply.mtype != Type::Ack {
                    report.separate += 1;
                }
                let text = String::from_utf8_lossy(&reply.payload).into_owned();
                if reply.code == Code::CONTENT && (text == "v1" || text == "v2") {
                    *report.answers.entry(text).or_default() += 1;
                    answered.fetch_add(1, Ordering::Relaxed);
                } else {
                    fail(&mut report, format!("failed request: {reply}"));
                }
                done.insert(reply.token);
            }
            // A retransmitted separate response whose ACK went missing.
            None if done.contains(&reply.token) && reply.mtype == Type::Con => {}
            None => fail(&mut report, format!("response to no request: {reply}")),
        }
    }
    report
}

/// Sets the flag when dropped, so load threads end even if the test panics.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// 50 upgrades in a row, alternating v2 and v1 renamed into place, under a
/// steady load of concurrent GET /versioned: not one request fails or is
/// lost, and both versions answer.
#[test]
fn fifty_upgrades_under_load_lose_no_request() {
    let started = Instant::now();
    let deadline = started + LOAD_TEST_LIMIT;
    let server = Server::builder()
        .test_plugin_as("versioned-v1", FILE)
        .start();
    let mut peer = server.peer();
    assert_eq!(version(&mut peer), "v1");
    let (v1, v2) = (variant("v1"), variant("v2"));

    let stop = Arc::new(AtomicBool::new(false));
    let _stop_on_drop = StopOnDrop(Arc::clone(&stop));
    let answered = Arc::new(AtomicU64::new(0));
    let threads: Vec<_> = (0..LOAD_SOCKETS)
        .map(|_| {
            let (addr, stop, answered) = (server.addr(), Arc::clone(&stop), Arc::clone(&answered));
            thread::spawn(move || load_socket(addr, stop, answered, deadline))
        })
        .collect();

    // The load is flowing before the first swap.
    for _ in 0..1000 {
        if answered.load(Ordering::Relaxed) >= 100 || Instant::now() >= deadline {
            break;
        }
        thread::sleep(Duration::from_millis(10));
    }
    assert!(
        answered.load(Ordering::Relaxed) >= 100,
        "the load did not get going"
    );

    let folder = server.plugins_folder();
    let before = answered.load(Ordering::Relaxed);
    let swaps_started = Instant::now();
    let mut reload_ms = Vec::new();
    for upgrade in 1..=UPGRADES {
        let bytes = if upgrade % 2 == 1 { &v2 } else { &v1 };
        folder.write_then_rename(".versioned.wasm.tmp", FILE, bytes);
        let line = await_reload(&server, "upgraded plugin", FILE, upgrade);
        reload_ms.extend(ms_field(&line));
        assert!(
            Instant::now() < deadline,
            "only {upgrade} upgrades within {LOAD_TEST_LIMIT:?}"
        );
    }
    let during = answered.load(Ordering::Relaxed) - before;
    let swap_time = swaps_started.elapsed();

    stop.store(true, Ordering::Relaxed);
    let mut total = LoadReport::default();
    for thread in threads {
        let report = match thread.join() {
            Ok(report) => report,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        total.sent += report.sent;
        total.separate += report.separate;
        total.failures.extend(report.failures);
        for (answer, count) in report.answers {
            *total.answers.entry(answer).or_default() += count;
        }
    }
    let answered_total: u64 = total.answers.values().sum();
    reload_ms.sort_unstable();
    println!(
        "load: {during} requests served during {UPGRADES} upgrades ({swap_time:?}); \
         {} sent, {answered_total} answered ({:?}), {} separate responses; \
         reload ms min/median/max {:?}/{:?}/{:?}",
        total.sent,
        total.answers,
        total.separate,
        reload_ms.first(),
        reload_ms.get(reload_ms.len() / 2),
        reload_ms.last(),
    );
    assert!(
        total.failures.is_empty(),
        "{} failed or lost requests, the first: {:#?}",
        total.failures.len(),
        total.failures
    );
    assert_eq!(answered_total, total.sent, "every request answered");
    for answer in ["v1", "v2"] {
        assert!(
            total.answers.get(answer).copied().unwrap_or(0) > 0,
            "no request was answered {answer}: {:?}",
            total.answers
        );
    }
    // The 50th upgrade installed v1.
    assert_eq!(version(&mut peer), "v1");
    assert!(
        started.elapsed() < LOAD_TEST_LIMIT,
        "took {:?}",
        started.elapsed()
    );
}
