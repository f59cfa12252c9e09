//! Separate responses (RFC 7252 §5.2.2) and their reliable transmission
//! (§4.2), with the host's timers shortened by its config file.

use coapwasm_tests::{CoapClient, Code, Message, REPLY_TIMEOUT, Server, Type};
use std::time::Duration;

const FAST_TIMERS: &str = "\
[transmission]
separate_response_after_ms = 200
ack_timeout_ms = 400
";

fn server() -> Server {
    Server::builder()
        .plugins(&["testkit", "led"])
        .config(FAST_TIMERS)
        .start()
}

/// RFC 7252 §5.2.2: a request that takes long is acknowledged by an empty ACK
/// (same MID, no token), and the response follows as a CON of its own with
/// the token and a new MID. §4.2: unacknowledged, that CON is retransmitted
/// unchanged; once acknowledged, never again.
#[test]
fn slow_request_gets_empty_ack_then_separate_con_response() {
    let server = server();
    let mut peer = server.peer();
    let request = peer.con(Code::GET, "/test/slow?ms=1200");
    peer.send(&request);

    let ack = peer.expect_raw(REPLY_TIMEOUT, "an empty ACK");
    assert_eq!(
        ack,
        Message::new(Type::Ack, Code::EMPTY, request.mid).encode(),
        "the first answer is an empty ACK with the request's MID: {:?}",
        Message::decode(&ack)
    );

    let first = peer.expect_raw(REPLY_TIMEOUT, "the separate response");
    let response = Message::decode(&first).unwrap();
    assert_eq!(response.mtype, Type::Con, "{response}");
    assert_eq!(response.code, Code::CONTENT, "{response}");
    assert_eq!(response.token, request.token, "{response}");
    assert_ne!(response.mid, request.mid, "a new MID: {response}");

    // Not acknowledged: after ACK_TIMEOUT (400-600 ms here) it comes again.
    let again = peer.expect_raw(REPLY_TIMEOUT, "a retransmission of the separate response");
    assert_eq!(again, first, "a retransmission repeats the same bytes");

    peer.send(&Message::new(Type::Ack, Code::EMPTY, response.mid));
    // The next retransmission would be due within 1.2 s; wait well past that.
    peer.expect_silence(
        Duration::from_secs(2),
        "the separate response was acknowledged",
    );
}

/// RFC 7252 §4.8.2: unacknowledged, a separate response is retransmitted at
/// most MAX_RETRANSMIT times, then given up on.
#[test]
fn separate_response_retransmission_gives_up() {
    let server = Server::builder()
        .plugins(&["testkit"])
        .config(
            "[transmission]\nseparate_response_after_ms = 200\nack_timeout_ms = 200\n\
             ack_random_factor = 1.0\nmax_retransmit = 2\n",
        )
        .start();
    let mut peer = server.peer();
    let request = peer.con(Code::GET, "/test/slow?ms=400");
    peer.send(&request);
    let ack = peer.expect(REPLY_TIMEOUT, "an empty ACK");
    assert_eq!((ack.mtype, ack.code), (Type::Ack, Code::EMPTY), "{ack}");

    let first = peer.expect_raw(REPLY_TIMEOUT, "the separate response");
    for n in 1..=2 {
        let again = peer.expect_raw(REPLY_TIMEOUT, &format!("retransmission {n}"));
        assert_eq!(again, first, "retransmission {n} repeats the same bytes");
    }
    // Timeouts of 200, 400, 800 ms: the third retransmission would come at most
    // 800 ms after the second.
    peer.expect_silence(Duration::from_secs(2), "MAX_RETRANSMIT = 2 retransmissions");
}

/// coap-client follows the empty ACK and acknowledges the separate response.
#[test]
fn coap_client_receives_separate_response() {
    let server = server();
    let output = CoapClient::get(&server.uri("/test/slow?ms=1200")).run();
    output.assert_code("2.05");
    let kinds: Vec<(&str, &str)> = output
        .received
        .iter()
        .map(|m| (m.mtype.as_str(), m.code.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [("ACK", "0.00"), ("CON", "2.05")],
        "an empty ACK, then the response as a CON\n{}",
        output.shown()
    );
    assert!(
        output.sent.iter().any(|m| m.mtype == "ACK"),
        "coap-client acknowledged the separate response\n{}",
        output.shown()
    );
}

/// A slow plugin delays only its own requests: while GET /test/slow is
/// pending, GET /led from another client is answered first.
#[test]
fn slow_request_does_not_delay_others() {
    let server = server();
    let mut slow = server.peer();
    let mut other = server.peer();

    let request = slow.con(Code::GET, "/test/slow?ms=2000");
    slow.send(&request);
    let ack = slow.expect(REPLY_TIMEOUT, "an empty ACK");
    assert_eq!((ack.mtype, ack.code), (Type::Ack, Code::EMPTY), "{ack}");

    let led = other.get("/led");
    assert_eq!(led.code, Code::CONTENT, "{led}");
    // Had /led waited for the slow handler, the slow response would already
    // be queued on the other socket.
    assert!(
        slow.recv_raw(Duration::from_millis(1)).is_none(),
        "the slow response arrived before /led was answered"
    );

    let response = slow.expect(REPLY_TIMEOUT, "the slow response");
    assert_eq!(response.code, Code::CONTENT, "{response}");
    assert_eq!(response.token, request.token, "{response}");
    slow.send(&Message::new(Type::Ack, Code::EMPTY, response.mid));
}

/// RFC 7252 §4.5: a duplicate of a CON request whose handler is still running
/// is acknowledged again (or ignored), never handled a second time: exactly
/// one separate response follows.
#[test]
fn duplicate_of_a_pending_request_is_not_handled_twice() {
    let server = server();
    let mut peer = server.peer();
    let request = peer.con(Code::GET, "/test/slow?ms=1200");
    peer.send(&request);
    let ack = peer.expect(REPLY_TIMEOUT, "an empty ACK");
    assert_eq!(
        (ack.mtype, ack.code, ack.mid),
        (Type::Ack, Code::EMPTY, request.mid),
        "{ack}"
    );

    // The client did not see the ACK and retransmits.
    peer.send(&request);
    let mut response = peer.expect(REPLY_TIMEOUT, "the separate response");
    if response == ack {
        response = peer.expect(REPLY_TIMEOUT, "the separate response");
    }
    assert_eq!(response.mtype, Type::Con, "{response}");
    assert_eq!(response.code, Code::CONTENT, "{response}");
    assert_eq!(response.token, request.token, "{response}");
    peer.send(&Message::new(Type::Ack, Code::EMPTY, response.mid));
    peer.expect_silence(
        Duration::from_secs(2),
        "the one separate response was acknowledged",
    );
}
