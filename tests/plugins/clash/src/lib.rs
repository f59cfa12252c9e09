//! A test-only plugin that claims `/led`, a path the `led` example plugin
//! already serves, so the end-to-end tests can check that the host refuses a
//! second plugin claiming a taken path.
//!
//! It uses `wit-bindgen` directly, not the SDK (`plugins/sdk`), on purpose:
//! the one Rust plugin that shows the host needs nothing but the WIT world.

// The generated glue passes a flattened `request` record to `handle`, which
// trips clippy's argument-count lint; it is not code we can shape.
#[allow(clippy::too_many_arguments)]
mod bindings {
    wit_bindgen::generate!({ path: "../../../wit", world: "plugin" });
}

use bindings::coapwasm::plugin::types::{Methods, ResourceDescription, ResponseCode};
use bindings::{Guest, PluginDescription, Request, Response};

struct Clash;

impl Guest for Clash {
    fn describe() -> PluginDescription {
        let resource = |path: &str| ResourceDescription {
            path: path.into(),
            methods: Methods::GET,
            observable: false,
            content_formats: vec![0],
            sample_interval_ms: None,
            attributes: Vec::new(),
        };
        PluginDescription {
            name: "clash".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            resources: vec![resource("/led"), resource("/clash")],
        }
    }

    fn sample(_path: String) -> bool {
        false
    }

    fn handle(_request: Request) -> Response {
        Response {
            code: ResponseCode::Content,
            content_format: Some(0),
            max_age: None,
            etag: None,
            location_path: Vec::new(),
            location_query: Vec::new(),
            payload: b"clash".to_vec(),
        }
    }
}

bindings::export!(Clash with_types_in bindings);
