//! Malformed datagrams (RFC 7252 §3, §4.2, §4.3): the server rejects them as
//! the RFC says and keeps serving. Each test sends a table of datagrams and
//! reports every case that misbehaved at once.

use coapwasm_tests::datagram::hex;
use coapwasm_tests::{Code, Message, REPLY_TIMEOUT, SILENCE, Server, Type};
use std::time::Duration;

/// How long to wait for a RST; the server sends it without calling a plugin.
const RST_WAIT: Duration = Duration::from_secs(3);

/// `/led` as a Uri-Path option: delta 11, length 3.
const URI_PATH_LED: [u8; 4] = [0xb3, b'l', b'e', b'd'];

/// A CON GET /led header with MID `mid` and no token, then `rest`.
fn con_get_led(mid: u16, rest: &[u8]) -> Vec<u8> {
    let mut bytes = vec![0x40, 0x01];
    bytes.extend_from_slice(&mid.to_be_bytes());
    bytes.extend_from_slice(&URI_PATH_LED);
    bytes.extend_from_slice(rest);
    bytes
}

fn with_type(mut bytes: Vec<u8>, mtype: Type) -> Vec<u8> {
    bytes[0] = (bytes[0] & 0xcf) | ((mtype as u8) << 4);
    bytes
}

/// After each case the server must still answer a valid request.
fn still_serves(peer: &mut coapwasm_tests::Peer, case: &str, failures: &mut Vec<String>) {
    let request = peer.con(Code::GET, "/led");
    peer.send(&request);
    match peer.recv(REPLY_TIMEOUT) {
        Some(r) if r.mid == request.mid && r.code == Code::CONTENT => {}
        Some(r) => failures.push(format!("{case}: next valid GET got {r}")),
        None => failures.push(format!("{case}: next valid GET got no answer")),
    }
}

fn report(failures: Vec<String>) {
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// RFC 7252 §4.2: a CON with a message format error is rejected with a RST
/// carrying its Message ID. §3: token lengths 9-15, option delta or length
/// nibble 15 outside the payload marker, a marker with no payload, truncated
/// options; §4.1: an Empty message with a token or more bytes.
#[test]
fn malformed_con_gets_rst() {
    let server = Server::with_plugins(&["led"]);
    let mut peer = server.peer();
    let mut failures = Vec::new();
    let mut cases: Vec<(&str, Vec<u8>)> = Vec::new();
    for tkl in 9u8..=15 {
        let mut bytes = vec![0x40 | tkl, 0x01, 0, 0];
        bytes.extend(std::iter::repeat_n(0xab, 15));
        cases.push(("token length 9-15", bytes));
    }
    cases.extend([
        ("option delta nibble 15", con_get_led(0, &[0xf1, 0x00])),
        ("option length nibble 15", con_get_led(0, &[0x1f, 0x00])),
        ("payload marker without payload", con_get_led(0, &[0xff])),
        (
            "option value truncated",
            con_get_led(0, &[0x45, b'a', b'b']),
        ),
        ("extended delta truncated", con_get_led(0, &[0xd0])),
        ("extended length truncated", con_get_led(0, &[0x1e, 0x01])),
        ("empty message with a token", vec![0x41, 0x00, 0, 0, 0xaa]),
        (
            "empty message with a payload",
            vec![0x40, 0x00, 0, 0, 0xff, 1],
        ),
    ]);
    for (index, (case, mut bytes)) in cases.into_iter().enumerate() {
        let mid = 0x5a00 + index as u16;
        bytes[2..4].copy_from_slice(&mid.to_be_bytes());
        let case = format!("{case} ({})", hex(&bytes));
        peer.send_raw(&bytes);
        match peer.recv_raw(RST_WAIT) {
            Some(reply) if reply == Message::new(Type::Rst, Code::EMPTY, mid).encode() => {}
            Some(reply) => failures.push(format!("{case}: expected RST, got {}", hex(&reply))),
            None => failures.push(format!("{case}: expected RST, got nothing")),
        }
        still_serves(&mut peer, &case, &mut failures);
    }
    report(failures);
}

/// RFC 7252 §4.3 and §3: a malformed NON, and anything without a usable
/// header, get no answer (this host never resets them).
#[test]
fn malformed_non_and_garbage_get_silence() {
    let server = Server::with_plugins(&["led"]);
    let mut peer = server.peer();
    let mut failures = Vec::new();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty datagram", vec![]),
        ("1 byte", vec![0x40]),
        ("2 bytes", vec![0x40, 0x01]),
        ("3 bytes", vec![0x40, 0x01, 0x12]),
        ("text", b"not coap at all, just text".to_vec()),
        ("all ones", vec![0xff; 32]),
        ("NON token length 9", {
            let mut bytes = vec![0x59, 0x01, 0x12, 0x34];
            bytes.extend([0xab; 9]);
            bytes
        }),
        (
            "NON option delta nibble 15",
            with_type(con_get_led(0x1235, &[0xf1, 0x00]), Type::Non),
        ),
        (
            "NON payload marker without payload",
            with_type(con_get_led(0x1236, &[0xff]), Type::Non),
        ),
        (
            "NON truncated option",
            with_type(con_get_led(0x1237, &[0x45, b'a']), Type::Non),
        ),
        // A malformed ACK or RST is ignored, never reset (§4.2, §4.3).
        (
            "ACK truncated option",
            with_type(con_get_led(0x1238, &[0x45, b'a']), Type::Ack),
        ),
        ("RST with a token", vec![0x71, 0x00, 0x12, 0x39, 0xaa]),
    ];
    for (case, bytes) in cases {
        let case = format!("{case} ({})", hex(&bytes));
        peer.send_raw(&bytes);
        if let Some(reply) = peer.recv_raw(SILENCE) {
            failures.push(format!("{case}: expected silence, got {}", hex(&reply)));
        }
        still_serves(&mut peer, &case, &mut failures);
    }
    report(failures);
}

/// RFC 7252 §3: "Messages with unknown version numbers MUST be silently
/// ignored", even a well-formed CON request of version 2, 3 or 0.
#[test]
fn unknown_version_is_silently_ignored() {
    let server = Server::with_plugins(&["led"]);
    let mut peer = server.peer();
    let mut failures = Vec::new();
    for version in [0u8, 2, 3] {
        let mut bytes = con_get_led(0x4321 + u16::from(version), &[]);
        bytes[0] = (bytes[0] & 0x3f) | (version << 6);
        let case = format!("version {version} ({})", hex(&bytes));
        peer.send_raw(&bytes);
        if let Some(reply) = peer.recv_raw(SILENCE) {
            failures.push(format!("{case}: expected silence, got {}", hex(&reply)));
        }
        still_serves(&mut peer, &case, &mut failures);
    }
    report(failures);
}
