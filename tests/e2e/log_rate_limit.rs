//! Issue 13, finding 6: a plugin's log lines are rate-limited, per plugin
//! and shared by its instances: a burst (`runtime.log_burst`, 100 lines),
//! then a rate (`runtime.log_lines_per_second`, 10), and a line saying how
//! many were dropped. Before the limit, 10 requests to a plugin that logs
//! 2,000 lines each grew the host's log by 79 MB.

use std::thread;
use std::time::{Duration, Instant};

use coapwasm_tests::{Code, Server};

const BURST: f64 = 100.0;
const PER_SECOND: f64 = 10.0;
/// The longest line a plugin can write: its message is cut at 4096 bytes,
/// and the formatter adds a timestamp, level, target and the plugin's name.
const LINE_BYTES: f64 = 4096.0 + 256.0;
/// Lines the host itself may add meanwhile (start-up is before the
/// measurement; this is for a warning such as a slow call's).
const HOST_LINES: f64 = 20.0;
const REQUESTS: usize = 10;

fn dropped_line(line: &str) -> bool {
    line.contains("dropped") && line.contains("log lines of plugin chatter")
}

#[test]
fn a_plugin_that_logs_without_end_costs_the_log_a_burst_then_a_rate() {
    let server = Server::with_plugins(&["led", "chatter"]);
    let mut peer = server.peer();
    let before = server.stderr().len();

    let started = Instant::now();
    let codes: Vec<Code> = (0..REQUESTS).map(|_| peer.get("/chatter").code).collect();
    // The log is read by another thread: give it the time to catch up.
    thread::sleep(Duration::from_millis(500));
    let seconds = started.elapsed().as_secs_f64().ceil();
    let growth = (server.stderr().len() - before) as f64;
    // Each second brings `PER_SECOND` lines, at most one report of dropped
    // lines and one notice that lines are being dropped.
    let bound = (BURST + (PER_SECOND + 2.0) * seconds + HOST_LINES) * LINE_BYTES;
    assert!(
        growth <= bound,
        "{REQUESTS} requests of 2,000 lines of 4,000 bytes grew the log by {growth} bytes \
         in {seconds} s, past {bound} (a burst of {BURST} lines, then {PER_SECOND} a second)"
    );
    // The plugin still answers, and so does everything else.
    assert!(codes.iter().all(|&code| code == Code::CONTENT), "{codes:?}");
    assert_eq!(peer.get("/led").code, Code::CONTENT);

    // Dropping is noticed at once, and what was dropped is counted, in a
    // line of its own, when the plugin next logs.
    assert!(
        server
            .log_line(Duration::from_secs(5), |line| line
                .contains("dropping log lines of plugin chatter"))
            .is_some()
    );
    thread::sleep(Duration::from_millis(1100));
    assert_eq!(peer.get("/chatter?lines=1&len=10").code, Code::CONTENT);
    let line = server
        .log_line(Duration::from_secs(5), dropped_line)
        .expect("a line saying how many lines of the plugin were dropped");
    let count: u64 = line
        .split_whitespace()
        .skip_while(|word| !word.ends_with("dropped"))
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count in {line:?}"));
    assert!(count > 0, "{line}");
}

/// A line the host's log level hides costs no token: 2,000 debug lines with
/// the host at info leave the whole burst for the info lines after them.
#[test]
fn lines_below_the_log_level_cost_nothing() {
    let server = Server::with_plugins(&["chatter"]);
    let mut peer = server.peer();
    assert_eq!(peer.get("/chatter?level=debug").code, Code::CONTENT);
    assert_eq!(peer.get("/chatter?lines=90&len=40").code, Code::CONTENT);
    let lines = server
        .log_count(Duration::from_secs(5), 90, |line| {
            line.contains("chatter 0000")
        })
        .unwrap_or_else(|| panic!("fewer than 90 info lines; log:\n{}", server.stderr()));
    assert_eq!(lines.len(), 90);
    let dropping = server.log_lines(|line| line.contains("log lines of plugin chatter"));
    assert!(dropping.is_empty(), "{dropping:#?}");
}

/// The host's own warnings about a plugin's failed calls are limited alike:
/// a peer requesting a trapping resource in a loop gets a 5.00 each time,
/// but the log gets a burst of lines, then a rate, not one line per request.
#[test]
fn a_peer_requesting_a_trapping_resource_in_a_loop_does_not_flood_the_log() {
    const REQUESTS: usize = 600;
    let server = Server::with_plugins(&["testkit"]);
    let mut peer = server.peer();
    let started = Instant::now();
    for _ in 0..REQUESTS {
        assert_eq!(peer.get("/test/trap").code, Code::INTERNAL_SERVER_ERROR);
    }
    thread::sleep(Duration::from_millis(500));
    let seconds = started.elapsed().as_secs_f64().ceil();
    let trap_lines = server.log_lines(|line| line.contains("trapped")).len();
    let most = (BURST + (PER_SECOND + 1.0) * seconds) as usize;
    assert!(
        trap_lines <= most,
        "{REQUESTS} trapping requests in {seconds} s logged {trap_lines} trap lines, more than {most}"
    );
    // Once per run of dropped lines: the first time the burst is spent, and
    // again after each line that got through with the count of those dropped.
    let notices = server
        .log_lines(|line| line.contains("failing often"))
        .len();
    assert!(
        (1..=trap_lines).contains(&notices),
        "{notices} lines say the failures are now rate-limited, for {trap_lines} trap lines"
    );
}
