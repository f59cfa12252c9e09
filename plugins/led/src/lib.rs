//! A simulated LED at `/led` that clients read (GET), set (PUT) and toggle (POST).
//!
//! The state lives only in the key-value store, never in a global: the host may
//! run several instances at once and replaces an instance that trapped or was
//! reloaded, and every one of them must see the same LED.

// The generated glue passes a flattened `request` record to `handle`, which
// trips clippy's argument-count lint; it is not code we can shape.
#[allow(clippy::too_many_arguments)]
mod bindings {
    wit_bindgen::generate!({ path: "../../wit", world: "plugin" });
}

use bindings::coapwasm::plugin::key_value;
use bindings::coapwasm::plugin::log::{Level, log};
use bindings::coapwasm::plugin::types::{
    LinkAttribute, Method, Methods, ResourceDescription, ResponseCode,
};
use bindings::{Guest, PluginDescription, Request, Response};

const JSON: u16 = 50;
const TEXT: u16 = 0;

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

    /// The representation clients exchange: `{"state":"on"}`.
    fn to_json(self) -> Vec<u8> {
        serde_json::json!({ "state": self.name() })
            .to_string()
            .into_bytes()
    }
}

/// A request the plugin answers with an error; the text is the diagnostic
/// payload (RFC 7252 §5.5.2).
struct Failure(ResponseCode, String);

struct Led;

impl Guest for Led {
    fn describe() -> PluginDescription {
        let attribute = |name: &str, value: &str| LinkAttribute {
            name: name.into(),
            value: Some(value.into()),
        };
        PluginDescription {
            name: "led".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            resources: vec![ResourceDescription {
                path: "/led".into(),
                methods: Methods::GET | Methods::PUT | Methods::POST,
                observable: true,
                content_formats: vec![JSON],
                sample_interval_ms: None,
                attributes: vec![
                    attribute("rt", "light"),
                    attribute("if", "actuator"),
                    attribute("title", "LED"),
                ],
            }],
        }
    }

    fn sample(_path: String) -> bool {
        false
    }

    fn handle(request: Request) -> Response {
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
            _ => Err(Failure(
                ResponseCode::MethodNotAllowed,
                "GET, PUT or POST only".into(),
            )),
        };
        let (code, content_format, payload) = match outcome {
            Ok((code, state)) => (code, JSON, state.to_json()),
            Err(Failure(code, text)) => (code, TEXT, text.into_bytes()),
        };
        Response {
            code,
            content_format: Some(content_format),
            max_age: None,
            etag: None,
            location_path: Vec::new(),
            location_query: Vec::new(),
            payload,
        }
    }
}

/// The state a PUT asks for, or the 4.xx that explains why it asks for none.
fn requested_state(request: &Request) -> Result<State, Failure> {
    // No Content-Format is taken as JSON: it is the only format we speak.
    if let Some(format) = request.content_format.filter(|&format| format != JSON) {
        return Err(Failure(
            ResponseCode::UnsupportedContentFormat,
            format!("content-format {format} not supported: send application/json (50)"),
        ));
    }
    parse_state(&request.payload).map_err(|text| Failure(ResponseCode::BadRequest, text))
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
fn load() -> Result<State, Failure> {
    let stored = key_value::get(STATE_KEY).map_err(|error| store_failure("read", &error))?;
    match stored.as_deref() {
        None => Ok(State::Off),
        Some(bytes) => std::str::from_utf8(bytes)
            .ok()
            .and_then(State::from_name)
            .ok_or_else(|| {
                Failure(
                    ResponseCode::InternalServerError,
                    format!(
                        "stored state {:?} is neither on nor off",
                        String::from_utf8_lossy(bytes)
                    ),
                )
            }),
    }
}

/// Stores `state` in place of `previous` and logs the change.
fn change(previous: Option<State>, state: State, source: &str) -> Result<State, Failure> {
    if previous == Some(state) {
        return Ok(state);
    }
    key_value::set(STATE_KEY, state.name().as_bytes())
        .map_err(|error| store_failure("write", &error))?;
    log(
        Level::Info,
        &format!("LED switched {} by {source}", state.name()),
    );
    Ok(state)
}

fn store_failure(action: &str, error: &key_value::Error) -> Failure {
    let reason = match error {
        key_value::Error::TooLarge => "too large",
        key_value::Error::Storage(reason) => reason,
    };
    Failure(
        ResponseCode::InternalServerError,
        format!("cannot {action} the LED state: {reason}"),
    )
}

bindings::export!(Led with_types_in bindings);

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
            assert_eq!(parse_state(&state.to_json()), Ok(state));
            assert_eq!(state.toggled().toggled(), state);
        }
        assert_eq!(State::On.to_json(), br#"{"state":"on"}"#);
    }
}
