//! Serving on the IPv6 loopback address (RFC 7252 §6.1 URIs with `[::1]`).

use coapwasm_tests::{CoapClient, Code, Peer, Server};
use serde_json::json;

/// `--bind [::1]:0` serves over IPv6, to raw datagrams and to coap-client.
#[test]
fn serves_on_ipv6_loopback() {
    let server = Server::builder()
        .plugins(&["led"])
        .binds(&["[::1]:0"])
        .start();
    assert!(server.addr().is_ipv6(), "listening on {}", server.addr());
    assert!(server.addr().ip().is_loopback(), "{}", server.addr());

    let mut peer = server.peer();
    let response = peer.get("/led");
    assert_eq!(response.code, Code::CONTENT, "{response}");
    assert_eq!(response.payload_json(), json!({"state": "off"}));

    let uri = format!("coap://[::1]:{}/led", server.addr().port());
    let output = CoapClient::get(&uri).run();
    output.assert_code("2.05");
    assert_eq!(output.payload_json(), json!({"state": "off"}));
}

/// Two --bind flags, one per family: both sockets listen and serve the same
/// resources (a PUT through one is seen through the other).
#[test]
fn serves_ipv4_and_ipv6_at_once() {
    let server = Server::builder()
        .plugins(&["led"])
        .binds(&["127.0.0.1:0", "[::1]:0"])
        .start();
    let v4 = *server
        .addrs()
        .iter()
        .find(|a| a.is_ipv4())
        .expect("an IPv4 socket");
    let v6 = *server
        .addrs()
        .iter()
        .find(|a| a.is_ipv6())
        .expect("an IPv6 socket");

    let mut peer4 = Peer::new(v4);
    let mut peer6 = Peer::new(v6);
    let put = peer4
        .con(Code::PUT, "/led")
        .uint_option(coapwasm_tests::option::CONTENT_FORMAT, 50)
        .payload(br#"{"state":"on"}"#);
    assert_eq!(peer4.exchange(&put).code, Code::CHANGED);
    let response = peer6.get("/led");
    assert_eq!(
        response.payload_json(),
        json!({"state": "on"}),
        "{response}"
    );
}
