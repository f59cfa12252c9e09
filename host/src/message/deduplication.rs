//! Duplicate detection, RFC 7252 §4.5: a message is a duplicate when its source
//! endpoint and message id are those of one seen within EXCHANGE_LIFETIME (CON)
//! or NON_LIFETIME (NON).

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use foldhash::fast::RandomState;

/// A request's identity at the message layer: who sent it and its message id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MessageKey {
    /// The endpoint the message came from.
    pub peer: SocketAddr,
    /// The message id it carried.
    pub message_id: u16,
}

/// What the host has done so far with a message it received.
#[derive(Debug, Clone)]
pub enum Seen {
    /// A CON request is being handled; `acknowledged` once the empty ACK of a
    /// separate response went out (§5.2.2).
    Handling { acknowledged: bool },
    /// A CON was answered with this datagram (a piggybacked response, or a
    /// Reset); a duplicate gets it again (§4.5).
    Answered(Bytes),
    /// A NON request: handled or being handled. Duplicates are ignored (§4.5).
    NonConfirmable,
}

struct Entry {
    seen: Seen,
    expires: Instant,
}

/// The (endpoint, message id) pairs seen lately, bounded in number: past
/// `capacity` the oldest is forgotten early, which at worst lets one late
/// duplicate be processed twice instead of letting a peer grow the table.
pub struct DeduplicationCache {
    // foldhash: several times faster than SipHash on a socket address, and
    // seeded per process, so a peer cannot aim keys at one bucket.
    entries: HashMap<MessageKey, Entry, RandomState>,
    // One queue per lifetime keeps each in expiry order without sorting.
    confirmable_expiries: VecDeque<(Instant, MessageKey)>,
    non_confirmable_expiries: VecDeque<(Instant, MessageKey)>,
    exchange_lifetime: Duration,
    non_lifetime: Duration,
    capacity: usize,
}

impl DeduplicationCache {
    /// An empty cache.
    pub fn new(exchange_lifetime: Duration, non_lifetime: Duration, capacity: usize) -> Self {
        DeduplicationCache {
            entries: HashMap::default(),
            confirmable_expiries: VecDeque::new(),
            non_confirmable_expiries: VecDeque::new(),
            exchange_lifetime,
            non_lifetime,
            capacity: capacity.max(1),
        }
    }

    /// What was done with this message, if it is a duplicate.
    pub fn get(&self, key: &MessageKey) -> Option<&Seen> {
        self.entries.get(key).map(|entry| &entry.seen)
    }

    /// Records a message seen for the first time at `now`.
    pub fn insert(&mut self, key: MessageKey, seen: Seen, now: Instant) {
        while self.entries.len() >= self.capacity {
            if !self.evict_oldest() {
                break;
            }
        }
        let (lifetime, queue) = match seen {
            Seen::NonConfirmable => (self.non_lifetime, &mut self.non_confirmable_expiries),
            _ => (self.exchange_lifetime, &mut self.confirmable_expiries),
        };
        let expires = now + lifetime;
        queue.push_back((expires, key));
        self.entries.insert(key, Entry { seen, expires });
    }

    /// Updates what was done with a message still remembered.
    pub fn update(&mut self, key: &MessageKey, seen: Seen) {
        if let Some(entry) = self.entries.get_mut(key) {
            entry.seen = seen;
        }
    }

    /// Forgets every message whose lifetime has passed at `now`.
    pub fn expire(&mut self, now: Instant) {
        for queue in [
            &mut self.confirmable_expiries,
            &mut self.non_confirmable_expiries,
        ] {
            while let Some(&(expires, key)) = queue.front() {
                if expires > now {
                    break;
                }
                queue.pop_front();
                remove_if_expiring_at(&mut self.entries, key, expires);
            }
        }
    }

    /// How many messages are remembered.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no message is remembered.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn evict_oldest(&mut self) -> bool {
        let con = self.confirmable_expiries.front().map(|e| e.0);
        let non = self.non_confirmable_expiries.front().map(|e| e.0);
        // Compare by insertion time: expiry minus the queue's lifetime.
        let take_con = match (con, non) {
            (Some(c), Some(n)) => c - self.exchange_lifetime <= n - self.non_lifetime,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => return false,
        };
        let queue = if take_con {
            &mut self.confirmable_expiries
        } else {
            &mut self.non_confirmable_expiries
        };
        if let Some((expires, key)) = queue.pop_front() {
            remove_if_expiring_at(&mut self.entries, key, expires);
        }
        true
    }
}

/// A key can be seen again after it expired, with a later expiry: only the
/// queue item that matches the current entry removes it.
fn remove_if_expiring_at(
    entries: &mut HashMap<MessageKey, Entry, RandomState>,
    key: MessageKey,
    at: Instant,
) {
    if entries.get(&key).is_some_and(|entry| entry.expires == at) {
        entries.remove(&key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(message_id: u16) -> MessageKey {
        MessageKey {
            peer: "127.0.0.1:5000".parse().unwrap(),
            message_id,
        }
    }

    fn cache(capacity: usize) -> DeduplicationCache {
        DeduplicationCache::new(Duration::from_secs(247), Duration::from_secs(145), capacity)
    }

    #[test]
    fn remembers_until_the_lifetime_passes() {
        let mut cache = cache(10);
        let t0 = Instant::now();
        cache.insert(
            key(1),
            Seen::Handling {
                acknowledged: false,
            },
            t0,
        );
        cache.insert(key(2), Seen::NonConfirmable, t0);
        cache.expire(t0 + Duration::from_secs(146));
        assert!(cache.get(&key(1)).is_some());
        assert!(cache.get(&key(2)).is_none());
        cache.expire(t0 + Duration::from_secs(247));
        assert!(cache.is_empty());
    }

    #[test]
    fn same_id_from_another_endpoint_is_not_a_duplicate() {
        let mut cache = cache(10);
        cache.insert(key(1), Seen::NonConfirmable, Instant::now());
        let other = MessageKey {
            peer: "127.0.0.1:5001".parse().unwrap(),
            message_id: 1,
        };
        assert!(cache.get(&other).is_none());
    }

    #[test]
    fn capacity_evicts_the_oldest() {
        let mut cache = cache(2);
        let t0 = Instant::now();
        cache.insert(key(1), Seen::NonConfirmable, t0);
        cache.insert(
            key(2),
            Seen::Handling {
                acknowledged: false,
            },
            t0 + Duration::from_secs(1),
        );
        cache.insert(key(3), Seen::NonConfirmable, t0 + Duration::from_secs(2));
        assert_eq!(cache.len(), 2);
        assert!(cache.get(&key(1)).is_none());
        assert!(cache.get(&key(2)).is_some());
    }

    #[test]
    fn a_reused_key_outlives_its_first_expiry() {
        let mut cache = cache(10);
        let t0 = Instant::now();
        cache.insert(key(1), Seen::NonConfirmable, t0);
        cache.expire(t0 + Duration::from_secs(145));
        cache.insert(key(1), Seen::NonConfirmable, t0 + Duration::from_secs(200));
        cache.expire(t0 + Duration::from_secs(300));
        assert!(cache.get(&key(1)).is_some());
    }
}
