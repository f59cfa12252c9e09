//! Where a plugin's calls run. A quick call runs on the socket's own task:
//! a microsecond of wasm does not pay for a task spawn, a channel and a
//! wake-up, and its response leaves in the same batch as the others. A call
//! that runs long (it computed past an epoch tick, waited, or blocked on a
//! durable write) would stall every other request of the socket, so after one
//! such call the plugin's next calls run on tasks of their own for a while.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// How long a call may hold the socket's task before its plugin's calls are
/// moved off it: well under an epoch tick, well over a quick call.
pub const INLINE_BUDGET: Duration = Duration::from_millis(1);

/// Calls spawned after one ran long, before the plugin is tried inline again.
const SPAWNED_AFTER_LONG_CALL: u32 = 1_000;

/// One plugin's record of whether its calls are quick.
#[derive(Debug, Default)]
pub struct CallPlacement {
    // Calls still to spawn; 0 while the plugin's calls are quick.
    spawn_next: AtomicU32,
}

impl CallPlacement {
    /// Whether the next call may run inline. A plugin that ran long is
    /// retried inline once every [`SPAWNED_AFTER_LONG_CALL`] calls, so one
    /// slow call (a cold cache, a first instance) does not banish it for good.
    pub fn inline(&self) -> bool {
        self.spawn_next
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                left.checked_sub(1)
            })
            .is_err()
    }

    /// Records that an inline call ran long.
    pub fn ran_long(&self) {
        self.spawn_next
            .store(SPAWNED_AFTER_LONG_CALL, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quick_until_a_call_runs_long_then_spawned_for_a_while() {
        let placement = CallPlacement::default();
        assert!(placement.inline());
        assert!(placement.inline());
        placement.ran_long();
        let spawned = (0..SPAWNED_AFTER_LONG_CALL)
            .filter(|_| !placement.inline())
            .count();
        assert_eq!(spawned, SPAWNED_AFTER_LONG_CALL as usize);
        assert!(placement.inline());
    }
}
