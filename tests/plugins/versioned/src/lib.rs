//! A test-only plugin built in three versions from one source, so that the
//! end-to-end tests can swap one for another while the host runs:
//!
//! - version 1 (no feature): `/versioned` answers "v1";
//! - version 2 (feature `v2`): `/versioned` answers "v2";
//! - version 3 (feature `moved`): `/versioned` is gone and `/versioned-moved`
//!   answers "moved".
//!
//! Every version serves `/versioned/state`, a counter in the key-value store
//! (GET reads it, POST increments it), and keeps the plugin name "versioned",
//! so its namespace is the same across versions.
//!
//! The version resource (`/versioned` or `/versioned-moved`) is observable in
//! every version, so that a test can observe it across an upgrade (observers
//! get the new version's answer) and a move (observers of the path that is
//! gone get a final 4.04).
//!
//! `/versioned` and `/versioned-moved` take an optional `ms=N` query item that
//! makes the handler sleep first, so a test can keep a request inside one
//! version while the host switches to another.

use std::time::Duration;

use coapwasm_sdk::content_format::TEXT_PLAIN;
use coapwasm_sdk::{
    Method, Methods, Plugin, PluginDescription, Request, ResourceDescription, Response,
    ResponseCode, kv,
};

const COUNT_KEY: &str = "count";

/// Keeps a typo in a test from hanging an instance for long.
const MAX_SLEEP_MS: u64 = 30_000;

/// The plugin's version, and what its version resource answers.
#[cfg(feature = "moved")]
const VERSION: (&str, &str) = ("3", "moved");
#[cfg(all(feature = "v2", not(feature = "moved")))]
const VERSION: (&str, &str) = ("2", "v2");
#[cfg(not(any(feature = "v2", feature = "moved")))]
const VERSION: (&str, &str) = ("1", "v1");

/// The resource that answers the version: where it is depends on the version.
#[cfg(feature = "moved")]
const VERSION_PATH: &str = "/versioned-moved";
#[cfg(not(feature = "moved"))]
const VERSION_PATH: &str = "/versioned";

const STATE_PATH: &str = "/versioned/state";

struct Versioned;

impl Plugin for Versioned {
    fn describe() -> PluginDescription {
        PluginDescription::new("versioned", VERSION.0)
            .resource(
                ResourceDescription::new(VERSION_PATH, Methods::GET)
                    .observable()
                    .content_format(TEXT_PLAIN),
            )
            .resource(
                ResourceDescription::new(STATE_PATH, Methods::GET | Methods::POST)
                    .content_format(TEXT_PLAIN),
            )
    }

    fn handle(request: Request) -> Response {
        match request.path.as_str() {
            VERSION_PATH => version(&request),
            STATE_PATH => state(request.method),
            other => Response::not_found(format!("no resource {other}")),
        }
    }
}

/// The version's answer, after sleeping for the `ms=N` query item if any.
fn version(request: &Request) -> Response {
    if let Some(value) = request.query_value("ms") {
        match value.parse::<u64>() {
            // On wasip2 this blocks on a wasi:clocks monotonic-clock pollable.
            Ok(ms) if ms <= MAX_SLEEP_MS => std::thread::sleep(Duration::from_millis(ms)),
            _ => {
                let message = format!("ms must be a whole number up to {MAX_SLEEP_MS}");
                return Response::bad_request(message);
            }
        }
    }
    Response::text(VERSION.1)
}

/// GET reads the counter, POST increments it and answers the new value.
fn state(method: Method) -> Response {
    let result = load_count().and_then(|count| {
        if method == Method::Post {
            let count = count + 1;
            kv::set(COUNT_KEY, count.to_string())
                .map_err(|error| format!("cannot store the count: {error:?}"))?;
            Ok((ResponseCode::Changed, count))
        } else {
            Ok((ResponseCode::Content, count))
        }
    });
    match result {
        Ok((code, count)) => Response::text(count.to_string()).with_code(code),
        Err(message) => Response::internal_server_error(message),
    }
}

fn load_count() -> Result<u64, String> {
    match kv::get(COUNT_KEY) {
        Ok(None) => Ok(0),
        Ok(Some(bytes)) => std::str::from_utf8(&bytes)
            .ok()
            .and_then(|text| text.parse().ok())
            .ok_or_else(|| {
                let stored = String::from_utf8_lossy(&bytes);
                format!("stored count {stored:?} is not a number")
            }),
        Err(error) => Err(format!("cannot read the count: {error:?}")),
    }
}

coapwasm_sdk::export!(Versioned);
