//! Changes made through other hosts of the fleet, as this host's resource
//! events: a write to a shared namespace elsewhere (`kv_store/change_feed.rs`)
//! is a change of every resource the plugin owning the namespace serves
//! here, which the socket loops re-render for their observers, from the
//! endpoint each registered with (RFC 7641 §3.3, §4.1).
//!
//! Every resource of the plugin, because a key says nothing of which
//! resource shows it, and the writing host's own announcements
//! (`observe.changed`) may miss resources that read the key. It costs no
//! more than it must: a loop renders only paths it has observers of, and
//! events are coalesced per path and paced by
//! `[observe] min_notification_interval_ms` (RFC 7641 §4.5.2), so a flood of
//! writes elsewhere is at most one rendering per observed path and interval
//! here. The host does not compare a rendering with the last one sent: an
//! unchanged representation is notified again.

use std::sync::Arc;

use crate::collection;
use crate::kv_store::Heard;
use crate::router::Router;
use crate::runtime::{HostContext, ResourceEvent};

/// Follows the fleet's changes for as long as the host runs; nothing when
/// no namespace is shared.
pub async fn follow(host: Arc<HostContext>, router: Arc<Router>) {
    let Some(shared) = host.shared_kv.as_ref() else {
        return;
    };
    shared
        .store()
        .follow_changes(|heard| {
            let changed = |plugin: &str| match &heard {
                Heard::Changed(namespace) => plugin == namespace,
                // Whatever was missed: every shared plugin's resources.
                Heard::Resync => shared.shares(plugin),
            };
            let table = router.table();
            let paths = table
                .routes()
                .filter(|(_, route)| changed(route.plugin.name()))
                .map(|(path, _)| path.clone())
                .chain(
                    table
                        .collections()
                        .filter(|(_, route)| changed(route.plugin.name()))
                        .map(|(prefix, _)| collection::members_path(prefix)),
                );
            for path in paths {
                host.publish(ResourceEvent::Changed {
                    path,
                    important: false,
                });
            }
        })
        .await;
}
