//! The host's own HTTP resources under `/.well-known/coapwasm/` (RFC 8615's
//! namespace, so no plugin path is taken): what the console and scripts
//! read about the host itself.
//!
//! - `plugins`: the plugins serving now, each with its version, file,
//!   content hash and resources (path, methods, observable), in name order.
//!   A reload shows as a new version or hash on the next read.

use std::collections::BTreeMap;

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse as _, Response};

use crate::access::methods::{MethodSet, name};
use crate::router::Router;

/// The prefix of the host's own resources.
pub const PREFIX: &str = "/.well-known/coapwasm/";

/// The response for `path` under [`PREFIX`], if it is one of ours. Only
/// resources the requester may GET are listed, as discovery lists them.
pub fn respond(router: &Router, path: &str, visible: impl Fn(&str) -> bool) -> Option<Response> {
    match path.strip_prefix(PREFIX)? {
        "plugins" => Some(json(plugins(router, visible))),
        _ => None,
    }
}

fn plugins(router: &Router, visible: impl Fn(&str) -> bool) -> serde_json::Value {
    let table = router.table();
    let mut by_name: BTreeMap<String, serde_json::Value> = BTreeMap::new();
    for (path, route) in table.routes().chain(table.collections()) {
        if !visible(path) {
            continue;
        }
        let plugin = &route.plugin;
        let entry = by_name.entry(plugin.name().to_owned()).or_insert_with(|| {
            serde_json::json!({
                "name": plugin.name(),
                "version": plugin.description().version,
                "file": plugin.file().file_name().map(|f| f.to_string_lossy().into_owned()),
                "content_hash": plugin.content_hash(),
                "resources": [],
            })
        });
        let methods: Vec<&str> = MethodSet::of(route.resource.methods)
            .iter()
            .map(name)
            .collect();
        if let Some(resources) = entry["resources"].as_array_mut() {
            resources.push(serde_json::json!({
                "path": path,
                "methods": methods,
                "observable": route.resource.observable,
            }));
        }
    }
    let mut plugins: Vec<serde_json::Value> = by_name.into_values().collect();
    for plugin in &mut plugins {
        if let Some(resources) = plugin["resources"].as_array_mut() {
            resources.sort_by(|a, b| a["path"].as_str().cmp(&b["path"].as_str()));
        }
    }
    serde_json::json!({ "loading": table.loading(), "plugins": plugins })
}

fn json(value: serde_json::Value) -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        value.to_string(),
    )
        .into_response()
}
