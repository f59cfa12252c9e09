//! The temperature example plugin: JSON by default, text/plain on request
//! (RFC 7252 §5.10.3, §5.10.4).

use coapwasm_tests::{CoapClient, Code, Server, option, rfc3339};
use serde_json::Value;

/// Checks a reading: a number in °C, the unit, and a timestamp of the present.
fn assert_reading(json: &Value) {
    let value = json["value"]
        .as_f64()
        .unwrap_or_else(|| panic!("value is not a number: {json}"));
    assert!((-50.0..=80.0).contains(&value), "implausible value: {json}");
    assert_eq!(json["unit"], "celsius", "{json}");
    let timestamp = json["timestamp"]
        .as_str()
        .unwrap_or_else(|| panic!("timestamp is not a string: {json}"));
    let at = rfc3339::parse_utc(timestamp).unwrap();
    let skew = (rfc3339::now() - at).abs();
    assert!(
        skew < 300,
        "timestamp {timestamp} is {skew} s off the clock"
    );
}

/// RFC 7252 §5.8.1 and §5.5: GET answers 2.05 with a JSON reading.
#[test]
fn get_returns_a_json_reading() {
    let server = Server::with_plugins(&["temperature"]);
    let output = CoapClient::get(&server.uri("/temperature")).run();
    output.assert_code("2.05");
    assert_reading(&output.payload_json());
}

/// RFC 7252 §5.10.3: the piggybacked response says Content-Format 50
/// (application/json) on the wire.
#[test]
fn json_reading_is_labelled_application_json() {
    let server = Server::with_plugins(&["temperature"]);
    let mut peer = server.peer();
    let request = peer.con(Code::GET, "/temperature");
    let response = peer.fetch(&request);
    assert_eq!(response.code, Code::CONTENT, "{response}");
    assert_eq!(response.content_format(), Some(50), "{response}");
    assert_reading(&response.payload_json());
}

/// RFC 7252 §5.10.4: Accept 0 asks for text/plain, and the response says
/// Content-Format 0 (which is an empty uint option value, §3.2).
#[test]
fn accept_text_plain_returns_text() {
    let server = Server::with_plugins(&["temperature"]);
    let mut peer = server.peer();
    let request = peer
        .con(Code::GET, "/temperature")
        .uint_option(option::ACCEPT, 0);
    let response = peer.exchange(&request);
    assert_eq!(response.code, Code::CONTENT, "{response}");
    assert_eq!(response.content_format(), Some(0), "{response}");
    let text = response.payload_text();
    assert!(
        !text.starts_with('{') && text.contains(|c: char| c.is_ascii_digit()),
        "expected a plain-text reading, got {text:?}"
    );

    let output = CoapClient::get(&server.uri("/temperature")).accept(0).run();
    output.assert_code("2.05");
    let text = output.payload_text();
    assert!(
        serde_json::from_str::<Value>(text).is_err() && text.contains(|c: char| c.is_ascii_digit()),
        "expected a plain-text reading\n{}",
        output.shown()
    );
}
