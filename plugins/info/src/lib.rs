//! Device information at `/info`: identity, firmware version, uptime and the
//! resources the host serves, all taken from the `host-info` import.

use coapwasm_sdk::content_format::JSON;
use coapwasm_sdk::{
    Methods, Plugin, PluginDescription, Request, ResourceDescription, Response, host_info,
};
use serde::Serialize;
use std::sync::OnceLock;

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
        let identity = identity();
        let body = Body {
            device_id: &identity.device_id,
            firmware_version: &identity.firmware_version,
            resources: &host_info::resources(),
            uptime_seconds: host_info::uptime_seconds(),
        };
        Response::json(body.to_json()).with_max_age(MAX_AGE_SECS)
    }
}

/// What the host says about itself that cannot change while it runs.
struct Identity {
    device_id: String,
    firmware_version: String,
}

/// The identity, asked of the host on this instance's first GET only. The
/// coapwasm host reads its device id from its configuration once, at start,
/// and its version is its own build's, while an instance never outlives the
/// host that created it. The resources and the uptime do change: they are
/// asked on every GET.
fn identity() -> &'static Identity {
    static IDENTITY: OnceLock<Identity> = OnceLock::new();
    IDENTITY.get_or_init(|| Identity {
        device_id: host_info::device_id(),
        firmware_version: host_info::host_version(),
    })
}

/// The answer's JSON object, serialised straight from borrowed fields rather
/// than through a `serde_json::Value` tree. The fields are in the order
/// clients have always seen (alphabetical, as a `Value` map writes them).
#[derive(Serialize)]
struct Body<'a> {
    device_id: &'a str,
    firmware_version: &'a str,
    resources: &'a [String],
    uptime_seconds: u64,
}

impl Body<'_> {
    fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("strings and numbers always serialise")
    }
}

coapwasm_sdk::export!(Info);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_what_a_value_map_writes() {
        let resources = ["/info".to_owned(), "/l\"ed\n".to_owned()];
        let body = Body {
            device_id: "dev \u{1}\"ice\\ é",
            firmware_version: "0.1.0",
            resources: &resources,
            uptime_seconds: 42,
        };
        let value = serde_json::json!({
            "device_id": body.device_id,
            "firmware_version": body.firmware_version,
            "uptime_seconds": body.uptime_seconds,
            "resources": body.resources,
        });
        assert_eq!(body.to_json(), value.to_string().into_bytes());
    }
}
