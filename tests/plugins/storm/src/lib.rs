//! A test-only plugin that misuses the `observe` import (issue 13, findings 1
//! and 2): the host must coalesce what it announces, whatever it does.
//!
//! - `POST /storm` calls `observe.changed("/storm", true)` `n` times (query
//!   `n=`, default a million) before answering.
//! - `GET /echo` announces a change of `/echo` itself on every GET: an easy
//!   mistake that, unguarded, turns each notification into the next.
//! - `/swarm` is a collection (`/swarm/*`, issue 14): `POST /swarm?list=n`
//!   lists members `/swarm/0` .. `/swarm/{n-1}` for discovery and answers
//!   how many the host took and why it refused the first it did not;
//!   `POST /swarm?changed=n` calls `observe.changed` for `n` member paths,
//!   cycling over 10,000 different ones. Every member answers GET.

use coapwasm_sdk::{
    Method, Methods, Plugin, PluginDescription, Request, ResourceDescription, Response, collection,
    observe,
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
            .resource(ResourceDescription::new("/swarm", Methods::POST))
            .resource(ResourceDescription::members_of("/swarm", Methods::GET).observable())
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
            ("/swarm", Method::Post) => swarm(&request),
            ("/echo", _) => {
                observe::changed("/echo", false);
                Response::text("echo")
            }
            _ => Response::text("storm"),
        }
    }
}

fn swarm(request: &Request) -> Response {
    let count = |name: &str| {
        request
            .query_value(name)
            .and_then(|n| n.parse::<u64>().ok())
            .map(|n| n.min(MAX_STORM))
    };
    if let Some(n) = count("list") {
        let mut listed = 0;
        let mut refusal = None;
        for i in 0..n {
            match collection::list_member(&format!("/swarm/{i}"), &[]) {
                Ok(()) => listed += 1,
                Err(error) => {
                    refusal.get_or_insert(format!("{} at {i}", error.name()));
                }
            }
        }
        let refusal = refusal.unwrap_or_else(|| "none".to_owned());
        return Response::text(format!("listed {listed}; first refusal: {refusal}"))
            .with_code(coapwasm_sdk::ResponseCode::Changed);
    }
    let n = count("changed").unwrap_or(0);
    for i in 0..n {
        observe::changed(&format!("/swarm/{}", i % 10_000), false);
    }
    Response::changed()
}

coapwasm_sdk::export!(Storm);
