//! Instances of one plugin kept ready for reuse: a call into a live instance
//! costs about a microsecond, a fresh instance tens of them.

use std::sync::Mutex;

use tokio::sync::{Semaphore, SemaphorePermit};

use super::instance::PluginInstance;

/// Idle instances of one plugin, and a cap on how many may be busy at once.
pub struct InstancePool {
    idle: Mutex<Vec<PluginInstance>>,
    permits: Semaphore,
}

impl InstancePool {
    /// A pool that lets `max_busy` instances run at once, starting with `first`.
    pub fn new(max_busy: usize, first: PluginInstance) -> Self {
        InstancePool {
            idle: Mutex::new(vec![first]),
            permits: Semaphore::new(max_busy),
        }
    }

    /// Waits until one more instance may run.
    pub async fn permit(&self) -> SemaphorePermit<'_> {
        self.permits
            .acquire()
            .await
            .expect("the pool's semaphore is never closed")
    }

    /// An idle instance, if there is one.
    pub fn take(&self) -> Option<PluginInstance> {
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop()
    }

    /// Returns an instance whose call completed normally.
    pub fn put_back(&self, instance: PluginInstance) {
        self.idle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(instance);
    }
}
