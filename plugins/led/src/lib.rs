//! A simulated LED at `/led` that clients read (GET), set (PUT) and toggle (POST).
//!
//! Two kinds of client drive it: the on/off LED of the implementation guide
//! and this project's first tests (`{"state":"on"}`), and the colour LED of the
//! tutorial's mini project (`{"color":"red"}`). It serves both:
//!
//! - PUT `{"state": S}`: S is `"on"` or `"off"` in any case, or `true`/`false`;
//! - PUT `{"color": C}`: C is `"red"`, `"green"`, `"blue"` (switches on in that
//!   colour) or `"off"` (switches off); any other colour is 4.00 with the
//!   payload `Invalid color`, as in the mini project. Both keys may come
//!   together if they agree (a colour with `"state":"on"`, `"off"` with
//!   `"state":"off"`);
//! - POST toggles on/off, keeping the colour.
//!
//! GET, and every 2.04, answer `{"state":"on"}` or `{"state":"off"}` while the
//! LED has never been given a colour, exactly as before colours existed; once
//! a PUT named a colour, they add `"color"`: the lit colour, or `"off"` while
//! off. Switching on by `state` alone lights the last colour given, or
//! `"white"` if the only colour ever given was `"off"` (white cannot be PUT:
//! the mini project's palette is red, green and blue).
//!
//! The state lives only in the key-value store, never in a global: the host may
//! run several instances at once and replaces an instance that trapped or was
//! reloaded, and every one of them must see the same LED.

use coapwasm_sdk::content_format::JSON;
use coapwasm_sdk::{
    Method, Methods, Plugin, PluginDescription, Request, ResourceDescription, Response,
    ResponseCode, kv, log,
};

/// Key of the LED: `on` or `off`, followed by a space and the last colour
/// it was lit in once it had one (`on red`, `off blue`). One key, so that a
/// GET reads the store once and a change is written whole.
const STATE_KEY: &str = "state";

/// The mini project's 4.00 payload, byte for byte.
const INVALID_COLOR: &str = "Invalid color";
/// The colour of an LED switched on by `state` with no lit colour remembered.
const WHITE: &str = "white";

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
}

/// The colours a PUT may name, besides `"off"`.
const COLORS: [&str; 3] = ["red", "green", "blue"];

/// The LED as stored: on or off, and the colour it is lit in when on
/// (`None` for an LED never given a colour).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Led {
    state: State,
    color: Option<String>,
}

impl Led {
    /// The representation clients exchange: `{"state":"on"}`, plus
    /// `"color"` for a coloured LED.
    fn to_json(&self) -> Vec<u8> {
        match &self.color {
            None => format!(r#"{{"state":"{}"}}"#, self.state.name()).into_bytes(),
            Some(color) => {
                let shown = match self.state {
                    State::On => color.as_str(),
                    State::Off => "off",
                };
                serde_json::json!({ "state": self.state.name(), "color": shown })
                    .to_string()
                    .into_bytes()
            }
        }
    }

    /// The stored form: `on`, `off`, or either with the colour after a space.
    fn to_stored(&self) -> String {
        match &self.color {
            None => self.state.name().to_owned(),
            Some(color) => format!("{} {color}", self.state.name()),
        }
    }

    /// The LED in its stored form; none if it is not one.
    fn from_stored(text: &str) -> Option<Led> {
        let (state, color) = match text.split_once(' ') {
            Some((state, color)) => (state, Some(color.to_owned())),
            None => (text, None),
        };
        Some(Led {
            state: State::from_name(state)?,
            color,
        })
    }

    /// The LED after `command`.
    fn after(&self, command: &Command) -> Led {
        let color = match command.color {
            Some(Color::Lit(name)) => Some(name.to_owned()),
            Some(Color::Off) => Some(self.color.clone().unwrap_or_else(|| WHITE.to_owned())),
            None => self.color.clone(),
        };
        Led {
            state: command.state,
            color,
        }
    }
}

/// A colour a PUT named.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Color {
    Lit(&'static str),
    Off,
}

/// What a PUT asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Command {
    state: State,
    color: Option<Color>,
}

struct LedPlugin;

impl Plugin for LedPlugin {
    fn describe() -> PluginDescription {
        PluginDescription::new("led", env!("CARGO_PKG_VERSION")).resource(
            ResourceDescription::new("/led", Methods::GET | Methods::PUT | Methods::POST)
                .observable()
                .content_format(JSON)
                // RFC 6690 §3.1: one rt, space-separated values; `actuator`
                // is the implementation guide's.
                .resource_type("light actuator")
                .interface("actuator")
                .title("LED"),
        )
    }

    fn handle(request: Request) -> Response {
        // Err is the error response, with its diagnostic (RFC 7252 §5.5.2).
        let outcome = match request.method {
            Method::Get => load().map(|led| (ResponseCode::Content, led)),
            // A PUT may overwrite a stored state that cannot be read, so that
            // a client can repair it.
            Method::Put => requested(&request).and_then(|command| {
                let previous = load().ok();
                let base = previous.clone().unwrap_or(Led {
                    state: State::Off,
                    color: None,
                });
                change(previous, base.after(&command), &request.source)
                    .map(|led| (ResponseCode::Changed, led))
            }),
            // Read-then-write: the store has no compare-and-swap, so two
            // simultaneous toggles may both see the same state. Good enough
            // for a simulated LED.
            Method::Post => load()
                .and_then(|led| {
                    let toggled = Led {
                        state: led.state.toggled(),
                        color: led.color.clone(),
                    };
                    change(Some(led), toggled, &request.source)
                })
                .map(|led| (ResponseCode::Changed, led)),
            // The host refuses the methods `describe` does not list.
            _ => Err(Response::method_not_allowed("GET, PUT or POST only")),
        };
        match outcome {
            Ok((code, led)) => Response::json(led.to_json()).with_code(code),
            Err(error) => error,
        }
    }
}

/// What a PUT asks for, or the 4.xx that explains why it asks for nothing.
fn requested(request: &Request) -> Result<Command, Response> {
    // No Content-Format is taken as JSON: it is the only format we speak.
    if let Some(format) = request.content_format.filter(|&format| format != JSON) {
        return Err(Response::unsupported_content_format(format!(
            "content-format {format} not supported: send application/json (50)"
        )));
    }
    parse_command(&request.payload).map_err(Response::bad_request)
}

/// Parses a PUT body: `{"state": S}`, `{"color": C}` or both (see the
/// module's documentation).
fn parse_command(payload: &[u8]) -> Result<Command, String> {
    let body: serde_json::Value =
        serde_json::from_slice(payload).map_err(|error| format!("invalid JSON: {error}"))?;
    let state = body.get("state").map(parse_state).transpose()?;
    let color = body.get("color").map(parse_color).transpose()?;
    match (state, color) {
        (None, None) => Err(
            r#"missing field "state" or "color": expected {"state":"on"}, {"state":"off"} or {"color":"red"}"#
                .into(),
        ),
        (Some(state), None) => Ok(Command { state, color: None }),
        (state, Some(color)) => {
            let implied = match color {
                Color::Lit(_) => State::On,
                Color::Off => State::Off,
            };
            if state.is_some_and(|state| state != implied) {
                return Err(format!(
                    r#"state "{}" contradicts the color: a color lights the LED, "off" switches it off"#,
                    state.map_or("", State::name)
                ));
            }
            Ok(Command {
                state: implied,
                color: Some(color),
            })
        }
    }
}

/// `"on"`/`"off"` in any case (the implementation guide lowercases), or a
/// boolean (the tutorial sends `true`).
fn parse_state(value: &serde_json::Value) -> Result<State, String> {
    match value {
        serde_json::Value::Bool(true) => Ok(State::On),
        serde_json::Value::Bool(false) => Ok(State::Off),
        serde_json::Value::String(name) => {
            State::from_name(&name.to_ascii_lowercase()).ok_or_else(|| {
                format!(r#"unknown state {name:?}: expected "on", "off", true or false"#)
            })
        }
        other => Err(format!(
            r#"unknown state {other}: expected "on", "off", true or false"#
        )),
    }
}

/// One of the mini project's colours, or `Invalid color`.
fn parse_color(value: &serde_json::Value) -> Result<Color, String> {
    match value.as_str() {
        Some("off") => Ok(Color::Off),
        Some(name) => COLORS
            .iter()
            .find(|&&color| color == name)
            .map(|&color| Color::Lit(color))
            .ok_or_else(|| INVALID_COLOR.into()),
        None => Err(INVALID_COLOR.into()),
    }
}

/// The stored LED; absent means it was never switched on.
fn load() -> Result<Led, Response> {
    let stored = kv::get(STATE_KEY).map_err(|error| store_failure("read", &error))?;
    match stored.as_deref() {
        None => Ok(Led {
            state: State::Off,
            color: None,
        }),
        Some(bytes) => std::str::from_utf8(bytes)
            .ok()
            .and_then(Led::from_stored)
            .ok_or_else(|| {
                Response::internal_server_error(format!(
                    "stored state {:?} is neither on nor off",
                    String::from_utf8_lossy(bytes)
                ))
            }),
    }
}

/// Stores `led` in place of `previous` and logs the change.
fn change(previous: Option<Led>, led: Led, source: &str) -> Result<Led, Response> {
    if previous.as_ref() == Some(&led) {
        return Ok(led);
    }
    kv::set(STATE_KEY, led.to_stored()).map_err(|error| store_failure("write", &error))?;
    match (&led.color, led.state) {
        (Some(color), State::On) => {
            log::info(&format!("LED switched on ({color}) by {source}"));
        }
        _ => log::info(&format!("LED switched {} by {source}", led.state.name())),
    }
    Ok(led)
}

fn store_failure(action: &str, error: &kv::Error) -> Response {
    let reason = match error {
        kv::Error::TooLarge => "too large",
        kv::Error::Storage(reason) => reason,
    };
    Response::internal_server_error(format!("cannot {action} the LED state: {reason}"))
}

coapwasm_sdk::export!(LedPlugin);

#[cfg(test)]
mod tests {
    use super::*;

    fn state(payload: &[u8]) -> Result<State, String> {
        parse_command(payload).map(|command| command.state)
    }

    fn plain(state: State) -> Led {
        Led { state, color: None }
    }

    #[test]
    fn parses_states() {
        assert_eq!(state(br#"{"state":"on"}"#), Ok(State::On));
        assert_eq!(state(br#" {"state": "off"} "#), Ok(State::Off));
        assert_eq!(state(br#"{"state":"ON"}"#), Ok(State::On));
        assert_eq!(state(br#"{"state":"Off"}"#), Ok(State::Off));
        assert_eq!(state(br#"{"state":true}"#), Ok(State::On));
        assert_eq!(state(br#"{"state":false}"#), Ok(State::Off));
    }

    #[test]
    fn parses_colors() {
        for color in COLORS {
            let body = format!(r#"{{"color":"{color}"}}"#);
            assert_eq!(
                parse_command(body.as_bytes()),
                Ok(Command {
                    state: State::On,
                    color: Some(Color::Lit(color))
                })
            );
        }
        assert_eq!(
            parse_command(br#"{"color":"off"}"#),
            Ok(Command {
                state: State::Off,
                color: Some(Color::Off)
            })
        );
        assert_eq!(
            parse_command(br#"{"color":"red","state":"on"}"#)
                .unwrap()
                .color,
            Some(Color::Lit("red"))
        );
        for bad in [
            &br#"{"color":"purple"}"#[..],
            br#"{"color":"RED"}"#,
            br#"{"color":"white"}"#,
            br#"{"color":1}"#,
            br#"{"color":"red","state":"blue"}"#,
        ] {
            let expected = if bad.ends_with(br#""blue"}"#) {
                r#"unknown state "blue": expected "on", "off", true or false"#
            } else {
                INVALID_COLOR
            };
            assert_eq!(parse_command(bad).unwrap_err(), expected);
        }
        assert!(
            parse_command(br#"{"color":"red","state":"off"}"#)
                .unwrap_err()
                .contains("contradicts")
        );
    }

    #[test]
    fn explains_bad_bodies() {
        assert_eq!(
            state(b"").unwrap_err(),
            "invalid JSON: EOF while parsing a value at line 1 column 0"
        );
        assert_eq!(
            state(b"on").unwrap_err(),
            "invalid JSON: expected value at line 1 column 1"
        );
        assert_eq!(
            state(br#"{"state":"blue"}"#).unwrap_err(),
            r#"unknown state "blue": expected "on", "off", true or false"#
        );
        assert_eq!(
            state(br#"{"state":1}"#).unwrap_err(),
            r#"unknown state 1: expected "on", "off", true or false"#
        );
        assert!(state(b"{}").unwrap_err().starts_with("missing field"));
    }

    #[test]
    fn round_trips_json() {
        for led_state in [State::On, State::Off] {
            let led = plain(led_state);
            assert_eq!(state(&led.to_json()), Ok(led_state));
            assert_eq!(led_state.toggled().toggled(), led_state);
            // The same bytes serde_json writes for the object.
            let written = serde_json::json!({ "state": led_state.name() }).to_string();
            assert_eq!(led.to_json(), written.as_bytes());
        }
        assert_eq!(plain(State::On).to_json(), br#"{"state":"on"}"#);
        // A coloured LED's answer can be PUT back.
        let red = plain(State::Off).after(&parse_command(br#"{"color":"red"}"#).unwrap());
        assert_eq!(
            parse_command(&red.to_json()).unwrap().color,
            Some(Color::Lit("red"))
        );
    }

    #[test]
    fn colors_are_remembered() {
        let off = plain(State::Off);
        let command = |body: &[u8]| parse_command(body).unwrap();
        let red = off.after(&command(br#"{"color":"red"}"#));
        assert_eq!(red.to_json(), br#"{"color":"red","state":"on"}"#);
        let dark = red.after(&command(br#"{"color":"off"}"#));
        assert_eq!(dark.to_json(), br#"{"color":"off","state":"off"}"#);
        // Switched on by state alone: the last colour again.
        let again = dark.after(&command(br#"{"state":true}"#));
        assert_eq!(again.to_json(), br#"{"color":"red","state":"on"}"#);
        // Never lit in a colour: white.
        let white = off
            .after(&command(br#"{"color":"off"}"#))
            .after(&command(br#"{"state":"on"}"#));
        assert_eq!(white.to_json(), br#"{"color":"white","state":"on"}"#);
        // A plain LED stays plain.
        let plain_on = off.after(&command(br#"{"state":"on"}"#));
        assert_eq!(plain_on.to_json(), br#"{"state":"on"}"#);
    }

    #[test]
    fn the_stored_form_round_trips_and_reads_what_earlier_versions_stored() {
        for led in [
            Led {
                state: State::On,
                color: None,
            },
            Led {
                state: State::Off,
                color: Some("red".to_owned()),
            },
            Led {
                state: State::On,
                color: Some("white".to_owned()),
            },
        ] {
            assert_eq!(Led::from_stored(&led.to_stored()), Some(led));
        }
        // Before colours, the key held "on" or "off" alone.
        assert_eq!(
            Led::from_stored("on"),
            Some(Led {
                state: State::On,
                color: None
            })
        );
        assert_eq!(Led::from_stored("dim"), None);
    }
}
