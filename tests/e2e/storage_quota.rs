//! Issue 13, finding 5: a plugin that writes without end is held to its
//! key-value quota (`runtime.max_storage_bytes`, 16 MiB by default, or the
//! manifest's `[limits] max_storage_bytes`). Past it `key-value.set` fails
//! with `too-large`, the host says so once, nothing stored is lost, and the
//! data folder stops growing: before the quota, 20 requests of 64 values of
//! 256 KiB grew it by 1.1 GB.

use std::path::Path;
use std::time::Duration;

use coapwasm_tests::{Code, Server};

/// The default quota, `runtime.max_storage_bytes`.
const QUOTA: u64 = 16 * 1024 * 1024;
/// What the data folder may grow by while the plugin fills its quota: redb
/// takes about 3.2 times what a namespace that only grows holds (measured:
/// 256 KiB values, one transaction each), so 5 times leaves a margin.
const GROWTH_BOUND: u64 = 5 * QUOTA;
const REQUESTS: usize = 20;

/// The bytes of every file under `dir`.
fn folder_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|entry| {
            let entry = entry.unwrap();
            let metadata = entry.metadata().unwrap();
            if metadata.is_dir() {
                folder_bytes(&entry.path())
            } else {
                metadata.len()
            }
        })
        .sum()
}

fn hoard(server: &Server, round: usize) -> String {
    let response = server
        .peer()
        .call(Code::POST, &format!("/hoard?round={round}"));
    assert_eq!(
        response.code,
        Code::CHANGED,
        "POST round {round}: {response}"
    );
    response.payload_text().to_owned()
}

fn check(server: &Server) -> String {
    let response = server.peer().call(Code::GET, "/hoard");
    assert_eq!(response.code, Code::CONTENT, "{response}");
    response.payload_text().to_owned()
}

#[test]
fn a_plugin_that_writes_without_end_stops_at_its_quota() {
    let mut server = Server::with_plugins(&["led", "hoarder"]);
    let start = folder_bytes(&server.data_dir());

    let mut answers = Vec::new();
    for round in 0..REQUESTS {
        answers.push(hoard(&server, round));
        let growth = folder_bytes(&server.data_dir()) - start;
        // Checked after every request, so that a host without a quota fails
        // here after a few hundred MB rather than filling the disk.
        assert!(
            growth <= GROWTH_BOUND,
            "the data folder grew by {growth} bytes after {} requests of 16 MiB, past \
             {GROWTH_BOUND} (5 x the {QUOTA}-byte quota); answers: {answers:?}",
            round + 1
        );
    }
    // The first request fills the quota (64 x 256 KiB and the keys are just
    // over it); every later write is refused, and the plugin sees why.
    assert!(
        answers[0].starts_with("stored 63 refused 1 error too-large"),
        "{answers:?}"
    );
    for answer in &answers[1..] {
        assert_eq!(answer, "stored 0 refused 64 error too-large", "{answers:?}");
    }
    assert_eq!(check(&server), "keys 63 intact 63");
    assert_eq!(server.peer().get("/led").code, Code::CONTENT);

    // Said once, naming the plugin and the quota.
    let said = |line: &str| line.contains("hoarder") && line.contains("quota");
    server
        .log_line(Duration::from_secs(5), said)
        .expect("a log line naming the plugin and its quota");
    let lines = server.log_lines(said);
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(lines[0].contains(&QUOTA.to_string()), "{}", lines[0]);

    // The quota holds across a restart: the namespace is counted when the
    // store is opened again, and what it holds is still all there.
    server.restart();
    assert_eq!(
        hoard(&server, REQUESTS),
        "stored 0 refused 64 error too-large"
    );
    assert_eq!(check(&server), "keys 63 intact 63");
}

/// The manifest's `[limits] max_storage_bytes` overrides the default for one
/// plugin, and the bound on the data folder follows it.
#[test]
fn the_manifest_sets_a_plugin_s_quota() {
    const SMALL: u64 = 1024 * 1024;
    let server = Server::builder()
        .plugins(&["hoarder"])
        .manifest(
            "hoarder",
            &format!("[limits]\nmax_storage_bytes = {SMALL}\n"),
        )
        .start();
    let start = folder_bytes(&server.data_dir());
    // 4 values of 256 KiB and their keys are just over 1 MiB.
    assert_eq!(hoard(&server, 0), "stored 3 refused 61 error too-large");
    assert_eq!(check(&server), "keys 3 intact 3");
    // Smaller values still fit beside them, up to the quota: 262,135 bytes
    // are left, room for 65 values of 4,000 bytes and their keys.
    let mut peer = server.peer();
    let response = peer.call(Code::POST, "/hoard?round=1&count=80&len=4000");
    assert_eq!(response.code, Code::CHANGED, "{response}");
    assert_eq!(
        response.payload_text(),
        "stored 65 refused 15 error too-large"
    );
    assert_eq!(check(&server), "keys 68 intact 68");
    let growth = folder_bytes(&server.data_dir()) - start;
    assert!(growth <= 5 * SMALL, "grew by {growth} bytes");
}

/// Instances writing at once cannot pass the quota together: eight requests
/// sent together, each writing 1 MiB, into a quota of 1 MiB.
#[test]
fn instances_writing_at_once_stay_within_the_quota() {
    const SMALL: u64 = 1024 * 1024;
    const LEN: u64 = 64 * 1024;
    let server = Server::builder()
        .plugins(&["hoarder"])
        .manifest(
            "hoarder",
            &format!("[limits]\nmax_storage_bytes = {SMALL}\n"),
        )
        .start();
    let mut peer = server.peer();
    let requests: Vec<_> = (0..8)
        .map(|round| {
            peer.non(
                Code::POST,
                &format!("/hoard?round={round}&count=16&len={LEN}"),
            )
        })
        .collect();
    for request in &requests {
        peer.send(request);
    }
    let mut answers = Vec::new();
    while answers.len() < requests.len() {
        let reply = peer
            .recv(coapwasm_tests::REPLY_TIMEOUT)
            .unwrap_or_else(|| panic!("{} of 8 answered: {answers:?}", answers.len()));
        if requests.iter().any(|request| request.token == reply.token) {
            assert_eq!(reply.code, Code::CHANGED, "{reply}");
            answers.push(reply.payload_text().to_owned());
        }
    }
    // Each value and its key ("R-I") take 65,539 or 65,540 bytes: 15 fit.
    assert_eq!(check(&server), "keys 15 intact 15", "{answers:?}");
}
