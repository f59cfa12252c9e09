//! The log of CoAP exchanges over HTTP (`/.well-known/coapwasm/exchanges`,
//! issue 17): off unless asked for; each message in and out, after DTLS
//! decryption, as Server-Sent Events of JSON records; a bounded number of
//! watchers; and a watcher that stops reading never slows CoAP.

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Command, Stdio};
use std::time::Duration;

use coapwasm_tests::event_stream::EventStream;
use coapwasm_tests::{CoapClient, Code, REPLY_TIMEOUT, Server};

const PATH: &str = "/.well-known/coapwasm/exchanges";
const EVENTS: &str = "text/event-stream";

fn logged_server(extra_config: &str) -> Server {
    Server::builder()
        .plugins(&["led"])
        .config(&format!(
            "[http.exchange_log]\nenabled = true\n{extra_config}"
        ))
        .arg("--http")
        .arg("127.0.0.1:0")
        .start()
}

/// `curl -s URL` with `Accept`: (status, body).
fn curl(url: &str, accept: &str) -> (u16, String) {
    let output = Command::new("curl")
        .args(["-s", "--max-time", "10", "-w", "\n%{http_code}", "-H"])
        .arg(format!("Accept: {accept}"))
        .arg(url)
        .stdin(Stdio::null())
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (body, status) = text.rsplit_once('\n').unwrap_or(("", &text));
    (status.trim().parse().unwrap_or(0), body.to_owned())
}

fn json(data: &str) -> serde_json::Value {
    serde_json::from_str(data).unwrap_or_else(|e| panic!("{e}: {data}"))
}

/// The token of a coap-client trace line, `... i:f0c6 {a1b2} [ ... ]`.
fn traced_token(line: &str) -> String {
    let (_, rest) = line.split_once('{').expect("a token in the trace");
    rest.split_once('}').unwrap().0.to_ascii_lowercase()
}

/// A GET by libcoap's coap-client shows as its CON request in and the
/// piggybacked ACK out, with the type, code, message id and token it used.
#[test]
fn a_coap_client_get_is_logged_both_ways() {
    let server = logged_server("");
    let stream = EventStream::open(&server.http_url(PATH), EVENTS);
    let open = stream
        .find("watching", REPLY_TIMEOUT, |_| true)
        .expect("the stream opens");
    assert_eq!(json(&open.data)["coaps_payloads"], false, "{}", open.data);

    let output = CoapClient::get(&server.uri("/led")).run();
    output.assert_code("2.05");
    let request = &output.sent[0];
    let (mid, token) = (request.mid, traced_token(&request.line));
    let find = |direction: &str| {
        let event = stream
            .find("exchange", REPLY_TIMEOUT, |data| {
                let record = json(data);
                record["direction"] == direction && record["mid"] == mid
            })
            .unwrap_or_else(|| panic!("no {direction} record of mid {mid}"));
        assert!(event.id.is_some(), "an event id: {event:?}");
        json(&event.data)
    };
    let inbound = find("in");
    assert_eq!(inbound["type"], "CON", "{inbound}");
    assert_eq!(inbound["code"], "GET", "{inbound}");
    assert_eq!(inbound["token"], token, "{inbound}");
    assert_eq!(inbound["transport"], "coap", "{inbound}");
    assert_eq!(inbound["path"], "/led", "{inbound}");
    assert!(
        inbound["options"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["name"] == "Uri-Path" && o["value"] == "led"),
        "{inbound}"
    );
    assert!(
        inbound["peer"].as_str().unwrap().starts_with("127.0.0.1:"),
        "{inbound}"
    );
    let outbound = find("out");
    assert_eq!(outbound["type"], "ACK", "{outbound}");
    assert_eq!(outbound["code"], "2.05 Content", "{outbound}");
    assert_eq!(outbound["token"], token, "{outbound}");
    assert_eq!(outbound["peer"], inbound["peer"], "{outbound}");
    assert_eq!(outbound["payload"], r#"{"state":"off"}"#, "{outbound}");
    assert_eq!(outbound["payload_size"], 15, "{outbound}");
    assert_eq!(outbound["payload_encoding"], "text", "{outbound}");
}

/// Off unless configured: the API says how to turn it on, and an event
/// stream is refused.
#[test]
fn the_log_is_off_by_default() {
    let server = Server::builder()
        .plugins(&["led"])
        .arg("--http")
        .arg("127.0.0.1:0")
        .start();
    let (status, body) = curl(&server.http_url(PATH), EVENTS);
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("--exchange-log"), "{body}");
    let (status, body) = curl(&server.http_url(PATH), "application/json");
    assert_eq!(status, 403, "{body}");
    assert_eq!(json(&body)["enabled"], false, "{body}");
}

/// coaps messages are logged after decryption, but their payloads only
/// when `coaps_payloads` is set.
#[test]
fn coaps_payloads_are_hidden_unless_configured() {
    let server = Server::builder()
        .plugins(&["led"])
        .config(concat!(
            "[coaps]\nbind = [\"127.0.0.1:0\"]\n[[coaps.psk]]\nidentity = \"device-001\"\n",
            "key = \"super-secret-key-12345\"\n[http.exchange_log]\nenabled = true\n"
        ))
        .arg("--http")
        .arg("127.0.0.1:0")
        .start();
    let stream = EventStream::open(&server.http_url(PATH), EVENTS);
    stream
        .find("watching", REPLY_TIMEOUT, |_| true)
        .expect("open");
    let output = CoapClient::get(&server.coaps_uri("/led"))
        .using("coap-client-openssl")
        .psk("device-001", "super-secret-key-12345")
        .run();
    output.assert_code("2.05");
    let mid = output.sent.last().unwrap().mid;
    let event = stream
        .find("exchange", REPLY_TIMEOUT, |data| {
            let record = json(data);
            record["direction"] == "out" && record["mid"] == mid
        })
        .expect("the coaps response is logged");
    let record = json(&event.data);
    assert_eq!(record["transport"], "coaps", "{record}");
    assert_eq!(record["code"], "2.05 Content", "{record}");
    assert_eq!(record["payload_size"], 15, "{record}");
    assert_eq!(record["payload_encoding"], "hidden", "{record}");
    assert!(record.get("payload").is_none(), "{record}");
}

/// At most `max_watchers` streams; a closed one gives its place back.
#[test]
fn watchers_are_bounded() {
    let server = logged_server("max_watchers = 2\n");
    let url = server.http_url(PATH);
    let first = EventStream::open(&url, EVENTS);
    let second = EventStream::open(&url, EVENTS);
    for stream in [&first, &second] {
        stream
            .find("watching", REPLY_TIMEOUT, |_| true)
            .expect("open");
    }
    let (status, body) = curl(&url, EVENTS);
    assert_eq!(status, 503, "a third watcher: {body}");
    drop(first);
    // The server notices the closed connection on its next write to it: a
    // CoAP request makes records to write. Bounded retries, each a fresh
    // stream.
    let mut peer = server.peer();
    let mut opened = false;
    for _ in 0..50 {
        let request = peer.con(Code::GET, "/led");
        peer.exchange(&request);
        let third = EventStream::open(&url, EVENTS);
        if third
            .find("watching", Duration::from_millis(500), |_| true)
            .is_some()
        {
            opened = true;
            break;
        }
    }
    assert!(opened, "the closed watcher's place was never given back");
}

/// A watcher that stops reading costs CoAP nothing it waits for: 10000
/// requests are all answered while it stalls, and once it reads again
/// every message is either in what it reads or in a `dropped` count. (Its
/// 20000 records, about 10 MB, are more than the kernel's TCP buffers
/// take, 4 MB at most by default: some must be dropped.)
#[test]
fn a_stalled_watcher_does_not_hold_coap_up() {
    const REQUESTS: u64 = 10_000;
    let server = logged_server("");
    let url = server.http_url(PATH);
    let (host_port, path) = url
        .strip_prefix("http://")
        .unwrap()
        .split_once('/')
        .unwrap();
    let (host, port) = host_port.rsplit_once(':').unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/clients/stalled_watcher.py");
    let mut watcher = Command::new("python3")
        .args([script, host, port, &format!("/{path}")])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    let mut lines = BufReader::new(watcher.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "open");

    let mut peer = server.peer();
    // Each answered within REPLY_TIMEOUT, or `exchange` fails the test.
    for _ in 0..REQUESTS {
        let request = peer.con(Code::GET, "/led");
        assert_eq!(peer.exchange(&request).code, Code::CONTENT);
    }
    writeln!(watcher.stdin.as_mut().unwrap(), "read").unwrap();
    let mut count = |label: &str| -> u64 {
        let line = lines.next().unwrap().unwrap();
        let value = line.strip_prefix(label).unwrap_or_else(|| panic!("{line}"));
        value.trim().parse().unwrap()
    };
    let (dropped, records) = (count("dropped"), count("records"));
    // Every message in and out is either read or reported lost.
    assert_eq!(
        records + dropped,
        2 * REQUESTS,
        "{records} records read, {dropped} reported dropped"
    );
    assert!(dropped > 0, "{records} records read, none dropped");
    eprintln!("stalled watcher: {records} records read, {dropped} reported dropped");
    let status = coapwasm_tests::child::wait_bounded(
        &mut watcher,
        std::time::Instant::now() + Duration::from_secs(30),
        "stalled_watcher.py",
        String::new,
    );
    assert!(status.success());
}
