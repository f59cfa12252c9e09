//! Facts about the host the plugin runs in (the `host-info` import).

use crate::wit::coapwasm::plugin::host_info as host;

/// The device's identifier, from the host's configuration.
pub fn device_id() -> String {
    host::device_id()
}

/// The host's own version: the gateway's firmware version.
pub fn host_version() -> String {
    host::host_version()
}

/// Whole seconds since the host started.
pub fn uptime_seconds() -> u64 {
    host::uptime_seconds()
}

/// The paths of every resource the host serves at this moment, sorted.
pub fn resources() -> Vec<String> {
    host::resources()
}
