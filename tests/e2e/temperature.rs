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

/// Every GET carries the configuration a PUT stored, so one client must not
/// be able to make /temperature large for everyone: past 16 keys or 1 KiB of
/// JSON the PUT is 4.00 with a diagnostic, and nothing is stored.
#[test]
fn configuration_put_is_bounded_and_a_refused_put_changes_nothing() {
    let server = Server::with_plugins(&["temperature"]);
    let mut peer = server.peer();
    let put = |peer: &mut coapwasm_tests::Peer, body: &str| {
        let request = peer
            .con(Code::PUT, "/temperature")
            .uint_option(option::CONTENT_FORMAT, 50)
            .payload(body.as_bytes());
        peer.exchange(&request)
    };
    assert_eq!(put(&mut peer, r#"{"threshold":30}"#).code, Code::CHANGED);
    let big = format!(r#"{{"value":50,"note":"{}"}}"#, "x".repeat(2000));
    let refused = put(&mut peer, &big);
    assert_eq!(refused.code, Code::BAD_REQUEST, "{refused}");
    assert!(refused.payload_text().contains("limited"), "{refused}");
    let reading = peer.get("/temperature").payload_json();
    assert_eq!(reading["threshold"], 30, "{reading}");
    assert!(reading.get("note").is_none(), "{reading}");
    let value = reading["value"].as_f64().unwrap();
    assert!(
        (value - 50.0).abs() > 1.0,
        "the refused PUT set the value: {reading}"
    );
}
