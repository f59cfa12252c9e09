//! What the host shares with every plugin through its imports.

use std::sync::{Arc, RwLock};
use std::time::Instant;

use crate::kv_store::KvStore;

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
}

impl HostContext {
    /// A context for a host that starts now.
    pub fn new(device_id: String, kv: Arc<KvStore>) -> Self {
        HostContext {
            device_id,
            started: Instant::now(),
            kv,
            resources: RwLock::new(Arc::from(Vec::new())),
        }
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
