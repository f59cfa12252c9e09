//! Plugin namespaces kept in Redis (or Valkey), which several hosts share:
//! what one host's plugin stores, the same plugin on every other host reads,
//! and `atomics` operations are atomic across all of them.
//!
//! One multiplexed connection, redis-rs's connection manager, which
//! reconnects by itself after Redis went away; nothing here blocks a
//! thread, and every operation is bounded by a timeout, so a Redis that is
//! down or stalled costs a request that time at most, then the request gets
//! 5.03 (`KvError::Unavailable`). The outage is logged once when it starts
//! and once when it ends (`outage.rs`).
//!
//! Writes go through the Lua scripts of `redis_scripts.rs`, which keep the
//! namespace's quota in Redis, atomically with the write. Every write that
//! succeeded passes through [`RedisNamespace::written`], which tells the
//! other hosts of the fleet (`change_feed.rs`), for their observers.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, ErrorKind, RedisError, ServerErrorKind};

use super::change_feed::{self, Heard, Publisher};
use super::key_layout::KeyLayout;
use super::outage::{Outage, Transition};
use super::quota::rearmed;
use super::redis_scripts::{COMPARE_AND_SWAP, DELETE, INCREMENT, SET, Status};
use super::{KvError, MAX_KEY_LEN, MAX_VALUE_LEN};

/// The connection to one Redis server, shared by every shared namespace.
pub struct RedisStore {
    client: redis::Client,
    connection: ConnectionManager,
    /// Who this host is in the fleet's change feed.
    host_id: String,
    publisher: Publisher,
    /// The most one operation may take, connecting included.
    timeout: Duration,
    /// The server, as logs show it: without a password.
    shown: String,
    outage: Outage,
}

impl RedisStore {
    /// A store on the server at `url` (`redis://HOST:PORT`, optionally
    /// `/DB` and a user and password), each operation bounded by
    /// `timeout`. Connects on the first operation, not here: a host whose
    /// Redis is down still starts and serves its local namespaces. Must be
    /// called inside the tokio runtime.
    pub fn connect(url: &str, timeout: Duration) -> Result<RedisStore, KvError> {
        let client = redis::Client::open(url)
            .map_err(|e| KvError::Storage(format!("bad Redis URL {}: {e}", shown(url))))?;
        // One quick retry inside a reconnection; past it the next operation
        // starts another, so a Redis that comes back is found within one
        // operation, and no request waits out a long backoff.
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_millis(200));
        let connection = ConnectionManager::new_lazy_with_config(client.clone(), config)
            .map_err(|e| KvError::Storage(format!("Redis at {}: {e}", shown(url))))?;
        Ok(RedisStore {
            client,
            connection,
            host_id: String::new(),
            publisher: Publisher::default(),
            timeout,
            shown: shown(url),
            outage: Outage::default(),
        })
    }

    /// The namespace of the plugin called `name`, which may hold at most
    /// `quota` bytes of keys and values, counted in Redis for every host.
    pub fn namespace(self: &Arc<Self>, name: &str, quota: u64) -> RedisNamespace {
        RedisNamespace {
            store: self.clone(),
            name: name.into(),
            layout: Arc::new(KeyLayout::new(name)),
            quota,
            warned: Arc::default(),
        }
    }

    /// The same store, naming this host `host_id` in the change feed.
    pub fn with_host_id(mut self, host_id: &str) -> RedisStore {
        self.host_id = host_id.to_owned();
        self
    }

    /// A handle on the shared connection, for the host's own records
    /// (`observation_mirror.rs`).
    pub fn connection(&self) -> ConnectionManager {
        self.connection.clone()
    }

    /// The most one operation may take.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Where it is, for logs.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// Follows the changes other hosts make, for ever: `heard` is called
    /// for each, and after each (re)subscription (`change_feed.rs`).
    pub async fn follow_changes(&self, heard: impl Fn(Heard)) {
        change_feed::follow(
            self.client.clone(),
            self.connection.clone(),
            self.host_id.clone(),
            self.timeout,
            heard,
        )
        .await;
    }

    /// Tells the other hosts that `namespace` changed, in the background;
    /// writes made while a message is on its way make one more message.
    fn announce(self: &Arc<Self>, namespace: &Arc<str>) {
        if !self.publisher.begin(namespace) {
            return;
        }
        let store = self.clone();
        let namespace = namespace.clone();
        tokio::spawn(async move {
            loop {
                // A failure is the outage `run` logs; the other hosts
                // resync when their subscription comes back.
                let _ = store
                    .run(async |c| change_feed::publish(c, &namespace, &store.host_id).await)
                    .await;
                if !store.publisher.again(&namespace) {
                    break;
                }
            }
        });
    }

    /// Runs one operation within the timeout, and keeps track of outages.
    async fn run<T>(
        &self,
        operation: impl AsyncFnOnce(&mut ConnectionManager) -> redis::RedisResult<T>,
    ) -> Result<T, KvError> {
        let mut connection = self.connection.clone();
        let outcome = tokio::time::timeout(self.timeout, operation(&mut connection)).await;
        let failure = match outcome {
            Ok(Ok(value)) => {
                self.answered();
                return Ok(value);
            }
            Ok(Err(error)) if !unreachable(&error) => {
                self.answered();
                return Err(KvError::Storage(format!("Redis: {error}")));
            }
            Ok(Err(error)) => error.to_string(),
            Err(_) => format!("no answer within {} ms", self.timeout.as_millis()),
        };
        if self.outage.failed() == Transition::WentDown {
            tracing::warn!(
                redis = self.shown,
                "the shared key-value store is unreachable ({failure}): requests that need a \
                 shared namespace get 5.03 until it is back; reconnecting"
            );
        }
        Err(KvError::Unavailable)
    }

    fn answered(&self) {
        if let Transition::CameBack(lasted) = self.outage.succeeded() {
            tracing::info!(
                redis = self.shown,
                down_ms = lasted.as_millis() as u64,
                "the shared key-value store is reachable again after {:.1} s",
                lasted.as_secs_f64()
            );
        }
    }

    /// Whether the last operation found Redis unreachable.
    pub fn is_down(&self) -> bool {
        self.outage.is_down()
    }
}

/// Errors that say Redis cannot serve now, rather than that it refused
/// this operation: a lost or refused connection, a timeout, or a server
/// that is loading its data after a restart or has no master.
fn unreachable(error: &RedisError) -> bool {
    error.is_io_error()
        || error.is_timeout()
        || error.is_connection_dropped()
        || error.is_connection_refusal()
        || matches!(
            error.kind(),
            ErrorKind::ClusterConnectionNotFound
                | ErrorKind::Server(
                    ServerErrorKind::BusyLoading
                        | ServerErrorKind::TryAgain
                        | ServerErrorKind::ClusterDown
                        | ServerErrorKind::MasterDown
                )
        )
}

/// `url` without its password, if it has one.
fn shown(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}{}", &url[..scheme + 3], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

/// One plugin's namespace in Redis.
#[derive(Clone)]
pub struct RedisNamespace {
    store: Arc<RedisStore>,
    name: Arc<str>,
    layout: Arc<KeyLayout>,
    quota: u64,
    /// Whether this host logged a refusal since the namespace was last well
    /// under its quota (the rule of `quota.rs`).
    warned: Arc<AtomicBool>,
}

/// What a writing script answers: `{status, detail, used}`.
type Answer = (i64, String, String);

impl RedisNamespace {
    /// The value under `key`.
    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        let name = self.layout.value(key);
        self.store
            .run(async |c| c.get::<_, Option<Vec<u8>>>(&name).await)
            .await
    }

    /// Stores `value` under `key` unless the key or value is over its limit
    /// or the namespace would grow past its quota.
    pub async fn set(&self, key: &str, value: &[u8]) -> Result<(), KvError> {
        check_sizes(key, value)?;
        let keys = self.keys_of(key);
        let answer = self
            .store
            .run(async |c| {
                SET.key(&keys[..])
                    .arg(key)
                    .arg(value)
                    .arg(self.quota)
                    .invoke_async(c)
                    .await
            })
            .await?;
        self.outcome(key, answer).map(|_| ())
    }

    /// Removes `key`; true if it was there. Never refused for the quota.
    pub async fn delete(&self, key: &str) -> Result<bool, KvError> {
        let keys = self.keys_of(key);
        let answer: Answer = self
            .store
            .run(async |c| DELETE.key(&keys[..]).arg(key).invoke_async(c).await)
            .await?;
        if Status::from_code(answer.0) == Some(Status::Absent) {
            return Ok(false);
        }
        self.outcome(key, answer).map(|_| true)
    }

    /// Every key, sorted bytewise.
    pub async fn keys(&self) -> Result<Vec<String>, KvError> {
        let index = self.layout.index();
        self.store
            .run(async |c| c.zrange::<_, Vec<String>>(&index, 0, -1).await)
            .await
    }

    /// The bytes of keys and values the namespace holds, as Redis counts
    /// them for every host.
    pub async fn used_bytes(&self) -> Result<u64, KvError> {
        let used = self.layout.used();
        self.store
            .run(async |c| c.get::<_, Option<u64>>(&used).await)
            .await
            .map(Option::unwrap_or_default)
    }

    /// Adds `delta` to the integer under `key` (none counts as 0), atomically
    /// across every host; the sum.
    pub async fn increment(&self, key: &str, delta: i64) -> Result<i64, KvError> {
        if key.len() > MAX_KEY_LEN {
            return Err(KvError::TooLarge);
        }
        let keys = self.keys_of(key);
        let answer = self
            .store
            .run(async |c| {
                INCREMENT
                    .key(&keys[..])
                    .arg(key)
                    .arg(delta)
                    .arg(self.quota)
                    .invoke_async(c)
                    .await
            })
            .await?;
        let sum = self.outcome(key, answer)?;
        sum.parse()
            .map_err(|_| KvError::Storage(format!("Redis answered {sum:?} for a sum")))
    }

    /// Stores `new` under `key` if its value is `old` (none: no value) now;
    /// whether it did.
    pub async fn compare_and_swap(
        &self,
        key: &str,
        old: Option<&[u8]>,
        new: &[u8],
    ) -> Result<bool, KvError> {
        check_sizes(key, new)?;
        let keys = self.keys_of(key);
        let answer: Answer = self
            .store
            .run(async |c| {
                COMPARE_AND_SWAP
                    .key(&keys[..])
                    .arg(key)
                    .arg(if old.is_some() { "1" } else { "0" })
                    .arg(old.unwrap_or_default())
                    .arg(new)
                    .arg(self.quota)
                    .invoke_async(c)
                    .await
            })
            .await?;
        if Status::from_code(answer.0) == Some(Status::NotSwapped) {
            return Ok(false);
        }
        self.outcome(key, answer).map(|_| true)
    }

    /// The KEYS of a script that writes `key`.
    fn keys_of(&self, key: &str) -> [String; 3] {
        [
            self.layout.value(key),
            self.layout.index(),
            self.layout.used(),
        ]
    }

    /// What a writing script's answer means: the detail if it wrote.
    fn outcome(&self, key: &str, (status, detail, used): Answer) -> Result<String, KvError> {
        match Status::from_code(status) {
            Some(Status::Done) => {
                self.written(key, used.parse().unwrap_or(u64::MAX));
                Ok(detail)
            }
            Some(Status::OverQuota) => {
                if !self.warned.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        plugin = &*self.name,
                        quota = self.quota,
                        used,
                        "key-value quota of {} bytes reached (shared namespace): writes that \
                         would grow the namespace get too-large",
                        self.quota
                    );
                }
                Err(KvError::OverQuota { quota: self.quota })
            }
            Some(Status::NotAnInteger) => Err(KvError::NotAnInteger(detail)),
            Some(Status::NotSwapped | Status::Absent) | None => Err(KvError::Storage(format!(
                "Redis script answered status {status} where it had written"
            ))),
        }
    }

    /// After every successful write of `key`, which left the namespace
    /// holding `used` bytes: tells the other hosts, and re-arms the quota's
    /// log line once the namespace is well under its quota again.
    fn written(&self, _key: &str, used: u64) {
        self.store.announce(&self.name);
        if rearmed(self.quota, used) {
            self.warned.store(false, Ordering::Relaxed);
        }
    }
}

fn check_sizes(key: &str, value: &[u8]) -> Result<(), KvError> {
    if key.len() > MAX_KEY_LEN || value.len() > MAX_VALUE_LEN {
        return Err(KvError::TooLarge);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::shown;

    #[test]
    fn logs_never_show_the_password() {
        assert_eq!(
            shown("redis://user:secret@10.0.0.1:6379/2"),
            "redis://10.0.0.1:6379/2"
        );
        assert_eq!(shown("redis://:p@ss@h:1"), "redis://h:1");
        assert_eq!(shown("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
    }
}
