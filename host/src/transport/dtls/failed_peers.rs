//! A small, bounded memory of peers whose handshake recently failed, so a
//! client retrying with a wrong key is warned about once, not per attempt.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Peers remembered at most; the oldest is forgotten first.
const CAPACITY: usize = 1024;
/// After this a peer's next failure is warned about again.
const MEMORY: Duration = Duration::from_secs(600);

/// Recently failed peers and when each was last warned about.
#[derive(Default)]
pub(crate) struct FailedPeers {
    warned_at: HashMap<SocketAddr, Instant>,
    order: VecDeque<(SocketAddr, Instant)>,
    /// Warnings logged so far.
    warnings: u64,
}

impl FailedPeers {
    /// Logs a failed handshake: a warning the first time for a peer, at
    /// debug level while it is remembered.
    pub(crate) fn report(&mut self, peer: SocketAddr, reason: &str, now: Instant) {
        let recent = self
            .warned_at
            .get(&peer)
            .is_some_and(|&at| now.saturating_duration_since(at) < MEMORY);
        if recent {
            tracing::debug!(%peer, reason, "dtls: handshake failed again");
            return;
        }
        tracing::warn!(%peer, reason, "dtls: handshake failed");
        self.warnings += 1;
        self.warned_at.insert(peer, now);
        self.order.push_back((peer, now));
        while self.order.len() > CAPACITY {
            let (oldest, at) = self.order.pop_front().expect("non-empty");
            // Only if not re-warned since (then a later entry stands for it).
            if self.warned_at.get(&oldest) == Some(&at) {
                self.warned_at.remove(&oldest);
            }
        }
    }

    /// Whether `peer` was warned about and is still remembered.
    #[cfg(test)]
    pub(crate) fn remembers(&self, peer: SocketAddr) -> bool {
        self.warned_at.contains_key(&peer)
    }

    /// How many warnings were logged.
    #[cfg(test)]
    pub(crate) fn warnings(&self) -> u64 {
        self.warnings
    }

    /// How many peers are remembered (bounded by [`CAPACITY`]).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.warned_at.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, SocketAddrV4};

    fn peer(n: u32) -> SocketAddr {
        SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::from(n), 5684))
    }

    #[test]
    fn warns_once_per_peer_and_stays_bounded() {
        let mut failed = FailedPeers::default();
        let now = Instant::now();
        failed.report(peer(1), "wrong key", now);
        failed.report(peer(1), "wrong key", now);
        assert_eq!(failed.warnings(), 1);
        failed.report(peer(1), "wrong key", now + MEMORY);
        assert_eq!(failed.warnings(), 2, "warned again once forgotten");
        for n in 0..10 * CAPACITY as u32 {
            failed.report(peer(1000 + n), "unknown identity", now);
        }
        assert_eq!(failed.len(), CAPACITY);
        assert!(failed.order.len() <= CAPACITY);
    }
}
