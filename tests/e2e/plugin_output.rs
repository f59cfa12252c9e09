//! Issue 16: a plugin's own words reach its author. What a plugin writes to
//! its WASI stdout and stderr (wasi:cli/stdout, wasi:cli/stderr) is in the
//! host's log, a line each, tagged with the plugin's name: a Rust panic's
//! message, printed by std on stderr before the trap, is there, and the
//! host's trap line says where to look. Printing in a loop costs the log no
//! more than the `log` import does: the same per-plugin rate limit.

use std::thread;
use std::time::{Duration, Instant};

use coapwasm_tests::{Code, Server};

const BURST: f64 = 100.0;
const PER_SECOND: f64 = 10.0;
/// The longest line a plugin can print: the host cuts it at 4096 bytes, and
/// the formatter adds a timestamp, level, target and the plugin's name.
const LINE_BYTES: f64 = 4096.0 + 256.0;
/// Lines the host itself may add meanwhile.
const HOST_LINES: f64 = 20.0;

/// A Rust plugin that panics: std prints `panicked at <file>:<line>:<col>:`
/// and the message on stderr, then the call traps. Both reach the log at
/// warn (shown at the default level, info), tagged `plugin="testkit"`, and
/// the trap's own line and 5.00 diagnostic (RFC 7252 §5.5.2) point there.
#[test]
fn a_rust_panic_message_is_in_the_log_and_the_trap_points_at_it() {
    let server = Server::with_plugins(&["testkit"]);
    let mut peer = server.peer();
    let response = peer.get("/test/trap");
    assert_eq!(response.code, Code::INTERNAL_SERVER_ERROR, "{response}");

    let tagged = |line: &str| line.contains("plugin=\"testkit\"");
    let panicked = server
        .log_line(Duration::from_secs(5), |l| {
            l.contains("panicked at") && tagged(l)
        })
        .unwrap_or_else(|| panic!("no `panicked at` line; log:\n{}", server.stderr()));
    assert!(panicked.contains("WARN"), "at warn: {panicked}");
    let message = server
        .log_line(Duration::from_secs(5), |l| {
            l.contains("deliberate trap") && tagged(l)
        })
        .unwrap_or_else(|| panic!("no panic message; log:\n{}", server.stderr()));
    assert!(message.contains("stream=\"stderr\""), "{message}");

    let trap = server
        .log_line(Duration::from_secs(5), |l| l.contains("trapped"))
        .unwrap_or_else(|| panic!("no trap line; log:\n{}", server.stderr()));
    assert!(
        trap.contains("in the log above") && trap.contains("plugin=testkit"),
        "the trap line points at the plugin's lines: {trap}"
    );
    let diagnostic = response.payload_text();
    assert!(
        diagnostic.contains("host's log") && diagnostic.contains("plugin=testkit"),
        "the 5.00 diagnostic points at the log: {diagnostic}"
    );
}

/// A trap that printed nothing on stderr gets no pointer to lines that are
/// not there: a CPU-time stop answers as before.
#[test]
fn a_call_that_printed_nothing_is_not_said_to_have() {
    let server = Server::with_plugins(&["testkit"]);
    let mut peer = server.peer();
    let response = peer.get("/test/spin");
    assert_eq!(response.code.class(), 5, "{response}");
    assert!(
        !response.payload_text().contains("in the host's log"),
        "{response}"
    );
}

/// Each printed line is one log event, stdout at info and stderr at warn.
#[test]
fn stdout_and_stderr_lines_are_log_lines() {
    let server = Server::with_plugins(&["chatter"]);
    let mut peer = server.peer();
    for to in ["stdout", "stderr"] {
        let path = format!("/chatter?to={to}&lines=3&len=20");
        assert_eq!(peer.get(&path).code, Code::CONTENT);
        let lines = server
            .log_count(Duration::from_secs(5), 3, |l| {
                l.contains("chatter 00000") && l.contains(&format!("stream=\"{to}\""))
            })
            .unwrap_or_else(|| panic!("fewer than 3 {to} lines; log:\n{}", server.stderr()));
        let level = if to == "stdout" { "INFO" } else { "WARN" };
        for line in &lines {
            assert!(line.contains(level), "{to} at {level}: {line}");
            assert!(line.contains("plugin=\"chatter\""), "{line}");
        }
    }
}

/// A plugin that prints 2,000 lines of 4,000 bytes on stderr per request
/// costs the log a burst, then a rate, and a line saying lines are dropped;
/// the plugin and the host's other resources keep answering.
#[test]
fn printing_in_a_loop_stays_within_the_log_rate_limit() {
    const REQUESTS: usize = 10;
    let server = Server::with_plugins(&["led", "chatter"]);
    let mut peer = server.peer();
    let before = server.stderr().len();

    let started = Instant::now();
    let codes: Vec<Code> = (0..REQUESTS)
        .map(|_| peer.get("/chatter?to=stderr").code)
        .collect();
    thread::sleep(Duration::from_millis(500));
    let seconds = started.elapsed().as_secs_f64().ceil();
    let growth = (server.stderr().len() - before) as f64;
    let bound = (BURST + (PER_SECOND + 2.0) * seconds + HOST_LINES) * LINE_BYTES;
    assert!(
        growth <= bound,
        "{REQUESTS} requests printing 2,000 lines of 4,000 bytes grew the log by {growth} \
         bytes in {seconds} s, past {bound}"
    );
    assert!(codes.iter().all(|&code| code == Code::CONTENT), "{codes:?}");
    assert_eq!(peer.get("/led").code, Code::CONTENT);

    let printed = server.log_lines(|l| l.contains("chatter 0000") && l.contains("stderr"));
    assert!(
        printed.len() >= BURST as usize / 2,
        "the burst of printed lines is in the log ({} lines); log:\n{}",
        printed.len(),
        server.stderr()
    );
    assert!(
        server
            .log_line(Duration::from_secs(5), |l| l
                .contains("dropping log lines of plugin chatter"))
            .is_some(),
        "dropping is noticed"
    );
}
