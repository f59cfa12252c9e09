//! The HTTP front (`--http`, RFC 8075 null mapping) with curl, a real HTTP
//! client: methods and status codes, media types, conditional requests,
//! discovery, whole large bodies, the access policy, CoAP observers hearing
//! HTTP changes, and the front's bounds.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use coapwasm_tests::Server;
use coapwasm_tests::artifacts::binary;
use coapwasm_tests::curl::{Reply, curl};
use coapwasm_tests::event_stream::EventStream;

const TEXT: &str = "Content-Type: text/plain";

fn http_server(plugins: &[&str]) -> Server {
    Server::builder()
        .plugins(plugins)
        .arg("--http")
        .arg("127.0.0.1:0")
        .start()
}

/// Each method reaches the plugin; CoAP codes come back as RFC 8075 §7's
/// statuses; a method the resource lacks is 405 with Allow.
#[test]
fn methods_and_status_codes() {
    let server = http_server(&["led", "testkit"]);
    let led = server.http_url("/led");
    let get = curl(&[], &led);
    assert_eq!(get.status, 200);
    assert_eq!(get.header("content-type"), Some("application/json"));
    assert_eq!(get.text(), r#"{"state":"off"}"#);

    let put = curl(
        &[
            "-X",
            "PUT",
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            r#"{"state":"on"}"#,
        ],
        &led,
    );
    assert_eq!(
        (put.status, put.text().as_str()),
        (200, r#"{"state":"on"}"#)
    );
    // The same plugin over CoAP sees the change.
    let coap = Command::new(binary())
        .args(["get", &server.uri("/led")])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&coap.stdout), r#"{"state":"on"}"#);

    // curl's default Content-Type for a body (a form) has no Content-Format.
    let form = curl(&["-X", "PUT", "--data-binary", r#"{"state":"on"}"#], &led);
    assert_eq!(form.status, 415, "{}", form.text());
    let toggled = curl(&["-X", "POST"], &led);
    assert_eq!(toggled.text(), r#"{"state":"off"}"#);

    let delete = curl(&["-X", "DELETE"], &led);
    assert_eq!(delete.status, 405);
    assert_eq!(delete.header("allow"), Some("GET, POST, PUT, HEAD"));
    assert!(
        delete.text().contains("does not accept DELETE"),
        "{}",
        delete.text()
    );

    assert_eq!(curl(&[], &server.http_url("/nothing")).status, 404);
    // HEAD: curl -I writes the head where the body would go.
    let head = curl(&["-I"], &led);
    assert_eq!(head.status, 200);
    assert!(!head.text().contains("state"), "no body: {}", head.text());
    assert_eq!(curl(&["-X", "OPTIONS"], &led).status, 501);
    assert_eq!(curl(&[], &server.http_url("/test/trap")).status, 500);
    let created = curl(&["-X", "POST"], &server.http_url("/test/created"));
    assert_eq!(created.status, 201, "{}", created.text());
}

/// Content-Type and Accept become Content-Format and Accept; what has no
/// Content-Format is refused before the plugin runs.
#[test]
fn media_types() {
    let server = http_server(&["temperature"]);
    let url = server.http_url("/temperature");
    let text = curl(&["-H", "Accept: text/plain"], &url);
    assert_eq!(text.status, 200);
    assert_eq!(
        text.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert!(text.text().ends_with(" C"), "{}", text.text());
    assert_eq!(curl(&["-H", "Accept: text/html"], &url).status, 406);
    let unknown = curl(
        &[
            "-X",
            "PUT",
            "-H",
            "Content-Type: application/x-nope",
            "--data-binary",
            "x",
        ],
        &url,
    );
    assert_eq!(unknown.status, 415);
    // Known to CoAP, refused by the plugin (its 4.15).
    let refused = curl(
        &[
            "-X",
            "PUT",
            "-H",
            "Content-Type: text/plain",
            "--data-binary",
            "25",
        ],
        &url,
    );
    assert_eq!(refused.status, 415, "{}", refused.text());
}

/// ETag out, If-None-Match in, 304 back; Max-Age as Cache-Control.
#[test]
fn conditional_requests_and_caching() {
    let server = http_server(&["testkit"]);
    let url = server.http_url("/test/etag");
    let first = curl(&[], &url);
    assert_eq!(first.status, 200);
    assert_eq!(first.header("etag"), Some("\"e17a6001\""));
    assert_eq!(first.header("cache-control"), Some("max-age=30"));
    let again = curl(&["-H", "If-None-Match: \"e17a6001\""], &url);
    assert_eq!((again.status, again.body.len()), (304, 0));
    let other = curl(&["-H", "If-None-Match: \"00\""], &url);
    assert_eq!(other.status, 200);
}

/// Discovery and a response larger than a block come whole.
#[test]
fn discovery_and_large_bodies_whole() {
    // 64-byte blocks, so that the discovery document takes several.
    let server = Server::builder()
        .plugins(&["led", "testkit", "temperature", "info"])
        .config("[blockwise]\nmax_block_size = 64\n")
        .arg("--http")
        .arg("127.0.0.1:0")
        .start();
    let core = curl(&[], &server.http_url("/.well-known/core"));
    assert_eq!(core.status, 200);
    assert_eq!(core.header("content-type"), Some("application/link-format"));
    assert!(
        core.text().len() > 64 * 4,
        "several blocks: {}",
        core.text().len()
    );
    for path in ["</led>", "</temperature>", "</test/big>"] {
        assert!(core.text().contains(path), "{path} in {}", core.text());
    }
    let big = curl(&[], &server.http_url("/test/big"));
    assert_eq!(big.body, b"0123456789".repeat(300));
    assert!(big.header("etag").is_some());
}

/// The access policy holds over HTTP as over plain coap: an HTTP client is
/// anonymous.
#[test]
fn access_policy_applies() {
    let server = Server::builder()
        .plugins(&["led"])
        .config("[access]\nplain_coap = \"read-only\"\n")
        .arg("--http")
        .arg("127.0.0.1:0")
        .start();
    let url = server.http_url("/led");
    assert_eq!(curl(&[], &url).status, 200);
    let put = curl(
        &[
            "-X",
            "PUT",
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            r#"{"state":"on"}"#,
        ],
        &url,
    );
    assert_eq!(put.status, 403, "{}", put.text());
    assert_eq!(curl(&[], &url).text(), r#"{"state":"off"}"#);
}

/// A change made over HTTP notifies the resource's CoAP observers.
#[test]
fn coap_observers_hear_http_changes() {
    let server = http_server(&["led"]);
    let mut observer = Command::new(binary())
        .args([
            "observe",
            "--count",
            "2",
            "--duration",
            "10",
            "--jsonl",
            "-B",
            "20",
            &server.uri("/led"),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(observer.stdout.take().unwrap());
    let mut first = String::new();
    std::io::BufRead::read_line(&mut stdout, &mut first).unwrap();
    assert!(first.contains("off"), "{first}");
    let put = curl(
        &[
            "-X",
            "PUT",
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            r#"{"state":"on"}"#,
        ],
        &server.http_url("/led"),
    );
    assert_eq!(put.status, 200);
    let mut second = String::new();
    std::io::BufRead::read_line(&mut stdout, &mut second).unwrap();
    assert!(second.contains("\"on\""), "notified: {second}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while observer.try_wait().unwrap().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = observer.kill();
}

/// A body over `[blockwise] max_body_size` is 413 without reaching the
/// plugin; past `[http] max_in_flight` requests at once, 503 with Retry-After.
#[test]
fn bounds() {
    let server = Server::builder()
        .plugins(&["testkit"])
        .config("[blockwise]\nmax_body_size = 1024\n[http]\nmax_in_flight = 1\n")
        .arg("--http")
        .arg("127.0.0.1:0")
        .start();
    let echo = server.http_url("/test/echo");
    let big = "x".repeat(2000);
    assert_eq!(
        curl(&["-X", "PUT", "-H", TEXT, "--data-binary", &big], &echo).status,
        413
    );
    let small = curl(&["-X", "PUT", "-H", TEXT, "--data-binary", "hello"], &echo);
    assert_eq!(small.status, 200, "{}", small.text());

    let slow = server.http_url("/test/slow?ms=1500");
    let held = std::thread::spawn(move || curl(&[], &slow));
    std::thread::sleep(Duration::from_millis(300));
    let refused = curl(&[], &echo);
    assert_eq!(refused.status, 503);
    assert_eq!(refused.header("retry-after"), Some("1"));
    assert_eq!(held.join().unwrap().status, 200);
    assert_eq!(
        curl(&[], &echo).status,
        200,
        "served again once the slot is free"
    );
}

/// (id, event, data) of the next event, as these tests compare them.
trait NextEvent {
    fn next_event(&self, within: Duration) -> Option<(u64, String, String)>;
}

impl NextEvent for EventStream {
    fn next_event(&self, within: Duration) -> Option<(u64, String, String)> {
        self.next(within)
            .map(|event| (event.id.unwrap_or(0), event.event, event.data))
    }
}

fn coap_put_led(server: &Server, state: &str) {
    let output = Command::new(binary())
        .args([
            "put",
            "-t",
            "json",
            "-e",
            &format!(r#"{{"state":"{state}"}}"#),
            &server.uri("/led"),
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
}

/// Observe over HTTP: the current state, then each change made over CoAP,
/// with increasing ids; the format asked for beside text/event-stream.
#[test]
fn observe_as_server_sent_events() {
    let server = http_server(&["led", "temperature", "info"]);
    let stream = EventStream::open(&server.http_url("/led"), "text/event-stream");
    let (first_id, event, data) = stream
        .next_event(Duration::from_secs(10))
        .expect("the current state");
    assert_eq!(
        (event.as_str(), data.as_str()),
        ("notification", r#"{"state":"off"}"#)
    );
    coap_put_led(&server, "on");
    let (second_id, _, data) = stream
        .next_event(Duration::from_secs(10))
        .expect("the change");
    assert_eq!(data, r#"{"state":"on"}"#);
    assert!(second_id > first_id, "{first_id} then {second_id}");

    let text = EventStream::open(
        &server.http_url("/temperature"),
        "text/event-stream, text/plain",
    );
    let (_, _, data) = text.next_event(Duration::from_secs(10)).expect("a reading");
    assert!(data.ends_with(" C"), "text/plain asked for: {data}");

    let info = curl(
        &["-H", "Accept: text/event-stream"],
        &server.http_url("/info"),
    );
    assert_eq!(info.status, 406, "not observable");
    let none = curl(
        &["-H", "Accept: text/event-stream"],
        &server.http_url("/nothing"),
    );
    assert_eq!(none.status, 404);
}

/// Streams count against the observer limits, and closing one gives its
/// place back (the observation ends with the stream).
#[test]
fn event_streams_are_bounded_and_closing_one_ends_it() {
    let server = Server::builder()
        .plugins(&["led"])
        .config("[observe]\nmax_per_endpoint = 1\n")
        .arg("--http")
        .arg("127.0.0.1:0")
        .start();
    let url = server.http_url("/led");
    let first = EventStream::open(&url, "text/event-stream");
    first
        .next_event(Duration::from_secs(10))
        .expect("the first stream runs");
    let refused = curl(&["-H", "Accept: text/event-stream"], &url);
    assert_eq!(refused.status, 503, "a second stream from the same address");
    drop(first);
    let deadline = Instant::now() + Duration::from_secs(10);
    let second = loop {
        let stream = EventStream::open(&url, "text/event-stream");
        if stream.next_event(Duration::from_secs(2)).is_some() {
            break stream;
        }
        assert!(
            Instant::now() < deadline,
            "the closed stream's place was never given back"
        );
    };
    drop(second);
}

/// `/.well-known/coapwasm/plugins` lists the plugins serving, with their
/// resources; a plugin dropped into the folder appears on a later read (the
/// console shows the difference as a reload event).
#[test]
fn the_plugin_list_follows_hot_reload() {
    let server = http_server(&["led"]);
    let url = server.http_url("/.well-known/coapwasm/plugins");
    let list = |reply: &Reply| -> Vec<String> {
        let json: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
        json["plugins"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let first = curl(&[], &url);
    assert_eq!(first.header("content-type"), Some("application/json"));
    assert_eq!(list(&first), ["led"]);
    let json: serde_json::Value = serde_json::from_slice(&first.body).unwrap();
    assert_eq!(json["plugins"][0]["resources"][0]["path"], "/led");
    assert_eq!(
        json["plugins"][0]["resources"][0]["methods"],
        serde_json::json!(["GET", "POST", "PUT"])
    );
    std::fs::copy(
        coapwasm_tests::artifacts::plugin("humidity.wasm"),
        server.plugins_dir().join("humidity.wasm"),
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while list(&curl(&[], &url)) != ["humidity", "led"] {
        assert!(Instant::now() < deadline, "humidity never listed");
        std::thread::sleep(Duration::from_millis(100));
    }
}
