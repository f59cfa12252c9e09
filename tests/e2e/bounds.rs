//! RFC 7252 §11: what a remote endpoint can make the host hold or send is
//! bounded. Past a bound the host answers as the RFC says (5.03 with
//! Max-Age) instead of growing, and a small request never draws a large
//! response (more than 512 bytes, or 3 times its size) except block-wise
//! (§11.3).

use std::time::Duration;

use coapwasm_tests::blocks::{BLOCK1, Block};
use coapwasm_tests::{CoapClient, Code, Message, Server, option};

/// An elective option no one has registered (§5.4.1: even numbers are
/// elective, so the host ignores it); it pads a request to a chosen size.
const PADDING: u16 = 65_000;

/// `blockwise.amplification_allowance` by default: the largest response
/// datagram any request may draw.
const ALLOWANCE: usize = 512;

/// The size a message takes on the wire.
fn wire_len(message: &Message) -> usize {
    message.encode().len()
}

fn block2(message: &Message) -> Option<Block> {
    message
        .uint_option_value(option::BLOCK2)
        .map(Block::from_value)
}

/// §11.3: a GET of the discovery document (more than 512 bytes) in a
/// datagram of about 25 bytes is answered in blocks that keep each response
/// within the 512-byte allowance (`blockwise.amplification_allowance`);
/// the blocks still add up to the whole document.
#[test]
fn small_request_gets_a_large_representation_only_block_wise() {
    let server = Server::with_plugins(&["temperature", "led", "info", "firmware", "testkit"]);
    let mut peer = server.peer();

    let request = peer.con(Code::GET, "/.well-known/core");
    let first = peer.exchange(&request);
    assert_eq!(first.code, Code::CONTENT, "{first}");
    let block = block2(&first).expect("a Block2 on a document larger than the allowance");
    assert!(block.more, "{first}");
    assert!(
        wire_len(&first) <= ALLOWANCE.max(3 * wire_len(&request)),
        "a {}-byte response with {}-byte blocks to a {}-byte request",
        wire_len(&first),
        block.size,
        wire_len(&request)
    );

    let request = peer.con(Code::GET, "/.well-known/core");
    let whole = peer.fetch(&request);
    assert!(
        whole.payload.len() > ALLOWANCE,
        "the document ({} bytes) is larger than the limit",
        whole.payload.len()
    );
    // coap-client follows the blocks too and gets the same document.
    let output = CoapClient::get(&server.uri("/.well-known/core")).run();
    output.assert_code("2.05");
    assert_eq!(output.payload_text(), whole.payload_text());
}

/// §11.3: past the allowance the limit is a ratio, so a larger request may
/// draw a larger response: a request padded to 400 bytes gets the same
/// document in larger blocks (or whole).
#[test]
fn larger_request_gets_larger_blocks() {
    let server = Server::with_plugins(&["temperature", "led", "info", "firmware", "testkit"]);
    let mut peer = server.peer();

    let small = peer.con(Code::GET, "/.well-known/core");
    let small_block = block2(&peer.exchange(&small)).expect("a small request gets blocks");

    let padded = peer
        .con(Code::GET, "/.well-known/core")
        .option(PADDING, &[b'p'; 380]);
    assert!(wire_len(&padded) >= 400);
    let response = peer.exchange(&padded);
    assert_eq!(response.code, Code::CONTENT, "{response}");
    let large_block = block2(&response).map_or(usize::MAX, |block| block.size);
    assert!(
        large_block > small_block.size,
        "{} bytes of request got {}-byte blocks, {} bytes got {large_block}",
        wire_len(&small),
        small_block.size,
        wire_len(&padded)
    );
    assert!(wire_len(&response) <= 3 * wire_len(&padded), "{response}");
}

/// The limit is configuration: `amplification_factor = 0` turns it off, for
/// networks where source addresses cannot be forged.
#[test]
fn limit_can_be_turned_off() {
    let server = Server::builder()
        .config("[blockwise]\namplification_factor = 0\n")
        .plugins(&["temperature", "led", "info", "firmware", "testkit"])
        .start();
    let mut peer = server.peer();
    let response = peer.get("/.well-known/core");
    assert_eq!(response.code, Code::CONTENT, "{response}");
    assert_eq!(block2(&response), None, "{response}");
}

/// A small representation is never sliced for the limit: GET /led's answer
/// comes whole.
#[test]
fn small_representation_comes_whole() {
    let server = Server::with_plugins(&["led"]);
    let mut peer = server.peer();
    let response = peer.get("/led");
    assert_eq!(response.code, Code::CONTENT, "{response}");
    assert_eq!(block2(&response), None, "{response}");
}

/// Typical sensor and device representations (a few hundred bytes) come
/// whole to a plain GET, however small the request: /temperature (66 bytes
/// of JSON, 4 times its 20-byte request) and /info (about 190 bytes, 15
/// times its 13-byte request), to hand-made datagrams and to libcoap's
/// coap-client; discovery of all the example plugins (over 600 bytes)
/// still comes block-wise.
#[test]
fn sensor_and_device_representations_come_whole() {
    let server = Server::with_plugins(&[
        "temperature",
        "led",
        "info",
        "firmware",
        "humidity",
        "counter",
        "dice",
        "greeting",
    ]);
    let mut peer = server.peer();
    for path in ["/temperature", "/info"] {
        let request = peer.con(Code::GET, path);
        let response = peer.exchange(&request);
        assert_eq!(response.code, Code::CONTENT, "{response}");
        assert_eq!(
            block2(&response),
            None,
            "a {}-byte representation to a {}-byte GET came block-wise: {response}",
            response.payload.len(),
            wire_len(&request)
        );
        assert!(wire_len(&response) <= ALLOWANCE, "{response}");
        let output = CoapClient::get(&server.uri(path)).run();
        output.assert_code("2.05");
        assert!(!output.payload_text().is_empty(), "{path}");
    }

    let request = peer.con(Code::GET, "/.well-known/core");
    let first = peer.exchange(&request);
    let block = block2(&first).expect("the discovery document comes block-wise");
    assert!(block.more, "{first}");
    assert!(wire_len(&first) <= ALLOWANCE, "{first}");
    let whole = peer.fetch(&request);
    assert!(whole.payload.len() > ALLOWANCE, "{whole}");
}

/// §5.9.3.4: past `runtime.max_pending_requests` calls in progress a request
/// gets 5.03 Service Unavailable with Max-Age, the time after which to try
/// again, and is not queued; once a call finishes the next is taken.
#[test]
fn requests_past_the_pending_bound_get_5_03_with_max_age() {
    let server = Server::builder()
        .config("[runtime]\nmax_pending_requests = 2\n")
        .plugins(&["testkit", "led"])
        .start();
    let mut peer = server.peer();

    let slow: Vec<Message> = (0..2)
        .map(|_| peer.non(Code::GET, "/test/slow?ms=1500"))
        .collect();
    for request in &slow {
        peer.send(request);
    }
    // Give the host the time to start both calls.
    std::thread::sleep(Duration::from_millis(300));
    let refused = peer.get("/led");
    assert_eq!(refused.code, Code::SERVICE_UNAVAILABLE, "{refused}");
    assert!(
        refused.uint_option_value(option::MAX_AGE).is_some(),
        "5.03 without Max-Age: {refused}"
    );

    let mut answered = 0;
    while answered < slow.len() {
        let reply = peer
            .recv(Duration::from_secs(5))
            .expect("the slow requests are answered");
        if slow.iter().any(|request| request.token == reply.token) {
            answered += 1;
        }
    }
    let response = peer.get("/led");
    assert_eq!(response.code, Code::CONTENT, "{response}");
}

/// The pending bound is the address's, whichever socket loop serves each
/// peer: with 4 loops and a bound of 2, two peers' slow calls leave none
/// for a third peer, wherever the kernel steers it.
#[test]
fn the_pending_bound_holds_across_socket_loops() {
    let server = Server::builder()
        .config("[runtime]\nmax_pending_requests = 2\n")
        .arg("--loops")
        .arg("4")
        .plugins(&["testkit", "led"])
        .start();
    let mut peers: Vec<_> = (0..2).map(|_| server.peer()).collect();
    for peer in &mut peers {
        let request = peer.non(Code::GET, "/test/slow?ms=1500");
        peer.send(&request);
    }
    std::thread::sleep(Duration::from_millis(300));
    for _ in 0..4 {
        let refused = server.peer().get("/led");
        assert_eq!(refused.code, Code::SERVICE_UNAVAILABLE, "{refused}");
    }
    for peer in &peers {
        peer.recv(Duration::from_secs(5))
            .expect("the slow requests are answered");
    }
    let response = server.peer().get("/led");
    assert_eq!(response.code, Code::CONTENT, "{response}");
}

/// RFC 7959 §2.9.3 and §11: partial uploads hold at most
/// `blockwise.max_transfer_memory` bytes (for the whole host, with held
/// responses); a block past it gets 5.03 with Max-Age, and uploads already
/// under way are unharmed.
#[test]
fn uploads_past_the_memory_bound_get_5_03_with_max_age() {
    let server = Server::builder()
        // One 1024-byte block, not two; room for the echo of the whole
        // body to be held once the upload has given its bytes back.
        .config("[blockwise]\nmax_transfer_memory = 1536\n")
        .plugins(&["testkit"])
        .start();
    let mut peer = server.peer();
    let first_block = |peer: &mut coapwasm_tests::Peer, path: &str| {
        let request = peer
            .con(Code::PUT, path)
            .uint_option(BLOCK1, Block::new(0, true, 1024).value())
            .payload(&[b'a'; 1024]);
        peer.exchange(&request)
    };
    let held = first_block(&mut peer, "/test/echo");
    assert_eq!(held.code.to_string(), "2.31", "{held}");

    let mut other = server.peer();
    let refused = first_block(&mut other, "/test/echo");
    assert_eq!(refused.code, Code::SERVICE_UNAVAILABLE, "{refused}");
    assert!(
        refused.uint_option_value(option::MAX_AGE).is_some(),
        "5.03 without Max-Age: {refused}"
    );

    // The upload under way completes.
    let last = peer
        .con(Code::PUT, "/test/echo")
        .uint_option(BLOCK1, Block::new(1, false, 1024).value())
        .payload(b"end");
    let done = peer.exchange(&last);
    assert!(done.code.to_string().starts_with("2."), "{done}");
}

/// The deduplication capacity is the address's, shared among its socket
/// loops rather than given whole to each (which would multiply its memory,
/// 6.5 MiB at the default, by the cores): with 4 loops and a capacity of
/// 32, the one loop a peer reaches remembers 8 of its messages.
#[test]
fn deduplication_capacity_is_shared_among_socket_loops() {
    let server = Server::builder()
        .config("[transmission]\ndeduplication_capacity = 32\n")
        .arg("--loops")
        .arg("4")
        .plugins(&["testkit"])
        .start();
    let mut peer = server.peer();
    let post = peer.con(Code::POST, "/test/counter");
    assert_eq!(peer.exchange(&post).payload_text(), "1");
    for _ in 0..8 {
        assert_eq!(peer.get("/test/counter").code, Code::CONTENT);
    }
    assert_eq!(
        peer.exchange(&post).payload_text(),
        "2",
        "the retransmitted POST was still remembered after 8 newer messages"
    );
}

/// §4.5: the deduplication cache holds at most
/// `transmission.deduplication_capacity` entries; past it the oldest goes
/// first. A CON retransmitted after that many newer messages is handled as
/// new (here: a second increment) rather than the cache growing without end.
#[test]
fn deduplication_cache_stays_within_its_capacity() {
    let server = Server::builder()
        .config("[transmission]\ndeduplication_capacity = 4\n")
        .plugins(&["testkit"])
        .start();
    let mut peer = server.peer();

    let post = peer.con(Code::POST, "/test/counter");
    assert_eq!(peer.exchange(&post).payload_text(), "1");
    // A retransmission while the entry is held is answered from the cache.
    assert_eq!(peer.exchange(&post).payload_text(), "1");

    for _ in 0..4 {
        assert_eq!(peer.get("/test/counter").code, Code::CONTENT);
    }
    // Four newer entries pushed the POST's out.
    assert_eq!(peer.exchange(&post).payload_text(), "2");
}
