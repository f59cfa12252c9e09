//! Cold start (issue 13, finding 8): with an empty compile cache the host
//! listens at once and each plugin serves as soon as it is ready, while a
//! large one still compiles; a path no ready plugin serves is 5.03 with
//! Max-Age while plugins load (they may serve it), 4.04 after.

use coapwasm_tests::{Code, Message, Peer, STARTUP_TIMEOUT, Server, link_format, option};
use serde_json::json;
use std::thread;
use std::time::{Duration, Instant};

/// Between two requests of a client waiting for a resource that was not
/// ready, at most (it honours Max-Age when the host sends one).
const RETRY: Duration = Duration::from_millis(20);

/// Asserts that `response`, to a GET of `path`, is the host's answer for a
/// path whose plugin may still be loading: 5.03, Max-Age, a diagnostic.
fn assert_still_loading(path: &str, response: &Message) {
    assert_eq!(
        response.code,
        Code::SERVICE_UNAVAILABLE,
        "GET {path} while plugins load must be 5.03 (not 4.04, not served yet): {response}"
    );
    let max_age = response.uint_option_value(option::MAX_AGE);
    assert!(
        max_age.is_some_and(|seconds| (1..=10).contains(&seconds)),
        "5.03 for {path} says when to retry with a short Max-Age: {response}"
    );
    assert!(
        response.payload_text().contains("loading"),
        "5.03 for {path} has a diagnostic saying plugins are loading: {response}"
    );
}

/// GETs `path` until it is 2.05, each earlier answer being 5.03 for a plugin
/// still loading; retries after the Max-Age of a 5.03 (capped at `RETRY`:
/// the test need not wait a whole second). Returns the 2.05.
fn get_when_ready(peer: &mut Peer, path: &str, deadline: Instant) -> Message {
    loop {
        let response = peer.get(path);
        if response.code == Code::CONTENT {
            return response;
        }
        assert_still_loading(path, &response);
        assert!(
            Instant::now() < deadline,
            "GET {path} still 5.03 after {STARTUP_TIMEOUT:?}: {response}"
        );
        thread::sleep(RETRY);
    }
}

fn targets(peer: &mut Peer) -> (Vec<String>, Option<u32>) {
    // Block-wise past a few links (the amplification bound): fetch it whole.
    let request = peer.con(Code::GET, "/.well-known/core");
    let discovery = peer.fetch(&request);
    assert_eq!(discovery.code, Code::CONTENT, "{discovery}");
    let links = link_format::parse(discovery.payload_text()).unwrap();
    (
        link_format::targets(&links),
        discovery.uint_option_value(option::MAX_AGE),
    )
}

/// The Python `greeting` (18 MB, CPython inside) takes seconds to compile,
/// the Rust `led` a fraction of one. With a cold cache, /led answers 2.05
/// while /greeting is still 5.03 with Max-Age and /.well-known/core lists
/// /led alone; later /greeting answers 2.05 too, and once the load is done an
/// unknown path is 4.04 again. Today's main binds only after compiling every
/// plugin, so its first /greeting is already 2.05.
#[test]
fn a_small_plugin_serves_while_a_large_one_compiles() {
    let started = Instant::now();
    let mut server = Server::builder()
        .plugins(&["greeting", "led"])
        .without_waiting_for_plugins()
        .start();
    let listening = started.elapsed();
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    let mut peer = server.peer();

    let led = get_when_ready(&mut peer, "/led", deadline);
    let led_ready = started.elapsed();
    assert_eq!(led.payload_json(), json!({"state": "off"}), "{led}");

    let greeting = peer.get("/greeting");
    assert_still_loading("/greeting", &greeting);
    assert_eq!(
        server.plugins_loaded(),
        None,
        "the load is not done while /greeting is 5.03"
    );
    assert_still_loading("/nothing-here", &peer.get("/nothing-here"));
    let (listed, max_age) = targets(&mut peer);
    assert_eq!(listed, ["/led"], "/.well-known/core lists what is ready");
    assert!(
        max_age.is_some_and(|seconds| seconds <= 10),
        "the incomplete /.well-known/core is not to be cached for the default 60 s: {max_age:?}"
    );

    let greeting = get_when_ready(&mut peer, "/greeting", deadline);
    let greeting_ready = started.elapsed();
    assert_eq!(greeting.payload_text(), "Hello, world!", "{greeting}");

    let loaded = server.wait_plugins_loaded();
    assert!(loaded.contains("2 serving"), "{loaded}");
    let unknown = peer.get("/nothing-here");
    assert_eq!(
        unknown.code,
        Code::NOT_FOUND,
        "after the load, an unknown path is 4.04: {unknown}"
    );
    assert_eq!(
        unknown.uint_option_value(option::MAX_AGE),
        None,
        "{unknown}"
    );
    let (listed, max_age) = targets(&mut peer);
    assert_eq!(listed, ["/greeting", "/led"]);
    assert_eq!(max_age, None, "the complete list has the default Max-Age");

    for plugin in ["greeting", "led"] {
        assert!(
            server
                .log_line(Duration::from_secs(5), |l| l.contains("loaded plugin")
                    && l.contains(&format!("plugin=\"{plugin}\""))
                    && l.contains("cached=false"))
                .is_some(),
            "no `loaded plugin` line for {plugin} compiled cold; log:\n{}",
            server.stderr()
        );
    }
    assert!(
        server
            .log_line(Duration::from_secs(5), |l| l.contains("initial load done"))
            .is_some(),
        "no `initial load done` line; log:\n{}",
        server.stderr()
    );
    eprintln!(
        "cold start: listening after {listening:?}, /led 2.05 after {led_ready:?}, \
         /greeting 2.05 after {greeting_ready:?}"
    );
}

/// Of two plugins claiming /led the one whose file name sorts first wins,
/// even when it is ready last: `a-slow.wasm` (the test plugin `slowstart`,
/// which takes 2 s to describe itself) against `led.wasm`. `led` serves /led
/// while `slowstart` loads, then `slowstart` takes it and `led.wasm` is
/// refused, as a load one by one in name order would end. Today's main
/// serves nothing until both are loaded, so its first /led is `slowstart`'s.
#[test]
fn the_first_file_name_wins_a_clash_even_when_ready_last() {
    let mut server = Server::builder()
        .plugins(&["led"])
        .plugin_as("slowstart", "a-slow.wasm")
        .without_waiting_for_plugins()
        .start();
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    let mut peer = server.peer();

    let early = get_when_ready(&mut peer, "/led", deadline);
    assert_eq!(
        early.payload_text(),
        r#"{"state":"off"}"#,
        "led.wasm serves /led while a-slow.wasm still loads: {early}"
    );
    assert_eq!(
        server.plugins_loaded(),
        None,
        "a-slow.wasm takes 2 s to describe itself"
    );

    let loaded = server.wait_plugins_loaded();
    assert!(loaded.contains("1 serving, 1 not"), "{loaded}");
    let late = peer.get("/led");
    assert_eq!(late.code, Code::CONTENT, "{late}");
    assert_eq!(
        late.payload_text(),
        "slowstart",
        "a-slow.wasm, first by file name, serves /led once loaded: {late}"
    );
    let refused = server
        .log_line(Duration::from_secs(5), |l| {
            l.contains("led.wasm refused") && l.contains("/led")
        })
        .unwrap_or_else(|| {
            panic!(
                "no line says led.wasm is refused; log:\n{}",
                server.stderr()
            )
        });
    assert!(
        refused.contains("a-slow.wasm"),
        "names the winner: {refused}"
    );
}
