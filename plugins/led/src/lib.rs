//! A simulated LED at `/led` that clients read (GET), set (PUT) and toggle (POST).
//!
//! The state lives only in the key-value store, never in a global: the host may
//! run several instances at once and replaces an instance that trapped or was
//! reloaded, and every one of them must see the same LED.

use coapwasm_sdk::content_format::JSON;
use coapwasm_sdk::{
    Method, Methods, Plugin, PluginDescription, Request, ResourceDescription, Response,
    ResponseCode, kv, log,
};

const STATE_KEY: &str = "state";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    On,
    Off,
}

impl State {
    fn name(self) -> &'static str {
        match self {
            State::On => "on",
            State::Off => "off",
        }
    }

    fn from_name(name: &str) -> Option<State> {
        match name {
            "on" => Some(State::On),
            "off" => Some(State::Off),
            _ => None,
        }
    }

    fn toggled(self) -> State {
        match self {
            State::On => State::Off,
            State::Off => State::On,
        }
    }

    /// The representation clients exchange: `{"state":"on"}`. Two fixed
    /// texts, so a GET serialises nothing.
    fn to_json(self) -> &'static [u8] {
        match self {
            State::On => br#"{"state":"on"}"#,
            State::Off => br#"{"state":"off"}"#,
        }
    }
}

struct Led;

impl Plugin for Led {
    fn describe() -> PluginDescription {
        PluginDescription::new("led", env!("CARGO_PKG_VERSION")).resource(
            ResourceDescription::new("/led", Methods::GET | Methods::PUT | Methods::POST)
                .observable()
                .content_format(JSON)
                .resource_type("light")
                .interface("actuator")
                .title("LED"),
        )
    }

    fn handle(request: Request) -> Response {
        // Err is the error response, with its diagnostic (RFC 7252 §5.5.2).
        let outcome = match request.method {
            Method::Get => load().map(|state| (ResponseCode::Content, state)),
            // A PUT may overwrite a stored state that cannot be read, so that
            // a client can repair it.
            Method::Put => requested_state(&request)
                .and_then(|state| change(load().ok(), state, &request.source))
                .map(|state| (ResponseCode::Changed, state)),
            // Read-then-write: the store has no compare-and-swap, so two
            // simultaneous toggles may both see the same state. Good enough
            // for a simulated LED.
            Method::Post => load()
                .and_then(|state| change(Some(state), state.toggled(), &request.source))
                .map(|state| (ResponseCode::Changed, state)),
            // The host refuses the methods `describe` does not list.
            _ => Err(Response::method_not_allowed("GET, PUT or POST only")),
        };
        match outcome {
            Ok((code, state)) => Response::json(state.to_json()).with_code(code),
            Err(error) => error,
        }
    }
}

/// The state a PUT asks for, or the 4.xx that explains why it asks for none.
fn requested_state(request: &Request) -> Result<State, Response> {
    // No Content-Format is taken as JSON: it is the only format we speak.
    if let Some(format) = request.content_format.filter(|&format| format != JSON) {
        return Err(Response::unsupported_content_format(format!(
            "content-format {format} not supported: send application/json (50)"
        )));
    }
    parse_state(&request.payload).map_err(Response::bad_request)
}

/// Parses a `{"state":"on"}` or `{"state":"off"}` body.
fn parse_state(payload: &[u8]) -> Result<State, String> {
    let body: serde_json::Value =
        serde_json::from_slice(payload).map_err(|error| format!("invalid JSON: {error}"))?;
    match body.get("state") {
        None => Err(r#"missing field "state": expected {"state":"on"} or {"state":"off"}"#.into()),
        Some(serde_json::Value::String(name)) => State::from_name(name)
            .ok_or_else(|| format!(r#"unknown state {name:?}: expected "on" or "off""#)),
        Some(other) => Err(format!(r#"unknown state {other}: expected "on" or "off""#)),
    }
}

/// The stored state; absent means the LED was never switched on.
fn load() -> Result<State, Response> {
    let stored = kv::get(STATE_KEY).map_err(|error| store_failure("read", &error))?;
    match stored.as_deref() {
        None => Ok(State::Off),
        Some(bytes) => std::str::from_utf8(bytes)
            .ok()
            .and_then(State::from_name)
            .ok_or_else(|| {
                Response::internal_server_error(format!(
                    "stored state {:?} is neither on nor off",
                    String::from_utf8_lossy(bytes)
                ))
            }),
    }
}

/// Stores `state` in place of `previous` and logs the change.
fn change(previous: Option<State>, state: State, source: &str) -> Result<State, Response> {
    if previous == Some(state) {
        return Ok(state);
    }
    kv::set(STATE_KEY, state.name()).map_err(|error| store_failure("write", &error))?;
    log::info(&format!("LED switched {} by {source}", state.name()));
    Ok(state)
}

fn store_failure(action: &str, error: &kv::Error) -> Response {
    let reason = match error {
        kv::Error::TooLarge => "too large",
        kv::Error::Storage(reason) => reason,
    };
    Response::internal_server_error(format!("cannot {action} the LED state: {reason}"))
}

coapwasm_sdk::export!(Led);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_states() {
        assert_eq!(parse_state(br#"{"state":"on"}"#), Ok(State::On));
        assert_eq!(parse_state(br#" {"state": "off"} "#), Ok(State::Off));
    }

    #[test]
    fn explains_bad_bodies() {
        assert_eq!(
            parse_state(b"").unwrap_err(),
            "invalid JSON: EOF while parsing a value at line 1 column 0"
        );
        assert_eq!(
            parse_state(b"on").unwrap_err(),
            "invalid JSON: expected value at line 1 column 1"
        );
        assert_eq!(
            parse_state(br#"{"state":"blue"}"#).unwrap_err(),
            r#"unknown state "blue": expected "on" or "off""#
        );
        assert_eq!(
            parse_state(br#"{"state":1}"#).unwrap_err(),
            r#"unknown state 1: expected "on" or "off""#
        );
        assert!(parse_state(b"{}").unwrap_err().starts_with("missing field"));
    }

    #[test]
    fn round_trips_json() {
        for state in [State::On, State::Off] {
            assert_eq!(parse_state(state.to_json()), Ok(state));
            assert_eq!(state.toggled().toggled(), state);
            // The same bytes serde_json writes for the object.
            let written = serde_json::json!({ "state": state.name() }).to_string();
            assert_eq!(state.to_json(), written.as_bytes());
        }
        assert_eq!(State::On.to_json(), br#"{"state":"on"}"#);
    }
}
