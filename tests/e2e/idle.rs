//! An idle host uses no CPU. Regression test for a busy loop: once a
//! confirmable request's empty-ACK deadline (RFC 7252 §5.2.2) had passed with
//! nothing else due, the socket loop kept polling its finished timer and held
//! a core at 100%.

use std::time::Duration;

use coapwasm_tests::{Code, Server};

/// CPU time (user + system) the process has used, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat =
        std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("the server's /proc stat");
    // The command name in parentheses may hold spaces: count from after it.
    let after_name = &stat[stat.rfind(')').expect("a stat line") + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of stat, 12 and 13 after the name.
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

#[test]
fn idle_host_uses_no_cpu_after_serving_requests() {
    let server = Server::builder()
        .plugins(&["led"])
        .config("[transmission]\nseparate_response_after_ms = 200\n")
        .start();
    let mut peer = server.peer();
    for _ in 0..3 {
        let response = peer.get("/led");
        assert_eq!(response.code, Code::CONTENT, "{response}");
    }
    // Past every empty-ACK deadline of those requests: nothing is due now.
    std::thread::sleep(Duration::from_millis(600));

    let before = cpu_ticks(server.pid());
    std::thread::sleep(Duration::from_secs(2));
    let used = cpu_ticks(server.pid()) - before;
    // A clock tick is 10 ms: 2 s of a spinning core would be about 200. An
    // idle host wakes for its epoch clock and sampler only.
    assert!(used < 40, "the idle host used {used} ticks of CPU in 2 s");
}

/// Resident memory of the process, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).expect("the server's /proc status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .expect("a VmRSS line")
}

/// A plugin's instances that its traffic no longer needs are released:
/// a burst of concurrent GETs to the Python `greeting` makes one or more
/// instances (up to 12 MiB of linear memory each, 5 MiB or more of it
/// touched), and within two idle periods (`idle_instance_release_s` 1
/// here) the host says it released them and its resident memory is down
/// by at least 4 MiB; the plugin still answers.
#[test]
fn idle_plugin_instances_are_released() {
    let server = Server::builder()
        .plugins(&["greeting"])
        .config("[runtime]\nidle_instance_release_s = 1\n")
        .arg("--log-level")
        .arg("info,coapwasm::idle_instances=debug")
        .start();
    let peers: Vec<_> = (0..8).map(|_| server.peer()).collect();
    // Concurrent, so that the calls overlap and each needs an instance.
    std::thread::scope(|scope| {
        for mut peer in peers {
            scope.spawn(move || {
                for _ in 0..4 {
                    let response = peer.get("/greeting");
                    assert_eq!(response.code, Code::CONTENT, "{response}");
                }
            });
        }
    });
    let busy = rss_kib(server.pid());
    // Two periods after the burst every instance it made is unneeded.
    std::thread::sleep(Duration::from_millis(2500));
    let released: usize = server
        .log_lines(|line| line.contains("idle plugin instances released"))
        .iter()
        .filter_map(|line| {
            line.rsplit("released=")
                .next()?
                .trim()
                .parse::<usize>()
                .ok()
        })
        .sum();
    let idle = rss_kib(server.pid());
    assert!(released > 0, "no instance released in 2.5 s idle");
    assert!(
        idle + 4 * 1024 < busy,
        "resident memory {busy} KiB after the burst, {idle} KiB once {released} instances \
         were released"
    );
    let response = server.peer().get("/greeting");
    assert_eq!(response.payload_text(), "Hello, world!", "{response}");
}
