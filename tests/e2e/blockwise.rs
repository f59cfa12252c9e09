//! Block-wise transfer (RFC 7959), which the host does for the plugins: it
//! slices large representations into Block2 blocks and reassembles Block1
//! uploads, so that a plugin only ever sees and returns whole bodies. Checked
//! with hand-made datagrams, libcoap's coap-client and aiocoap.
//!
//! These tests are about block-wise mechanics at the block sizes they choose,
//! so the amplification limit, which shrinks blocks for small requests, is
//! off here; `amplification.rs` tests it.

use coapwasm_tests::blocks::{
    self, BLOCK1, Block, CONTINUE, REQUEST_ENTITY_INCOMPLETE, REQUEST_ENTITY_TOO_LARGE, Run, SIZE1,
    SIZES, brief,
};
use coapwasm_tests::temp_dir::TempDir;
use coapwasm_tests::{CoapClient, Code, Message, Peer, REPLY_TIMEOUT, Server, Type, option};
use serde_json::Value;
use std::time::Duration;

/// A server with `plugins` and the amplification limit off.
fn server(plugins: &[&str]) -> Server {
    Server::builder()
        .config("[blockwise]\namplification_factor = 0\n")
        .plugins(plugins)
        .start()
}

/// `/test/big` answers 3000 bytes of "0123456789" repeated.
fn big() -> Vec<u8> {
    b"0123456789".repeat(300)
}

/// A text body of exactly `len` bytes that shows where each byte came from:
/// `tag` and the position, repeated, so that mixed-up or shifted blocks show.
fn text_body(tag: &str, len: usize) -> String {
    let mut text = String::new();
    let mut i = 0;
    while text.len() < len {
        text.push_str(&format!("{tag}{i:05};"));
        i += 1;
    }
    text.truncate(len);
    text
}

/// A GET of `target` asking for one block.
fn get_block(peer: &mut Peer, target: &str, block: Block) -> Message {
    let request = peer
        .con(Code::GET, target)
        .uint_option(option::BLOCK2, block.value());
    peer.exchange(&request)
}

/// One Block1 block of an upload, sent as a CON and answered.
fn send_block1(
    peer: &mut Peer,
    method: Code,
    target: &str,
    block: Block,
    payload: &[u8],
) -> Message {
    let request = peer
        .con(method, target)
        .uint_option(BLOCK1, block.value())
        .payload(payload);
    peer.exchange(&request)
}

/// The JSON /test/echo answered with, checked to be a 2.04 to a POST.
fn echoed(response: &Message) -> Value {
    assert_eq!(response.code, Code::CHANGED, "{}", brief(response));
    response.payload_json()
}

/// What /test/observable holds now, fetched in blocks of `size` bytes: the
/// check that a body too large for one /test/echo answer reached the plugin
/// whole.
fn stored(peer: &mut Peer, size: usize) -> Vec<u8> {
    blocks::download(peer, "/test/observable", size).0
}

/// The response codes of coap-client's received messages, for assertions.
fn codes(run: &Run) -> Vec<&str> {
    run.responses().into_iter().map(Run::code_of).collect()
}

// ---------------------------------------------------------------- Block2 ---

/// RFC 7959 §2.4: a GET of a large resource gets the first block with a
/// Block2 option (M set) and an ETag; the client fetches the next blocks by
/// number until one has M clear, and the blocks make up the whole
/// representation, every one with the same ETag.
#[test]
fn large_response_is_sent_in_blocks() {
    let server = server(&["testkit"]);
    let mut peer = server.peer();

    let first = peer.get("/test/big");
    assert_eq!(first.code, Code::CONTENT, "{}", brief(&first));
    let block = blocks::block_of(&first, option::BLOCK2);
    assert_eq!(
        (block.num, block.more, block.size),
        (0, true, 1024),
        "the first of several blocks, of the default 1024 bytes: {}",
        brief(&first)
    );
    assert_eq!(first.payload, &big()[..1024], "{}", brief(&first));
    let etag = first
        .option_value(option::ETAG)
        .unwrap_or_else(|| panic!("a sliced representation without an ETag: {}", brief(&first)))
        .to_vec();
    assert!(
        (1..=8).contains(&etag.len()),
        "an ETag is 1 to 8 bytes: {}",
        brief(&first)
    );

    let mut body = first.payload.clone();
    // 3000 bytes are 3 blocks of 1024; stop well after.
    for num in 1..10u32 {
        let response = get_block(&mut peer, "/test/big", Block::new(num, false, 1024));
        assert_eq!(
            response.code,
            Code::CONTENT,
            "block {num}: {}",
            brief(&response)
        );
        let block = blocks::block_of(&response, option::BLOCK2);
        assert_eq!(block.num, num, "block number: {}", brief(&response));
        assert_eq!(
            response.option_value(option::ETAG),
            Some(etag.as_slice()),
            "every block has the ETag of the first: {}",
            brief(&response)
        );
        body.extend_from_slice(&response.payload);
        if !block.more {
            assert_eq!(body, big(), "the blocks make up the representation");
            assert_eq!(num, 2, "3000 bytes are three 1024-byte blocks");
            return;
        }
        assert_eq!(response.payload.len(), 1024, "a full block {num}");
    }
    panic!("no last block within 10 blocks");
}

/// RFC 7959 §2.4: the client may ask for smaller blocks (early negotiation);
/// the server answers with that size or a smaller one, and the last block is
/// the rest of the representation with M clear.
#[test]
fn client_chosen_block_size_is_honoured() {
    let server = server(&["testkit"]);
    let mut peer = server.peer();
    // NUM 0, SZX 2: 64-byte blocks.
    let response = get_block(&mut peer, "/test/big", Block::new(0, false, 64));
    assert_eq!(response.code, Code::CONTENT, "{}", brief(&response));
    let block = blocks::block_of(&response, option::BLOCK2);
    assert_eq!(block, Block::new(0, true, 64), "{}", brief(&response));
    assert_eq!(response.payload, &big()[..64]);

    let last = (3000 - 1) / 64;
    let response = get_block(&mut peer, "/test/big", Block::new(last, false, 64));
    assert_eq!(
        blocks::block_of(&response, option::BLOCK2),
        Block::new(last, false, 64),
        "the last block, M clear: {}",
        brief(&response)
    );
    assert_eq!(response.payload, &big()[last as usize * 64..]);
}

/// coap-client fetches every block by itself and gets the whole payload.
#[test]
fn coap_client_reassembles_blocks() {
    let server = server(&["testkit"]);
    let output = CoapClient::get(&server.uri("/test/big")).run();
    output.assert_code("2.05");
    assert_eq!(output.payload, big(), "{}", output.shown());
    assert!(
        output.received.len() > 1,
        "more than one block was received\n{}",
        output.shown()
    );
}

/// coap-client `-b SIZE` asks for blocks of each size CoAP over UDP allows,
/// 16 to 1024 bytes: every block it receives has that size, they come in
/// order, and `-o` gets exactly the 3000 bytes.
#[test]
fn coap_client_downloads_with_every_block_size() {
    let server = server(&["testkit"]);
    for size in SIZES {
        let run = blocks::coap_client(&["-b", &size.to_string()], &server.uri("/test/big"));
        run.assert_success();
        let responses = run.responses();
        let expected_blocks = 3000usize.div_ceil(size);
        assert_eq!(
            responses.len(),
            expected_blocks,
            "-b {size}: one response per block\n{}",
            run.shown()
        );
        for (num, line) in responses.iter().enumerate() {
            assert_eq!(Run::code_of(line), "2.05", "-b {size}: {line}");
            let block = Run::option_of(line, "Block2")
                .map(Run::block_in_trace)
                .unwrap_or_else(|| panic!("-b {size}: no Block2 in {line}"));
            assert_eq!(
                block,
                Block::new(num as u32, num + 1 < expected_blocks, size),
                "-b {size}: {line}"
            );
        }
        assert_eq!(run.payload, big(), "-b {size}\n{}", run.shown());
    }
}

/// RFC 7959 §2.4: a client may ask for any block (random access), and a
/// block past the end of the representation gets 4.02 Bad Option (§2.2).
#[test]
fn random_access_and_past_the_end() {
    let server = server(&["testkit"]);
    let mut peer = server.peer();
    let big = big();
    for (num, size, range, more) in [
        (2u32, 1024usize, 2048..3000, false),
        (1, 1024, 1024..2048, true),
        (100, 16, 1600..1616, true),
        (187, 16, 2992..3000, false),
        (5, 512, 2560..3000, false),
        (0, 32, 0..32, true),
    ] {
        let response = get_block(&mut peer, "/test/big", Block::new(num, false, size));
        assert_eq!(response.code, Code::CONTENT, "{}", brief(&response));
        assert_eq!(
            blocks::block_of(&response, option::BLOCK2),
            Block::new(num, more, size),
            "block {num} of {size}: {}",
            brief(&response)
        );
        assert_eq!(response.payload, &big[range], "block {num} of {size}");
    }
    for (target, num, size) in [
        ("/test/big", 3u32, 1024usize),
        ("/test/big", 188, 16),
        ("/test/big", 1000, 64),
        // "tagged": 6 bytes, one block of any size.
        ("/test/etag", 1, 16),
    ] {
        let response = get_block(&mut peer, target, Block::new(num, false, size));
        assert_eq!(
            response.code,
            Code::BAD_OPTION,
            "{target} block {num} of {size} lies past the end: {}",
            brief(&response)
        );
        assert!(
            response.option_value(option::BLOCK2).is_none(),
            "a 4.02 carries no block: {}",
            brief(&response)
        );
    }
}

/// RFC 7959 §4: a request carrying Size2 0 learns the size of the whole
/// representation, with the first block or any later one.
#[test]
fn size2_gives_the_total_size() {
    let server = server(&["testkit"]);
    let mut peer = server.peer();
    let request = peer
        .con(Code::GET, "/test/big")
        .uint_option(option::SIZE2, 0);
    let response = peer.exchange(&request);
    assert_eq!(response.code, Code::CONTENT, "{}", brief(&response));
    assert_eq!(
        response.uint_option_value(option::SIZE2),
        Some(3000),
        "{}",
        brief(&response)
    );
    assert_eq!(
        blocks::block_of(&response, option::BLOCK2),
        Block::new(0, true, 1024)
    );

    let request = peer
        .con(Code::GET, "/test/big")
        .uint_option(option::BLOCK2, Block::new(5, false, 64).value())
        .uint_option(option::SIZE2, 0);
    let response = peer.exchange(&request);
    assert_eq!(
        response.uint_option_value(option::SIZE2),
        Some(3000),
        "{}",
        brief(&response)
    );
    assert_eq!(response.payload, &big()[320..384]);
}

/// RFC 7959 §2.4 and §4: Size2 0 in a request asks for the size even when
/// the representation fits one message.
#[test]
fn size2_is_given_for_a_small_representation_too() {
    let server = server(&["testkit"]);
    let mut peer = server.peer();
    let request = peer
        .con(Code::GET, "/test/etag")
        .uint_option(option::SIZE2, 0);
    let response = peer.exchange(&request);
    assert_eq!(response.code, Code::CONTENT, "{}", brief(&response));
    assert_eq!(response.payload, b"tagged");
    assert_eq!(
        response.uint_option_value(option::SIZE2),
        Some(6),
        "Size2 asked for, the 6-byte size answered: {}",
        brief(&response)
    );
}

/// RFC 7959 §2.4: the ETag lets a client notice that the representation
/// changed between two blocks. The host derives one when the plugin gives
/// none (the same for the same bytes, another for other bytes), and keeps
/// the plugin's own when it gives one (/firmware/image: the first 8 bytes of
/// the image's SHA-256).
#[test]
fn etag_tells_versions_of_a_sliced_representation_apart() {
    let server = server(&["testkit", "firmware"]);
    let mut peer = server.peer();
    let etag = |response: &Message| {
        response
            .option_value(option::ETAG)
            .unwrap_or_else(|| panic!("no ETag on a block: {}", brief(response)))
            .to_vec()
    };

    let first = text_body("A", 3000);
    let response = blocks::upload(
        &mut peer,
        Code::PUT,
        "/test/observable",
        first.as_bytes(),
        1024,
    );
    assert_eq!(response.code, Code::CHANGED, "{}", brief(&response));
    let block0 = get_block(&mut peer, "/test/observable", Block::new(0, false, 1024));
    assert_eq!(block0.payload, &first.as_bytes()[..1024]);
    let etag_first = etag(&block0);
    let again = get_block(&mut peer, "/test/observable", Block::new(1, false, 1024));
    assert_eq!(etag(&again), etag_first, "same bytes, same ETag");

    let second = text_body("B", 3000);
    let response = blocks::upload(
        &mut peer,
        Code::PUT,
        "/test/observable",
        second.as_bytes(),
        1024,
    );
    assert_eq!(response.code, Code::CHANGED, "{}", brief(&response));
    let block1 = get_block(&mut peer, "/test/observable", Block::new(1, false, 1024));
    assert_eq!(block1.payload, &second.as_bytes()[1024..2048]);
    assert_ne!(
        etag(&block1),
        etag_first,
        "block 1 of the new version must not pass for a block of the old: {}",
        brief(&block1)
    );

    let image = blocks::random_bytes(2500);
    let response = blocks::upload(&mut peer, Code::PUT, "/firmware", &image, 512);
    assert_eq!(response.code, Code::CHANGED, "{}", brief(&response));
    let sha256 = response.payload_json()["sha256"]
        .as_str()
        .unwrap_or_else(|| panic!("no sha256 in {}", brief(&response)))
        .to_string();
    let block0 = get_block(&mut peer, "/firmware/image", Block::new(0, false, 1024));
    assert_eq!(
        blocks::block_of(&block0, option::BLOCK2),
        Block::new(0, true, 1024)
    );
    assert_eq!(
        datagram_hex(&etag(&block0)),
        sha256[..16],
        "the plugin's ETag is kept: {}",
        brief(&block0)
    );
}

fn datagram_hex(bytes: &[u8]) -> String {
    coapwasm_tests::datagram::hex(bytes)
}

/// RFC 7959 §2.5: a client asking for blocks larger than the host's
/// (`max_block_size = 256`) gets the host's size, with NUM renumbered so that
/// the byte offset it asked for is kept; a client that asks for nothing gets
/// the host's size from the start, and coap-client `-b 1024` still gets the
/// whole representation.
#[test]
fn larger_blocks_than_the_hosts_are_renumbered() {
    let server = Server::builder()
        .plugins(&["testkit"])
        .config("[blockwise]\namplification_factor = 0\nmax_block_size = 256\n")
        .start();
    let mut peer = server.peer();
    let big = big();

    let first = peer.get("/test/big");
    assert_eq!(
        blocks::block_of(&first, option::BLOCK2),
        Block::new(0, true, 256),
        "{}",
        brief(&first)
    );
    assert_eq!(first.payload, &big[..256]);

    for (asked, answered, range) in [
        (
            Block::new(1, false, 1024),
            Block::new(4, true, 256),
            1024..1280,
        ),
        (
            Block::new(2, false, 1024),
            Block::new(8, true, 256),
            2048..2304,
        ),
        (
            Block::new(5, false, 512),
            Block::new(10, true, 256),
            2560..2816,
        ),
        (
            Block::new(11, false, 256),
            Block::new(11, false, 256),
            2816..3000,
        ),
        // Smaller than the host's: honoured as it is.
        (
            Block::new(3, false, 128),
            Block::new(3, true, 128),
            384..512,
        ),
    ] {
        let response = get_block(&mut peer, "/test/big", asked);
        assert_eq!(response.code, Code::CONTENT, "{}", brief(&response));
        assert_eq!(
            blocks::block_of(&response, option::BLOCK2),
            answered,
            "asked for {asked:?}: {}",
            brief(&response)
        );
        assert_eq!(response.payload, &big[range], "asked for {asked:?}");
    }

    let run = blocks::coap_client(&["-b", "1024"], &server.uri("/test/big"));
    run.assert_success();
    assert_eq!(run.final_code(), "2.05", "{}", run.shown());
    assert_eq!(run.payload, big, "{}", run.shown());
}

/// Every response is sliced, the host's own too: /.well-known/core from a
/// host with 16-byte blocks comes in blocks that make up the document
/// coap-client reassembles.
#[test]
fn discovery_document_is_sliced_too() {
    let server = Server::builder()
        .plugins(&["testkit", "firmware"])
        .config("[blockwise]\namplification_factor = 0\nmax_block_size = 16\n")
        .start();
    let mut peer = server.peer();
    let first = peer.get("/.well-known/core");
    assert_eq!(first.code, Code::CONTENT, "{}", brief(&first));
    assert_eq!(
        blocks::block_of(&first, option::BLOCK2),
        Block::new(0, true, 16),
        "{}",
        brief(&first)
    );
    assert_eq!(first.payload.len(), 16);
    assert!(
        first.option_value(option::ETAG).is_some(),
        "{}",
        brief(&first)
    );

    let (document, responses) = blocks::download(&mut peer, "/.well-known/core", 16);
    assert!(
        responses.len() > 10,
        "a document of {} bytes",
        document.len()
    );
    assert_eq!(document[..16], first.payload[..]);
    let text = String::from_utf8(document.clone()).expect("link-format is UTF-8");
    for path in ["</test/big>", "</firmware>", "</firmware/image>"] {
        assert!(text.contains(path), "{path} in {text}");
    }

    let run = blocks::coap_client(&[], &server.uri("/.well-known/core"));
    run.assert_success();
    assert_eq!(run.final_code(), "2.05", "{}", run.shown());
    assert_eq!(run.payload, document, "{}", run.shown());
}

// ---------------------------------------------------------------- Block1 ---

/// RFC 7959 §2.3: every block of an upload but the last is answered 2.31
/// Continue, piggybacked, with a Block1 echoing NUM, M set and the size; the
/// last gets the plugin's answer with Block1 (NUM, M clear), and the plugin
/// saw the whole body, reassembled in order.
#[test]
fn upload_blocks_get_continue_and_the_plugin_gets_the_whole_body() {
    let server = server(&["testkit"]);
    let mut peer = server.peer();
    let body = text_body("x", 100);

    for (num, chunk) in body.as_bytes().chunks(16).enumerate().take(6) {
        let block = Block::new(num as u32, true, 16);
        let request = peer
            .con(Code::POST, "/test/echo")
            .uint_option(BLOCK1, block.value())
            .payload(chunk);
        peer.send(&request);
        let response = peer.expect(REPLY_TIMEOUT, "2.31 Continue");
        assert_eq!(
            (response.mtype, response.mid, &response.token),
            (Type::Ack, request.mid, &request.token),
            "piggybacked: {}",
            brief(&response)
        );
        assert_eq!(response.code, CONTINUE, "block {num}: {}", brief(&response));
        assert_eq!(
            blocks::block_of(&response, BLOCK1),
            block,
            "{}",
            brief(&response)
        );
        assert!(
            response.option_value(option::BLOCK2).is_none(),
            "{}",
            brief(&response)
        );
    }
    let last = Block::new(6, false, 16);
    let response = send_block1(
        &mut peer,
        Code::POST,
        "/test/echo",
        last,
        &body.as_bytes()[96..],
    );
    let echo = echoed(&response);
    assert_eq!(
        blocks::block_of(&response, BLOCK1),
        last,
        "the final response echoes the last block: {}",
        brief(&response)
    );
    assert_eq!(echo["payload_len"], 100, "{echo}");
    assert_eq!(echo["payload_utf8"], body.as_str(), "{echo}");
    assert_eq!(echo["method"], "post", "{echo}");
}

/// coap-client `-b SIZE -f FILE` uploads a 3000-byte image to /firmware in
/// blocks of every size from 16 to 1024: each block but the last is answered
/// 2.31 with that size, the plugin stores exactly the file (its SHA-256 and
/// size in the answer), and `-b SIZE` gets the same bytes back.
#[test]
fn coap_client_uploads_with_every_block_size() {
    let server = server(&["firmware"]);
    let dir = TempDir::new();
    for size in SIZES {
        // Different bytes each time, so that a stale image cannot pass.
        let image = blocks::random_bytes(3000);
        let file = dir.path().join(format!("image-{size}"));
        std::fs::write(&file, &image).unwrap();
        let size_text = size.to_string();
        let file_text = file.display().to_string();
        let run = blocks::coap_client(
            &["-m", "put", "-t", "42", "-f", &file_text, "-b", &size_text],
            &server.uri("/firmware"),
        );
        run.assert_success();
        let responses = run.responses();
        let expected = 3000usize.div_ceil(size);
        assert_eq!(
            responses.len(),
            expected,
            "-b {size}: one response per block\n{}",
            run.shown()
        );
        for (num, line) in responses.iter().enumerate() {
            let last = num + 1 == expected;
            assert_eq!(
                Run::code_of(line),
                if last { "2.04" } else { "2.31" },
                "-b {size}: {line}"
            );
            let block = Run::option_of(line, "Block1")
                .map(Run::block_in_trace)
                .unwrap_or_else(|| panic!("-b {size}: no Block1 in {line}"));
            assert_eq!(
                block,
                Block::new(num as u32, !last, size),
                "-b {size}: {line}"
            );
        }
        let metadata: Value = serde_json::from_slice(&run.payload)
            .unwrap_or_else(|e| panic!("-b {size}: not JSON ({e})\n{}", run.shown()));
        assert_eq!(metadata["size"], 3000, "-b {size}: {metadata}");
        assert_eq!(
            metadata["sha256"],
            blocks::sha256_hex(&file).as_str(),
            "-b {size}: {metadata}"
        );

        let run = blocks::coap_client(&["-b", &size_text], &server.uri("/firmware/image"));
        run.assert_success();
        assert_eq!(run.final_code(), "2.05", "{}", run.shown());
        assert!(
            run.payload == image,
            "-b {size}: the image read back differs\n{}",
            run.shown()
        );
    }
}

/// A 100 KiB random image goes up with coap-client and comes back with
/// coap-client and with hand-made Block2 requests bit for bit; the SHA-256
/// the plugin reports is sha256sum's.
#[test]
fn hundred_kib_image_round_trips_bit_exact() {
    let server = server(&["firmware"]);
    let dir = TempDir::new();
    let image = blocks::random_bytes(100 * 1024);
    let file = dir.path().join("image");
    std::fs::write(&file, &image).unwrap();
    let digest = blocks::sha256_hex(&file);

    let file_text = file.display().to_string();
    let run = blocks::coap_client(
        &["-m", "put", "-t", "42", "-f", &file_text, "-b", "1024"],
        &server.uri("/firmware"),
    );
    run.assert_success();
    assert_eq!(run.final_code(), "2.04", "{}", run.shown());
    assert_eq!(
        codes(&run).len(),
        100,
        "100 blocks of 1024\n{}",
        run.shown()
    );
    let metadata: Value = serde_json::from_slice(&run.payload)
        .unwrap_or_else(|e| panic!("not JSON ({e})\n{}", run.shown()));
    assert_eq!(metadata["size"], 102_400, "{metadata}");
    assert_eq!(metadata["sha256"], digest.as_str(), "{metadata}");

    let mut peer = server.peer();
    let stored = peer.get("/firmware");
    assert_eq!(stored.code, Code::CONTENT, "{}", brief(&stored));
    assert_eq!(stored.payload_json()["sha256"], digest.as_str());
    assert_eq!(stored.payload_json()["size"], 102_400);

    let run = blocks::coap_client(&[], &server.uri("/firmware/image"));
    run.assert_success();
    assert_eq!(run.final_code(), "2.05", "{}", run.shown());
    assert_eq!(run.payload.len(), image.len(), "{}", run.shown());
    assert!(run.payload == image, "coap-client read back other bytes");

    let (downloaded, responses) = blocks::download(&mut peer, "/firmware/image", 512);
    assert_eq!(responses.len(), 200);
    assert!(downloaded == image, "the Block2 download differs");
    let etag = responses[0].option_value(option::ETAG).map(<[u8]>::to_vec);
    assert!(etag.is_some(), "{}", brief(&responses[0]));
    for response in &responses {
        assert_eq!(
            response.option_value(option::ETAG).map(<[u8]>::to_vec),
            etag,
            "one ETag for all blocks: {}",
            brief(response)
        );
    }
}

/// RFC 7959 §2.9.2: a block that skips one gets 4.08 Request Entity
/// Incomplete, and the partial upload is dropped: the block that was missing
/// comes too late.
#[test]
fn skipped_block_is_incomplete() {
    let server = server(&["testkit"]);
    let mut peer = server.peer();
    let body = text_body("s", 64);
    let chunk = |num: usize| &body.as_bytes()[num * 16..num * 16 + 16];

    let response = send_block1(
        &mut peer,
        Code::POST,
        "/test/echo",
        Block::new(0, true, 16),
        chunk(0),
    );
    assert_eq!(response.code, CONTINUE, "{}", brief(&response));
    let response = send_block1(
        &mut peer,
        Code::POST,
        "/test/echo",
        Block::new(2, true, 16),
        chunk(2),
    );
    assert_eq!(
        response.code,
        REQUEST_ENTITY_INCOMPLETE,
        "block 1 was skipped: {}",
        brief(&response)
    );
    let response = send_block1(
        &mut peer,
        Code::POST,
        "/test/echo",
        Block::new(1, true, 16),
        chunk(1),
    );
    assert_eq!(
        response.code,
        REQUEST_ENTITY_INCOMPLETE,
        "the upload was dropped, block 0 with it: {}",
        brief(&response)
    );
    let response = send_block1(
        &mut peer,
        Code::POST,
        "/test/echo",
        Block::new(3, false, 16),
        chunk(3),
    );
    assert_eq!(
        response.code,
        REQUEST_ENTITY_INCOMPLETE,
        "{}",
        brief(&response)
    );
}

/// RFC 7959 §2.9.2: a block sent again as a new request (new MID) repeats
/// bytes already received: 4.08, and the upload is dropped. A retransmission
/// of the same CON (same MID) is a duplicate, answered with the same 2.31
/// (RFC 7252 §4.5), and the upload goes on.
#[test]
fn repeated_block_is_incomplete_but_a_retransmission_is_not() {
    let server = server(&["testkit"]);
    let mut peer = server.peer();
    let body = text_body("r", 40);

    let response = send_block1(
        &mut peer,
        Code::POST,
        "/test/echo",
        Block::new(0, true, 16),
        &body.as_bytes()[..16],
    );
    assert_eq!(response.code, CONTINUE, "{}", brief(&response));
    let block1 = peer
        .con(Code::POST, "/test/echo")
        .uint_option(BLOCK1, Block::new(1, true, 16).value())
        .payload(&body.as_bytes()[16..32]);
    let first = peer.exchange(&block1);
    assert_eq!(first.code, CONTINUE, "{}", brief(&first));
    let again = peer.exchange(&block1);
    assert_eq!(again, first, "a retransmission gets the same answer");
    let response = send_block1(
        &mut peer,
        Code::POST,
        "/test/echo",
        Block::new(2, false, 16),
        &body.as_bytes()[32..],
    );
    assert_eq!(
        echoed(&response)["payload_utf8"],
        body.as_str(),
        "the retransmitted block counted once"
    );

    // Now a real repeat: block 1 again in a new request.
    for (num, more, range, expected) in [
        (0u32, true, 0..16, CONTINUE),
        (1, true, 16..32, CONTINUE),
        (1, true, 16..32, REQUEST_ENTITY_INCOMPLETE),
        // The upload was dropped with the repeat.
        (2, false, 32..40, REQUEST_ENTITY_INCOMPLETE),
    ] {
        let response = send_block1(
            &mut peer,
            Code::POST,
            "/test/echo",
            Block::new(num, more, 16),
            &body.as_bytes()[range],
        );
        assert_eq!(response.code, expected, "block {num}: {}", brief(&response));
    }
}

/// RFC 7959 §2.9.2: blocks out of order get 4.08: a first block that is not
/// NUM 0, and one that comes after its successor. A fresh upload from NUM 0
/// afterwards gets exactly its own body through, nothing of the failed one.
#[test]
fn out_of_order_blocks_are_incomplete_and_leave_nothing_behind() {
    let server = server(&["testkit"]);
    let mut peer = server.peer();
    let old = text_body("old", 48);

    let response = send_block1(
        &mut peer,
        Code::POST,
        "/test/echo",
        Block::new(1, true, 16),
        &old.as_bytes()[16..32],
    );
    assert_eq!(
        response.code,
        REQUEST_ENTITY_INCOMPLETE,
        "no block 0 came: {}",
        brief(&response)
    );

    for (num, more, range, expected) in [
        (0u32, true, 0..16, CONTINUE),
        (2, false, 32..48, REQUEST_ENTITY_INCOMPLETE),
        (1, true, 16..32, REQUEST_ENTITY_INCOMPLETE),
    ] {
        let response = send_block1(
            &mut peer,
            Code::POST,
            "/test/echo",
            Block::new(num, more, 16),
            &old.as_bytes()[range],
        );
        assert_eq!(response.code, expected, "block {num}: {}", brief(&response));
    }

    let new = text_body("new", 50);
    let response = blocks::upload(&mut peer, Code::POST, "/test/echo", new.as_bytes(), 16);
    let echo = echoed(&response);
    assert_eq!(echo["payload_utf8"], new.as_str(), "{echo}");
    assert_eq!(echo["payload_len"], 50, "{echo}");
}

/// RFC 7959 §2.9.3 and §4: with `max_body_size = 1000`, an upload whose
/// first block announces a larger body in Size1 gets 4.13 at once, with a
/// Size1 giving the limit; one that announces exactly the limit goes on. A
/// single request (no Block1) with a payload over the limit gets 4.13 with
/// Size1 too, and one of exactly the limit reaches the plugin; coap-client,
/// which announces Size1, gets 4.13 for a 3000-byte file.
#[test]
fn too_large_body_announced_up_front_gets_4_13() {
    let server = Server::builder()
        .plugins(&["testkit", "firmware"])
        .config("[blockwise]\namplification_factor = 0\nmax_body_size = 1000\n")
        .start();
    let mut peer = server.peer();
    let body = text_body("t", 1001);

    let request = peer
        .con(Code::POST, "/test/echo")
        .uint_option(BLOCK1, Block::new(0, true, 256).value())
        .uint_option(SIZE1, 1001)
        .payload(&body.as_bytes()[..256]);
    let response = peer.exchange(&request);
    assert_eq!(
        response.code,
        REQUEST_ENTITY_TOO_LARGE,
        "Size1 1001 over a limit of 1000: {}",
        brief(&response)
    );
    assert_eq!(
        response.uint_option_value(SIZE1),
        Some(1000),
        "4.13 tells the limit in Size1: {}",
        brief(&response)
    );

    let request = peer
        .con(Code::POST, "/test/echo")
        .uint_option(BLOCK1, Block::new(0, true, 256).value())
        .uint_option(SIZE1, 1000)
        .payload(&body.as_bytes()[..256]);
    let response = peer.exchange(&request);
    assert_eq!(
        response.code,
        CONTINUE,
        "Size1 1000 is allowed: {}",
        brief(&response)
    );

    let single = peer.con(Code::POST, "/test/echo").payload(body.as_bytes());
    let response = peer.exchange(&single);
    assert_eq!(
        response.code,
        REQUEST_ENTITY_TOO_LARGE,
        "a single 1001-byte request: {}",
        brief(&response)
    );
    assert_eq!(
        response.uint_option_value(SIZE1),
        Some(1000),
        "{}",
        brief(&response)
    );
    let single = peer
        .con(Code::PUT, "/test/observable")
        .payload(&body.as_bytes()[..1000]);
    let response = peer.exchange(&single);
    assert_eq!(response.code, Code::CHANGED, "{}", brief(&response));
    assert_eq!(stored(&mut peer, 1024), &body.as_bytes()[..1000]);

    let dir = TempDir::new();
    let file = dir.path().join("image");
    std::fs::write(&file, blocks::random_bytes(3000)).unwrap();
    let file_text = file.display().to_string();
    let run = blocks::coap_client(
        &["-m", "put", "-t", "42", "-f", &file_text, "-b", "256"],
        &server.uri("/firmware"),
    );
    assert_eq!(run.final_code(), "4.13", "{}", run.shown());
    let stored = peer.get("/firmware");
    assert_eq!(
        stored.payload_json()["size"],
        0,
        "nothing reached the plugin: {}",
        brief(&stored)
    );
}

/// RFC 7959 §2.9.3: an upload announcing nothing gets 4.13 (with Size1) at
/// the block that takes it over `max_body_size`, and the partial upload is
/// dropped: the next block gets 4.08. One of exactly the limit goes through.
#[test]
fn too_large_body_on_the_way_gets_4_13() {
    let server = Server::builder()
        .plugins(&["testkit"])
        .config("[blockwise]\namplification_factor = 0\nmax_body_size = 1000\n")
        .start();
    let mut peer = server.peer();
    let body = text_body("w", 1280);
    let chunk = |num: usize| &body.as_bytes()[num * 256..num * 256 + 256];

    for num in 0..3 {
        let response = send_block1(
            &mut peer,
            Code::POST,
            "/test/echo",
            Block::new(num as u32, true, 256),
            chunk(num),
        );
        assert_eq!(response.code, CONTINUE, "block {num}: {}", brief(&response));
    }
    let response = send_block1(
        &mut peer,
        Code::POST,
        "/test/echo",
        Block::new(3, true, 256),
        chunk(3),
    );
    assert_eq!(
        response.code,
        REQUEST_ENTITY_TOO_LARGE,
        "1024 bytes over a limit of 1000: {}",
        brief(&response)
    );
    assert_eq!(
        response.uint_option_value(SIZE1),
        Some(1000),
        "{}",
        brief(&response)
    );
    let response = send_block1(
        &mut peer,
        Code::POST,
        "/test/echo",
        Block::new(4, false, 256),
        chunk(4),
    );
    assert_eq!(
        response.code,
        REQUEST_ENTITY_INCOMPLETE,
        "the upload was dropped: {}",
        brief(&response)
    );

    // A final block that crosses the limit is refused too.
    let response = blocks::upload(
        &mut peer,
        Code::POST,
        "/test/echo",
        &body.as_bytes()[..1001],
        256,
    );
    assert_eq!(
        response.code,
        REQUEST_ENTITY_TOO_LARGE,
        "1001 bytes: {}",
        brief(&response)
    );
    let response = blocks::upload(
        &mut peer,
        Code::PUT,
        "/test/observable",
        &body.as_bytes()[..1000],
        256,
    );
    assert_eq!(response.code, Code::CHANGED, "{}", brief(&response));
    assert_eq!(stored(&mut peer, 1024), &body.as_bytes()[..1000]);
}

/// A block before the last must fill the block size: a shorter (or longer)
/// one gets 4.00, and the upload is dropped.
#[test]
fn non_final_block_of_the_wrong_size_is_bad_request() {
    let server = server(&["testkit"]);
    let mut peer = server.peer();
    let body = text_body("b", 100);

    let response = send_block1(
        &mut peer,
        Code::POST,
        "/test/echo",
        Block::new(0, true, 32),
        &body.as_bytes()[..20],
    );
    assert_eq!(
        response.code,
        Code::BAD_REQUEST,
        "20 bytes in a 32-byte block with M set: {}",
        brief(&response)
    );

    let response = send_block1(
        &mut peer,
        Code::POST,
        "/test/echo",
        Block::new(0, true, 32),
        &body.as_bytes()[..32],
    );
    assert_eq!(response.code, CONTINUE, "{}", brief(&response));
    let response = send_block1(
        &mut peer,
        Code::POST,
        "/test/echo",
        Block::new(1, true, 32),
        &body.as_bytes()[32..62],
    );
    assert_eq!(
        response.code,
        Code::BAD_REQUEST,
        "30 bytes in block 1: {}",
        brief(&response)
    );
    let response = send_block1(
        &mut peer,
        Code::POST,
        "/test/echo",
        Block::new(1, false, 32),
        &body.as_bytes()[32..40],
    );
    assert_eq!(
        response.code,
        REQUEST_ENTITY_INCOMPLETE,
        "the upload was dropped with the bad block: {}",
        brief(&response)
    );
}

/// RFC 7959 §2.5, Figure 6: a first block larger than the host's
/// (`max_block_size = 256`) is taken, and the 2.31 asks for the host's size;
/// the client goes on from the byte offset reached, counted in that size
/// (NUM 4 after a 1024-byte block 0), and the plugin gets the whole body.
/// The 2.31 echoes the NUM of the block it acknowledges, as in Figure 6
/// (`1:0/1/128` answered `2.31 1:0/1/32`).
#[test]
fn upload_with_larger_blocks_than_the_hosts_is_negotiated_down() {
    let server = Server::builder()
        .plugins(&["testkit"])
        .config("[blockwise]\namplification_factor = 0\nmax_block_size = 256\n")
        .start();
    let mut peer = server.peer();
    let body = text_body("n", 1500);

    let first = send_block1(
        &mut peer,
        Code::PUT,
        "/test/observable",
        Block::new(0, true, 1024),
        &body.as_bytes()[..1024],
    );
    assert_eq!(first.code, CONTINUE, "{}", brief(&first));
    let echo = blocks::block_of(&first, BLOCK1);
    assert_eq!(
        (echo.more, echo.size),
        (true, 256),
        "the host asks for its own size: {}",
        brief(&first)
    );

    for num in 4..5u32 {
        let range = num as usize * 256..num as usize * 256 + 256;
        let response = send_block1(
            &mut peer,
            Code::PUT,
            "/test/observable",
            Block::new(num, true, 256),
            &body.as_bytes()[range],
        );
        assert_eq!(response.code, CONTINUE, "block {num}: {}", brief(&response));
        assert_eq!(
            blocks::block_of(&response, BLOCK1),
            Block::new(num, true, 256),
            "{}",
            brief(&response)
        );
    }
    let response = send_block1(
        &mut peer,
        Code::PUT,
        "/test/observable",
        Block::new(5, false, 256),
        &body.as_bytes()[1280..],
    );
    assert_eq!(response.code, Code::CHANGED, "{}", brief(&response));
    assert_eq!(
        blocks::block_of(&response, BLOCK1),
        Block::new(5, false, 256),
        "{}",
        brief(&response)
    );
    assert_eq!(stored(&mut peer, 256), body.as_bytes(), "the body, whole");

    assert_eq!(
        echo.num,
        0,
        "RFC 7959 Figure 6: the 2.31 to block 0 echoes NUM 0 (with the smaller SZX); \
         got {}",
        brief(&first)
    );
}

/// coap-client `-b 1024` uploading to a host with 256-byte blocks follows the
/// host's size after the first block, and the image arrives whole.
#[test]
fn coap_client_upload_follows_the_hosts_smaller_blocks() {
    let server = Server::builder()
        .plugins(&["firmware"])
        .config("[blockwise]\namplification_factor = 0\nmax_block_size = 256\n")
        .start();
    let dir = TempDir::new();
    let file = dir.path().join("image");
    std::fs::write(&file, blocks::random_bytes(3000)).unwrap();
    let file_text = file.display().to_string();
    let run = blocks::coap_client(
        &["-m", "put", "-t", "42", "-f", &file_text, "-b", "1024"],
        &server.uri("/firmware"),
    );
    run.assert_success();
    assert_eq!(run.final_code(), "2.04", "{}", run.shown());
    let later: Vec<Block> = run
        .sent
        .iter()
        .filter_map(|line| Run::option_of(line, "Block1").map(Run::block_in_trace))
        .filter(|block| block.num > 0)
        .collect();
    assert!(!later.is_empty(), "{}", run.shown());
    assert!(
        later.iter().all(|block| block.size == 256),
        "after the 2.31, blocks of 256: {later:?}"
    );
    let metadata: Value = serde_json::from_slice(&run.payload)
        .unwrap_or_else(|e| panic!("not JSON ({e})\n{}", run.shown()));
    assert_eq!(metadata["size"], 3000, "{metadata}");
    assert_eq!(
        metadata["sha256"],
        blocks::sha256_hex(&file).as_str(),
        "{metadata}"
    );
}

/// Uploads are kept per client endpoint and path: two sockets uploading to
/// /test/echo at once, block by block in turn, each get back exactly their
/// own body; and one socket uploading to two resources at once gets each
/// body to its own resource.
#[test]
fn concurrent_uploads_never_mix() {
    let server = server(&["testkit"]);
    let (mut one, mut two) = (server.peer(), server.peer());
    let body_one = text_body("one", 200);
    let body_two = text_body("TWO", 150);
    let blocks_one = 200usize.div_ceil(16);
    let blocks_two = 150usize.div_ceil(16);
    let (mut done_one, mut done_two) = (None, None);
    for num in 0..blocks_one.max(blocks_two) {
        for (peer, body, count, done) in [
            (&mut one, &body_one, blocks_one, &mut done_one),
            (&mut two, &body_two, blocks_two, &mut done_two),
        ] {
            if num >= count {
                continue;
            }
            let more = num + 1 < count;
            let end = (num * 16 + 16).min(body.len());
            let response = send_block1(
                peer,
                Code::POST,
                "/test/echo",
                Block::new(num as u32, more, 16),
                &body.as_bytes()[num * 16..end],
            );
            if more {
                assert_eq!(response.code, CONTINUE, "block {num}: {}", brief(&response));
            } else {
                *done = Some(echoed(&response));
            }
        }
    }
    let (echo_one, echo_two) = (done_one.unwrap(), done_two.unwrap());
    assert_eq!(echo_one["payload_utf8"], body_one.as_str(), "{echo_one}");
    assert_eq!(echo_two["payload_utf8"], body_two.as_str(), "{echo_two}");

    // One endpoint, two resources: interleaved too.
    let to_echo = text_body("E", 64);
    let to_observable = text_body("O", 64);
    for num in 0..4u32 {
        let more = num < 3;
        let range = num as usize * 16..num as usize * 16 + 16;
        let response = send_block1(
            &mut one,
            Code::POST,
            "/test/echo",
            Block::new(num, more, 16),
            &to_echo.as_bytes()[range.clone()],
        );
        if more {
            assert_eq!(response.code, CONTINUE, "{}", brief(&response));
        } else {
            assert_eq!(echoed(&response)["payload_utf8"], to_echo.as_str());
        }
        let response = send_block1(
            &mut one,
            Code::PUT,
            "/test/observable",
            Block::new(num, more, 16),
            &to_observable.as_bytes()[range],
        );
        let expected = if more { CONTINUE } else { Code::CHANGED };
        assert_eq!(response.code, expected, "{}", brief(&response));
    }
    let stored = one.get("/test/observable");
    assert_eq!(stored.payload_text(), to_observable, "{}", brief(&stored));
}

/// An upload nobody continues is dropped after `upload_timeout_ms` and its
/// memory freed (the debug log says how much), without any further request;
/// continuing it afterwards gets 4.08.
#[test]
fn abandoned_upload_is_dropped_and_its_memory_freed() {
    let server = Server::builder()
        .plugins(&["testkit"])
        .config("[blockwise]\namplification_factor = 0\nupload_timeout_ms = 1000\n")
        .arg("--log-level")
        .arg("debug")
        .start();
    let mut peer = server.peer();
    let body = text_body("a", 3000);
    for num in 0..2usize {
        let response = send_block1(
            &mut peer,
            Code::POST,
            "/test/echo",
            Block::new(num as u32, true, 1024),
            &body.as_bytes()[num * 1024..num * 1024 + 1024],
        );
        assert_eq!(response.code, CONTINUE, "block {num}: {}", brief(&response));
    }
    let line = server
        .log_line(Duration::from_secs(15), |line| {
            line.contains("dropped abandoned uploads")
        })
        .unwrap_or_else(|| {
            panic!(
                "no `dropped abandoned uploads` log line within 15 s of a 1 s timeout; log:\n{}",
                server.stderr()
            )
        });
    let freed: u64 = line
        .split_whitespace()
        .find_map(|word| word.strip_prefix("freed="))
        .and_then(|value| value.trim_matches('"').parse().ok())
        .unwrap_or_else(|| panic!("no freed=N in {line:?}"));
    assert_eq!(freed, 2048, "the two blocks held: {line}");

    let response = send_block1(
        &mut peer,
        Code::POST,
        "/test/echo",
        Block::new(2, false, 1024),
        &body.as_bytes()[2048..],
    );
    assert_eq!(
        response.code,
        REQUEST_ENTITY_INCOMPLETE,
        "the abandoned upload is gone: {}",
        brief(&response)
    );
}

/// RFC 7959 §3.3, Figure 8 (Block1 and Block2 together): the response to
/// the last block of an upload that is itself too large carries Block1 (the
/// last block) and Block2 (block 0, M set); the client fetches the rest by
/// repeating the method with Block2 NUM 1, 2, ... and no payload, and gets
/// the rest of *that* response: /test/echo's answer to the 3000-byte body.
#[test]
fn large_response_to_an_upload_is_fetched_with_block2() {
    let server = server(&["testkit"]);
    let mut peer = server.peer();
    let body = text_body("f", 3000);
    let last = blocks::upload(&mut peer, Code::POST, "/test/echo", body.as_bytes(), 1024);
    assert_eq!(last.code, Code::CHANGED, "{}", brief(&last));
    assert_eq!(
        blocks::block_of(&last, BLOCK1),
        Block::new(2, false, 1024),
        "{}",
        brief(&last)
    );
    assert_eq!(
        blocks::block_of(&last, option::BLOCK2),
        Block::new(0, true, 1024),
        "the JSON echo of 3000 bytes does not fit one block: {}",
        brief(&last)
    );
    let etag = last.option_value(option::ETAG).map(<[u8]>::to_vec);
    let mut answer = last.payload.clone();
    // The echo of 3000 bytes is well under 4 KiB: 4 blocks at most.
    for num in 1..4u32 {
        let request = peer
            .con(Code::POST, "/test/echo")
            .uint_option(option::BLOCK2, Block::new(num, false, 1024).value());
        let response = peer.exchange(&request);
        assert_eq!(
            response.code,
            Code::CHANGED,
            "block {num} of the answer to the upload: {}",
            brief(&response)
        );
        assert_eq!(
            response.option_value(option::ETAG).map(<[u8]>::to_vec),
            etag,
            "the same answer, not a new one: {}",
            brief(&response)
        );
        let block = blocks::block_of(&response, option::BLOCK2);
        assert_eq!(block.num, num, "{}", brief(&response));
        answer.extend_from_slice(&response.payload);
        if !block.more {
            let echo: Value = serde_json::from_slice(&answer)
                .unwrap_or_else(|e| panic!("the blocks are not one JSON document ({e})"));
            assert_eq!(echo["payload_len"], 3000, "{echo}");
            assert_eq!(echo["payload_utf8"], body.as_str(), "{echo}");
            return;
        }
    }
    panic!("no last block of the answer within 4 blocks");
}

/// The same with coap-client: `-m post -f FILE` of 3000 bytes to /test/echo
/// uploads in blocks, then fetches the rest of the large answer with Block2,
/// and `-o` gets the whole JSON echo of the whole body.
#[test]
fn coap_client_gets_the_whole_answer_to_a_large_post() {
    let server = server(&["testkit"]);
    let dir = TempDir::new();
    let body = text_body("c", 3000);
    let file = dir.path().join("body");
    std::fs::write(&file, &body).unwrap();
    let file_text = file.display().to_string();
    let run = blocks::coap_client(
        &["-m", "post", "-f", &file_text, "-b", "1024"],
        &server.uri("/test/echo"),
    );
    run.assert_success();
    assert_eq!(run.final_code(), "2.04", "{}", run.shown());
    let echo: Value = serde_json::from_slice(&run.payload)
        .unwrap_or_else(|e| panic!("not the whole JSON echo ({e})\n{}", run.shown()));
    assert_eq!(echo["payload_len"], 3000, "{echo}");
    assert_eq!(echo["payload_utf8"], body.as_str(), "{echo}");
}

// --------------------------------------------------------------- Observe ---

/// RFC 7959 §3.4: a notification of a representation larger than one block
/// carries its first block (Block2 NUM 0, M set, with an ETag); the observer
/// fetches the rest with GETs carrying Block2 and no Observe, and the blocks
/// make up what was PUT.
#[test]
fn large_notification_carries_the_first_block() {
    let server = server(&["testkit"]);
    let mut observer = server.peer();
    let mut writer = server.peer();

    let register = observer
        .con(Code::GET, "/test/observable")
        .uint_option(option::OBSERVE, 0);
    let registered = observer.exchange(&register);
    assert_eq!(registered.code, Code::CONTENT, "{}", brief(&registered));
    assert!(
        registered.option_value(option::OBSERVE).is_some(),
        "registered: {}",
        brief(&registered)
    );

    let body = text_body("N", 3000);
    let response = blocks::upload(
        &mut writer,
        Code::PUT,
        "/test/observable",
        body.as_bytes(),
        1024,
    );
    assert_eq!(response.code, Code::CHANGED, "{}", brief(&response));

    let notification = observer.expect(REPLY_TIMEOUT, "a notification of the PUT");
    if notification.mtype == Type::Con {
        observer.send(&Message::new(Type::Ack, Code::EMPTY, notification.mid));
    }
    assert!(
        matches!(notification.mtype, Type::Con | Type::Non),
        "{}",
        brief(&notification)
    );
    assert_eq!(
        notification.token,
        register.token,
        "{}",
        brief(&notification)
    );
    assert_eq!(notification.code, Code::CONTENT, "{}", brief(&notification));
    assert!(
        notification.option_value(option::OBSERVE).is_some(),
        "{}",
        brief(&notification)
    );
    assert_eq!(
        blocks::block_of(&notification, option::BLOCK2),
        Block::new(0, true, 1024),
        "{}",
        brief(&notification)
    );
    let etag = notification
        .option_value(option::ETAG)
        .unwrap_or_else(|| panic!("no ETag: {}", brief(&notification)))
        .to_vec();
    assert_eq!(notification.payload, &body.as_bytes()[..1024]);

    let mut whole = notification.payload.clone();
    for num in 1..3u32 {
        let request = observer
            .con(Code::GET, "/test/observable")
            .uint_option(option::BLOCK2, Block::new(num, false, 1024).value());
        let response = observer.exchange(&request);
        assert_eq!(response.code, Code::CONTENT, "{}", brief(&response));
        assert!(
            response.option_value(option::OBSERVE).is_none(),
            "a block fetch is no registration: {}",
            brief(&response)
        );
        assert_eq!(
            blocks::block_of(&response, option::BLOCK2),
            Block::new(num, num < 2, 1024),
            "{}",
            brief(&response)
        );
        assert_eq!(
            response.option_value(option::ETAG),
            Some(etag.as_slice()),
            "the blocks belong to the notified version: {}",
            brief(&response)
        );
        whole.extend_from_slice(&response.payload);
    }
    assert_eq!(
        whole,
        body.as_bytes(),
        "the notification and the fetched blocks"
    );
}

// --------------------------------------------------------------- aiocoap ---

/// aiocoap, a third-party client that does block-wise transfer by itself,
/// downloads /test/big whole, and uploads 3000 bytes to /test/observable that
/// it then reads back whole.
#[test]
fn aiocoap_transfers_blocks_both_ways() {
    let server = server(&["testkit"]);
    let run = blocks::aiocoap("GET", &server.uri("/test/big"), None);
    run.assert_success();
    assert_eq!(run.stdout.trim(), "code=2.05 len=3000", "{}", run.shown());
    assert_eq!(run.payload, big(), "{}", run.shown());

    let body = text_body("aio", 3000);
    let uri = server.uri("/test/observable");
    let run = blocks::aiocoap("PUT", &uri, Some(body.as_bytes()));
    run.assert_success();
    assert_eq!(run.stdout.trim(), "code=2.04 len=0", "{}", run.shown());
    let run = blocks::aiocoap("GET", &uri, None);
    run.assert_success();
    assert!(run.payload == body.as_bytes(), "{}", run.shown());
}

/// aiocoap uploads in 1024-byte blocks; a host with `max_block_size = 256`
/// must answer the first in a way aiocoap can follow (RFC 7959 Figure 6:
/// 2.31 echoing the block's NUM with the smaller SZX), and the body arrives
/// whole. aiocoap downloads from that host too.
#[test]
fn aiocoap_follows_the_hosts_smaller_blocks() {
    let server = Server::builder()
        .plugins(&["testkit"])
        .config("[blockwise]\namplification_factor = 0\nmax_block_size = 256\n")
        .start();
    let run = blocks::aiocoap("GET", &server.uri("/test/big"), None);
    run.assert_success();
    assert_eq!(run.payload, big(), "{}", run.shown());

    let body = text_body("aio", 3000);
    let uri = server.uri("/test/observable");
    let run = blocks::aiocoap("PUT", &uri, Some(body.as_bytes()));
    run.assert_success();
    assert_eq!(run.stdout.trim(), "code=2.04 len=0", "{}", run.shown());
    let run = blocks::aiocoap("GET", &uri, None);
    run.assert_success();
    assert!(run.payload == body.as_bytes(), "{}", run.shown());
}
