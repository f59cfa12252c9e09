//! Observe, RFC 7641: which clients observe which resources, and how each of
//! them gets its next notification. Pure state: the socket loop feeds it
//! registrations, acknowledgements, resets and the time, and sends what it
//! decides.

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::message::Token;

/// The Observe option's sequence numbers are 24 bits (§3.4, §4.4).
const SEQUENCE_MODULUS: u32 = 1 << 24;

/// An observation is identified by the client's endpoint and the token of
/// its registration (§3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObserverKey {
    /// The client's endpoint.
    pub peer: SocketAddr,
    /// The registration's token, repeated in every notification.
    pub token: Token,
}

/// One observer of one resource.
#[derive(Debug, Clone, PartialEq)]
pub struct Observer {
    /// The observed resource.
    pub path: String,
    /// The Accept option of the registration: notifications use that format.
    pub accept: Option<u16>,
    sequence: u32,
    since_confirmable: u32,
    last_confirmable: Instant,
    // Message id of the last notification, matched against ACK and RST.
    last_message_id: Option<u16>,
    // A CON notification not yet acknowledged: while it is, newer states are
    // not queued (§4.5.2); the newest goes out once it is settled.
    awaiting_ack: bool,
    stale: bool,
}

/// Limits and policy of observations.
#[derive(Debug, Clone, Copy)]
pub struct ObservePolicy {
    /// Observations one endpoint may hold.
    pub per_endpoint: usize,
    /// Observations in all.
    pub total: usize,
    /// Every this many notifications, one is confirmable (§4.5).
    pub confirmable_every: u32,
    /// At least one notification in this interval is confirmable (§4.5: 24 h).
    pub confirmable_interval: Duration,
}

impl Default for ObservePolicy {
    fn default() -> Self {
        ObservePolicy {
            per_endpoint: 64,
            total: 10_000,
            confirmable_every: 20,
            confirmable_interval: Duration::from_secs(24 * 3600),
        }
    }
}

/// Why a registration was not accepted: the client gets a plain response
/// without the Observe option (§4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The endpoint holds as many observations as it may.
    EndpointFull,
    /// The host holds as many observations as it may.
    HostFull,
}

/// How to send one notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Notification {
    /// The Observe option's value.
    pub sequence: u32,
    /// Whether to send it as a CON.
    pub confirmable: bool,
}

/// Every observation of one socket loop.
pub struct Observations {
    policy: ObservePolicy,
    // Observations of every loop of the address, held to `policy.total`
    // together: a peer's loop is the kernel's choice, not the peer's.
    address_total: Arc<AtomicUsize>,
    observers: HashMap<ObserverKey, Observer>,
    by_path: HashMap<String, BTreeSet<ObserverKey>>,
    per_endpoint: HashMap<SocketAddr, usize>,
    by_message: HashMap<(SocketAddr, u16), ObserverKey>,
}

impl Observations {
    /// No observations yet.
    pub fn new(policy: ObservePolicy) -> Self {
        Self::sharing(policy, Arc::default())
    }

    /// No observations yet, counted toward `policy.total` in `address_total`
    /// with those of the address's other loops.
    pub fn sharing(policy: ObservePolicy, address_total: Arc<AtomicUsize>) -> Self {
        Observations {
            policy,
            address_total,
            observers: HashMap::new(),
            by_path: HashMap::new(),
            per_endpoint: HashMap::new(),
            by_message: HashMap::new(),
        }
    }

    /// Adds (or, for the same endpoint and token, replaces: §4.1) an
    /// observation of `path` whose first notification, the registration's
    /// response, carries `sequence`.
    pub fn register(
        &mut self,
        key: ObserverKey,
        path: &str,
        accept: Option<u16>,
        sequence: u32,
        now: Instant,
    ) -> Result<(), Refused> {
        // A replacement keeps its place, so it cannot be refused.
        let replacing = self.observers.contains_key(&key);
        if !replacing {
            if self.per_endpoint.get(&key.peer).copied().unwrap_or(0) >= self.policy.per_endpoint {
                return Err(Refused::EndpointFull);
            }
            let total = self.policy.total;
            self.address_total
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                    (n < total).then_some(n + 1)
                })
                .map_err(|_| Refused::HostFull)?;
        } else {
            self.deregister(&key);
            self.address_total.fetch_add(1, Ordering::AcqRel);
        }
        self.observers.insert(
            key,
            Observer {
                path: path.to_owned(),
                accept,
                sequence,
                since_confirmable: 0,
                last_confirmable: now,
                last_message_id: None,
                awaiting_ack: false,
                stale: false,
            },
        );
        self.by_path.entry(path.to_owned()).or_default().insert(key);
        *self.per_endpoint.entry(key.peer).or_default() += 1;
        Ok(())
    }

    /// Ends an observation (§3.6: a GET with Observe 1, a Reset, or a
    /// notification that failed).
    pub fn deregister(&mut self, key: &ObserverKey) -> Option<Observer> {
        let observer = self.observers.remove(key)?;
        self.address_total.fetch_sub(1, Ordering::AcqRel);
        if let Some(keys) = self.by_path.get_mut(&observer.path) {
            keys.remove(key);
            if keys.is_empty() {
                self.by_path.remove(&observer.path);
            }
        }
        if let Some(count) = self.per_endpoint.get_mut(&key.peer) {
            *count -= 1;
            if *count == 0 {
                self.per_endpoint.remove(&key.peer);
            }
        }
        if let Some(id) = observer.last_message_id {
            self.by_message.remove(&(key.peer, id));
        }
        Some(observer)
    }

    /// The observer, if `key` observes something.
    pub fn get(&self, key: &ObserverKey) -> Option<&Observer> {
        self.observers.get(key)
    }

    /// Who observes `path`.
    pub fn observers_of(&self, path: &str) -> Vec<ObserverKey> {
        self.by_path
            .get(path)
            .map(|keys| keys.iter().copied().collect())
            .unwrap_or_default()
    }

    /// Every observed path.
    pub fn paths(&self) -> Vec<String> {
        self.by_path.keys().cloned().collect()
    }

    /// Whether anyone observes `path`.
    pub fn is_observed(&self, path: &str) -> bool {
        self.by_path.contains_key(path)
    }

    /// How many observations there are.
    pub fn len(&self) -> usize {
        self.observers.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.observers.is_empty()
    }

    /// Plans the next notification to `key`, or none while a CON to it is
    /// unacknowledged: the newest state then goes out once it is (§4.5.2).
    /// `clock_sequence` is a sequence number from a clock; the sequence used
    /// is the later of it and the last one plus one, so that numbers keep
    /// increasing across restarts (§4.4).
    pub fn plan(
        &mut self,
        key: &ObserverKey,
        important: bool,
        clock_sequence: u32,
        now: Instant,
    ) -> Option<Notification> {
        let policy = self.policy;
        let observer = self.observers.get_mut(key)?;
        if observer.awaiting_ack {
            observer.stale = true;
            return None;
        }
        let next = (observer.sequence + 1) % SEQUENCE_MODULUS;
        observer.sequence = if is_newer(clock_sequence, next) {
            clock_sequence
        } else {
            next
        };
        let confirmable = important
            || observer.since_confirmable + 1 >= policy.confirmable_every
            || now.duration_since(observer.last_confirmable) >= policy.confirmable_interval;
        if confirmable {
            observer.since_confirmable = 0;
            observer.last_confirmable = now;
        } else {
            observer.since_confirmable += 1;
        }
        Some(Notification {
            sequence: observer.sequence,
            confirmable,
        })
    }

    /// Records the message id a planned notification went out with.
    pub fn sent(&mut self, key: &ObserverKey, message_id: u16, confirmable: bool) {
        let Some(observer) = self.observers.get_mut(key) else {
            return;
        };
        if let Some(old) = observer.last_message_id.replace(message_id) {
            self.by_message.remove(&(key.peer, old));
        }
        observer.awaiting_ack = confirmable;
        self.by_message.insert((key.peer, message_id), *key);
    }

    /// A notification was acknowledged. Returns the observer if a newer
    /// state arrived meanwhile and should be sent now.
    pub fn acknowledged(&mut self, peer: SocketAddr, message_id: u16) -> Option<ObserverKey> {
        let key = *self.by_message.get(&(peer, message_id))?;
        let observer = self.observers.get_mut(&key)?;
        observer.awaiting_ack = false;
        std::mem::take(&mut observer.stale).then_some(key)
    }

    /// A notification was answered with a Reset, or its retransmissions ran
    /// out: the client is gone or no longer interested (§3.6, §4.5).
    pub fn failed(&mut self, peer: SocketAddr, message_id: u16) -> Option<(ObserverKey, Observer)> {
        let key = self.by_message.remove(&(peer, message_id))?;
        self.deregister(&key).map(|observer| (key, observer))
    }

    /// Ends every observation of `path` (the resource is gone).
    pub fn remove_path(&mut self, path: &str) -> Vec<(ObserverKey, Observer)> {
        self.observers_of(path)
            .into_iter()
            .filter_map(|key| self.deregister(&key).map(|o| (key, o)))
            .collect()
    }
}

impl Drop for Observations {
    fn drop(&mut self) {
        self.address_total
            .fetch_sub(self.observers.len(), Ordering::AcqRel);
    }
}

/// §4.4: whether sequence `a` is newer than `b`, modulo 2^24.
fn is_newer(a: u32, b: u32) -> bool {
    (a > b && a - b < 1 << 23) || (a < b && b - a > 1 << 23)
}

/// A sequence number from the wall clock, in milliseconds modulo 2^24: it
/// increases for 4.6 hours before it wraps, longer than any gap the 128 s rule
/// of §4.4 does not cover, so a restarted host never goes backwards.
pub fn clock_sequence(unix_millis: u128) -> u32 {
    (unix_millis % u128::from(SEQUENCE_MODULUS)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(port: u16, token: u8) -> ObserverKey {
        ObserverKey {
            peer: SocketAddr::from(([127, 0, 0, 1], port)),
            token: Token::new(&[token]).unwrap(),
        }
    }

    fn policy() -> ObservePolicy {
        ObservePolicy {
            per_endpoint: 2,
            total: 3,
            confirmable_every: 3,
            confirmable_interval: Duration::from_secs(3600),
        }
    }

    #[test]
    fn same_endpoint_and_token_replaces() {
        let mut obs = Observations::new(policy());
        let now = Instant::now();
        obs.register(key(1, 1), "/led", None, 5, now).unwrap();
        obs.register(key(1, 1), "/temperature", Some(0), 5, now)
            .unwrap();
        assert_eq!(obs.len(), 1);
        assert!(!obs.is_observed("/led"));
        assert_eq!(obs.observers_of("/temperature"), vec![key(1, 1)]);
    }

    #[test]
    fn limits_refuse_registrations() {
        let mut obs = Observations::new(policy());
        let now = Instant::now();
        obs.register(key(1, 1), "/a", None, 0, now).unwrap();
        obs.register(key(1, 2), "/a", None, 0, now).unwrap();
        assert_eq!(
            obs.register(key(1, 3), "/a", None, 0, now),
            Err(Refused::EndpointFull)
        );
        obs.register(key(2, 1), "/a", None, 0, now).unwrap();
        assert_eq!(
            obs.register(key(3, 1), "/a", None, 0, now),
            Err(Refused::HostFull)
        );
        // Replacing an existing one is always allowed.
        obs.register(key(1, 1), "/b", None, 0, now).unwrap();
    }

    #[test]
    fn sequence_increases_and_every_nth_is_confirmable() {
        let mut obs = Observations::new(policy());
        let now = Instant::now();
        obs.register(key(1, 1), "/a", None, 10, now).unwrap();
        let mut plans = Vec::new();
        for _ in 0..6 {
            let plan = obs.plan(&key(1, 1), false, 0, now).unwrap();
            obs.sent(&key(1, 1), plan.sequence as u16, false);
            plans.push(plan);
        }
        let sequences: Vec<u32> = plans.iter().map(|p| p.sequence).collect();
        assert_eq!(sequences, vec![11, 12, 13, 14, 15, 16]);
        let confirmable: Vec<bool> = plans.iter().map(|p| p.confirmable).collect();
        assert_eq!(confirmable, vec![false, false, true, false, false, true]);
    }

    #[test]
    fn clock_sequence_wins_when_newer() {
        let mut obs = Observations::new(policy());
        let now = Instant::now();
        obs.register(key(1, 1), "/a", None, 10, now).unwrap();
        assert_eq!(
            obs.plan(&key(1, 1), false, 5000, now).unwrap().sequence,
            5000
        );
        // A clock behind the last number does not go backwards.
        assert_eq!(
            obs.plan(&key(1, 1), false, 100, now).unwrap().sequence,
            5001
        );
        // Wrap-around: 2^24 - 1 is older than 3.
        assert!(is_newer(3, SEQUENCE_MODULUS - 1));
    }

    #[test]
    fn a_slow_client_gets_the_newest_state_not_a_queue() {
        let mut obs = Observations::new(policy());
        let now = Instant::now();
        let k = key(1, 1);
        obs.register(k, "/a", None, 0, now).unwrap();
        let plan = obs.plan(&k, true, 0, now).unwrap();
        assert!(plan.confirmable);
        obs.sent(&k, 77, true);
        assert_eq!(obs.plan(&k, false, 0, now), None);
        assert_eq!(obs.plan(&k, false, 0, now), None);
        assert_eq!(obs.acknowledged(k.peer, 77), Some(k));
        assert!(obs.plan(&k, false, 0, now).is_some());
    }

    #[test]
    fn reset_or_give_up_removes_the_observer() {
        let mut obs = Observations::new(policy());
        let now = Instant::now();
        let k = key(1, 1);
        obs.register(k, "/a", None, 0, now).unwrap();
        obs.plan(&k, false, 0, now).unwrap();
        obs.sent(&k, 9, false);
        assert!(obs.failed(k.peer, 8).is_none());
        assert!(obs.failed(k.peer, 9).is_some());
        assert!(obs.is_empty());
        assert!(!obs.is_observed("/a"));
    }

    #[test]
    fn confirmable_at_least_once_per_interval() {
        let mut obs = Observations::new(ObservePolicy {
            confirmable_every: 1000,
            ..policy()
        });
        let t0 = Instant::now();
        obs.register(key(1, 1), "/a", None, 0, t0).unwrap();
        assert!(!obs.plan(&key(1, 1), false, 0, t0).unwrap().confirmable);
        let later = t0 + Duration::from_secs(3600);
        assert!(obs.plan(&key(1, 1), false, 0, later).unwrap().confirmable);
    }
}
