//! Requests the host refuses by itself, before any plugin is called
//! (RFC 7252 §5.9.2).

use coapwasm_tests::{CoapClient, Code, Message, Server, Type, option};

/// RFC 7252 §5.9.2.5: a path no plugin serves is 4.04 Not Found; paths match
/// exactly, so neither a longer path nor another case matches.
#[test]
fn unknown_path_is_not_found() {
    let server = Server::with_plugins(&["led", "temperature"]);
    let output = CoapClient::get(&server.uri("/no/such/thing")).run();
    output.assert_code("4.04");
    assert!(output.stderr.contains("4.04"), "{}", output.shown());

    let mut peer = server.peer();
    for target in ["/nothing", "/led/extra", "/LED", "/"] {
        let response = peer.get(target);
        assert_eq!(response.code, Code::NOT_FOUND, "GET {target}: {response}");
    }
}

/// RFC 7252 §5.9.2.6: a method the resource does not accept is 4.05, its
/// diagnostic (§5.5.2) naming methods as CoAP does (`POST`, not `Post`) and
/// the ones the resource accepts.
#[test]
fn method_not_accepted_is_405() {
    let server = Server::with_plugins(&["led", "temperature"]);
    let output = CoapClient::get(&server.uri("/temperature"))
        .method("delete")
        .run();
    output.assert_code("4.05");

    let mut peer = server.peer();
    for (method, target) in [(Code::DELETE, "/temperature"), (Code::POST, "/temperature")] {
        let response = peer.call(method, target);
        assert_eq!(
            response.code,
            Code::METHOD_NOT_ALLOWED,
            "{method} {target}: {response}"
        );
    }
    let diagnostic = peer
        .call(Code::POST, "/temperature")
        .payload_text()
        .to_owned();
    assert_eq!(
        diagnostic, "/temperature does not accept POST (it accepts GET, PUT)",
        "the diagnostic"
    );
}

/// RFC 7252 §5.8: "A request with an unrecognized or unsupported Method Code
/// MUST generate a 4.05 (Method Not Allowed) piggybacked response." 0.08 and
/// 0.31 are unassigned method codes.
#[test]
fn unrecognised_method_code_is_405() {
    let server = Server::with_plugins(&["led"]);
    let mut peer = server.peer();
    for code in [Code::new(0, 8), Code::new(0, 31)] {
        let request = peer.con(code, "/led");
        let response = peer.exchange(&request);
        assert_eq!(response.mtype, Type::Ack, "{response}");
        assert_eq!(
            response.code,
            Code::METHOD_NOT_ALLOWED,
            "{code}: {response}"
        );
    }
}

/// RFC 7252 §5.10.4 and §5.9.2.7: an Accept naming a format the resource
/// cannot produce is 4.06 Not Acceptable.
#[test]
fn unacceptable_format_is_406() {
    let server = Server::with_plugins(&["temperature"]);
    let output = CoapClient::get(&server.uri("/temperature"))
        .accept(60)
        .run();
    output.assert_code("4.06");

    let mut peer = server.peer();
    let request: Message = peer
        .con(Code::GET, "/temperature")
        .uint_option(option::ACCEPT, 60);
    let response = peer.exchange(&request);
    assert_eq!(response.code, Code::NOT_ACCEPTABLE, "{response}");
}
