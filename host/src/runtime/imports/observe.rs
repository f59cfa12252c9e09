//! `observe`: a plugin marks one of its resources as changed. The call only
//! sets a flag; the host publishes the call's changes once it returns
//! ([`AnnouncedChanges`](crate::runtime::announced_changes)).

use crate::runtime::bindings::observe::Host;
use crate::runtime::state::PluginState;

impl Host for PluginState {
    fn changed(&mut self, path: String, important: bool) {
        // A plugin speaks for its own resources only; the others are counted
        // and ignored.
        self.announced.announce(&self.paths, &path, important);
    }
}
