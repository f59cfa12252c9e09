//! The counter example plugin, written in Go (plugins/counter, built with Go
//! for wasip1 as a reactor, wit-bindgen's Go generator and the WASI preview1
//! reactor adapter): served, discovered, observed and hot-reloaded like a
//! Rust one, its count kept in the key-value store.

use std::time::Duration;

use coapwasm_tests::{CoapClient, Code, Server, link_format, rebuild};

const FILE: &str = "counter.wasm";

/// How long a reload of the Go component may take: it is 2.5 MB of code that
/// Cranelift compiles in seconds, more on a busy machine.
const RELOAD_WAIT: Duration = Duration::from_secs(60);

/// The count in a 2.05 or 2.04 answer's text/plain body.
fn count(output: &coapwasm_tests::coap_client::Output, code: &str) -> u64 {
    output.assert_code(code);
    assert_eq!(
        output.response().option("Content-Format"),
        Some("text/plain"),
        "{}",
        output.shown()
    );
    output
        .payload_text()
        .parse()
        .unwrap_or_else(|_| panic!("no count\n{}", output.shown()))
}

/// RFC 7252 §5.8.1 and §5.8.2: GET reads the count, POST adds one and
/// answers 2.04 with the new count; through coap-client.
#[test]
fn post_increments_and_get_reads() {
    let server = Server::with_plugins(&["counter"]);
    let uri = server.uri("/counter");

    assert_eq!(count(&CoapClient::get(&uri).run(), "2.05"), 0);
    assert_eq!(
        count(&CoapClient::get(&uri).method("post").run(), "2.04"),
        1
    );
    assert_eq!(
        count(&CoapClient::get(&uri).method("post").run(), "2.04"),
        2
    );
    assert_eq!(count(&CoapClient::get(&uri).run(), "2.05"), 2);

    // 4.05 from the host: GET and POST are all the plugin declared.
    CoapClient::get(&uri)
        .method("put")
        .payload("7")
        .content_format(0)
        .run()
        .assert_code("4.05");
}

/// RFC 6690 §4: /.well-known/core lists /counter with the attributes of its
/// describe(), `ct=0` and `obs`.
#[test]
fn discovery_lists_the_resource() {
    let server = Server::with_plugins(&["counter", "led"]);
    let output = CoapClient::get(&server.uri("/.well-known/core")).run();
    output.assert_code("2.05");
    let links = link_format::parse(output.payload_text())
        .unwrap_or_else(|e| panic!("not link-format ({e})\n{}", output.shown()));
    assert_eq!(link_format::targets(&links), ["/counter", "/led"]);
    let counter = link_format::find(&links, "/counter");
    assert_eq!(counter.value("ct"), Some("0"));
    assert_eq!(counter.value("rt"), Some("counter"));
    assert_eq!(counter.value("if"), Some("core.rp"));
    assert_eq!(counter.value("title"), Some("Counter"));
    assert!(counter.has_flag("obs"), "{counter:?}");
}

/// RFC 7641 §4.2: a POST from another client notifies an observer of the
/// new count.
#[test]
fn observer_sees_a_post() {
    let server = Server::with_plugins(&["counter"]);
    let observer = CoapClient::get(&server.uri("/counter")).observe(10).spawn();
    observer
        .await_received(Duration::from_secs(8), |m| m.payload() == Some("0"))
        .unwrap_or_else(|| panic!("no first answer\n{}", observer.trace_so_far()));

    let mut peer = server.peer();
    let response = peer.call(Code::POST, "/counter");
    assert_eq!(response.code, Code::CHANGED, "{response}");
    assert_eq!(response.payload_text(), "1");

    let notification = observer
        .await_received(Duration::from_secs(8), |m| m.payload() == Some("1"))
        .unwrap_or_else(|| panic!("no notification\n{}", observer.trace_so_far()));
    assert!(
        notification.option("Observe").is_some(),
        "{}",
        notification.line
    );
}

/// Hot reload: another build of the component dropped over the file is
/// compiled and swapped in while requests keep being answered by the old
/// one, and the count, kept in the store under the plugin's name, carries
/// over.
#[test]
fn another_build_replaces_it_and_keeps_the_count() {
    let server = Server::with_plugins(&["counter"]);
    let mut peer = server.peer();
    for expected in 1..=3 {
        let response = peer.call(Code::POST, "/counter");
        assert_eq!(response.code, Code::CHANGED, "{response}");
        assert_eq!(response.payload_text(), expected.to_string());
    }

    rebuild::upgrade_while_serving(
        &server,
        &mut peer,
        "counter",
        FILE,
        "/counter",
        RELOAD_WAIT,
        |response| {
            assert_eq!(response.payload_text(), "3", "during the reload");
        },
    );

    let uri = server.uri("/counter");
    assert_eq!(count(&CoapClient::get(&uri).run(), "2.05"), 3);
    assert_eq!(
        count(&CoapClient::get(&uri).method("post").run(), "2.04"),
        4
    );
}

/// `cargo test --release -p coapwasm-tests --test go_plugin -- --ignored --nocapture`.
/// Prints the load lines (compile or cache, instantiate, describe), the time
/// to answer a burst of concurrent GETs (the first makes instances), and the
/// median round trip of sequential GETs over loopback, for /counter and for the
/// Rust led plugin in the same server.
#[test]
#[ignore = "a measurement; run on demand"]
fn per_request_cost() {
    let server = Server::with_plugins(&["counter", "led"]);
    for line in server.log_lines(|l| l.contains("loaded plugin")) {
        println!("{line}");
    }
    let mut peer = server.peer();
    for path in ["/counter", "/led"] {
        // The first burst makes instances: only one exists after loading.
        for burst in ["first", "second"] {
            let time = coapwasm_tests::round_trip::burst(&mut peer, path, 8);
            println!("{path}: {burst} burst of 8 concurrent GETs answered in {time:?}");
        }
        let median = coapwasm_tests::round_trip::median(&mut peer, path, 2000);
        println!("{path}: median round trip of 2000 sequential GETs {median:?}");
    }
}
