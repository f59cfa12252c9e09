//! Round-trip time of requests, for the measurements the plugin tests print
//! on demand (`--ignored`): not a pass/fail criterion, since a shared machine
//! makes timings noisy.

use crate::datagram::Code;
use crate::peer::Peer;
use std::time::{Duration, Instant};

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
