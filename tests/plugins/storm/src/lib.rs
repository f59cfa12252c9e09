//! A test-only plugin that misuses the `observe` import (issue 13, findings 1
//! and 2): the host must coalesce what it announces, whatever it does.
//!
//! - `POST /storm` calls `observe.changed("/storm", true)` `n` times (query
//!   `n=`, default a million) before answering.
//! - `GET /echo` announces a change of `/echo` itself on every GET: an easy
//!   mistake that, unguarded, turns each notification into the next.

use coapwasm_sdk::{
    Method, Methods, Plugin, PluginDescription, Request, ResourceDescription, Response, observe,
};

/// How many times `POST /storm` announces a change without `n=`.
const DEFAULT_STORM: u64 = 1_000_000;
/// Keeps a typo in a test from looping for hours.
const MAX_STORM: u64 = 100_000_000;

struct Storm;

impl Plugin for Storm {
    fn describe() -> PluginDescription {
        PluginDescription::new("storm", env!("CARGO_PKG_VERSION"))
            .resource(
                ResourceDescription::new("/storm", Methods::GET.union(Methods::POST)).observable(),
            )
            .resource(ResourceDescription::new("/echo", Methods::GET).observable())
    }

    fn handle(request: Request) -> Response {
        match (request.path.as_str(), request.method) {
            ("/storm", Method::Post) => {
                let n = request
                    .query_value("n")
                    .and_then(|n| n.parse::<u64>().ok())
                    .unwrap_or(DEFAULT_STORM)
                    .min(MAX_STORM);
                for _ in 0..n {
                    observe::changed("/storm", true);
                }
                Response::changed()
            }
            ("/echo", _) => {
                observe::changed("/echo", false);
                Response::text("echo")
            }
            _ => Response::text("storm"),
        }
    }
}

coapwasm_sdk::export!(Storm);
