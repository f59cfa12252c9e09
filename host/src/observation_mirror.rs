//! The observations of a host in a fleet, kept in Redis under its host id
//! (`coapwasm:host:{ID}:observations`, one hash: one Cluster slot), so that
//! a host restarted with the same `--host-id`, on the same machine or on a
//! replacement with an empty data folder, finds its observers again and
//! notifies them from the same address (RFC 7641 §4.1: the server may keep
//! observations; Leshan keeps its own in Redis alike). The redb file in the
//! data folder is still written: it is what a host restores from when Redis
//! is unreachable at start.
//!
//! Changes are written by a task of their own, as a batch per round trip.
//! What is not written yet is one entry per observation, the newest, kept
//! until Redis takes it: a Redis outage delays the record, and past
//! [`MAX_PENDING`] entries (far more than `[observe] max_total`) changes
//! are dropped, logged once.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use redis::AsyncCommands;
use redis::aio::ConnectionManager;
use tokio::sync::Notify;

use crate::exchange::observe::ObserverKey;
use crate::message::Token;
use crate::observation_store::StoredObservation;

/// The most changes waiting for Redis.
const MAX_PENDING: usize = 100_000;
/// How long the writer gathers changes before it writes them together.
const BATCH_WINDOW: Duration = Duration::from_millis(20);
/// How long after a failed write it tries again.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// The hash of the host called `host_id`.
pub fn hash_key(host_id: &str) -> String {
    format!("coapwasm:host:{{{host_id}}}:observations")
}

/// `local|peer|token in hex`: the socket, the client endpoint, the token.
fn field(local: SocketAddr, key: &ObserverKey) -> String {
    let token: String = key
        .token
        .as_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{local}|{}|{token}", key.peer)
}

/// `accept` (or `-`) newline `path`.
fn value(path: &str, accept: Option<u16>) -> String {
    let accept = accept.map_or_else(|| "-".to_owned(), |a| a.to_string());
    format!("{accept}\n{path}")
}

/// One stored field and value, as (local socket, observation).
fn parse(field: &str, value: &str) -> Option<(SocketAddr, StoredObservation)> {
    let mut parts = field.splitn(3, '|');
    let local = parts.next()?.parse().ok()?;
    let peer = parts.next()?.parse().ok()?;
    let hex = parts.next()?;
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect::<Option<Vec<u8>>>()?;
    let token = Token::new(&bytes)?;
    let (accept, path) = value.split_once('\n')?;
    let accept = match accept {
        "-" => None,
        number => Some(number.parse().ok()?),
    };
    Some((
        local,
        StoredObservation {
            key: ObserverKey { peer, token },
            path: path.to_owned(),
            accept,
        },
    ))
}

/// Every observation the host called `host_id` left in Redis, by socket.
pub async fn load(
    mut connection: ConnectionManager,
    host_id: &str,
    timeout: Duration,
) -> Result<HashMap<SocketAddr, Vec<StoredObservation>>, String> {
    let all = connection.hgetall::<_, Vec<(String, String)>>(hash_key(host_id));
    let all = match tokio::time::timeout(timeout, all).await {
        Ok(Ok(all)) => all,
        Ok(Err(error)) => return Err(error.to_string()),
        Err(_) => return Err(format!("no answer within {} ms", timeout.as_millis())),
    };
    let mut found: HashMap<SocketAddr, Vec<StoredObservation>> = HashMap::new();
    for (field, value) in all {
        if let Some((local, observation)) = parse(&field, &value) {
            found.entry(local).or_default().push(observation);
        }
    }
    Ok(found)
}

/// The changes on their way to Redis.
pub struct Mirror {
    /// Per field, its new value, or None to delete it.
    pending: Mutex<HashMap<String, Option<String>>>,
    ready: Notify,
    dropping: AtomicBool,
}

impl Mirror {
    /// A mirror into the hash of `host_id`, written by a task it spawns
    /// (inside the tokio runtime).
    pub fn start(
        connection: ConnectionManager,
        host_id: &str,
        timeout: Duration,
    ) -> std::sync::Arc<Mirror> {
        let mirror = std::sync::Arc::new(Mirror {
            pending: Mutex::default(),
            ready: Notify::new(),
            dropping: AtomicBool::new(false),
        });
        tokio::spawn(write(
            std::sync::Arc::downgrade(&mirror),
            connection,
            hash_key(host_id),
            timeout,
        ));
        mirror
    }

    pub fn put(&self, local: SocketAddr, key: &ObserverKey, path: &str, accept: Option<u16>) {
        self.change(field(local, key), Some(value(path, accept)));
    }

    pub fn delete(&self, local: SocketAddr, key: &ObserverKey) {
        self.change(field(local, key), None);
    }

    fn change(&self, field: String, value: Option<String>) {
        let mut pending = self.lock();
        if pending.len() >= MAX_PENDING && !pending.contains_key(&field) {
            if !self.dropping.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    "{MAX_PENDING} observation changes wait for Redis: more are not recorded \
                     there until it takes them"
                );
            }
            return;
        }
        pending.insert(field, value);
        drop(pending);
        self.ready.notify_one();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Option<String>>> {
        self.pending
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Writes batches for as long as the mirror exists; a batch Redis did not
/// take goes back, under newer changes of the same fields.
async fn write(
    mirror: std::sync::Weak<Mirror>,
    mut connection: ConnectionManager,
    hash: String,
    timeout: Duration,
) {
    loop {
        let batch = {
            let Some(mirror) = mirror.upgrade() else {
                return;
            };
            mirror.ready.notified().await;
            tokio::time::sleep(BATCH_WINDOW).await;
            std::mem::take(&mut *mirror.lock())
        };
        if batch.is_empty() {
            continue;
        }
        let mut pipe = redis::pipe();
        for (field, value) in &batch {
            match value {
                Some(value) => pipe.hset(&hash, field, value).ignore(),
                None => pipe.hdel(&hash, field).ignore(),
            };
        }
        let written = tokio::time::timeout(timeout, pipe.query_async::<()>(&mut connection)).await;
        if matches!(written, Ok(Ok(()))) {
            if let Some(mirror) = mirror.upgrade() {
                mirror.dropping.store(false, Ordering::Relaxed);
            }
            continue;
        }
        let Some(alive) = mirror.upgrade() else {
            return;
        };
        {
            let mut pending = alive.lock();
            for (field, value) in batch {
                pending.entry(field).or_insert(value);
            }
        }
        alive.ready.notify_one();
        drop(alive);
        tokio::time::sleep(RETRY_AFTER).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_and_value_read_back_as_written() {
        let local: SocketAddr = "127.0.0.2:5683".parse().unwrap();
        let key = ObserverKey {
            peer: "[::1]:40000".parse().unwrap(),
            token: Token::new(&[0, 0xab, 7]).unwrap(),
        };
        for accept in [None, Some(50)] {
            let (back_local, back) = parse(&field(local, &key), &value("/a|b\nc", accept)).unwrap();
            assert_eq!(back_local, local);
            assert_eq!(back.key, key);
            assert_eq!(back.path, "/a|b\nc");
            assert_eq!(back.accept, accept);
        }
        assert!(parse("nonsense", "-\n/x").is_none());
        assert_eq!(hash_key("a"), "coapwasm:host:{a}:observations");
    }
}
