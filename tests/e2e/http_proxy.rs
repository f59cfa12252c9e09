//! The HTTP-to-CoAP cross-proxy (RFC 8075) with curl against the real
//! binary: `/hc/coap://...` and URI templates (seed 002's gateway routes) to
//! a second coapwasm host and to libcoap's `coap-server-notls`; block-wise
//! both ways; the allow-list (403), an unreachable device (502), a silent
//! one (504 within `timeout_ms`) and NSTART (503).

use std::net::UdpSocket;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use coapwasm_tests::Server;
use coapwasm_tests::curl::curl;
use coapwasm_tests::temp_dir::TempDir;

/// A proxy host serving HTTP, configured by `toml`.
fn proxy(toml: &str) -> Server {
    Server::builder()
        .arg("--http")
        .arg("127.0.0.1:0")
        .config(toml)
        .start()
}

const ALLOW_LOOPBACK: &str = "[http.proxy]\nallow = [\"127.0.0.1\"]\ntimeout_ms = 5000\n";

/// GET and PUT with JSON through `/hc/`, as is and percent-encoded; the
/// query, Content-Type and Accept carried over.
#[test]
fn get_and_put_through_the_default_mapping() {
    let device = Server::with_plugins(&["led", "temperature", "testkit"]);
    let proxy = proxy(ALLOW_LOOPBACK);
    let hc = |path: &str| proxy.http_url(&format!("/hc/coap://{}{path}", device.addr()));

    let temperature = curl(&[], &hc("/temperature"));
    assert_eq!(temperature.status, 200, "{}", temperature.text());
    assert_eq!(temperature.header("content-type"), Some("application/json"));
    assert!(temperature.json().is_object(), "{}", temperature.text());

    let before = curl(&[], &hc("/led"));
    assert_eq!(before.json()["state"], "off", "{}", before.text());
    let put = curl(
        &[
            "-X",
            "PUT",
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            r#"{"state":"on"}"#,
        ],
        &hc("/led"),
    );
    assert!(matches!(put.status, 200 | 204), "{}", put.text());
    // Percent-encoded target, as RFC 8075 §5.3 allows. (The PUT forgot
    // what the cache held for /led; the GET before it put it there.)
    let encoded = format!("coap://{}/led", device.addr())
        .replace(':', "%3A")
        .replace('/', "%2F");
    let led = curl(&[], &proxy.http_url(&format!("/hc/{encoded}")));
    assert_eq!(led.status, 200, "{}", led.text());
    assert_eq!(led.json()["state"], "on");

    let echo = curl(
        &["-H", "Accept: application/json"],
        &hc("/test/echo?x=1&y=two"),
    );
    assert_eq!(echo.status, 200, "{}", echo.text());
    let echo = echo.json();
    assert_eq!(echo["query"], serde_json::json!(["x=1", "y=two"]));
    assert_eq!(echo["accept"], 50);
    // A CoAP error maps per RFC 8075 §7.
    assert_eq!(curl(&[], &hc("/nothing-here")).status, 404);
}

/// 3000 bytes down (Block2) and 3000 up and back (Block1 then Block2).
#[test]
fn blockwise_both_ways() {
    let device = Server::with_plugins(&["testkit"]);
    let proxy = proxy(ALLOW_LOOPBACK);
    let hc = |path: &str| proxy.http_url(&format!("/hc/coap://{}{path}", device.addr()));

    let big = curl(&[], &hc("/test/big"));
    assert_eq!(big.status, 200, "{}", big.text());
    assert_eq!(big.body, b"0123456789".repeat(300));

    let body = "abcdefghij".repeat(300);
    let echo = curl(
        &[
            "-X",
            "PUT",
            "-H",
            "Content-Type: text/plain",
            "--data-binary",
            &body,
        ],
        &hc("/test/echo"),
    );
    assert_eq!(echo.status, 200, "{}", echo.text());
    assert!(echo.body.len() > 1024, "the answer itself is block-wise");
    let echo = echo.json();
    assert_eq!(echo["payload_len"], 3000);
    assert_eq!(echo["payload_utf8"], body.as_str());
}

/// A 200 KB firmware image up (Block1) and back down (Block2) through the
/// proxy, byte for byte.
#[test]
fn firmware_image_both_ways() {
    let device = Server::with_plugins(&["firmware"]);
    let proxy = proxy(ALLOW_LOOPBACK);
    let hc = |path: &str| proxy.http_url(&format!("/hc/coap://{}{path}", device.addr()));
    let image: Vec<u8> = (0..200_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let dir = TempDir::new();
    let file = dir.path().join("image.bin");
    std::fs::write(&file, &image).unwrap();
    let upload = curl(
        &[
            "-X",
            "PUT",
            "-H",
            "Content-Type: application/octet-stream",
            "--data-binary",
            &format!("@{}", file.display()),
        ],
        &hc("/firmware"),
    );
    assert!(
        matches!(upload.status, 200 | 201 | 204),
        "{}: {}",
        upload.status,
        upload.text()
    );
    let download = curl(&[], &hc("/firmware/image"));
    assert_eq!(download.status, 200, "{}", download.text());
    assert_eq!(download.body.len(), image.len());
    assert!(download.body == image, "the image came back changed");
}

/// Seed 002's gateway routes, unchanged on the HTTP side, as URI templates.
#[test]
fn seed_002_routes() {
    let device = Server::with_plugins(&["led", "temperature"]);
    let port = device.addr().port();
    let proxy = proxy(&format!(
        "{ALLOW_LOOPBACK}\
         [[http.proxy.route]]\n\
         template = \"/devices/{{ip}}/temperature\"\n\
         target = \"coap://{{ip}}:{port}/temperature\"\n\
         methods = [\"GET\"]\n\
         [[http.proxy.route]]\n\
         template = \"/devices/{{ip}}/led\"\n\
         target = \"coap://{{ip}}:{port}/led\"\n\
         methods = [\"PUT\"]\n"
    ));
    let temperature = curl(&[], &proxy.http_url("/devices/127.0.0.1/temperature"));
    assert_eq!(temperature.status, 200, "{}", temperature.text());
    assert!(temperature.json().is_object());

    let put = curl(
        &[
            "-X",
            "PUT",
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            r#"{"state":"on"}"#,
        ],
        &proxy.http_url("/devices/127.0.0.1/led"),
    );
    assert!(matches!(put.status, 200 | 204), "{}", put.text());
    let state = curl(
        &[],
        &proxy.http_url(&format!("/hc/coap://{}/led", device.addr())),
    );
    assert_eq!(state.status, 200, "{}", state.text());
    assert_eq!(state.json()["state"], "on");
    // GET is not a method of the led route: the proxy host's own 4.04.
    let not_routed = curl(&[], &proxy.http_url("/devices/127.0.0.1/led"));
    assert_eq!(not_routed.status, 404, "{}", not_routed.text());
}

/// A UDP port on loopback free a moment ago.
fn free_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// libcoap's `coap-server-notls` on a free loopback port; killed on drop.
struct Libcoap {
    child: Child,
    port: u16,
}

impl Drop for Libcoap {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Libcoap {
    fn start() -> Libcoap {
        let port = free_port();
        let child = Command::new("coap-server-notls")
            .args(["-A", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("coap-server-notls (Debian: libcoap3-bin)");
        Libcoap { child, port }
    }
}

/// A device no one here wrote: libcoap's example server's `/time`.
#[test]
fn libcoap_server() {
    let libcoap = Libcoap::start();
    let proxy = proxy(ALLOW_LOOPBACK);
    let url = proxy.http_url(&format!("/hc/coap://127.0.0.1:{}/time", libcoap.port));
    // Bounded: until the server listens (502 while it does not yet).
    let deadline = Instant::now() + Duration::from_secs(10);
    let time = loop {
        let reply = curl(&[], &url);
        if reply.status != 502 || Instant::now() >= deadline {
            break reply;
        }
        thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(time.status, 200, "{}", time.text());
    // libcoap's clock, e.g. "Dec 04 05:15:41", with no Content-Format
    // (so application/octet-stream, RFC 8075 §6.1) and Max-Age 1.
    assert!(time.text().contains(':'), "{}", time.text());
    assert_eq!(
        time.header("content-type"),
        Some("application/octet-stream"),
        "{:?}",
        time.headers
    );
    assert_eq!(time.header("cache-control"), Some("max-age=1"));
    let missing = curl(
        &[],
        &proxy.http_url(&format!("/hc/coap://127.0.0.1:{}/nothing", libcoap.port)),
    );
    assert_eq!(missing.status, 404, "{}", missing.text());
}

/// Nothing is proxied until allowed; a target outside the list, or a
/// multicast one whatever the list says, is 403, and no datagram leaves.
#[test]
fn targets_not_allowed() {
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let target = silent.local_addr().unwrap();
    let closed = proxy("");
    let reply = curl(&[], &closed.http_url(&format!("/hc/coap://{target}/x")));
    assert_eq!(reply.status, 403, "{}", reply.text());

    let elsewhere = proxy("[http.proxy]\nallow = [\"10.0.0.0/8\", \"127.0.0.1:1\"]\n");
    let reply = curl(&[], &elsewhere.http_url(&format!("/hc/coap://{target}/x")));
    assert_eq!(reply.status, 403, "{}", reply.text());

    let everything = proxy("[http.proxy]\nallow = [\"0.0.0.0/0\"]\n");
    let reply = curl(
        &[],
        &everything.http_url("/hc/coap://224.0.1.187:5683/.well-known/core"),
    );
    assert_eq!(reply.status, 403, "{}", reply.text());
    assert!(reply.text().contains("multicast"), "{}", reply.text());

    silent
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut buffer = [0u8; 1500];
    assert!(silent.recv(&mut buffer).is_err(), "a datagram was sent");
}

/// Nothing listening: ICMP port unreachable, 502 at once.
#[test]
fn unreachable_is_502() {
    let proxy = proxy(ALLOW_LOOPBACK);
    let port = free_port();
    let started = Instant::now();
    let reply = curl(
        &[],
        &proxy.http_url(&format!("/hc/coap://127.0.0.1:{port}/temperature")),
    );
    assert_eq!(reply.status, 502, "{}", reply.text());
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

/// A device that never answers: 504 once `timeout_ms` has passed, not before.
#[test]
fn silent_device_is_504_within_the_timeout() {
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let target = silent.local_addr().unwrap();
    let proxy = proxy("[http.proxy]\nallow = [\"127.0.0.1\"]\ntimeout_ms = 1000\n");
    let started = Instant::now();
    let reply = curl(
        &[],
        &proxy.http_url(&format!("/hc/coap://{target}/temperature")),
    );
    let took = started.elapsed();
    assert_eq!(reply.status, 504, "{}", reply.text());
    assert!(
        took >= Duration::from_millis(950) && took < Duration::from_secs(4),
        "{took:?}"
    );
    // The request did reach the device.
    silent
        .set_read_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    let mut buffer = [0u8; 1500];
    assert!(silent.recv(&mut buffer).is_ok());
}

/// NSTART 1: a second request to a device still busy with one is 503 with
/// Retry-After; the first completes.
#[test]
fn one_request_in_flight_per_device() {
    let device = Server::with_plugins(&["testkit"]);
    let proxy = proxy(ALLOW_LOOPBACK);
    let slow = proxy.http_url(&format!("/hc/coap://{}/test/slow?ms=1500", device.addr()));
    let first = {
        let slow = slow.clone();
        thread::spawn(move || curl(&[], &slow))
    };
    thread::sleep(Duration::from_millis(400));
    let second = curl(&[], &slow);
    assert_eq!(second.status, 503, "{}", second.text());
    assert_eq!(second.header("retry-after"), Some("1"));
    let first = first.join().unwrap();
    assert_eq!(first.status, 200, "{}", first.text());
    // Free again once the first is done.
    let third = curl(
        &[],
        &proxy.http_url(&format!("/hc/coap://{}/test/slow?ms=10", device.addr())),
    );
    assert_eq!(third.status, 200, "{}", third.text());
}

/// The cache (RFC 8075 §8.1): a fresh answer is served without asking the
/// device again; a stale one is revalidated with its ETag, and the device's
/// 2.03 Valid serves the kept body. The device is a stub here, to see what
/// reaches it and to give a Max-Age of 1 s.
#[test]
fn cache_honours_max_age_and_revalidates_with_etag() {
    use coapwasm_tests::{Code, Message, Type};
    const ETAG: u16 = 4;
    const MAX_AGE: u16 = 14;
    let device = UdpSocket::bind("127.0.0.1:0").unwrap();
    let target = device.local_addr().unwrap();
    device
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let stub = thread::spawn(move || {
        // Bounded: two requests at most, each within the read timeout.
        let mut seen = Vec::new();
        let mut buffer = [0u8; 1500];
        for _ in 0..2 {
            let Ok((n, from)) = device.recv_from(&mut buffer) else {
                break;
            };
            let request = Message::decode(&buffer[..n]).unwrap();
            let etag = request.option_value(ETAG).map(<[u8]>::to_vec);
            let code = if etag.as_deref() == Some(&[7, 7][..]) {
                Code::VALID
            } else {
                Code::CONTENT
            };
            let mut answer = Message::new(Type::Ack, code, request.mid)
                .token(&request.token)
                .option(ETAG, &[7, 7])
                .uint_option(MAX_AGE, 1);
            if code == Code::CONTENT {
                answer = answer.payload(b"kept");
            }
            device.send_to(&answer.encode(), from).unwrap();
            seen.push(etag);
        }
        seen
    });
    let proxy = proxy(ALLOW_LOOPBACK);
    let url = proxy.http_url(&format!("/hc/coap://{target}/value"));
    let first = curl(&[], &url);
    assert_eq!((first.status, first.text().as_str()), (200, "kept"));
    assert_eq!(first.header("cache-status"), Some("coapwasm; fwd=uri-miss"));
    assert_eq!(first.header("etag"), Some("\"0707\""));
    let second = curl(&[], &url);
    assert_eq!((second.status, second.text().as_str()), (200, "kept"));
    assert_eq!(second.header("cache-status"), Some("coapwasm; hit"));
    thread::sleep(Duration::from_millis(1100));
    let third = curl(&[], &url);
    assert_eq!((third.status, third.text().as_str()), (200, "kept"));
    assert_eq!(third.header("cache-status"), Some("coapwasm; fwd=stale"));
    assert_eq!(third.header("cache-control"), Some("max-age=1"));
    let seen = stub.join().unwrap();
    assert_eq!(
        seen,
        vec![None, Some(vec![7, 7])],
        "what reached the device"
    );
}

/// A device that rejects the request with a Reset (RFC 7252 §4.2) is an
/// unintelligible one: 502 at once, not 504.
#[test]
fn reset_is_502() {
    use coapwasm_tests::{Code, Message, Type};
    let device = UdpSocket::bind("127.0.0.1:0").unwrap();
    let target = device.local_addr().unwrap();
    device
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let stub = thread::spawn(move || {
        let mut buffer = [0u8; 1500];
        let (n, from) = device.recv_from(&mut buffer).expect("the proxied request");
        let request = Message::decode(&buffer[..n]).unwrap();
        let reset = Message::new(Type::Rst, Code::EMPTY, request.mid);
        device.send_to(&reset.encode(), from).unwrap();
    });
    let proxy = proxy(ALLOW_LOOPBACK);
    let started = Instant::now();
    let reply = curl(&[], &proxy.http_url(&format!("/hc/coap://{target}/x")));
    assert_eq!(reply.status, 502, "{}", reply.text());
    assert!(reply.text().contains("Reset"), "{}", reply.text());
    assert!(started.elapsed() < Duration::from_secs(3));
    stub.join().unwrap();
}
