//! Sampling of sensors: resources whose description asks for it are sampled
//! on their interval, and a sample that reports a change notifies the
//! resource's observers (RFC 7641 §4.2: changes no request caused).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::router::Router;
use crate::runtime::{HostContext, ResourceEvent};

/// The sampler's resolution, and the shortest interval it honours.
const TICK: Duration = Duration::from_millis(50);

/// Samples every sampled resource of the routing table in force, for ever.
/// Reading the table at every tick follows hot reloads by itself.
pub async fn run(router: Arc<Router>, host: Arc<HostContext>) {
    let mut next_due: HashMap<String, Instant> = HashMap::new();
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let table = router.table();
        let now = Instant::now();
        for (path, route) in table.routes() {
            let resource = &route.resource;
            let Some(interval_ms) = resource.sample_interval_ms.filter(|_| resource.observable)
            else {
                continue;
            };
            let due = next_due.entry(path.clone()).or_insert(now);
            if now < *due {
                continue;
            }
            *due = now + Duration::from_millis(u64::from(interval_ms)).max(TICK);
            let plugin = route.plugin.clone();
            let path = path.clone();
            let host = host.clone();
            tokio::spawn(async move {
                if let Ok(true) = plugin.sample(&path).await {
                    host.publish(ResourceEvent::Changed {
                        path,
                        important: false,
                    });
                }
            });
        }
        next_due.retain(|path, _| table.route(path).is_some());
    }
}
