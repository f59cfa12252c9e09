//! A test-only plugin that writes without end, as in issue 13 (finding 5):
//! each POST /hoard stores 64 values of 256 KiB under fresh keys, so that
//! the end-to-end tests can check the host's per-plugin storage quota.
//!
//! - `POST /hoard?round=N`: stores values under `N-0` .. `N-63` (`count=`
//!   and `len=` change how many and how large); answers 2.04 with
//!   `stored S refused R error E`, E the last error (`none`, `too-large`
//!   or `storage: ...`).
//! - `GET /hoard`: reads back every stored key and checks its value;
//!   answers `keys K intact I`.

use coapwasm_sdk::kv::{self, Error};
use coapwasm_sdk::{Methods, Plugin, PluginDescription, Request, ResourceDescription, Response};

const COUNT: usize = 64;
const LEN: usize = 256 * 1024;

struct Hoarder;

impl Plugin for Hoarder {
    fn describe() -> PluginDescription {
        PluginDescription::new("hoarder", env!("CARGO_PKG_VERSION")).resource(
            ResourceDescription::new("/hoard", Methods::GET.union(Methods::POST)),
        )
    }

    fn handle(request: Request) -> Response {
        let number = |name: &str, default: usize| {
            request
                .query_value(name)
                .and_then(|v| v.parse().ok())
                .unwrap_or(default)
        };
        if request.query_value("round").is_none() {
            return check();
        }
        let round = number("round", 0);
        let (count, len) = (number("count", COUNT), number("len", LEN));
        let mut stored = 0;
        let mut refused = 0;
        let mut last = "none".to_owned();
        for i in 0..count {
            let key = format!("{round}-{i}");
            match kv::set(&key, value(&key, len)) {
                Ok(()) => stored += 1,
                Err(error) => {
                    refused += 1;
                    last = match error {
                        Error::TooLarge => "too-large".to_owned(),
                        Error::Storage(reason) => format!("storage: {reason}"),
                    };
                }
            }
        }
        Response::changed().with_payload(
            coapwasm_sdk::content_format::TEXT_PLAIN,
            format!("stored {stored} refused {refused} error {last}"),
        )
    }
}

/// The value stored under `key`: bytes that depend on the key, so that a
/// value read back under another key, or cut short, is noticed.
fn value(key: &str, len: usize) -> Vec<u8> {
    let seed = key
        .bytes()
        .fold(7u8, |a, b| a.wrapping_mul(31).wrapping_add(b));
    (0..len).map(|i| seed.wrapping_add(i as u8)).collect()
}

fn check() -> Response {
    let keys = match kv::keys() {
        Ok(keys) => keys,
        Err(error) => return Response::internal_server_error(format!("keys: {error:?}")),
    };
    let intact = keys
        .iter()
        .filter(|key| match kv::get(key) {
            Ok(Some(stored)) => stored == value(key, stored.len()) && !stored.is_empty(),
            _ => false,
        })
        .count();
    Response::text(format!("keys {} intact {intact}", keys.len()))
}

coapwasm_sdk::export!(Hoarder);
