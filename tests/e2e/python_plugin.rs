//! The greeting example plugin, written in Python (plugins/greeting, built
//! with componentize-py): served, discovered and hot-reloaded like a Rust
//! one, the name it greets kept in the key-value store.
//!
//! A componentize-py component embeds CPython (about 18 MB), which Cranelift
//! compiles in ten to forty seconds, more on a busy machine and with tests
//! compiling it at once: past the start-up timeout of the test support. So
//! each server starts without it and gets it added to its plugins folder,
//! and the wait for it is COMPILE_WAIT.

use std::time::Duration;

use coapwasm_tests::server::ServerBuilder;
use coapwasm_tests::{CoapClient, Code, Server, artifacts, link_format, option, rebuild};
use serde_json::json;

const FILE: &str = "greeting.wasm";

/// How long compiling the Python component may take, when added or reloaded.
const COMPILE_WAIT: Duration = Duration::from_secs(300);

/// Starts the server `builder` describes, then adds greeting to its plugins
/// folder (whole, by a rename) and waits until the host has loaded it.
fn start_then_add_greeting(builder: ServerBuilder) -> Server {
    let server = builder.start();
    let path = artifacts::plugin(FILE);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("read {path:?}: {e}"));
    server
        .plugins_folder()
        .write_then_rename(".greeting.wasm.tmp", FILE, &bytes);
    server
        .log_line(COMPILE_WAIT, |l| {
            l.contains("added plugin") && l.contains("plugin=\"greeting\"")
        })
        .unwrap_or_else(|| {
            panic!(
                "greeting not added within {COMPILE_WAIT:?}; log:\n{}",
                server.stderr()
            )
        });
    server
}

/// RFC 7252 §5.8.1, §5.8.3 and §5.8.4 through coap-client: GET greets the
/// world until PUT sets a name, Accept 50 gets JSON (§5.10.4), DELETE resets
/// it; a bad name is 4.00 with a diagnostic (§5.5.2), a non-text one 4.15.
#[test]
fn get_put_delete_through_coap_client() {
    let server = start_then_add_greeting(Server::builder());
    let uri = server.uri("/greeting");

    let output = CoapClient::get(&uri).run();
    output.assert_code("2.05");
    assert_eq!(output.payload_text(), "Hello, world!");
    assert_eq!(
        output.response().option("Content-Format"),
        Some("text/plain"),
        "{}",
        output.shown()
    );

    let output = CoapClient::get(&uri)
        .method("put")
        .payload("Ada")
        .content_format(0)
        .run();
    output.assert_code("2.04");
    assert_eq!(output.payload_text(), "Ada");

    let output = CoapClient::get(&uri).run();
    output.assert_code("2.05");
    assert_eq!(output.payload_text(), "Hello, Ada!");

    let output = CoapClient::get(&uri).accept(50).run();
    output.assert_code("2.05");
    assert_eq!(
        output.payload_json(),
        json!({"greeting": "Hello, Ada!", "name": "Ada"})
    );

    let output = CoapClient::get(&uri).method("put").payload(" ").run();
    output.assert_code("4.00");
    // coap-client prints an error's diagnostic payload on stderr.
    assert!(output.stderr.contains("printable"), "{}", output.shown());
    CoapClient::get(&uri)
        .method("put")
        .payload("{}")
        .content_format(50)
        .run()
        .assert_code("4.15");
    // The host answers 4.06 for a format the resource does not list.
    CoapClient::get(&uri).accept(60).run().assert_code("4.06");

    CoapClient::get(&uri)
        .method("delete")
        .run()
        .assert_code("2.02");
    let output = CoapClient::get(&uri).run();
    output.assert_code("2.05");
    assert_eq!(output.payload_text(), "Hello, world!");

    // The plugin's log import reached the host's log, tagged with its name.
    let logged = server.log_line(Duration::from_secs(5), |l| {
        l.contains("set the name to 'Ada'") && l.contains("plugin=\"greeting\"")
    });
    assert!(logged.is_some(), "no log line; log:\n{}", server.stderr());
}

/// RFC 6690 §4: /.well-known/core lists /greeting with the attributes of its
/// describe(), beside a Rust plugin.
#[test]
fn discovery_lists_the_resource() {
    let server = start_then_add_greeting(Server::builder().plugins(&["led"]));
    let output = CoapClient::get(&server.uri("/.well-known/core")).run();
    output.assert_code("2.05");
    let links = link_format::parse(output.payload_text())
        .unwrap_or_else(|e| panic!("not link-format ({e})\n{}", output.shown()));
    assert_eq!(link_format::targets(&links), ["/greeting", "/led"]);
    let greeting = link_format::find(&links, "/greeting");
    assert_eq!(greeting.value("ct"), Some("0 50"));
    assert_eq!(greeting.value("rt"), Some("greeting"));
    assert_eq!(greeting.value("if"), Some("parameter"));
    assert_eq!(greeting.value("title"), Some("Greeting (Python)"));
    assert!(!greeting.has_flag("obs"), "{greeting:?}");
}

/// Hot reload: another build of the component dropped over the file is
/// compiled and swapped in while the old one keeps answering, and the name,
/// kept in the store under the plugin's name, carries over; so it does over
/// a restart, which loads the compiled component from the cache.
#[test]
fn another_build_replaces_it_and_keeps_the_name() {
    let mut server = start_then_add_greeting(Server::builder().fixed_port());
    let mut peer = server.peer();
    let put = peer
        .con(Code::PUT, "/greeting")
        .uint_option(option::CONTENT_FORMAT, 0)
        .payload(b"Grace");
    let response = peer.exchange(&put);
    assert_eq!(response.code, Code::CHANGED, "{response}");

    rebuild::upgrade_while_serving(
        &server,
        &mut peer,
        "greeting",
        FILE,
        "/greeting",
        COMPILE_WAIT,
        |response| {
            assert_eq!(
                response.payload_text(),
                "Hello, Grace!",
                "during the reload"
            );
        },
    );

    let output = CoapClient::get(&server.uri("/greeting")).run();
    output.assert_code("2.05");
    assert_eq!(output.payload_text(), "Hello, Grace!");

    server.restart();
    let loaded = server
        .log_line(Duration::from_secs(5), |l| {
            l.contains("loaded plugin") && l.contains("plugin=\"greeting\"")
        })
        .unwrap_or_else(|| panic!("no `loaded plugin` line; log:\n{}", server.stderr()));
    assert!(loaded.contains("cached=true"), "from the cache: {loaded}");
    let response = peer.get("/greeting");
    assert_eq!(response.code, Code::CONTENT, "{response}");
    assert_eq!(response.payload_text(), "Hello, Grace!");
}

/// Not a check but a measurement, run on demand:
/// `cargo test --release -p coapwasm-tests --test python_plugin -- --ignored --nocapture`.
/// Prints the time to answer a burst of concurrent GETs (the first makes
/// instances), and the median round trip of sequential GETs over loopback, to the
/// Python plugin and to the Rust led plugin in the same server, and their
/// load lines (compile or cache, instantiate, describe).
#[test]
#[ignore = "a measurement; run on demand"]
fn per_request_cost() {
    let server = start_then_add_greeting(Server::builder().plugins(&["led"]));
    for line in server.log_lines(|l| l.contains("loaded plugin") || l.contains("added plugin")) {
        println!("{line}");
    }
    let mut peer = server.peer();
    for path in ["/greeting", "/led"] {
        // The first burst makes instances: only one exists after loading.
        for burst in ["first", "second"] {
            let time = coapwasm_tests::round_trip::burst(&mut peer, path, 8);
            println!("{path}: {burst} burst of 8 concurrent GETs answered in {time:?}");
        }
        let median = coapwasm_tests::round_trip::median(&mut peer, path, 2000);
        println!("{path}: median round trip of 2000 sequential GETs {median:?}");
    }
}
