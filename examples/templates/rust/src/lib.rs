//! A coapwasm plugin: `/hello` answers a greeting (GET) that clients may
//! replace (PUT, text/plain). Rename it, then change `describe` and `handle`.

use coapwasm_sdk::content_format::TEXT_PLAIN;
use coapwasm_sdk::{
    Method, Methods, Plugin, PluginDescription, Request, ResourceDescription, Response, kv, log,
};

/// Where the greeting is kept: the key-value store outlives every instance
/// (the host may run several at once, and replaces one that panicked).
const GREETING_KEY: &str = "greeting";

struct Hello;

impl Plugin for Hello {
    /// Called once at load: the plugin's name (its key-value namespace) and
    /// its resources, as `/.well-known/core` shows them.
    fn describe() -> PluginDescription {
        PluginDescription::new("hello", env!("CARGO_PKG_VERSION")).resource(
            ResourceDescription::new("/hello", Methods::GET | Methods::PUT)
                .observable()
                .content_format(TEXT_PLAIN)
                .resource_type("greeting")
                .title("Hello"),
        )
    }

    /// One request; the host has already checked the path, the method and
    /// Accept against `describe`.
    fn handle(request: Request) -> Response {
        match request.method {
            Method::Put => set_greeting(&request),
            _ => match kv::get(GREETING_KEY) {
                Ok(stored) => {
                    Response::content(TEXT_PLAIN, stored.unwrap_or_else(|| b"hello".to_vec()))
                }
                Err(error) => Response::internal_server_error(error.to_string()),
            },
        }
    }
}

/// PUT: stores the payload as the new greeting; observers are notified by
/// the host since the answer is 2.04.
fn set_greeting(request: &Request) -> Response {
    if request
        .content_format
        .is_some_and(|format| format != TEXT_PLAIN)
    {
        return Response::unsupported_content_format("send text/plain (0)");
    }
    let Ok(greeting) = std::str::from_utf8(&request.payload) else {
        return Response::bad_request("the greeting is not UTF-8");
    };
    if let Err(error) = kv::set(GREETING_KEY, greeting) {
        return Response::internal_server_error(error.to_string());
    }
    log::info(&format!(
        "greeting set to {greeting:?} by {}",
        request.source
    ));
    Response::changed()
}

coapwasm_sdk::export!(Hello);
