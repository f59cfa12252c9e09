//! Device information at `/info`: identity, firmware version, uptime and the
//! resources the host serves, all taken from the `host-info` import.
//!
//! The implementation guide's clients read `device_id`, `firmware`,
//! `uptime_seconds`, `protocol` (`"CoAP"`) and `endpoints`; this project's
//! read `firmware_version` and `resources`. Both sets are served: `firmware`
//! is `firmware_version` again, `endpoints` is `resources` again.

use coapwasm_sdk::content_format::JSON;
use coapwasm_sdk::{
    Methods, Plugin, PluginDescription, Request, ResourceDescription, Response, host_info,
};
use serde::Serialize;
use std::sync::OnceLock;

/// The uptime in the answer goes stale after a second.
const MAX_AGE_SECS: u32 = 1;

/// What `protocol` says: the device speaks CoAP (RFC 7252).
const PROTOCOL: &str = "CoAP";

struct Info;

impl Plugin for Info {
    fn describe() -> PluginDescription {
        PluginDescription::new("info", env!("CARGO_PKG_VERSION")).resource(
            ResourceDescription::new("/info", Methods::GET)
                .content_format(JSON)
                // RFC 6690 §3.1: one rt, space-separated values; `device` is
                // the implementation guide's.
                .resource_type("device-info device")
                .title("Device information"),
        )
    }

    fn handle(_request: Request) -> Response {
        // Only GET /info reaches us; the host has checked method and Accept.
        let identity = identity();
        let resources = host_info::resources();
        let body = Body {
            device_id: &identity.device_id,
            endpoints: &resources,
            firmware: &identity.firmware_version,
            firmware_version: &identity.firmware_version,
            protocol: PROTOCOL,
            resources: &resources,
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
    endpoints: &'a [String],
    firmware: &'a str,
    firmware_version: &'a str,
    protocol: &'a str,
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
            endpoints: &resources,
            firmware: "0.1.0",
            firmware_version: "0.1.0",
            protocol: PROTOCOL,
            resources: &resources,
            uptime_seconds: 42,
        };
        let value = serde_json::json!({
            "device_id": body.device_id,
            "endpoints": body.endpoints,
            "firmware": body.firmware,
            "firmware_version": body.firmware_version,
            "protocol": "CoAP",
            "uptime_seconds": body.uptime_seconds,
            "resources": body.resources,
        });
        assert_eq!(body.to_json(), value.to_string().into_bytes());
    }
}
