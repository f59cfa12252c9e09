//! Observe through the cross-proxy as Server-Sent Events (RFC 7641 over
//! RFC 8075): `GET /hc/coap://...` with `Accept: text/event-stream` against
//! a second coapwasm (a CoAP PUT on the device reaches the SSE client),
//! libcoap's `coap-server-notls` (`/time` notifies each second), and a stub
//! device that goes silent (re-registration, then `gone`). Closing the
//! stream deregisters at the device, which both coapwasm and libcoap log.

use std::net::UdpSocket;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use coapwasm_tests::artifacts::binary;
use coapwasm_tests::curl::curl;
use coapwasm_tests::event_stream::EventStream;
use coapwasm_tests::temp_dir::TempDir;
use coapwasm_tests::{Code, Message, Server, Type};

const SSE: &str = "text/event-stream";

fn proxy(extra: &str) -> Server {
    Server::builder()
        .arg("--http")
        .arg("127.0.0.1:0")
        .config(&format!(
            "[http.proxy]\nallow = [\"127.0.0.1\"]\ntimeout_ms = 2000\n{extra}"
        ))
        .start()
}

fn debug_device(plugins: &[&str]) -> Server {
    Server::builder()
        .plugins(plugins)
        .arg("--log-level")
        .arg("debug")
        .start()
}

fn coap_put_led(device: &Server, state: &str) {
    let output = Command::new(binary())
        .args(["put", "-t", "json", "-e"])
        .arg(format!(r#"{{"state":"{state}"}}"#))
        .arg(device.uri("/led"))
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
}

fn deregistrations(device: &Server) -> usize {
    device
        .log_lines(|line| line.contains("observation deregistered"))
        .len()
}

/// The device's state, then a change made over CoAP on the device, with
/// increasing ids; closing the stream deregisters at the device.
#[test]
fn coapwasm_device_notifications_reach_the_event_stream() {
    let device = debug_device(&["led"]);
    let proxy = proxy("");
    let url = proxy.http_url(&format!("/hc/coap://{}/led", device.addr()));
    let stream = EventStream::open(&url, SSE);
    let (first_id, event, data) = stream
        .next(Duration::from_secs(10))
        .map(|e| (e.id.unwrap_or(0), e.event, e.data))
        .expect("the registration's state");
    assert_eq!(
        (event.as_str(), data.as_str()),
        ("notification", r#"{"state":"off"}"#)
    );
    coap_put_led(&device, "on");
    let (second_id, event, data) = stream
        .next(Duration::from_secs(10))
        .map(|e| (e.id.unwrap_or(0), e.event, e.data))
        .expect("the change, through the proxy");
    assert_eq!(
        (event.as_str(), data.as_str()),
        ("notification", r#"{"state":"on"}"#)
    );
    assert!(second_id > first_id, "{first_id} then {second_id}");
    assert_eq!(deregistrations(&device), 0);
    drop(stream);
    assert!(
        device
            .log_line(Duration::from_secs(10), |line| line
                .contains("observation deregistered"))
            .is_some(),
        "closing the stream deregisters at the device"
    );
}

/// A route's target, the format asked for beside text/event-stream; a
/// resource that is not observable is 406, a missing one 404, and the
/// observer limits hold (503 past `max_per_endpoint`).
#[test]
fn routes_formats_and_bounds() {
    let device = debug_device(&["temperature", "info", "led"]);
    let port = device.addr().port();
    let proxy = proxy(&format!(
        "[[http.proxy.route]]\ntemplate = \"/devices/{{ip}}/temperature\"\ntarget = \"coap://{{ip}}:{port}/temperature\"\n\
         [observe]\nmax_per_endpoint = 1\n"
    ));
    let text = EventStream::open(
        &proxy.http_url("/devices/127.0.0.1/temperature"),
        "text/event-stream, text/plain",
    );
    let (_, event, data) = text
        .next(Duration::from_secs(10))
        .map(|e| (e.id.unwrap_or(0), e.event, e.data))
        .expect("a reading");
    assert_eq!(event, "notification");
    assert!(data.ends_with(" C"), "text/plain asked for: {data}");
    let hc = |path: &str| proxy.http_url(&format!("/hc/coap://{}{path}", device.addr()));
    let refused = curl(&["-H", "Accept: text/event-stream"], &hc("/led"));
    assert_eq!(refused.status, 503, "{}", refused.text());
    drop(text);
    // Bounded: until the closed stream's place is given back.
    let deadline = Instant::now() + Duration::from_secs(10);
    let info = loop {
        let reply = curl(&["-H", "Accept: text/event-stream"], &hc("/info"));
        if reply.status != 503 || Instant::now() >= deadline {
            break reply;
        }
        thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(info.status, 406, "{}", info.text());
    let none = curl(&["-H", "Accept: text/event-stream"], &hc("/nothing"));
    assert_eq!(none.status, 404, "{}", none.text());
}

/// libcoap's `coap-server-notls` on its own port, its log (`-v 7`) in a
/// file; killed on drop.
struct Libcoap {
    child: Child,
    port: u16,
    log: PathBuf,
    _dir: TempDir,
}

impl Drop for Libcoap {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Libcoap {
    fn start() -> Libcoap {
        // Bounded: a few ports, each given 10 s to answer a ping.
        for _ in 0..5 {
            let port = UdpSocket::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let dir = TempDir::new();
            let log = dir.path().join("server.log");
            let file = std::fs::File::create(&log).unwrap();
            let mut child = Command::new("coap-server-notls")
                .args(["-A", "127.0.0.1", "-p", &port.to_string(), "-v", "7"])
                .stdin(Stdio::null())
                .stdout(file.try_clone().unwrap())
                .stderr(file)
                .spawn()
                .expect("coap-server-notls (Debian: libcoap3-bin)");
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline && child.try_wait().unwrap().is_none() {
                if answers_ping(port) {
                    return Libcoap {
                        child,
                        port,
                        log,
                        _dir: dir,
                    };
                }
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("coap-server-notls did not start");
    }

    /// Waits up to `within` for `text` in the log.
    fn log_shows(&self, text: &str, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        loop {
            if std::fs::read_to_string(&self.log)
                .unwrap_or_default()
                .contains(text)
            {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            thread::sleep(Duration::from_millis(100));
        }
    }
}

fn answers_ping(port: u16) -> bool {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.connect(("127.0.0.1", port)).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let _ = socket.send(&[0x40, 0x00, 0x12, 0x34]);
    let mut buffer = [0u8; 64];
    matches!(socket.recv(&mut buffer), Ok(n) if n >= 4 && buffer[2..4] == [0x12, 0x34])
}

/// libcoap's `/time` notifies each second: three events with increasing
/// ids; closing the stream makes libcoap remove the subscription.
#[test]
fn libcoap_time_through_the_proxy() {
    let libcoap = Libcoap::start();
    let proxy = proxy("");
    let stream = EventStream::open(
        &proxy.http_url(&format!("/hc/coap://127.0.0.1:{}/time", libcoap.port)),
        SSE,
    );
    let mut ids = Vec::new();
    for _ in 0..3 {
        let (id, event, data) = stream
            .next(Duration::from_secs(5))
            .map(|e| (e.id.unwrap_or(0), e.event, e.data))
            .unwrap_or_else(|| panic!("a notification each second; so far {ids:?}"));
        assert_eq!(event, "notification", "{data}");
        assert!(data.contains(':'), "libcoap's clock: {data}");
        ids.push(id);
    }
    assert!(ids.windows(2).all(|w| w[1] > w[0]), "{ids:?}");
    assert!(libcoap.log_shows("create new subscription", Duration::from_secs(1)));
    assert!(!libcoap.log_shows("removed subscription", Duration::ZERO));
    drop(stream);
    assert!(
        libcoap.log_shows("removed subscription", Duration::from_secs(10)),
        "closing the stream deregisters at libcoap\n{}",
        std::fs::read_to_string(&libcoap.log).unwrap_or_default()
    );
}

/// A device that answers the registration (Max-Age 1) and then goes
/// silent: once Max-Age and the grace (2 s) have passed the proxy
/// re-registers with the same token (RFC 7641 §3.3.1), and without an
/// answer within `timeout_ms` the stream ends with `gone`.
#[test]
fn a_silent_device_ends_the_stream_with_gone() {
    const OBSERVE: u16 = 6;
    const MAX_AGE: u16 = 14;
    let device = UdpSocket::bind("127.0.0.1:0").unwrap();
    let target = device.local_addr().unwrap();
    device
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    let stub = thread::spawn(move || {
        let mut buffer = [0u8; 1500];
        let (n, from) = device.recv_from(&mut buffer).expect("the registration");
        let registration = Message::decode(&buffer[..n]).unwrap();
        let answer = Message::new(Type::Ack, Code::CONTENT, registration.mid)
            .token(&registration.token)
            .uint_option(OBSERVE, 7)
            .uint_option(MAX_AGE, 1)
            .payload(b"22.5");
        device.send_to(&answer.encode(), from).unwrap();
        // Silent from here: what comes next, unanswered (retransmissions
        // of the same message id are one).
        let mut later = Vec::new();
        let until = Instant::now() + Duration::from_secs(12);
        while Instant::now() < until {
            let Ok((n, _)) = device.recv_from(&mut buffer) else {
                break;
            };
            let message = Message::decode(&buffer[..n]).unwrap();
            if !later.iter().any(|m: &Message| m.mid == message.mid) {
                later.push(message);
            }
        }
        (registration, later)
    });
    let proxy = proxy("");
    let mut stream = EventStream::open(&proxy.http_url(&format!("/hc/coap://{target}/t")), SSE);
    let started = Instant::now();
    let (id, event, data) = stream
        .next(Duration::from_secs(5))
        .map(|e| (e.id.unwrap_or(0), e.event, e.data))
        .expect("the registration's answer");
    assert_eq!(
        (id, event.as_str(), data.as_str()),
        (7, "notification", "22.5")
    );
    let (_, event, data) = stream
        .next(Duration::from_secs(10))
        .map(|e| (e.id.unwrap_or(0), e.event, e.data))
        .expect("the end of the stream");
    let took = started.elapsed();
    assert_eq!(event, "gone", "{data}");
    // 1 s Max-Age + 2 s grace + 2 s timeout_ms.
    assert!(
        took >= Duration::from_millis(4500) && took < Duration::from_secs(8),
        "{took:?}"
    );
    assert!(
        stream.ended_within(Duration::from_secs(5)),
        "the stream ends"
    );
    let (registration, later) = stub.join().unwrap();
    let reregistration = later
        .iter()
        .find(|m| m.uint_option_value(OBSERVE) == Some(0))
        .unwrap_or_else(|| panic!("a re-registration: {} later", later.len()));
    assert_eq!(reregistration.token, registration.token, "the same token");
}

/// The same over coaps (one DTLS session held by the stream): a change on
/// the device reaches the stream, and closing it deregisters.
#[test]
fn coaps_device_notifications_and_deregistration() {
    let device = Server::builder()
        .plugins(&["led"])
        .arg("--log-level")
        .arg("debug")
        .config(
            "[coaps]\nbind = [\"127.0.0.1:0\"]\n[[coaps.psk]]\nidentity = \"device-001\"\nkey = \"super-secret-key-12345\"\n",
        )
        .start();
    let proxy = proxy("psk_identity = \"device-001\"\npsk_key = \"super-secret-key-12345\"\n");
    let stream = EventStream::open(
        &proxy.http_url(&format!("/hc/{}", device.coaps_uri("/led"))),
        SSE,
    );
    let (_, event, data) = stream
        .next(Duration::from_secs(10))
        .map(|e| (e.id.unwrap_or(0), e.event, e.data))
        .expect("the registration's state");
    assert_eq!(
        (event.as_str(), data.as_str()),
        ("notification", r#"{"state":"off"}"#)
    );
    coap_put_led(&device, "on");
    let (_, _, data) = stream
        .next(Duration::from_secs(10))
        .map(|e| (e.id.unwrap_or(0), e.event, e.data))
        .expect("the change, over coaps");
    assert_eq!(data, r#"{"state":"on"}"#);
    drop(stream);
    assert!(
        device
            .log_line(Duration::from_secs(10), |line| line
                .contains("observation deregistered"))
            .is_some(),
        "closing the stream deregisters over coaps"
    );
}
