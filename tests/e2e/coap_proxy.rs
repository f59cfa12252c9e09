//! The host as a CoAP-to-CoAP forward proxy (RFC 7252 §5.7.2): requests
//! with Proxy-Uri or Proxy-Scheme go through the same cross-proxy as HTTP's
//! `/hc/` to a second coapwasm host. libcoap's `coap-client -P` and
//! aiocoap's `--proxy`, and hand-made datagrams for the Proxy-Scheme form
//! and the edge cases: targets not allowed and multicast (5.05), an unknown
//! unsafe option (5.02), a silent device (5.04, the socket still serving),
//! NSTART (5.03), 200 KB both ways, a cache hit within Max-Age, and the
//! proxy off until targets are allowed.

use std::net::UdpSocket;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use coapwasm_tests::blocks::{self, BLOCK1, Block};
use coapwasm_tests::{CoapClient, Code, Message, REPLY_TIMEOUT, Server, Type, option};

const PROXY_URI: u16 = 35;
const PROXY_SCHEME: u16 = 39;
const BAD_GATEWAY: Code = Code::new(5, 2);
const GATEWAY_TIMEOUT: Code = Code::new(5, 4);
const PROXYING_NOT_SUPPORTED: Code = Code::new(5, 5);
const UNAUTHORIZED: Code = Code::new(4, 1);

/// A proxy host (serving `led` itself) allowing loopback targets.
fn proxy(extra: &str) -> Server {
    Server::builder()
        .plugins(&["led"])
        .config(&format!(
            "[http.proxy]\nallow = [\"127.0.0.1\"]\ntimeout_ms = 5000\n{extra}"
        ))
        .start()
}

/// A CON GET through the proxy to `uri`.
fn via(peer: &mut coapwasm_tests::Peer, code: Code, uri: &str) -> Message {
    let mid = peer.mid();
    let token = peer.token();
    Message::new(Type::Con, code, mid)
        .token(&token)
        .option(PROXY_URI, uri.as_bytes())
}

/// A CON request through the proxy to `uri`, answered.
fn ask(peer: &mut coapwasm_tests::Peer, code: Code, uri: &str) -> Message {
    let request = via(peer, code, uri);
    peer.exchange(&request)
}

/// libcoap's client with `-P`: GET and PUT of the device's `/led`.
#[test]
fn libcoap_client_through_the_proxy() {
    let device = Server::with_plugins(&["led"]);
    let proxy = proxy("");
    let hop = format!("coap://{}", proxy.addr());
    let put = CoapClient::get(&device.uri("/led"))
        .args(&["-P", &hop])
        .method("put")
        .content_format(50)
        .payload(r#"{"state":"on"}"#)
        .run();
    assert!(
        put.received.iter().any(|m| m.code == "2.04"),
        "{}\n{}",
        put.stdout,
        put.stderr
    );
    let get = CoapClient::get(&device.uri("/led"))
        .args(&["-P", &hop])
        .run();
    assert!(
        get.received.iter().any(|m| m.code == "2.05"),
        "{}\n{}",
        get.stdout,
        get.stderr
    );
    let state: serde_json::Value = serde_json::from_slice(&get.payload).unwrap();
    assert_eq!(state["state"], "on", "{state}");
    // Through the proxy indeed: the device itself says so too.
    let direct = device.peer().get("/led");
    assert_eq!(direct.payload_json()["state"], "on");
}

/// aiocoap's client with `--proxy`.
#[test]
fn aiocoap_client_through_the_proxy() {
    coapwasm_tests::aiocoap::assert_installed();
    let device = Server::with_plugins(&["led"]);
    let proxy = proxy("");
    let output = Command::new("timeout")
        .args(["30", "aiocoap-client", "--proxy"])
        .arg(format!("coap://{}", proxy.addr()))
        .arg(device.uri("/led"))
        .stdin(Stdio::null())
        .output()
        .expect("aiocoap-client (pip install aiocoap)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("\"state\""), "{stdout}");
}

/// Proxy-Scheme with Uri-Host, Uri-Port, Uri-Path and Uri-Query (§5.10.2,
/// §6.5); Accept, Content-Format and the payload go on; the device's ETag
/// and Max-Age come back, and a client's ETag validates (2.03).
#[test]
fn proxy_scheme_with_uri_options() {
    let device = Server::with_plugins(&["testkit"]);
    let proxy = proxy("");
    let mut peer = proxy.peer();
    let mid = peer.mid();
    let token = peer.token();
    let request = Message::new(Type::Con, Code::PUT, mid)
        .token(&token)
        .option(option::URI_HOST, b"127.0.0.1")
        .uint_option(option::URI_PORT, u32::from(device.addr().port()))
        .option(option::URI_PATH, b"test")
        .option(option::URI_PATH, b"echo")
        .option(option::URI_QUERY, b"x=1")
        .uint_option(option::CONTENT_FORMAT, 0)
        .uint_option(option::ACCEPT, 50)
        .option(PROXY_SCHEME, b"coap")
        .payload(b"hello");
    let echo = peer.exchange(&request);
    assert_eq!(echo.code, Code::CHANGED, "{echo}");
    let echo = echo.payload_json();
    assert_eq!(echo["path"], "/test/echo");
    assert_eq!(echo["query"], serde_json::json!(["x=1"]));
    assert_eq!(echo["content_format"], 0);
    assert_eq!(echo["accept"], 50);
    assert_eq!(echo["payload_utf8"], "hello");

    let etag_uri = device.uri("/test/etag");
    let tagged = ask(&mut peer, Code::GET, &etag_uri);
    assert_eq!(tagged.code, Code::CONTENT, "{tagged}");
    let etag = tagged.option_value(option::ETAG).expect("ETag").to_vec();
    assert_eq!(etag, [0xE1, 0x7A, 0x60, 0x01]);
    assert!(
        tagged
            .uint_option_value(option::MAX_AGE)
            .is_some_and(|s| s <= 30)
    );
    let validate = via(&mut peer, Code::GET, &etag_uri).option(option::ETAG, &etag);
    let valid = peer.exchange(&validate);
    assert_eq!(valid.code, Code::VALID, "{valid}");
    assert!(valid.payload.is_empty());
}

/// Within Max-Age the second GET is the cache's: the device saw one
/// request (each forwarded one comes from a fresh source port, which
/// /test/echo reports), and Max-Age counts down from the device's.
#[test]
fn cache_hit_within_max_age() {
    let device = Server::with_plugins(&["testkit"]);
    let proxy = proxy("");
    let mut peer = proxy.peer();
    let uri = device.uri("/test/echo");
    let first = ask(&mut peer, Code::GET, &uri);
    assert_eq!(first.code, Code::CONTENT, "{first}");
    let second = ask(&mut peer, Code::GET, &uri);
    assert_eq!(second.code, Code::CONTENT, "{second}");
    assert_eq!(
        first.payload_json()["source"],
        second.payload_json()["source"],
        "the second GET reached the device"
    );
    assert!(
        second
            .uint_option_value(option::MAX_AGE)
            .is_some_and(|s| s <= 60),
        "{second}"
    );
    // A PUT goes through and forgets what was kept.
    let put = via(&mut peer, Code::PUT, &uri).payload(b"x");
    let put = peer.exchange(&put);
    assert_eq!(put.code, Code::CHANGED, "{put}");
    let third = ask(&mut peer, Code::GET, &uri);
    assert_ne!(
        first.payload_json()["source"],
        third.payload_json()["source"],
        "the GET after the PUT came from the cache"
    );
}

/// 200 KB up in Block1 blocks to the proxy, and back in Block2 blocks,
/// byte for byte (the proxy reassembles, the client core does the device's
/// side).
#[test]
fn firmware_image_both_ways() {
    let device = Server::with_plugins(&["firmware"]);
    let proxy = proxy("");
    let mut peer = proxy.peer();
    let image: Vec<u8> = (0..200_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let upload_uri = device.uri("/firmware");
    let size = 1024;
    let count = image.len().div_ceil(size);
    let mut last = None;
    for num in 0..count {
        let chunk = &image[num * size..image.len().min((num + 1) * size)];
        let more = num + 1 < count;
        let block = Block::new(num as u32, more, size);
        let request = via(&mut peer, Code::PUT, &upload_uri)
            .uint_option(option::CONTENT_FORMAT, 42)
            .uint_option(BLOCK1, block.value())
            .payload(chunk);
        let response = peer.exchange(&request);
        if more {
            assert_eq!(response.code, blocks::CONTINUE, "block {num}: {response}");
        }
        last = Some(response);
    }
    let last = last.unwrap();
    assert!(
        matches!(last.code.class(), 2),
        "the upload ended with {last}"
    );
    let download = via(&mut peer, Code::GET, &device.uri("/firmware/image"));
    let whole = peer.fetch(&download);
    assert_eq!(whole.code, Code::CONTENT, "{whole}");
    assert_eq!(whole.payload.len(), image.len());
    assert!(whole.payload == image, "the image came back changed");
}

/// §5.10.2: a target the proxy will not reach is 5.05, multicast whatever
/// the allow-list says, and no datagram leaves for it; §5.7.2: an unknown
/// unsafe option is 5.02; another scheme is 5.05.
#[test]
fn refused_targets_and_options() {
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    silent
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let target = silent.local_addr().unwrap();

    let elsewhere = Server::builder()
        .config("[http.proxy]\nallow = [\"10.0.0.0/8\", \"127.0.0.1:1\"]\n")
        .start();
    let mut peer = elsewhere.peer();
    let refused = ask(&mut peer, Code::GET, &format!("coap://{target}/x"));
    assert_eq!(refused.code, PROXYING_NOT_SUPPORTED, "{refused}");
    assert!(refused.payload_text().contains("allowed"), "{refused}");
    assert!(silent.recv(&mut [0; 64]).is_err(), "a datagram left");

    let everything = Server::builder()
        .config("[http.proxy]\nallow = [\"0.0.0.0/0\"]\n")
        .start();
    let mut peer = everything.peer();
    let group = ask(
        &mut peer,
        Code::GET,
        "coap://224.0.1.187:5683/.well-known/core",
    );
    assert_eq!(group.code, PROXYING_NOT_SUPPORTED, "{group}");
    assert!(group.payload_text().contains("multicast"), "{group}");
    let http = ask(&mut peer, Code::GET, "http://127.0.0.1/x");
    assert_eq!(http.code, PROXYING_NOT_SUPPORTED, "{http}");
    // 2050: elective, Unsafe, unknown.
    let unsafe_option = via(&mut peer, Code::GET, &format!("coap://{target}/x")).option(2050, b"1");
    let unsafe_answer = peer.exchange(&unsafe_option);
    assert_eq!(unsafe_answer.code, BAD_GATEWAY, "{unsafe_answer}");
    assert!(silent.recv(&mut [0; 64]).is_err(), "a datagram left");
}

/// A silent device: the CON gets the empty ACK at once, and 5.04 follows
/// after `timeout_ms`; meanwhile the proxy answers its own resources and a
/// second request to the same device gets 5.03 with Max-Age (NSTART 1).
#[test]
fn silent_device_times_out_without_blocking_the_socket() {
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let target = silent.local_addr().unwrap();
    let proxy = Server::builder()
        .plugins(&["led"])
        .config("[http.proxy]\nallow = [\"127.0.0.1\"]\ntimeout_ms = 2000\n")
        .start();
    let mut waiting = proxy.peer();
    let started = Instant::now();
    let request = via(&mut waiting, Code::GET, &format!("coap://{target}/x"));
    waiting.send(&request);
    let ack = waiting.expect(REPLY_TIMEOUT, "the empty ACK");
    assert_eq!(
        (ack.mtype, ack.code, ack.mid),
        (Type::Ack, Code::EMPTY, request.mid),
        "{ack}"
    );

    let mut other = proxy.peer();
    let asked = Instant::now();
    let led = other.get("/led");
    assert_eq!(led.code, Code::CONTENT, "{led}");
    assert!(
        asked.elapsed() < Duration::from_millis(1000),
        "{:?}",
        asked.elapsed()
    );
    let busy = ask(&mut other, Code::GET, &format!("coap://{target}/y"));
    assert_eq!(busy.code, Code::SERVICE_UNAVAILABLE, "{busy}");
    assert_eq!(busy.uint_option_value(option::MAX_AGE), Some(1), "{busy}");

    let timeout = waiting.expect(REPLY_TIMEOUT, "the separate 5.04");
    assert_eq!(timeout.code, GATEWAY_TIMEOUT, "{timeout}");
    assert_eq!(timeout.token, request.token);
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(1900) && took < Duration::from_secs(6),
        "{took:?}"
    );
    if timeout.mtype == Type::Con {
        waiting.send(&Message::new(Type::Ack, Code::EMPTY, timeout.mid));
    }
    // The device did get the request.
    silent
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    assert!(silent.recv(&mut [0; 1500]).is_ok(), "nothing was forwarded");
}

/// Nothing is proxied until targets are allowed: 5.05, as before the proxy
/// existed; `coap = "authenticated"` refuses an anonymous requester (4.01).
#[test]
fn off_by_default_and_authenticated_only() {
    let device = Server::with_plugins(&["led"]);
    let closed = Server::builder().plugins(&["led"]).start();
    let mut peer = closed.peer();
    let answer = ask(&mut peer, Code::GET, &device.uri("/led"));
    assert_eq!(answer.code, PROXYING_NOT_SUPPORTED, "{answer}");

    let strict = proxy("coap = \"authenticated\"\n");
    let mut peer = strict.peer();
    let answer = ask(&mut peer, Code::GET, &device.uri("/led"));
    assert_eq!(answer.code, UNAUTHORIZED, "{answer}");
}

/// The host's own client with `-P` (as coap-client's): Proxy-Scheme and
/// the Uri-* options, to the proxy.
#[test]
fn coapwasm_client_with_a_proxy() {
    let device = Server::with_plugins(&["led"]);
    let proxy = proxy("");
    let hop = format!("coap://{}", proxy.addr());
    let binary = coapwasm_tests::artifacts::binary();
    let dir = coapwasm_tests::temp_dir::TempDir::new();
    let within = Duration::from_secs(20);
    let put = coapwasm_tests::command::run(
        &binary,
        &[
            "put",
            "-P",
            &hop,
            "-t",
            "json",
            "-e",
            r#"{"state":"on"}"#,
            &device.uri("/led"),
        ],
        dir.path(),
        within,
    );
    assert!(put.status.success(), "{}", put.shown());
    let get = coapwasm_tests::command::run(
        &binary,
        &["get", "-q", "-P", &hop, &device.uri("/led")],
        dir.path(),
        within,
    );
    assert!(get.status.success(), "{}", get.shown());
    let state: serde_json::Value = serde_json::from_str(get.stdout.trim()).unwrap();
    assert_eq!(state["state"], "on", "{}", get.shown());
    // Not a direct request: the proxy refuses a target it does not allow.
    let closed = Server::builder().plugins(&["led"]).start();
    let refused = coapwasm_tests::command::run(
        &binary,
        &[
            "get",
            "-P",
            &format!("coap://{}", closed.addr()),
            &device.uri("/led"),
        ],
        dir.path(),
        within,
    );
    assert!(!refused.status.success(), "{}", refused.shown());
    assert!(refused.stderr.contains("5.05"), "{}", refused.shown());
}

/// A forward in progress is a pending request (`max_pending_requests`),
/// as a plugin call is; once answered, it is not.
#[test]
fn a_forward_counts_as_a_pending_request() {
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let target = silent.local_addr().unwrap();
    let proxy = Server::builder()
        .plugins(&["led"])
        .config(
            "[runtime]\nmax_pending_requests = 1\n\
             [http.proxy]\nallow = [\"127.0.0.1\"]\ntimeout_ms = 1000\n",
        )
        .start();
    let mut waiting = proxy.peer();
    let request = via(&mut waiting, Code::GET, &format!("coap://{target}/x"));
    waiting.send(&request);
    // Bounded: until the forward is under way (its datagram reached the
    // silent device).
    silent
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    assert!(silent.recv(&mut [0; 1500]).is_ok(), "nothing was forwarded");
    let mut other = proxy.peer();
    let busy = other.get("/led");
    assert_eq!(busy.code, Code::SERVICE_UNAVAILABLE, "{busy}");
    assert!(busy.payload_text().contains("too many"), "{busy}");
    let deadline = Instant::now() + REPLY_TIMEOUT;
    let timeout = loop {
        let reply = waiting.expect(REPLY_TIMEOUT, "the 5.04");
        if reply.code == GATEWAY_TIMEOUT || Instant::now() >= deadline {
            break reply;
        }
    };
    assert_eq!(timeout.code, GATEWAY_TIMEOUT, "{timeout}");
    if timeout.mtype == Type::Con {
        waiting.send(&Message::new(Type::Ack, Code::EMPTY, timeout.mid));
    }
    assert_eq!(other.get("/led").code, Code::CONTENT);
}

/// Nothing listens at the target (ICMP port unreachable): 5.02 Bad Gateway
/// (§5.9.3.3), long before the timeout.
#[test]
fn unreachable_device_is_bad_gateway() {
    let closed = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let proxy = proxy("");
    let mut peer = proxy.peer();
    let started = Instant::now();
    let answer = ask(&mut peer, Code::GET, &format!("coap://{closed}/x"));
    assert_eq!(answer.code, BAD_GATEWAY, "{answer}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
}

/// A `coaps://` target over CoAP, as over HTTP: with `[http.proxy]`
/// credentials the proxy opens a DTLS session to the device (one for both
/// requests); without them it is unwilling (5.05 naming the settings) and
/// sends nothing.
#[test]
fn coaps_target_with_credentials() {
    const IDENTITY: &str = "device-001";
    const KEY: &str = "super-secret-key-12345";
    let device = Server::builder()
        .plugins(&["led"])
        .arg("--log-level")
        .arg("debug")
        .config(&format!(
            "[coaps]\nbind = [\"127.0.0.1:0\"]\n[[coaps.psk]]\nidentity = \"{IDENTITY}\"\nkey = \"{KEY}\"\n"
        ))
        .start();
    let target = device.coaps_uri("/led");

    let without = proxy("");
    let mut peer = without.peer();
    let refused = ask(&mut peer, Code::GET, &target);
    assert_eq!(refused.code, PROXYING_NOT_SUPPORTED, "{refused}");
    assert!(refused.payload_text().contains("psk_identity"), "{refused}");

    let with = proxy(&format!(
        "psk_identity = \"{IDENTITY}\"\npsk_key = \"{KEY}\"\ncache_entries = 0\n"
    ));
    let mut peer = with.peer();
    let first = ask(&mut peer, Code::GET, &target);
    assert_eq!(first.code, Code::new(2, 5), "{first}");
    assert!(first.payload_text().contains("state"), "{first}");
    let put = via(&mut peer, Code::PUT, &target)
        .option(option::CONTENT_FORMAT, &[50])
        .payload(br#"{"state":"on"}"#);
    let changed = peer.exchange(&put);
    assert_eq!(changed.code, Code::new(2, 4), "{changed}");
    let second = ask(&mut peer, Code::GET, &target);
    assert!(second.payload_text().contains("\"on\""), "{second}");
    let established = device.log_lines(|line| line.contains("dtls: session established"));
    assert_eq!(established.len(), 1, "one handshake: {established:?}");
}
