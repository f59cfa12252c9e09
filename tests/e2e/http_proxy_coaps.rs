//! The cross-proxy's `coaps://` targets (RFC 8075 §5.3 over RFC 7252 §9.1)
//! with curl: to a second coapwasm serving coaps with a pre-shared key or a
//! certificate, and to libcoap's `coap-server-openssl`. A GET, block-wise
//! both ways, one handshake for several requests, a wrong key (502 within
//! the timeout, not a hang), no credentials (502 naming the settings), and
//! a device certificate that does not chain to the configured CA (502).

use std::net::UdpSocket;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use coapwasm_tests::Server;
use coapwasm_tests::certificates::make_certificates;
use coapwasm_tests::curl::curl;
use coapwasm_tests::temp_dir::TempDir;

const IDENTITY: &str = "device-001";
const KEY: &str = "super-secret-key-12345";

/// A device serving coaps with the seed's PSK on an ephemeral port.
fn psk_device(plugins: &[&str]) -> Server {
    Server::builder()
        .plugins(plugins)
        .arg("--log-level")
        .arg("debug")
        .config(&format!(
            "[coaps]\nbind = [\"127.0.0.1:0\"]\n[[coaps.psk]]\nidentity = \"{IDENTITY}\"\nkey = \"{KEY}\"\n"
        ))
        .start()
}

/// A proxy host serving HTTP, allowed to reach loopback, with `extra`
/// `[http.proxy]` keys.
fn proxy(extra: &str) -> Server {
    Server::builder()
        .arg("--http")
        .arg("127.0.0.1:0")
        .config(&format!(
            "[http.proxy]\nallow = [\"127.0.0.1\"]\ntimeout_ms = 3000\n{extra}"
        ))
        .start()
}

fn psk_keys(identity: &str, key: &str) -> String {
    format!("psk_identity = \"{identity}\"\npsk_key = \"{key}\"\n")
}

fn hc(proxy: &Server, target: &str) -> String {
    proxy.http_url(&format!("/hc/{target}"))
}

/// GETs and a PUT through `/hc/coaps://...`, all in one DTLS session.
#[test]
fn psk_get_and_put_in_one_session() {
    let device = psk_device(&["led", "temperature"]);
    let proxy = proxy(&psk_keys(IDENTITY, KEY));
    let temperature = curl(&[], &hc(&proxy, &device.coaps_uri("/temperature")));
    assert_eq!(temperature.status, 200, "{}", temperature.text());
    assert!(
        temperature.json()["value"].is_f64(),
        "{}",
        temperature.text()
    );
    let put = curl(
        &[
            "-X",
            "PUT",
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            r#"{"state":"on"}"#,
        ],
        &hc(&proxy, &device.coaps_uri("/led")),
    );
    assert!(matches!(put.status, 200 | 204), "{}", put.text());
    let led = curl(&[], &hc(&proxy, &device.coaps_uri("/led")));
    assert_eq!(led.status, 200, "{}", led.text());
    assert_eq!(led.json()["state"], "on");
    // Three exchanges, one handshake: the device saw the PSK identity once.
    let established = device.log_lines(|line| line.contains("dtls: session established"));
    assert_eq!(established.len(), 1, "{established:#?}");
}

/// 3000 bytes down (Block2) and 3000 up and back (Block1, Block2) over
/// coaps.
#[test]
fn psk_blockwise_both_ways() {
    let device = psk_device(&["testkit"]);
    let proxy = proxy(&psk_keys(IDENTITY, KEY));
    let big = curl(&[], &hc(&proxy, &device.coaps_uri("/test/big")));
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
        &hc(&proxy, &device.coaps_uri("/test/echo")),
    );
    assert_eq!(echo.status, 200, "{}", echo.text());
    let echo = echo.json();
    assert_eq!(echo["payload_len"], 3000);
    assert_eq!(echo["payload_utf8"], body.as_str());
}

/// A wrong key or an unknown identity: the device drops the handshake's
/// Finished (RFC 6347 §4.1.2.7), so 502 once the timeout has passed, not
/// a hang; the body says DTLS.
#[test]
fn wrong_key_is_502_within_the_timeout() {
    let device = psk_device(&["temperature"]);
    for keys in [
        psk_keys(IDENTITY, "not-the-key"),
        psk_keys("device-999", KEY),
    ] {
        let proxy = proxy(&keys);
        let started = Instant::now();
        let reply = curl(&[], &hc(&proxy, &device.coaps_uri("/temperature")));
        let took = started.elapsed();
        assert_eq!(reply.status, 502, "{keys}: {}", reply.text());
        assert!(reply.text().contains("DTLS"), "{}", reply.text());
        assert!(took < Duration::from_secs(6), "{keys}: {took:?}");
    }
    // The right key still works after the failures.
    let proxy = proxy(&psk_keys(IDENTITY, KEY));
    let reply = curl(&[], &hc(&proxy, &device.coaps_uri("/temperature")));
    assert_eq!(reply.status, 200, "{}", reply.text());
}

/// No credentials configured: 502 at once, naming the settings to add; no
/// datagram leaves.
#[test]
fn no_credentials_is_502_naming_the_settings() {
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let target = silent.local_addr().unwrap();
    let proxy = proxy("");
    let reply = curl(&[], &hc(&proxy, &format!("coaps://{target}/temperature")));
    assert_eq!(reply.status, 502, "{}", reply.text());
    assert!(
        reply.text().contains("psk_identity") && reply.text().contains("[http.proxy]"),
        "{}",
        reply.text()
    );
    silent
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut buffer = [0u8; 1500];
    assert!(silent.recv(&mut buffer).is_err(), "a datagram was sent");
}

/// A route's target may be coaps:// too.
#[test]
fn routes_to_coaps_targets() {
    let device = psk_device(&["temperature"]);
    let port = device.coaps_addr().port();
    let proxy = proxy(&format!(
        "{}[[http.proxy.route]]\ntemplate = \"/devices/{{ip}}/temperature\"\ntarget = \"coaps://{{ip}}:{port}/temperature\"\n",
        psk_keys(IDENTITY, KEY)
    ));
    let reply = curl(&[], &proxy.http_url("/devices/127.0.0.1/temperature"));
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert!(reply.json()["value"].is_f64(), "{}", reply.text());
}

/// Certificates (RFC 7252 §9.1.3.3): the device's, for 127.0.0.1, verified
/// against the configured CA; a CA it does not chain to is 502.
#[test]
fn device_certificate_verified_against_the_ca() {
    let dir = TempDir::new();
    make_certificates(dir.path());
    let other = TempDir::new();
    make_certificates(other.path());
    let path = |name: &str| dir.path().join(name).display().to_string();
    let device = Server::builder()
        .plugins(&["temperature"])
        .config(&format!(
            "[coaps]\nbind = [\"127.0.0.1:0\"]\ncertificate = \"{}\"\nprivate_key = \"{}\"\n",
            path("server.pem"),
            path("server.key")
        ))
        .start();
    let trusting = proxy(&format!("ca = [\"{}\"]\n", path("ca.pem")));
    let reply = curl(&[], &hc(&trusting, &device.coaps_uri("/temperature")));
    assert_eq!(reply.status, 200, "{}", reply.text());
    let other_ca = other.path().join("ca.pem").display().to_string();
    let distrusting = proxy(&format!("ca = [\"{other_ca}\"]\n"));
    let started = Instant::now();
    let reply = curl(&[], &hc(&distrusting, &device.coaps_uri("/temperature")));
    assert_eq!(reply.status, 502, "{}", reply.text());
    assert!(started.elapsed() < Duration::from_secs(6));
}

/// libcoap's `coap-server-openssl -k KEY`: coap on `port`, coaps on
/// `port + 1`, dynamic resources (`-d`); killed on drop.
struct LibcoapOpenssl {
    child: Child,
    port: u16,
    _dir: TempDir,
}

impl Drop for LibcoapOpenssl {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const LIBCOAP_KEY: &str = "interop-secret-key";

impl LibcoapOpenssl {
    fn start() -> LibcoapOpenssl {
        // Bounded: a few port pairs, each given 10 s to answer a ping.
        for _ in 0..5 {
            let port = free_port_pair();
            let dir = TempDir::new();
            let log = std::fs::File::create(dir.path().join("server.log")).unwrap();
            let mut child = Command::new("coap-server-openssl")
                .args(["-A", "127.0.0.1", "-p", &port.to_string(), "-d", "10"])
                .args(["-k", LIBCOAP_KEY, "-h", "interop"])
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .expect("coap-server-openssl (Debian: libcoap3-bin)");
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline && child.try_wait().unwrap().is_none() {
                if answers_ping(port) {
                    return LibcoapOpenssl {
                        child,
                        port,
                        _dir: dir,
                    };
                }
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("coap-server-openssl did not start");
    }

    fn coaps_uri(&self, path: &str) -> String {
        format!("coaps://127.0.0.1:{}{path}", self.port + 1)
    }
}

fn free_port_pair() -> u16 {
    for _ in 0..100 {
        let port = UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if port < u16::MAX && UdpSocket::bind(("127.0.0.1", port + 1)).is_ok() {
            return port;
        }
    }
    panic!("no free pair of UDP ports");
}

/// An empty CON answered by a Reset within 200 ms.
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

/// A device no one here wrote, over coaps: libcoap's `/time`, then 3000
/// bytes up to a dynamic resource and back down, block-wise.
#[test]
fn libcoap_openssl_with_a_psk() {
    let libcoap = LibcoapOpenssl::start();
    let proxy = proxy(&psk_keys("client", LIBCOAP_KEY));
    let time = curl(&[], &hc(&proxy, &libcoap.coaps_uri("/time")));
    assert_eq!(time.status, 200, "{}", time.text());
    assert!(time.text().contains(':'), "{}", time.text());
    let body = "0123456789abcdef".repeat(200);
    let put = curl(
        &[
            "-X",
            "PUT",
            "-H",
            "Content-Type: text/plain",
            "--data-binary",
            &body,
        ],
        &hc(&proxy, &libcoap.coaps_uri("/big")),
    );
    assert!(matches!(put.status, 200 | 201 | 204), "{}", put.text());
    let back = curl(&[], &hc(&proxy, &libcoap.coaps_uri("/big")));
    assert_eq!(back.status, 200, "{}", back.text());
    assert_eq!(back.text(), body);
}

/// Many exchanges in one kept session: each answered (the device's
/// duplicate detection spans the session, so message ids must not repeat
/// across exchanges, RFC 7252 §4.5), and the handshake costs round trips,
/// not a retransmission timeout.
#[test]
fn a_thousand_requests_in_one_session() {
    let device = psk_device(&["led"]);
    let proxy = proxy(&format!("{}cache_entries = 0\n", psk_keys(IDENTITY, KEY)));
    let url = hc(&proxy, &device.coaps_uri("/led"));
    let mut command = Command::new("curl");
    command.args(["-s", "--path-as-is", "--max-time", "120"]);
    command.args(["-w", "%{http_code} %{time_total}\\n"]);
    for _ in 0..1000 {
        command.args(["-o", "/dev/null", &url]);
    }
    let output = command.stdin(Stdio::null()).output().expect("curl");
    let text = String::from_utf8_lossy(&output.stdout);
    let replies: Vec<(&str, f64)> = text
        .lines()
        .map(|line| {
            let (code, time) = line.split_once(' ').unwrap();
            (code, time.parse().unwrap())
        })
        .collect();
    assert_eq!(replies.len(), 1000, "{text}");
    let failed: Vec<usize> = (0..replies.len())
        .filter(|&i| replies[i].0 != "200")
        .collect();
    assert!(failed.is_empty(), "not 200: {failed:?}");
    assert!(
        replies[0].1 < 0.5,
        "the first request, with the handshake, took {} s",
        replies[0].1
    );
    let established = device.log_lines(|line| line.contains("dtls: session established"));
    assert_eq!(established.len(), 1, "{established:#?}");
}
