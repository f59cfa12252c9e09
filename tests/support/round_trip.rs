//! Round-trip time of requests, for the measurements the plugin tests print
//! on demand (`--ignored`): not a pass/fail criterion, since a shared machine
//! makes timings noisy.

use crate::REPLY_TIMEOUT;
use crate::datagram::{Code, Type};
use crate::peer::Peer;
use std::collections::HashSet;
use std::time::{Duration, Instant};

/// The time from sending `count` CON GETs of `target` at once until all are
/// answered 2.05 (checked, piggybacked). On a fresh server this includes
/// making an instance for each request that finds none idle.
pub fn burst(peer: &mut Peer, target: &str, count: usize) -> Duration {
    let requests: Vec<_> = (0..count).map(|_| peer.con(Code::GET, target)).collect();
    let mut waiting: HashSet<u16> = requests.iter().map(|r| r.mid).collect();
    let start = Instant::now();
    for request in &requests {
        peer.send(request);
    }
    let deadline = start + REPLY_TIMEOUT;
    while !waiting.is_empty() {
        let left = deadline.saturating_duration_since(Instant::now());
        let reply = peer
            .recv(left)
            .unwrap_or_else(|| panic!("{} of {count} GETs unanswered", waiting.len()));
        if reply.mtype == Type::Ack && waiting.remove(&reply.mid) {
            assert_eq!(reply.code, Code::CONTENT, "GET {target}: {reply}");
        }
    }
    start.elapsed()
}

/// The median round trip of `count` sequential CON GETs of `target`, each
/// answered 2.05 (checked), after 100 unmeasured ones to warm up.
pub fn median(peer: &mut Peer, target: &str, count: usize) -> Duration {
    assert!(count > 0, "no requests to measure");
    for _ in 0..100 {
        let response = peer.get(target);
        assert_eq!(response.code, Code::CONTENT, "GET {target}: {response}");
    }
    let mut times: Vec<Duration> = (0..count)
        .map(|_| {
            let request = peer.con(Code::GET, target);
            let start = Instant::now();
            let response = peer.exchange(&request);
            let elapsed = start.elapsed();
            assert_eq!(response.code, Code::CONTENT, "GET {target}: {response}");
            elapsed
        })
        .collect();
    times.sort();
    times[count / 2]
}
