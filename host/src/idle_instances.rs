//! Releasing the plugin instances that traffic no longer needs: once a
//! period (`runtime.idle_instance_release_s`) each serving plugin drops the
//! instances that stayed idle through the whole period, and the allocator
//! hands the freed memory back. An instance is megabytes (a Python plugin's
//! 12 MiB), and a plugin asked once an hour should not hold eight of them.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use crate::router::Router;

/// Releases unneeded instances every `period`, for ever.
pub async fn run(router: Arc<Router>, period: Duration) {
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let table = router.table();
        let mut seen = HashSet::new();
        let mut released = 0;
        for (_, route) in table.routes() {
            if seen.insert(Arc::as_ptr(&route.plugin)) {
                released += route.plugin.release_unneeded_instances();
            }
        }
        if released > 0 {
            crate::allocator::release_unused();
            tracing::debug!(released, "idle plugin instances released");
        }
    }
}
