//! Sampling of sensors: resources whose description asks for it are sampled
//! on their interval, and a sample that reports a change notifies the
//! resource's observers (RFC 7641 §4.2: changes no request caused).
//!
//! A sampler's bugs are the plugin's, never the host's: each sampled path has
//! at most one `sample` call in flight, a call that fails (a trap, past its
//! CPU time, past the call timeout) backs the path off exponentially with one
//! log line per back-off, and a path whose plugin is removed or replaced has
//! its call in flight stopped at the next tick.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

use crate::router::Router;
use crate::runtime::{CallError, HostContext, Plugin, ResourceEvent};

/// The sampler's resolution, and the shortest interval it honours.
const TICK: Duration = Duration::from_millis(50);

/// The first back-off after a failed sample; it doubles with each failure
/// in a row.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);

/// The longest back-off: a sensor that recovers is sampled again within it.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// One sampled path.
struct Sampling {
    // The plugin whose sampler this is: a new version starts afresh.
    plugin: Arc<Plugin>,
    next_due: Instant,
    in_flight: Option<JoinHandle<Result<bool, CallError>>>,
    // Failed samples in a row.
    failures: u32,
}

impl Drop for Sampling {
    fn drop(&mut self) {
        // Dropping the call's task stops the wasm at its next epoch tick.
        if let Some(call) = self.in_flight.take() {
            call.abort();
        }
    }
}

/// How long to wait after the `failures`-th failure in a row.
fn backoff(interval: Duration, failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(16);
    (FIRST_BACKOFF.max(interval) * 2u32.pow(doublings)).min(MAX_BACKOFF)
}

/// Samples every sampled resource of the routing table in force, for ever.
/// Reading the table at every tick follows hot reloads by itself.
pub async fn run(router: Arc<Router>, host: Arc<HostContext>) {
    let mut samplings: HashMap<String, Sampling> = HashMap::new();
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let table = router.table();
        let now = Instant::now();
        // Paths no longer sampled, or served by another plugin (an upgrade):
        // their calls in flight are stopped as the entries drop.
        samplings.retain(|path, sampling| {
            table.route(path).is_some_and(|route| {
                route.resource.observable
                    && route.resource.sample_interval_ms.is_some()
                    && Arc::ptr_eq(&route.plugin, &sampling.plugin)
            })
        });
        for (path, route) in table.routes() {
            let resource = &route.resource;
            let Some(interval_ms) = resource.sample_interval_ms.filter(|_| resource.observable)
            else {
                continue;
            };
            let interval = Duration::from_millis(u64::from(interval_ms)).max(TICK);
            // Looked up before inserting: no path copied at every tick.
            if !samplings.contains_key(path) {
                let sampling = Sampling {
                    plugin: route.plugin.clone(),
                    next_due: now,
                    in_flight: None,
                    failures: 0,
                };
                samplings.insert(path.clone(), sampling);
            }
            let sampling = samplings.get_mut(path).expect("inserted above");
            if let Some(call) = &sampling.in_flight {
                if !call.is_finished() {
                    continue;
                }
                let call = sampling.in_flight.take().expect("checked above");
                match call.await {
                    Ok(Ok(changed)) => {
                        if sampling.failures > 0 {
                            tracing::info!(
                                plugin = route.plugin.name(),
                                path,
                                "sampling works again"
                            );
                        }
                        sampling.failures = 0;
                        if changed {
                            host.publish(ResourceEvent::Changed {
                                path: path.clone(),
                                important: false,
                            });
                        }
                    }
                    Ok(Err(error)) => {
                        sampling.failures = sampling.failures.saturating_add(1);
                        let wait = backoff(interval, sampling.failures);
                        sampling.next_due = now + wait;
                        tracing::warn!(
                            plugin = route.plugin.name(),
                            path,
                            failures = sampling.failures,
                            "sample failed ({error}); next sample in {} s",
                            wait.as_secs()
                        );
                    }
                    // Aborted, or the task panicked: try again on time.
                    Err(_) => {}
                }
            }
            if now < sampling.next_due {
                continue;
            }
            sampling.next_due = now + interval;
            let plugin = route.plugin.clone();
            let path = path.clone();
            sampling.in_flight = Some(tokio::spawn(async move { plugin.sample(&path).await }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_a_second_up_to_five_minutes() {
        let interval = Duration::from_millis(100);
        assert_eq!(backoff(interval, 1), Duration::from_secs(1));
        assert_eq!(backoff(interval, 2), Duration::from_secs(2));
        assert_eq!(backoff(interval, 5), Duration::from_secs(16));
        assert_eq!(backoff(interval, 30), MAX_BACKOFF);
        // A slow sensor never backs off to less than its own interval.
        assert_eq!(backoff(Duration::from_secs(10), 1), Duration::from_secs(10));
    }
}
