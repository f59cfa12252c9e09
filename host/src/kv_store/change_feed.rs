//! The fleet's change feed: after a write to a shared namespace succeeds,
//! the writing host says so on one Redis pub/sub channel, and every other
//! host hears it, so that its observers of the plugin's resources are
//! notified from the endpoint they registered with (RFC 7641 §4.1, §3.3).
//!
//! One channel for the fleet, not one per namespace: a host that shares
//! every namespace (`--kv`) cannot know their names in advance, and a
//! message is a few bytes. A message names the namespace and the writing
//! host, so a host ignores its own: its observers were notified locally.
//! Pub/sub channels ignore Redis's database number: two fleets on one
//! server with different `/DB` hear each other, which costs re-renderings,
//! never a wrong state.
//!
//! Pub/sub delivers at most once. A message lost while a subscriber was
//! disconnected is made up for by a resync once it is subscribed again
//! (`Heard::Resync`): every shared plugin's observed resources are
//! re-rendered, which is the newest state, all RFC 7641 §4.5.2 asks for.
//! The publish is a separate command after the write's script, not inside
//! it: a host that dies between the two loses that one message, which the
//! next write makes good.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use redis::AsyncCommands;
use redis::aio::ConnectionManager;

/// The channel every host publishes to and subscribes on.
pub const CHANNEL: &str = "coapwasm:changed";

/// What a subscriber hears.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Heard {
    /// Another host wrote to this namespace.
    Changed(String),
    /// Subscribed (again): messages may have been missed meanwhile.
    Resync,
}

/// `namespace` newline `host id`: a plugin's name has no newline, so the
/// first one separates them whatever the host id holds.
pub fn message(namespace: &str, host_id: &str) -> String {
    format!("{namespace}\n{host_id}")
}

/// The namespace of a message from a host other than `own_host_id`.
pub fn from_another_host<'a>(payload: &'a str, own_host_id: &str) -> Option<&'a str> {
    let (namespace, host_id) = payload.split_once('\n')?;
    (host_id != own_host_id).then_some(namespace)
}

/// Publishes at most one message per namespace at a time, and at most one
/// more for all the writes made meanwhile: a plugin writing in a loop costs
/// Redis and the fleet one message per round trip, not one per write.
#[derive(Default)]
pub struct Publisher {
    /// Per namespace in flight: whether a write came after the message
    /// being published.
    in_flight: Mutex<HashMap<Arc<str>, bool>>,
}

impl Publisher {
    /// Whether the caller is to publish for `namespace` now; if not, the
    /// publisher in flight publishes once more when it is done.
    pub fn begin(&self, namespace: &Arc<str>) -> bool {
        let mut in_flight = self.lock();
        match in_flight.get_mut(namespace) {
            Some(again) => {
                *again = true;
                false
            }
            None => {
                in_flight.insert(namespace.clone(), false);
                true
            }
        }
    }

    /// After one publication: whether to publish again.
    pub fn again(&self, namespace: &str) -> bool {
        let mut in_flight = self.lock();
        match in_flight.get_mut(namespace) {
            Some(again) if *again => {
                *again = false;
                true
            }
            _ => {
                in_flight.remove(namespace);
                false
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Arc<str>, bool>> {
        self.in_flight
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// How often a quiet subscription is checked with a PING: a connection
/// that died silently is found within this and the timeout.
const KEEPALIVE: Duration = Duration::from_secs(5);
/// The longest wait between two attempts to subscribe again.
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// Follows the channel for ever on a connection of its own (a subscribed
/// connection takes no other command), subscribing again after any
/// failure with a backoff of at most [`MAX_BACKOFF`]; calls `heard` for
/// every message from another host and after every subscription, once
/// `shared`, the connection the renderings read through, answers again.
pub async fn follow(
    client: redis::Client,
    shared: ConnectionManager,
    own_host_id: String,
    timeout: Duration,
    heard: impl Fn(Heard),
) {
    let mut backoff = Duration::from_millis(50);
    let mut failing = false;
    loop {
        match subscribe(&client, timeout).await {
            Ok((mut sink, mut stream)) => {
                backoff = Duration::from_millis(50);
                if failing {
                    tracing::info!("subscribed to the fleet's changes again");
                    failing = false;
                }
                reconnected(shared.clone(), timeout).await;
                heard(Heard::Resync);
                let mut keepalive = tokio::time::interval(KEEPALIVE);
                keepalive.tick().await;
                loop {
                    tokio::select! {
                        message = stream.next() => {
                            let Some(message) = message else { break };
                            let payload = String::from_utf8_lossy(message.get_payload_bytes());
                            if let Some(namespace) = from_another_host(&payload, &own_host_id) {
                                heard(Heard::Changed(namespace.to_owned()));
                            }
                        }
                        _ = keepalive.tick() => {
                            let pong = tokio::time::timeout(timeout, sink.ping::<String>()).await;
                            if !matches!(pong, Ok(Ok(_))) {
                                break;
                            }
                        }
                    }
                }
            }
            Err(error) => {
                if !failing {
                    tracing::warn!(
                        "cannot follow the fleet's changes ({error}): observers here miss \
                         changes made through other hosts until it is back; retrying"
                    );
                    failing = true;
                }
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Waits, a few tries at most, until `connection` answers: after Redis
/// restarted it holds a dead connection until an operation fails on it, and
/// a resync's renderings would be those failures, 5.03 notifications that
/// end the observations (RFC 7641 §4.2).
async fn reconnected(mut connection: ConnectionManager, timeout: Duration) {
    for _ in 0..5 {
        let ping = connection.ping::<String>();
        if let Ok(Ok(_)) = tokio::time::timeout(timeout, ping).await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn subscribe(
    client: &redis::Client,
    timeout: Duration,
) -> Result<(redis::aio::PubSubSink, redis::aio::PubSubStream), String> {
    let attempt = async {
        let mut pubsub = client.get_async_pubsub().await?;
        pubsub.subscribe(CHANNEL).await?;
        Ok::<_, redis::RedisError>(pubsub.split())
    };
    match tokio::time::timeout(timeout, attempt).await {
        Ok(Ok(split)) => Ok(split),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err(format!("no answer within {} ms", timeout.as_millis())),
    }
}

/// Publishes that `namespace` changed, on a connection of `connection`.
pub async fn publish(
    connection: &mut ConnectionManager,
    namespace: &str,
    host_id: &str,
) -> redis::RedisResult<()> {
    connection
        .publish::<_, _, ()>(CHANNEL, message(namespace, host_id))
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_ignores_its_own_messages() {
        let payload = message("counter", "host\nwith newline");
        assert_eq!(from_another_host(&payload, "b"), Some("counter"));
        assert_eq!(from_another_host(&payload, "host\nwith newline"), None);
        assert_eq!(from_another_host("no separator", "b"), None);
    }

    #[test]
    fn writes_during_a_publication_are_one_more_publication() {
        let publisher = Publisher::default();
        let name: Arc<str> = "led".into();
        assert!(publisher.begin(&name));
        for _ in 0..1000 {
            assert!(!publisher.begin(&name));
        }
        assert!(publisher.again("led"));
        assert!(!publisher.again("led"));
        assert!(publisher.begin(&name));
    }
}
