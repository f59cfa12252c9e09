//! What the host shares with every plugin through its imports.

use std::sync::{Arc, RwLock};
use std::time::Instant;

use tokio::sync::broadcast;

use crate::kv_store::KvStore;

/// Something observers of a resource must hear about (RFC 7641 §4.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResourceEvent {
    /// The resource's state changed; `important` asks for a CON notification.
    Changed { path: String, important: bool },
    /// The resource is gone (its plugin was removed or moved its routes).
    Removed { path: String },
}

/// How many resource events may wait for a slow socket loop; a loop that
/// falls further behind treats every observed resource as changed.
const EVENT_BACKLOG: usize = 4096;

/// Facts and services of the host, shared by all plugin instances.
pub struct HostContext {
    /// The device id reported by `host-info`.
    pub device_id: String,
    /// When the host started, for `host-info.uptime-seconds`.
    pub started: Instant,
    /// The key-value store behind the `key-value` import.
    pub kv: Arc<KvStore>,
    // The paths served now. Kept here rather than a handle on the router,
    // which holds the plugins, which hold this: no reference cycle.
    resources: RwLock<Arc<[String]>>,
    events: broadcast::Sender<ResourceEvent>,
}

impl HostContext {
    /// A context for a host that starts now.
    pub fn new(device_id: String, kv: Arc<KvStore>) -> Self {
        HostContext {
            device_id,
            started: Instant::now(),
            kv,
            resources: RwLock::new(Arc::from(Vec::new())),
            events: broadcast::Sender::new(EVENT_BACKLOG),
        }
    }

    /// Tells every socket loop about a resource event.
    pub fn publish(&self, event: ResourceEvent) {
        // No receiver yet (start-up) is no error: nobody observes anything.
        let _ = self.events.send(event);
    }

    /// A receiver of every resource event published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<ResourceEvent> {
        self.events.subscribe()
    }

    /// The paths served now, sorted.
    pub fn resources(&self) -> Arc<[String]> {
        self.resources
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Records the paths served from now on.
    pub fn set_resources(&self, paths: Vec<String>) {
        *self
            .resources
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::from(paths);
    }
}
