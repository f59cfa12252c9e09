//! `observe`: a plugin marks one of its resources as changed.

use crate::runtime::bindings::observe::Host;
use crate::runtime::host_context::ResourceEvent;
use crate::runtime::state::PluginState;

impl Host for PluginState {
    fn changed(&mut self, path: String, important: bool) {
        // A plugin speaks for its own resources only.
        if !self.paths.contains(&path) {
            tracing::debug!(
                plugin = &*self.name,
                path,
                "changed() for a path not its own: ignored"
            );
            return;
        }
        self.host
            .publish(ResourceEvent::Changed { path, important });
    }
}
