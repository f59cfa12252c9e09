//! The message layer (RFC 7252 §4) and option handling (§5.4), checked with
//! hand-made datagrams.

use coapwasm_tests::testkit::read_counter;
use coapwasm_tests::{Code, Message, REPLY_TIMEOUT, SILENCE, Server, Type};
use serde_json::json;
use std::collections::HashMap;

/// RFC 7252 §4.2 and §5.2.1: a CON request gets a piggybacked response in an
/// ACK with the same Message ID, and the response echoes the token (§5.3.1)
/// whatever its length, 0 to 8 bytes.
#[test]
fn con_request_gets_piggybacked_ack_echoing_mid_and_token() {
    let server = Server::with_plugins(&["led"]);
    let mut peer = server.peer();
    for token in [&[][..], &[0xa5], &[1, 2, 3, 4], &[8, 7, 6, 5, 4, 3, 2, 1]] {
        let mid = peer.mid();
        let request = Message::request(Type::Con, Code::GET, mid, token, "/led");
        peer.send(&request);
        let response = peer.expect(REPLY_TIMEOUT, "a piggybacked response");
        assert_eq!(response.mtype, Type::Ack, "{response}");
        assert_eq!(response.mid, mid, "{response}");
        assert_eq!(response.token, token, "{response}");
        assert_eq!(response.code, Code::CONTENT, "{response}");
        assert_eq!(response.payload_json(), json!({"state": "off"}));
    }
}

/// RFC 7252 §5.2.3: a NON request is answered by a NON response that echoes
/// the token.
#[test]
fn non_request_gets_non_response_echoing_token() {
    let server = Server::with_plugins(&["led"]);
    let mut peer = server.peer();
    for token in [&[0x42][..], &[9, 9, 9, 9, 9, 9, 9, 9]] {
        let mid = peer.mid();
        peer.send(&Message::request(Type::Non, Code::GET, mid, token, "/led"));
        let response = peer.expect(REPLY_TIMEOUT, "a NON response");
        assert_eq!(response.mtype, Type::Non, "{response}");
        assert_eq!(response.token, token, "{response}");
        assert_eq!(response.code, Code::CONTENT, "{response}");
        assert_eq!(response.payload_json(), json!({"state": "off"}));
    }
}

/// RFC 7252 §4.3: an empty CON message ("CoAP ping") is answered by a RST
/// with the same Message ID, and nothing else.
#[test]
fn empty_con_ping_gets_rst() {
    let server = Server::with_plugins(&["led"]);
    let peer = server.peer();
    for mid in [0x0000u16, 0xbeef] {
        let [hi, lo] = mid.to_be_bytes();
        peer.send_raw(&[0x40, 0x00, hi, lo]);
        let reply = peer.expect_raw(REPLY_TIMEOUT, "a RST to the ping");
        assert_eq!(reply, [0x70, 0x00, hi, lo], "RST, code 0.00, same MID");
    }
    peer.expect_silence(SILENCE, "the pings were answered");
}

/// RFC 7252 §4.5: a duplicate CON (same MID from the same endpoint) gets the
/// same response again, and the request is processed only once.
#[test]
fn duplicate_con_is_answered_again_but_processed_once() {
    let server = Server::with_plugins(&["testkit"]);
    let mut peer = server.peer();
    let before = read_counter(&mut peer);

    let post = peer.con(Code::POST, "/test/counter");
    peer.send(&post);
    let first = peer.expect_raw(REPLY_TIMEOUT, "the response to the POST");
    let decoded = Message::decode(&first).unwrap();
    assert_eq!(
        (decoded.mtype, decoded.mid),
        (Type::Ack, post.mid),
        "{decoded}"
    );
    assert_eq!(decoded.code.class(), 2, "the POST succeeds: {decoded}");

    peer.send(&post);
    let second = peer.expect_raw(REPLY_TIMEOUT, "the response repeated for the duplicate");
    assert_eq!(second, first, "the duplicate gets the very same bytes");

    assert_eq!(read_counter(&mut peer), before + 1, "counted once");
}

/// RFC 7252 §4.5: a duplicate NON is silently ignored: no second response and
/// no second call of the plugin.
#[test]
fn duplicate_non_is_ignored() {
    let server = Server::with_plugins(&["testkit"]);
    let mut peer = server.peer();
    let before = read_counter(&mut peer);

    let post = peer.non(Code::POST, "/test/counter");
    peer.send(&post);
    let response = peer.expect(REPLY_TIMEOUT, "the response to the NON POST");
    assert_eq!(response.token, post.token, "{response}");
    assert_eq!(response.code.class(), 2, "{response}");

    peer.send(&post);
    peer.expect_silence(SILENCE, "a duplicate NON");

    assert_eq!(read_counter(&mut peer), before + 1, "counted once");
}

/// RFC 7252 §5.4.1: an unrecognised critical (odd-numbered) option in a CON
/// request gets a piggybacked 4.02 Bad Option. 2049 and 65001 are unassigned.
#[test]
fn unrecognised_critical_option_is_bad_option() {
    let server = Server::with_plugins(&["led"]);
    let mut peer = server.peer();
    for number in [2049u16, 65001] {
        let request = peer.con(Code::GET, "/led").option(number, b"x");
        peer.send(&request);
        let response = peer.expect(REPLY_TIMEOUT, "4.02 Bad Option");
        assert_eq!(response.mtype, Type::Ack, "option {number}: {response}");
        assert_eq!(response.mid, request.mid, "option {number}: {response}");
        assert_eq!(response.token, request.token, "option {number}: {response}");
        assert_eq!(
            response.code,
            Code::BAD_OPTION,
            "option {number}: {response}"
        );
    }
}

/// RFC 7252 §5.4.1: a NON request with an unrecognised critical option is
/// rejected (§4.3): it must not be answered as if the option were absent.
/// A RST is allowed, silence too.
#[test]
fn unrecognised_critical_option_in_non_is_rejected() {
    let server = Server::with_plugins(&["led"]);
    let mut peer = server.peer();
    let request = peer.non(Code::GET, "/led").option(2049, b"x");
    peer.send(&request);
    if let Some(reply) = peer.recv(SILENCE) {
        assert_eq!(
            (reply.mtype, reply.code, reply.mid),
            (Type::Rst, Code::EMPTY, request.mid),
            "only a RST may answer: {reply}"
        );
    }
    assert_eq!(peer.get("/led").code, Code::CONTENT);
}

/// RFC 7252 §5.4.1: unrecognised elective (even-numbered) options are
/// silently ignored.
#[test]
fn unrecognised_elective_option_is_ignored() {
    let server = Server::with_plugins(&["led"]);
    let mut peer = server.peer();
    for number in [2050u16, 65002] {
        let request = peer.con(Code::GET, "/led").option(number, b"ignored");
        let response = peer.exchange(&request);
        assert_eq!(response.code, Code::CONTENT, "option {number}: {response}");
        assert_eq!(response.payload_json(), json!({"state": "off"}));
    }
}

/// RFC 7252 §4.2 and §4.3: an ACK or RST that matches no exchange of the
/// server is silently ignored, and the server goes on serving.
#[test]
fn stray_ack_and_rst_are_ignored() {
    let server = Server::with_plugins(&["led"]);
    let mut peer = server.peer();
    let mid = peer.mid();
    peer.send(&Message::new(Type::Ack, Code::EMPTY, mid));
    peer.send(&Message::new(Type::Rst, Code::EMPTY, mid.wrapping_add(1)));
    // An ACK carrying a response nobody asked for is no different.
    peer.send(
        &Message::new(Type::Ack, Code::CONTENT, mid.wrapping_add(2))
            .token(&[1, 2])
            .payload(b"hello"),
    );
    peer.expect_silence(SILENCE, "stray ACK and RST messages");
    assert_eq!(peer.get("/led").code, Code::CONTENT);
}

/// RFC 7252 §4.4 and §5.3.2: many requests in flight at once from one
/// endpoint are each answered once, matched by MID and token.
#[test]
fn concurrent_requests_are_each_answered_once() {
    let server = Server::with_plugins(&["led", "temperature"]);
    let mut peer = server.peer();
    let mut pending = HashMap::new();
    for i in 0..40 {
        let target = if i % 2 == 0 { "/led" } else { "/temperature" };
        let request = peer.con(Code::GET, target);
        peer.send(&request);
        pending.insert(request.mid, request.token);
    }
    while !pending.is_empty() {
        let response = peer.expect(REPLY_TIMEOUT, &format!("{} more responses", pending.len()));
        assert_eq!(response.mtype, Type::Ack, "{response}");
        let token = pending
            .remove(&response.mid)
            .unwrap_or_else(|| panic!("a response to no pending request: {response}"));
        assert_eq!(response.token, token, "{response}");
        assert_eq!(response.code, Code::CONTENT, "{response}");
    }
    peer.expect_silence(SILENCE, "every request was answered");
}
