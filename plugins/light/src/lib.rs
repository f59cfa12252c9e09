//! A simulated light switch at `/actuators/light`, the tutorial's
//! (`rt="light-switch"`, `if="actuator"`).
//!
//! GET answers `{"state":"on"}` or `{"state":"off"}`. PUT takes
//! `{"state": S}` where S is `true`/`false` (what the tutorial's client sends)
//! or `"on"`/`"off"` in any case, and answers 2.04 with the new state; any
//! other body is 4.00 with a diagnostic. A body without Content-Format is
//! taken as JSON (the tutorial's client sends none); another format is 4.15.
//! Observers are notified after each 2.04 by the host.
//!
//! The state lives in the key-value store (the `light` plugin's namespace),
//! never in a global: the host may run several instances at once.

use coapwasm_sdk::content_format::JSON;
use coapwasm_sdk::{
    Method, Methods, Plugin, PluginDescription, Request, ResourceDescription, Response,
    ResponseCode, kv, log,
};

const PATH: &str = "/actuators/light";
const STATE_KEY: &str = "state";

/// The two representations, so that nothing is serialised per request.
const ON: &[u8] = br#"{"state":"on"}"#;
const OFF: &[u8] = br#"{"state":"off"}"#;

struct Light;

impl Plugin for Light {
    fn describe() -> PluginDescription {
        PluginDescription::new("light", env!("CARGO_PKG_VERSION")).resource(
            ResourceDescription::new(PATH, Methods::GET | Methods::PUT)
                .observable()
                .content_format(JSON)
                .resource_type("light-switch")
                .interface("actuator")
                .title("Light switch"),
        )
    }

    fn handle(request: Request) -> Response {
        let outcome = match request.method {
            Method::Get => load().map(|on| (ResponseCode::Content, on)),
            Method::Put => requested(&request)
                .and_then(|on| store(on, &request.source))
                .map(|on| (ResponseCode::Changed, on)),
            // The host refuses the methods `describe` does not list.
            _ => Err(Response::method_not_allowed("GET or PUT only")),
        };
        match outcome {
            Ok((code, on)) => Response::json(if on { ON } else { OFF }).with_code(code),
            Err(error) => error,
        }
    }
}

/// Whether a PUT asks for the light on, or the 4.xx explaining what is wrong.
fn requested(request: &Request) -> Result<bool, Response> {
    if let Some(format) = request.content_format.filter(|&format| format != JSON) {
        return Err(Response::unsupported_content_format(format!(
            "content-format {format} not supported: send application/json (50)"
        )));
    }
    parse_state(&request.payload).map_err(Response::bad_request)
}

/// Parses `{"state": true|false|"on"|"off"}`: whether the light is to be on.
fn parse_state(payload: &[u8]) -> Result<bool, String> {
    let body: serde_json::Value =
        serde_json::from_slice(payload).map_err(|error| format!("invalid JSON: {error}"))?;
    match body.get("state") {
        None => Err(r#"missing field "state": expected {"state":true} or {"state":false}"#.into()),
        Some(serde_json::Value::Bool(on)) => Ok(*on),
        Some(serde_json::Value::String(name)) => match name.to_ascii_lowercase().as_str() {
            "on" => Ok(true),
            "off" => Ok(false),
            _ => Err(format!(
                r#"unknown state {name:?}: expected true, false, "on" or "off""#
            )),
        },
        Some(other) => Err(format!(
            r#"unknown state {other}: expected true, false, "on" or "off""#
        )),
    }
}

/// Whether the light is on; never switched means off.
fn load() -> Result<bool, Response> {
    match kv::get(STATE_KEY) {
        Ok(stored) => Ok(stored.as_deref() == Some(b"on")),
        Err(error) => Err(store_failure("read", &error)),
    }
}

fn store(on: bool, source: &str) -> Result<bool, Response> {
    let name = if on { "on" } else { "off" };
    kv::set(STATE_KEY, name).map_err(|error| store_failure("write", &error))?;
    log::info(&format!("light switched {name} by {source}"));
    Ok(on)
}

fn store_failure(action: &str, error: &kv::Error) -> Response {
    let reason = match error {
        kv::Error::TooLarge => "too large",
        kv::Error::Storage(reason) => reason,
    };
    Response::internal_server_error(format!("cannot {action} the light state: {reason}"))
}

coapwasm_sdk::export!(Light);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_booleans_and_names() {
        assert_eq!(parse_state(br#"{"state": true}"#), Ok(true));
        assert_eq!(parse_state(br#"{"state": false}"#), Ok(false));
        assert_eq!(parse_state(br#"{"state":"on"}"#), Ok(true));
        assert_eq!(parse_state(br#"{"state":"OFF"}"#), Ok(false));
    }

    #[test]
    fn explains_bad_bodies() {
        assert_eq!(
            parse_state(b"true").unwrap_err(),
            r#"missing field "state": expected {"state":true} or {"state":false}"#
        );
        assert_eq!(
            parse_state(b"{").unwrap_err(),
            "invalid JSON: EOF while parsing an object at line 1 column 1"
        );
        assert_eq!(
            parse_state(br#"{"state":"dim"}"#).unwrap_err(),
            r#"unknown state "dim": expected true, false, "on" or "off""#
        );
        assert_eq!(
            parse_state(br#"{"state":1}"#).unwrap_err(),
            r#"unknown state 1: expected true, false, "on" or "off""#
        );
    }

    #[test]
    fn answers_json_the_parser_reads_back() {
        assert_eq!(parse_state(ON), Ok(true));
        assert_eq!(parse_state(OFF), Ok(false));
    }
}
