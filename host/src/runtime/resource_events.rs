//! Resource events on their way from plugins, the sampler and hot reload to
//! every socket loop, coalesced per path (RFC 7641 §4.5.2: a client needs the
//! newest state, not every state in between).
//!
//! Each subscriber has an inbox holding at most one pending event per path,
//! so however many times a resource is announced as changed before its loop
//! looks, the loop sees it once, and the inbox is bounded by the number of
//! paths the host serves. Nothing is ever dropped or lagged: a broadcast
//! channel of events, which this replaces, could be flooded by one plugin
//! into a state where every loop re-rendered every observed resource.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use tokio::sync::Notify;

/// Something observers of a resource must hear about (RFC 7641 §4.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResourceEvent {
    /// The resource's state changed; `important` asks for a CON notification.
    Changed { path: String, important: bool },
    /// The resource is gone (its plugin was removed or moved its routes).
    Removed { path: String },
}

/// What is pending for one path: removal first, then any change after it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Pending {
    removed: bool,
    /// Some(important) when a change is pending.
    changed: Option<bool>,
}

impl Pending {
    fn merge(&mut self, event: &ResourceEvent) {
        match event {
            ResourceEvent::Changed { important, .. } => {
                self.changed = Some(self.changed.unwrap_or(false) || *important);
            }
            // A change announced before the removal concerns the old
            // resource: its observers are told it is gone instead.
            ResourceEvent::Removed { .. } => {
                *self = Pending {
                    removed: true,
                    changed: None,
                }
            }
        }
    }
}

#[derive(Default)]
struct Inbox {
    pending: Mutex<HashMap<String, Pending>>,
    ready: Notify,
}

/// The host's resource events: publish once, every subscriber receives.
#[derive(Default)]
pub struct ResourceEvents {
    subscribers: Mutex<Vec<Weak<Inbox>>>,
}

/// One subscriber's view: the events published since it last looked.
pub struct Subscription {
    inbox: Arc<Inbox>,
}

impl ResourceEvents {
    /// Hands `event` to every subscriber, merged with what is pending there
    /// for the same path.
    pub fn publish(&self, event: ResourceEvent) {
        let path = match &event {
            ResourceEvent::Changed { path, .. } | ResourceEvent::Removed { path } => path,
        };
        let mut subscribers = self
            .subscribers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        subscribers.retain(|inbox| {
            let Some(inbox) = inbox.upgrade() else {
                return false;
            };
            let mut pending = inbox
                .pending
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            match pending.get_mut(path.as_str()) {
                Some(entry) => entry.merge(&event),
                None => {
                    let mut entry = Pending::default();
                    entry.merge(&event);
                    pending.insert(path.clone(), entry);
                }
            }
            drop(pending);
            inbox.ready.notify_one();
            true
        });
    }

    /// A subscriber that receives every event published from now on.
    pub fn subscribe(&self) -> Subscription {
        let inbox = Arc::new(Inbox::default());
        self.subscribers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(Arc::downgrade(&inbox));
        Subscription { inbox }
    }
}

impl Subscription {
    /// Waits until something is pending, then takes all of it: for each
    /// path a removal, a change, or a removal followed by a change, in that
    /// order. Cancel-safe: nothing is taken until the wait is over.
    pub async fn next(&self) -> Vec<ResourceEvent> {
        loop {
            let events = self.take();
            if !events.is_empty() {
                return events;
            }
            self.inbox.ready.notified().await;
        }
    }

    /// What is pending now, possibly nothing.
    pub fn take(&self) -> Vec<ResourceEvent> {
        let pending = std::mem::take(
            &mut *self
                .inbox
                .pending
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        );
        let mut events = Vec::with_capacity(pending.len());
        for (path, entry) in pending {
            if entry.removed {
                events.push(ResourceEvent::Removed { path: path.clone() });
            }
            if let Some(important) = entry.changed {
                events.push(ResourceEvent::Changed { path, important });
            }
        }
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn changed(path: &str, important: bool) -> ResourceEvent {
        ResourceEvent::Changed {
            path: path.to_owned(),
            important,
        }
    }

    #[test]
    fn a_storm_of_changes_to_one_path_is_one_event() {
        let events = ResourceEvents::default();
        let subscription = events.subscribe();
        for i in 0..100_000 {
            events.publish(changed("/storm", i == 500));
        }
        assert_eq!(subscription.take(), vec![changed("/storm", true)]);
        assert!(subscription.take().is_empty());
    }

    #[test]
    fn every_subscriber_receives_every_path() {
        let events = ResourceEvents::default();
        let first = events.subscribe();
        let second = events.subscribe();
        events.publish(changed("/a", false));
        events.publish(changed("/b", false));
        for subscription in [first, second] {
            let mut got = subscription.take();
            got.sort_by_key(|e| format!("{e:?}"));
            assert_eq!(got, vec![changed("/a", false), changed("/b", false)]);
        }
    }

    #[test]
    fn removal_then_change_keeps_both_in_order_and_change_then_removal_only_removes() {
        let events = ResourceEvents::default();
        let subscription = events.subscribe();
        let removed = ResourceEvent::Removed {
            path: "/x".to_owned(),
        };
        events.publish(removed.clone());
        events.publish(changed("/x", false));
        assert_eq!(
            subscription.take(),
            vec![removed.clone(), changed("/x", false)]
        );
        events.publish(changed("/x", true));
        events.publish(removed.clone());
        assert_eq!(subscription.take(), vec![removed]);
    }

    #[test]
    fn a_dropped_subscriber_is_forgotten() {
        let events = ResourceEvents::default();
        drop(events.subscribe());
        events.publish(changed("/a", false));
        assert!(events.subscribers.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn next_wakes_for_an_event_published_before_the_wait() {
        let events = ResourceEvents::default();
        let subscription = events.subscribe();
        events.publish(changed("/a", false));
        let got = tokio::time::timeout(std::time::Duration::from_secs(5), subscription.next())
            .await
            .expect("an event");
        assert_eq!(got, vec![changed("/a", false)]);
    }
}
