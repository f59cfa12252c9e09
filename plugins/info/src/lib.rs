//! Device information at `/info`: identity, firmware version, uptime and the
//! resources the host serves, all taken from the `host-info` import.

use coapwasm_sdk::content_format::JSON;
use coapwasm_sdk::{
    Methods, Plugin, PluginDescription, Request, ResourceDescription, Response, host_info,
};

/// The uptime in the answer goes stale after a second.
const MAX_AGE_SECS: u32 = 1;

struct Info;

impl Plugin for Info {
    fn describe() -> PluginDescription {
        PluginDescription::new("info", env!("CARGO_PKG_VERSION")).resource(
            ResourceDescription::new("/info", Methods::GET)
                .content_format(JSON)
                .resource_type("device-info")
                .title("Device information"),
        )
    }

    fn handle(_request: Request) -> Response {
        // Only GET /info reaches us; the host has checked method and Accept.
        let body = serde_json::json!({
            "device_id": host_info::device_id(),
            "firmware_version": host_info::host_version(),
            "uptime_seconds": host_info::uptime_seconds(),
            "resources": host_info::resources(),
        });
        Response::json(body.to_string()).with_max_age(MAX_AGE_SECS)
    }
}

coapwasm_sdk::export!(Info);
