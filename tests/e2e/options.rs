//! Options between client, host and plugin: Uri-Query, Content-Format and
//! Accept in (RFC 7252 §5.10.1, §5.10.3, §5.10.4), ETag, Max-Age and
//! Location-* out (§5.10.5-§5.10.7).

use coapwasm_tests::{CoapClient, Code, Server, Type, option};
use serde_json::json;

/// RFC 7252 §5.10.1 and §5.10.3: Uri-Query items, the Content-Format and the
/// payload reach the plugin unchanged and in order.
#[test]
fn request_options_reach_the_plugin() {
    let server = Server::with_plugins(&["testkit"]);
    let mut peer = server.peer();
    let request = peer
        .con(Code::POST, "/test/echo?a=1&b=two&flag")
        .uint_option(option::CONTENT_FORMAT, 0)
        .payload(b"hello");
    let response = peer.fetch(&request);
    assert_eq!(response.code, Code::CHANGED, "{response}");
    assert_eq!(response.content_format(), Some(50), "{response}");
    let echo = response.payload_json();
    assert_eq!(echo["method"], "post", "{echo}");
    assert_eq!(echo["path"], "/test/echo", "{echo}");
    assert_eq!(echo["query"], json!(["a=1", "b=two", "flag"]), "{echo}");
    assert_eq!(echo["content_format"], 0, "{echo}");
    assert_eq!(echo["accept"], json!(null), "{echo}");
    assert_eq!(echo["payload_utf8"], "hello", "{echo}");
    assert_eq!(echo["source"], peer.local_addr().to_string(), "{echo}");

    let output = CoapClient::get(&server.uri("/test/echo?x=%C3%A9&y=2"))
        .method("put")
        .payload("from coap-client")
        .content_format(0)
        .accept(50)
        .run();
    output.assert_code("2.04");
    let echo = output.payload_json();
    assert_eq!(echo["method"], "put", "{echo}");
    assert_eq!(echo["query"], json!(["x=é", "y=2"]), "{echo}");
    assert_eq!(echo["content_format"], 0, "{echo}");
    assert_eq!(echo["accept"], 50, "{echo}");
    assert_eq!(echo["payload_utf8"], "from coap-client", "{echo}");
}

/// RFC 7252 §5.10.6 and §5.10.5: the plugin's ETag and Max-Age go out as
/// options; §5.10.6.2: a GET carrying the current ETag gets 2.03 Valid with
/// that ETag and no payload (§5.9.1.3), any other ETag the full answer.
#[test]
fn etag_validation_answers_2_03() {
    let server = Server::with_plugins(&["testkit"]);
    let mut peer = server.peer();
    let etag = [0xe1, 0x7a, 0x60, 0x01];

    let response = peer.get("/test/etag");
    assert_eq!(response.code, Code::CONTENT, "{response}");
    assert_eq!(
        response.option_value(option::ETAG),
        Some(&etag[..]),
        "{response}"
    );
    assert_eq!(
        response.uint_option_value(option::MAX_AGE),
        Some(30),
        "{response}"
    );
    assert_eq!(response.payload_text(), "tagged");

    let request = peer
        .con(Code::GET, "/test/etag")
        .option(option::ETAG, &etag);
    let response = peer.exchange(&request);
    assert_eq!(response.mtype, Type::Ack, "{response}");
    assert_eq!(response.code, Code::VALID, "{response}");
    assert!(
        response.payload.is_empty(),
        "2.03 has no payload: {response}"
    );
    assert_eq!(
        response.option_value(option::ETAG),
        Some(&etag[..]),
        "{response}"
    );

    // Several ETags, one of them current (§5.10.6.2 allows a list).
    let request = peer
        .con(Code::GET, "/test/etag")
        .option(option::ETAG, &[1, 2, 3])
        .option(option::ETAG, &etag);
    let response = peer.exchange(&request);
    assert_eq!(response.code, Code::VALID, "{response}");

    let request = peer
        .con(Code::GET, "/test/etag")
        .option(option::ETAG, &[1, 2, 3]);
    let response = peer.exchange(&request);
    assert_eq!(response.code, Code::CONTENT, "a stale ETag: {response}");
    assert_eq!(response.payload_text(), "tagged");
}

/// RFC 7252 §5.9.1.1 and §5.10.7: 2.01 Created carries Location-Path
/// segments and Location-Query items.
#[test]
fn created_carries_location_options() {
    let server = Server::with_plugins(&["testkit"]);
    let mut peer = server.peer();
    let response = peer.call(Code::POST, "/test/created");
    assert_eq!(response.code, Code::CREATED, "{response}");
    assert_eq!(
        response.string_options(option::LOCATION_PATH),
        ["test", "items", "7"],
        "{response}"
    );
    assert_eq!(
        response.string_options(option::LOCATION_QUERY),
        ["v=1"],
        "{response}"
    );
    assert!(response.payload.is_empty(), "{response}");

    let output = CoapClient::get(&server.uri("/test/created"))
        .method("post")
        .run();
    output.assert_code("2.01");
    let line = &output.response().line;
    assert!(
        line.contains("Location-Path:test") && line.contains("Location-Query:v=1"),
        "coap-client saw the Location options\n{}",
        output.shown()
    );
}

/// RFC 7252 §5.10.4: the plugin answers in the format Accept names among
/// those it lists; another format is refused with 4.06 by the host.
#[test]
fn accept_selects_among_listed_formats() {
    let server = Server::with_plugins(&["testkit"]);
    let mut peer = server.peer();

    let response = peer.get("/test/accept");
    assert_eq!(
        response.content_format(),
        Some(50),
        "default first: {response}"
    );
    assert_eq!(response.payload_json(), json!({"format": 50}));

    let request = peer
        .con(Code::GET, "/test/accept")
        .uint_option(option::ACCEPT, 60);
    let response = peer.exchange(&request);
    assert_eq!(response.code, Code::CONTENT, "{response}");
    assert_eq!(response.content_format(), Some(60), "{response}");
    // {"format": 60} in CBOR.
    assert_eq!(
        response.payload,
        [0xa1, 0x66, b'f', b'o', b'r', b'm', b'a', b't', 0x18, 0x3c]
    );

    let request = peer
        .con(Code::GET, "/test/accept")
        .uint_option(option::ACCEPT, 0);
    let response = peer.exchange(&request);
    assert_eq!(response.code, Code::NOT_ACCEPTABLE, "{response}");
}
