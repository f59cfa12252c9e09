//! Device information at `/info`: identity, firmware version, uptime and the
//! resources the host serves, all taken from the `host-info` import.

// The generated glue passes a flattened `request` record to `handle`, which
// trips clippy's argument-count lint; it is not code we can shape.
#[allow(clippy::too_many_arguments)]
mod bindings {
    wit_bindgen::generate!({ path: "../../wit", world: "plugin" });
}

use bindings::coapwasm::plugin::host_info;
use bindings::coapwasm::plugin::types::{
    LinkAttribute, Methods, ResourceDescription, ResponseCode,
};
use bindings::{Guest, PluginDescription, Request, Response};

const JSON: u16 = 50;

/// The uptime in the answer goes stale after a second.
const MAX_AGE_SECS: u32 = 1;

struct Info;

impl Guest for Info {
    fn describe() -> PluginDescription {
        let attribute = |name: &str, value: &str| LinkAttribute {
            name: name.into(),
            value: Some(value.into()),
        };
        PluginDescription {
            name: "info".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            resources: vec![ResourceDescription {
                path: "/info".into(),
                methods: Methods::GET,
                observable: false,
                content_formats: vec![JSON],
                sample_interval_ms: None,
                attributes: vec![
                    attribute("rt", "device-info"),
                    attribute("title", "Device information"),
                ],
            }],
        }
    }

    fn sample(_path: String) -> bool {
        false
    }

    fn handle(_request: Request) -> Response {
        // Only GET /info reaches us; the host has checked method and Accept.
        let body = serde_json::json!({
            "device_id": host_info::device_id(),
            "firmware_version": host_info::host_version(),
            "uptime_seconds": host_info::uptime_seconds(),
            "resources": host_info::resources(),
        });
        Response {
            code: ResponseCode::Content,
            content_format: Some(JSON),
            max_age: Some(MAX_AGE_SECS),
            etag: None,
            location_path: Vec::new(),
            location_query: Vec::new(),
            payload: body.to_string().into_bytes(),
        }
    }
}

bindings::export!(Info with_types_in bindings);
