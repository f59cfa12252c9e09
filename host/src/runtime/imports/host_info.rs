//! `host-info`: facts about the host.

use crate::runtime::bindings::host_info::Host;
use crate::runtime::state::PluginState;

impl Host for PluginState {
    fn device_id(&mut self) -> String {
        self.host.device_id.clone()
    }

    fn host_version(&mut self) -> String {
        env!("CARGO_PKG_VERSION").to_owned()
    }

    fn uptime_seconds(&mut self) -> u64 {
        self.host.started.elapsed().as_secs()
    }

    fn resources(&mut self) -> Vec<String> {
        self.host.resources().to_vec()
    }
}
