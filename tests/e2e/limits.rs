//! A plugin that loops or exhausts its memory costs only its own client: a
//! 5.xx with a diagnostic, while every other resource keeps answering.

use std::time::Duration;

use coapwasm_tests::{Code, REPLY_TIMEOUT, Server, Type};

/// A call past its CPU budget is stopped (epoch interruption): 5.03, and the
/// other resources answer while it runs.
#[test]
fn looping_plugin_is_stopped_and_others_keep_answering() {
    let server = Server::builder()
        .plugins(&["testkit", "led"])
        .config("[runtime]\nmax_cpu_ms_per_call = 1500\n")
        .start();
    let mut spinner = server.peer();
    let spin = spinner.con(Code::GET, "/test/spin");
    spinner.send(&spin);

    // While the loop runs, /led answers from another endpoint.
    let mut other = server.peer();
    let led = other.get("/led");
    assert_eq!(led.code, Code::CONTENT, "{led}");
    assert!(
        spinner
            .recv(Duration::from_millis(100))
            .is_none_or(|m| m.code == Code::EMPTY),
        "the looping call is still running when /led has answered"
    );

    // The empty ACK (separate response) may come first; then the 5.03.
    let mut answer = spinner.expect(REPLY_TIMEOUT, "an answer to the looping call");
    if answer.mtype == Type::Ack && answer.code == Code::EMPTY {
        answer = spinner.expect(REPLY_TIMEOUT, "the separate 5.03");
    }
    assert_eq!(answer.code, Code::SERVICE_UNAVAILABLE, "{answer}");
    let text = String::from_utf8_lossy(&answer.payload);
    assert!(
        text.contains("CPU"),
        "the diagnostic names the cause: {text:?}"
    );

    // The plugin's other resources still serve: the instance was replaced.
    let counter = other.get("/test/counter");
    assert_eq!(counter.code, Code::CONTENT, "{counter}");
}

/// An instance that grows its memory past the limit traps: 5.00 naming the
/// memory, and the next request gets a fresh instance.
#[test]
fn memory_hog_is_stopped_and_others_keep_answering() {
    let server = Server::builder()
        .plugins(&["testkit", "led"])
        .config("[runtime]\nmax_memory_bytes = 16777216\n")
        .start();
    let mut peer = server.peer();
    let answer = peer.get("/test/hog");
    assert_eq!(answer.code, Code::INTERNAL_SERVER_ERROR, "{answer}");
    let text = String::from_utf8_lossy(&answer.payload);
    assert!(
        text.contains("memory"),
        "the diagnostic names the cause: {text:?}"
    );

    for path in ["/led", "/test/counter"] {
        let response = peer.get(path);
        assert_eq!(response.code, Code::CONTENT, "{path}: {response}");
    }
    // Again: a fresh instance, the same limit.
    let again = peer.get("/test/hog");
    assert_eq!(again.code, Code::INTERNAL_SERVER_ERROR, "{again}");
}

/// Tables are bounded too (`max_table_elements`): a plugin whose component
/// needs a larger table than its manifest allows is refused at load with a
/// log line naming the file and the table, and the others serve.
#[test]
fn plugin_needing_a_larger_table_than_allowed_is_refused() {
    let server = Server::builder()
        .plugins(&["testkit", "led"])
        .manifest("testkit", "[limits]\nmax_table_elements = 4\n")
        .start();
    let line = server
        .log_line(Duration::from_secs(5), |line| line.contains("testkit.wasm"))
        .expect("a log line about testkit.wasm");
    assert!(line.contains("table"), "the reason names the table: {line}");

    let mut peer = server.peer();
    assert_eq!(peer.get("/led").code, Code::CONTENT);
    assert_eq!(peer.get("/test/counter").code, Code::NOT_FOUND);
}
