//! Loading plugins at start-up: broken files are skipped with a warning and
//! a plugin claiming a served path is refused, while the rest serve.

use coapwasm_tests::link_format;
use coapwasm_tests::{CoapClient, Code, Server};
use serde_json::json;
use std::time::Duration;

const LOG_WAIT: Duration = Duration::from_secs(5);

/// Files that are no component of the plugin world: text, a core module, and
/// an empty component (the component-model preamble, layer 1 version 0x0d).
const BROKEN: [(&str, &[u8]); 3] = [
    ("bad.wasm", b"not a wasm file"),
    (
        "core.wasm",
        &[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ),
    (
        "empty-component.wasm",
        &[0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00],
    ),
];

#[test]
fn broken_plugin_files_are_skipped_with_a_warning() {
    let mut builder = Server::builder().plugins(&["led"]);
    for (name, bytes) in BROKEN {
        builder = builder.plugin_file(name, bytes);
    }
    let server = builder.start();

    for (name, _) in BROKEN {
        let line = server
            .log_line(LOG_WAIT, |l| {
                l.to_lowercase().contains("skipping") && l.contains(name)
            })
            .unwrap_or_else(|| panic!("no `skipping` line names {name}"));
        assert!(line.contains("WARN"), "not a warning: {line}");
        // The line must say why: words beyond "skipping (plugin) (file)" and
        // the file's path.
        let rest = line.replace(&server.plugins_dir().display().to_string(), "");
        let lower = rest.to_lowercase();
        let after = lower[lower.find("skipping").unwrap() + "skipping".len()..].replace(name, "");
        let reason_words = after
            .split(|c: char| !c.is_alphabetic())
            .filter(|w| w.len() >= 3 && !["plugin", "file", "wasm"].contains(w))
            .count();
        assert!(reason_words >= 2, "no reason given: {line}");
    }
    // One log line per skipped file: every line of the log is a record that
    // starts with its timestamp, none a continuation of a multi-line message.
    let log = server.stderr();
    let stray: Vec<&str> = log
        .lines()
        .filter(|l| !l.starts_with(|c: char| c.is_ascii_digit()))
        .collect();
    assert!(
        stray.is_empty(),
        "log records spread over several lines: {stray:?}\n{log}"
    );
    assert!(
        !server
            .stderr()
            .lines()
            .any(|l| l.to_lowercase().contains("skipping") && l.contains("led.wasm")),
        "led.wasm must not be skipped:\n{}",
        server.stderr()
    );

    let output = CoapClient::get(&server.uri("/led")).run();
    output.assert_code("2.05");
    assert_eq!(output.payload_json(), json!({"state": "off"}));

    let output = CoapClient::get(&server.uri("/.well-known/core")).run();
    output.assert_code("2.05");
    let links = link_format::parse(output.payload_text()).unwrap();
    assert_eq!(link_format::targets(&links), ["/led"]);
}

/// A plugin claiming a path another plugin already serves is refused whole:
/// named `zz-clash.wasm` it loads after led.wasm, which keeps /led, and
/// clash's own /clash is not served either.
#[test]
fn plugin_claiming_a_served_path_is_refused() {
    let server = Server::builder()
        .plugins(&["led"])
        .plugin_as("clash", "zz-clash.wasm")
        .start();
    let line = server
        .log_line(LOG_WAIT, |l| l.contains("refused") && l.contains("/led"))
        .unwrap_or_else(|| panic!("no `refused` line names /led"));
    assert!(
        line.contains("zz-clash.wasm"),
        "names the refused file: {line}"
    );

    let mut peer = server.peer();
    let led = peer.get("/led");
    assert_eq!(led.code, Code::CONTENT, "{led}");
    assert_eq!(
        led.payload_json(),
        json!({"state": "off"}),
        "led.wasm answers"
    );
    let clash = peer.get("/clash");
    assert_eq!(clash.code, Code::NOT_FOUND, "{clash}");

    let discovery = peer.get("/.well-known/core");
    let links = link_format::parse(discovery.payload_text()).unwrap();
    assert_eq!(link_format::targets(&links), ["/led"]);
}

/// Plugins load in file-name order, so the first claim wins: clash.wasm sorts
/// before led.wasm, serves /led and /clash, and led.wasm is refused.
#[test]
fn first_plugin_in_file_name_order_wins_a_clash() {
    let server = Server::with_plugins(&["led", "clash"]);
    let line = server
        .log_line(LOG_WAIT, |l| l.contains("refused") && l.contains("/led"))
        .unwrap_or_else(|| panic!("no `refused` line names /led"));
    assert!(line.contains("led.wasm"), "names the refused file: {line}");

    let mut peer = server.peer();
    for path in ["/led", "/clash"] {
        let response = peer.get(path);
        assert_eq!(response.code, Code::CONTENT, "{path}: {response}");
        assert_eq!(response.payload_text(), "clash", "{path}: {response}");
    }
}
