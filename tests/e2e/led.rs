//! The LED example plugin: state through GET, PUT and POST (RFC 7252 §5.8),
//! with diagnostic payloads for bad requests (§5.5.2).

use coapwasm_tests::{CoapClient, Code, Server, option};
use serde_json::json;

/// RFC 7252 §5.8.1, §5.8.3, §5.8.2: the LED starts off, PUT sets it (2.04
/// Changed) and POST toggles it, answering the new state; driven by coap-client.
#[test]
fn state_round_trip_with_coap_client() {
    let server = Server::with_plugins(&["led"]);
    let uri = server.uri("/led");

    let output = CoapClient::get(&uri).run();
    output.assert_code("2.05");
    assert_eq!(output.payload_json(), json!({"state": "off"}));

    CoapClient::get(&uri)
        .method("put")
        .payload(r#"{"state":"on"}"#)
        .content_format(50)
        .run()
        .assert_code("2.04");

    let output = CoapClient::get(&uri).run();
    output.assert_code("2.05");
    assert_eq!(output.payload_json(), json!({"state": "on"}));

    let output = CoapClient::get(&uri).method("post").run();
    output.assert_code("2.04");
    assert_eq!(output.payload_json(), json!({"state": "off"}));

    let output = CoapClient::get(&uri).method("post").run();
    output.assert_code("2.04");
    assert_eq!(output.payload_json(), json!({"state": "on"}));

    let output = CoapClient::get(&uri).run();
    output.assert_code("2.05");
    assert_eq!(output.payload_json(), json!({"state": "on"}));
}

/// RFC 7252 §5.10.3: the state is labelled application/json on the wire,
/// and a PUT's 2.04 comes piggybacked.
#[test]
fn state_on_the_wire() {
    let server = Server::with_plugins(&["led"]);
    let mut peer = server.peer();

    let response = peer.get("/led");
    assert_eq!(response.code, Code::CONTENT, "{response}");
    assert_eq!(response.content_format(), Some(50), "{response}");
    assert_eq!(response.payload_json(), json!({"state": "off"}));

    let put = peer
        .con(Code::PUT, "/led")
        .uint_option(option::CONTENT_FORMAT, 50)
        .payload(br#"{"state":"on"}"#);
    let response = peer.exchange(&put);
    assert_eq!(response.code, Code::CHANGED, "{response}");

    let response = peer.call(Code::POST, "/led");
    assert_eq!(response.code, Code::CHANGED, "{response}");
    assert_eq!(response.payload_json(), json!({"state": "off"}));
}

/// RFC 7252 §5.9.2.1 and §5.5.2: malformed JSON and an unknown state are
/// 4.00 Bad Request with a diagnostic payload, and change nothing.
#[test]
fn bad_payloads_are_rejected_with_a_diagnostic() {
    let server = Server::with_plugins(&["led"]);
    let mut peer = server.peer();

    let put = peer
        .con(Code::PUT, "/led")
        .uint_option(option::CONTENT_FORMAT, 50)
        .payload(br#"{"state":"#);
    let response = peer.exchange(&put);
    assert_eq!(response.code, Code::BAD_REQUEST, "{response}");
    assert!(
        !response.payload.is_empty(),
        "no diagnostic payload: {response}"
    );

    let put = peer
        .con(Code::PUT, "/led")
        .uint_option(option::CONTENT_FORMAT, 50)
        .payload(br#"{"state":"blue"}"#);
    let response = peer.exchange(&put);
    assert_eq!(response.code, Code::BAD_REQUEST, "{response}");
    assert!(
        response.payload_text().contains("blue"),
        "the diagnostic should name the bad state: {response}"
    );

    let output = CoapClient::get(&server.uri("/led"))
        .method("put")
        .payload("not json")
        .content_format(50)
        .run();
    output.assert_code("4.00");

    let response = peer.get("/led");
    assert_eq!(response.payload_json(), json!({"state": "off"}));
}
