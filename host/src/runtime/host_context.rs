//! What the host shares with every plugin through its imports.

use std::sync::{Arc, RwLock};
use std::time::Instant;

use super::resource_events::{ResourceEvent, ResourceEvents, Subscription};
use crate::kv_store::KvStore;
use crate::metrics::Metrics;

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
    events: ResourceEvents,
    /// Where plugin calls' running time is counted.
    pub metrics: Arc<Metrics>,
}

impl HostContext {
    /// A context for a host that starts now.
    pub fn new(device_id: String, kv: Arc<KvStore>) -> Self {
        HostContext {
            device_id,
            started: Instant::now(),
            kv,
            resources: RwLock::new(Arc::from(Vec::new())),
            events: ResourceEvents::default(),
            metrics: Arc::new(Metrics::new()),
        }
    }

    /// The same context, counting into the host's one registry of metrics.
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// Tells every socket loop about a resource event.
    pub fn publish(&self, event: ResourceEvent) {
        self.events.publish(event);
    }

    /// A receiver of every resource event published from now on, coalesced
    /// per path.
    pub fn subscribe(&self) -> Subscription {
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
