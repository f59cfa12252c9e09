//! Issue 16 for Python plugins (tests/plugins/pykit, built with the Python
//! template's build.sh and the helper layer plugins/sdk/python/coapwasm.py):
//! an uncaught exception's traceback, which CPython prints on stderr before
//! the trap, is in the host's log tagged with the plugin's name, and a
//! `Response` needs only its code.
//!
//! As in python_plugin.rs, the component embeds CPython, which Cranelift
//! compiles in ten to forty seconds: the server starts without it and gets
//! it added to its plugins folder, waited for up to COMPILE_WAIT.

use std::time::Duration;

use coapwasm_tests::{Code, Server, artifacts};

const FILE: &str = "pykit.wasm";
const COMPILE_WAIT: Duration = Duration::from_secs(300);

fn start_with_pykit() -> Server {
    let server = Server::builder().plugins(&["led"]).start();
    let path = artifacts::plugin(FILE);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("read {path:?}: {e}"));
    server
        .plugins_folder()
        .write_then_rename(".pykit.wasm.tmp", FILE, &bytes);
    server
        .log_line(COMPILE_WAIT, |l| {
            l.contains("added plugin") && l.contains("plugin=\"pykit\"")
        })
        .unwrap_or_else(|| {
            panic!(
                "pykit not added within {COMPILE_WAIT:?}; log:\n{}",
                server.stderr()
            )
        });
    server
}

/// One server for every check, as starting one costs a Python compile.
#[test]
fn a_python_plugin_s_own_words_reach_the_log_and_a_response_needs_only_a_code() {
    let server = start_with_pykit();
    let mut peer = server.peer();
    let tagged = |l: &str| l.contains("plugin=\"pykit\"") && l.contains("stream=\"stderr\"");

    // An uncaught exception: 5.00 (RFC 7252 §5.9.3.1), and its traceback in
    // the log at warn, tagged, before the trap line that points at it.
    let response = peer.get("/py/raise");
    assert_eq!(response.code, Code::INTERNAL_SERVER_ERROR, "{response}");
    for needle in [
        "Traceback (most recent call last)",
        "ValueError: deliberate failure from Python",
    ] {
        let line = server
            .log_line(Duration::from_secs(5), |l| l.contains(needle) && tagged(l))
            .unwrap_or_else(|| panic!("no {needle:?} line; log:\n{}", server.stderr()));
        assert!(line.contains("WARN"), "{line}");
    }
    let trap = server
        .log_line(Duration::from_secs(5), |l| l.contains("trapped"))
        .unwrap_or_else(|| panic!("no trap line; log:\n{}", server.stderr()));
    assert!(trap.contains("plugin=pykit"), "{trap}");
    assert!(
        response.payload_text().contains("plugin=pykit"),
        "{response}"
    );

    // print() on stdout and on stderr.
    let response = peer.get("/py/print");
    assert_eq!(response.code, Code::CONTENT, "{response}");
    for (text, stream) in [("on stdout", "stdout"), ("on stderr", "stderr")] {
        server
            .log_line(Duration::from_secs(5), |l| {
                l.contains(&format!("pykit says hello {text}"))
                    && l.contains(&format!("stream=\"{stream}\""))
            })
            .unwrap_or_else(|| panic!("no {stream} line; log:\n{}", server.stderr()));
    }

    // A Response given only its code, and the helper's changed().
    let response = peer.get("/py/minimal");
    assert_eq!(response.code, Code::CONTENT, "{response}");
    assert!(response.payload.is_empty(), "{response}");
    let response = peer.call(Code::POST, "/py/minimal");
    assert_eq!(response.code, Code::CHANGED, "{response}");

    // The host and its other plugins went on serving.
    assert_eq!(peer.get("/led").code, Code::CONTENT);
}
