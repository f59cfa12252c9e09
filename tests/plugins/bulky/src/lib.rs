//! A test-only plugin that answers GET /bulky with as many bytes as the
//! request asks for (`?kib=N`, or `?bytes=N`), so the end-to-end tests can
//! see what the host holds for block-wise transfers and how it treats a
//! response larger than its limit. `?seed=S` makes the representation
//! differ per seed, so that requests with different seeds share nothing;
//! the same query always gives the same bytes.

use coapwasm_sdk::content_format::OCTET_STREAM;
use coapwasm_sdk::{
    Method, Methods, Plugin, PluginDescription, Request, ResourceDescription, Response,
};

/// Keeps a typo in a test from asking for more than an instance may hold.
const MAX_BYTES: usize = 32 * 1024 * 1024;

struct Bulky;

impl Plugin for Bulky {
    fn describe() -> PluginDescription {
        PluginDescription {
            resources: vec![ResourceDescription::new("/bulky", Methods::GET)],
            ..PluginDescription::new("bulky", env!("CARGO_PKG_VERSION"))
        }
    }

    fn handle(request: Request) -> Response {
        debug_assert_eq!(request.method, Method::Get);
        let number = |name: &str| {
            request
                .query_value(name)
                .and_then(|value| value.parse::<usize>().ok())
        };
        let len = number("bytes")
            .or_else(|| number("kib").map(|kib| kib * 1024))
            .unwrap_or(1024)
            .min(MAX_BYTES);
        let seed = number("seed").unwrap_or(0);
        // A different byte pattern per seed, cheap to make.
        let payload: Vec<u8> = (0..len)
            .map(|i| (i.wrapping_mul(31) ^ seed.wrapping_mul(131)) as u8)
            .collect();
        Response::content(OCTET_STREAM, payload)
    }
}

coapwasm_sdk::export!(Bulky);
