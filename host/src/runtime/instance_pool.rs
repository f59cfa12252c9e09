//! Instances of one plugin kept ready for reuse: a call into a live instance
//! costs about a microsecond, a fresh instance tens of them (milliseconds
//! for an interpreter's). An instance holds its linear memory, megabytes
//! for a Python or JavaScript plugin, so those a plugin's traffic no longer
//! needs are released: [`InstancePool::release_unneeded`], called once a
//! period, drops the instances that stayed idle through the whole period.

use std::sync::Mutex;

use tokio::sync::{Semaphore, SemaphorePermit};

use super::instance::PluginInstance;

/// Idle instances of one plugin, and a cap on how many may be busy at once.
pub struct InstancePool {
    idle: Mutex<Idle>,
    permits: Semaphore,
}

struct Idle {
    // A stack: the most recently used on top, so the bottom ones are those
    // the traffic did not need.
    instances: Vec<PluginInstance>,
    // The fewest idle instances since the last release: that many were not
    // needed at any moment of the period.
    low_water: usize,
}

impl InstancePool {
    /// A pool that lets `max_busy` instances run at once, with none made yet.
    pub fn new(max_busy: usize) -> Self {
        InstancePool {
            idle: Mutex::new(Idle {
                instances: Vec::new(),
                low_water: 0,
            }),
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
        let mut idle = self.idle();
        let instance = idle.instances.pop();
        idle.low_water = idle.low_water.min(idle.instances.len());
        instance
    }

    /// Returns an instance whose call completed normally.
    pub fn put_back(&self, instance: PluginInstance) {
        self.idle().instances.push(instance);
    }

    /// Drops the instances that were idle throughout the period since the
    /// last call, and tells how many.
    pub fn release_unneeded(&self) -> usize {
        let unneeded = {
            let mut idle = self.idle();
            let count = idle.low_water.min(idle.instances.len());
            let unneeded: Vec<_> = idle.instances.drain(..count).collect();
            idle.low_water = idle.instances.len();
            unneeded
        };
        // Dropped outside the lock: unmapping memories takes a while.
        unneeded.len()
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, Idle> {
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }
}
