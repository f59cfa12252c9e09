//! The two seed documents the product began from, run against the real host:
//! the tutorial (seed 000: GET /temperature, PUT /actuators/light, Observe, the
//! LED mini project) and the implementation guide (seed 002: discovery, the
//! `CoAPClient`, the `ObserveClient`, a block-wise upload). Their client code,
//! verbatim but for the address, is in examples/seeds/ and runs through
//! examples/seeds/run.sh with aiocoap; the other tests here pin the
//! behaviour those clients rely on (PUT /temperature, LED colours, the light
//! switch, the link attributes of both documents).

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use coapwasm_tests::aiocoap::{self, AiocoapObserver};
use coapwasm_tests::link_format::{self, Link};
use coapwasm_tests::temp_dir::TempDir;
use coapwasm_tests::{CoapClient, Code, Message, Peer, Server, option, rfc3339};
use serde_json::{Value, json};

/// Every example plugin the seed clients talk to.
const SEED_PLUGINS: [&str; 6] = [
    "temperature",
    "humidity",
    "led",
    "light",
    "info",
    "firmware",
];

fn run_sh() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/seeds/run.sh")
}

/// PUT `body` to `path`, with Content-Format 50 unless `format` says
/// otherwise (`None`: no Content-Format, as the tutorial's client sends).
fn put(peer: &mut Peer, path: &str, body: &str, format: Option<u32>) -> Message {
    let mut request = peer.con(Code::PUT, path);
    if let Some(format) = format {
        request = request.uint_option(option::CONTENT_FORMAT, format);
    }
    peer.exchange(&request.payload(body.as_bytes()))
}

fn number(json: &Value, key: &str) -> f64 {
    json[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} is not a number: {json}"))
}

/// The output of run.sh split by its `==> SCRIPT (...)` headers.
fn sections(output: &str) -> BTreeMap<String, Vec<String>> {
    let mut sections = BTreeMap::new();
    let mut current = String::new();
    for line in output.lines() {
        if let Some(header) = line.strip_prefix("==> ") {
            let script = header.split(' ').next().unwrap_or("").trim_end_matches(':');
            if header.contains(" (coap://") {
                current = script.to_owned();
            }
        }
        sections
            .entry(current.clone())
            .or_insert_with(Vec::new)
            .push(line.to_owned());
    }
    sections
}

/// `PREFIX<number>SUFFIX`, the number.
fn number_between(line: &str, prefix: &str, suffix: &str) -> Option<f64> {
    line.strip_prefix(prefix)?
        .strip_suffix(suffix)?
        .parse()
        .ok()
}

/// Collects failed expectations, so that one run shows all of them.
#[derive(Default)]
struct Checks(Vec<String>);

impl Checks {
    fn check(&mut self, ok: bool, what: impl Into<String>) {
        if !ok {
            self.0.push(what.into());
        }
    }
}

/// Both documents' client code, run by examples/seeds/run.sh against the
/// host, prints what the documents promise. Meanwhile PUTs of
/// /temperature give the observers changes to hear of sooner than the 2 s
/// sampler would.
#[test]
fn seed_clients_print_what_the_documents_promise() {
    aiocoap::assert_installed();
    let server = Server::with_plugins(&SEED_PLUGINS);
    let addr = server.addr();

    let stop = Arc::new(AtomicBool::new(false));
    let changer = {
        let stop = Arc::clone(&stop);
        thread::spawn(move || {
            let mut peer = Peer::new(addr);
            let mut step = 0;
            while !stop.load(Ordering::Relaxed) {
                thread::sleep(Duration::from_millis(300));
                let value = 20.0 + f64::from(step % 10) * 0.5;
                put(
                    &mut peer,
                    "/temperature",
                    &format!(r#"{{"value":{value}}}"#),
                    Some(50),
                );
                step += 1;
            }
        })
    };

    let started = Instant::now();
    let output = Command::new("timeout")
        .args(["300", "bash"])
        .arg(run_sh())
        .arg(addr.to_string())
        .env("SEEDS_TIMEOUT", "30")
        .env("SEEDS_OBSERVE_TIMEOUT", "30")
        .env("SEEDS_NOTIFICATIONS", "2")
        .output()
        .expect("run examples/seeds/run.sh");
    stop.store(true, Ordering::Relaxed);
    let _ = changer.join();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let shown = format!(
        "run.sh took {:?}, {}\n--- stdout\n{stdout}--- stderr\n{stderr}",
        started.elapsed(),
        output.status
    );
    let sections = sections(&stdout);
    let lines = |script: &str| sections.get(script).cloned().unwrap_or_default();
    let mut checks = Checks::default();

    // Seed 000, coap_client.py: "Temperature: 24.7°C", "Light control: 2.04 Changed".
    let tutorial = lines("tutorial/coap_client.py");
    checks.check(
        tutorial.iter().any(|l| {
            number_between(l, "Temperature: ", "°C").is_some_and(|t| (-40.0..=85.0).contains(&t))
        }),
        "tutorial: `Temperature: <number>°C`",
    );
    checks.check(
        tutorial.iter().any(|l| l == "Light control: 2.04 Changed"),
        "tutorial: `Light control: 2.04 Changed`",
    );

    // Seed 000, the Observe fragment: five updates.
    let updates = lines("tutorial/observe.py")
        .iter()
        .filter(|l| number_between(l, "Updated temperature: ", "°C").is_some())
        .count();
    checks.check(
        updates == 5,
        format!("tutorial observe: 5 `Updated temperature: N°C`, got {updates}"),
    );

    // Seed 000, the LED mini project: the three colours and off are 2.04,
    // another colour 4.00 `Invalid color`, and GET shows the colour.
    let led = lines("tutorial/led_client.py");
    for color in ["red", "green", "blue", "off"] {
        checks.check(
            led.iter()
                .any(|l| l.starts_with(&format!("LED {color}: 2.04 Changed"))),
            format!("LED mini project: {color} is 2.04 Changed"),
        );
    }
    checks.check(
        led.iter()
            .any(|l| l == "LED purple: 4.00 Bad Request Invalid color"),
        "LED mini project: purple is `4.00 Bad Request Invalid color`",
    );
    checks.check(
        led.iter()
            .any(|l| l.contains(r#"GET /led: 2.05 Content {"color":"red","state":"on"}"#)),
        "LED mini project: GET shows the red LED on",
    );

    // Seed 002, coap_client.py.
    let guide = lines("guide/coap_client.py");
    checks.check(
        guide.iter().any(|l| {
            l.starts_with("Available resources: [")
                && ["'/temperature'", "'/humidity'", "'/led'", "'/info'"]
                    .iter()
                    .all(|path| l.contains(path))
        }),
        "guide: `Available resources: [...]` with /temperature, /humidity, /led, /info",
    );
    checks.check(
        guide.iter().any(|l| {
            l.starts_with("Temperature: {")
                && l.contains("'value': ")
                && l.contains("'unit': 'celsius'")
        }),
        "guide: `Temperature: {...}` with value and unit",
    );
    let info: Option<Value> = guide
        .iter()
        .position(|l| l.starts_with("Device info: {"))
        .and_then(|start| {
            let mut text = String::from("{");
            for line in &guide[start + 1..] {
                text.push_str(line);
                if line == "}" {
                    break;
                }
            }
            serde_json::from_str(&text).ok()
        });
    match info {
        None => checks.check(false, "guide: `Device info: {...}` as JSON"),
        Some(info) => {
            checks.check(
                info["device_id"].is_string(),
                format!("guide: device_id in {info}"),
            );
            checks.check(
                info["firmware"].is_string(),
                format!("guide: firmware in {info}"),
            );
            checks.check(
                info["uptime_seconds"].is_u64(),
                format!("guide: uptime_seconds in {info}"),
            );
            checks.check(
                info["protocol"] == "CoAP",
                format!("guide: protocol CoAP in {info}"),
            );
            checks.check(
                info["endpoints"].as_array().is_some_and(|e| {
                    ["/temperature", "/humidity", "/led"]
                        .iter()
                        .all(|p| e.contains(&json!(p)))
                }),
                format!("guide: endpoints listing /temperature, /humidity, /led in {info}"),
            );
        }
    }
    checks.check(
        guide
            .iter()
            .any(|l| l.starts_with("LED result: {") && l.contains("'state': 'on'")),
        "guide: `LED result: {... 'state': 'on' ...}`",
    );
    checks.check(
        guide
            .iter()
            .any(|l| l.starts_with("Toggle result: {") && l.contains("'state': 'off'")),
        "guide: `Toggle result: {... 'state': 'off' ...}`",
    );

    // Seed 002, the ObserveClient: at least two notifications.
    let notifications = lines("guide/observe_example.py")
        .iter()
        .filter(|l| {
            l.strip_prefix("Notification: Temperature = ")
                .and_then(|rest| rest.split_once("C at "))
                .is_some_and(|(value, at)| {
                    value.parse::<f64>().is_ok() && rfc3339::parse_utc(at).is_ok()
                })
        })
        .count();
    checks.check(
        notifications >= 2,
        format!("guide observe: 2 `Notification: Temperature = NC at T`, got {notifications}"),
    );

    // Seed 002, upload_large_file to /firmware, block-wise.
    checks.check(
        lines("guide/upload_firmware.py")
            .iter()
            .any(|l| l == "Upload successful: True"),
        "guide: `Upload successful: True`",
    );

    checks.check(
        output.status.success(),
        format!("run.sh exit status: {}", output.status),
    );
    assert!(
        checks.0.is_empty(),
        "{} expectation(s) failed:\n  {}\n{shown}",
        checks.0.len(),
        checks.0.join("\n  ")
    );
}

/// Seed 002's thermostat: PUT `{"value": 25.0}` is 2.04; GET then gives 25.0
/// under both names (give or take a step of the random walk, 0.1 °C per 2 s
/// sample), and an observer is notified of it. Configuration keys are stored
/// and shown; bad bodies are 4.00 (4.15 for another format) and change nothing.
#[test]
fn put_temperature_sets_the_reading_and_notifies_observers() {
    let server = Server::with_plugins(&["temperature"]);
    let mut peer = server.peer();
    let observer =
        AiocoapObserver::start(&server.uri("/temperature"), 100, Duration::from_secs(30));
    observer.await_registered(Duration::from_secs(20));

    let response = put(&mut peer, "/temperature", r#"{"value": 25.0}"#, Some(50));
    assert_eq!(response.code, Code::CHANGED, "{response}");
    let changed = response.payload_json();
    assert_eq!(number(&changed, "value"), 25.0, "{changed}");

    let reading = peer.get("/temperature").payload_json();
    for key in ["value", "temperature"] {
        let value = number(&reading, key);
        assert!((value - 25.0).abs() <= 0.2 + 1e-9, "{key}: {reading}");
    }
    assert_eq!(reading["value"], reading["temperature"], "{reading}");
    assert_eq!(reading["unit"], "celsius", "{reading}");

    // The notification that the 2.04 triggered carries the new reading (a
    // sample's may come before it).
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = Vec::new();
    let notified = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let Some(payload) = observer.next_payload(left) else {
            break false;
        };
        let json: Value = serde_json::from_str(&payload).unwrap_or(Value::Null);
        if json["value"]
            .as_f64()
            .is_some_and(|v| (v - 25.0).abs() <= 0.2 + 1e-9)
        {
            break true;
        }
        seen.push(payload);
    };
    assert!(
        notified,
        "no notification of 25.0 within 10 s; got {seen:?}\n{}",
        observer.stderr()
    );

    // Configuration: stored and shown beside the reading.
    let response = put(&mut peer, "/temperature", r#"{"threshold": 28}"#, None);
    assert_eq!(response.code, Code::CHANGED, "{response}");
    let reading = peer.get("/temperature").payload_json();
    assert_eq!(reading["threshold"], 28, "{reading}");
    let before = number(&reading, "value");

    // Bad bodies: a diagnostic, and nothing changed.
    for (body, format, code, diagnostic) in [
        ("{not json", Some(50), Code::BAD_REQUEST, "invalid JSON"),
        (
            "[25]",
            Some(50),
            Code::BAD_REQUEST,
            "expected a JSON object",
        ),
        (
            r#"{"value":"hot"}"#,
            Some(50),
            Code::BAD_REQUEST,
            "value must be a number",
        ),
        (
            r#"{"value":25,"threshold":1}"#,
            Some(0),
            Code::new(4, 15),
            "application/json",
        ),
    ] {
        let response = put(&mut peer, "/temperature", body, format);
        assert_eq!(response.code, code, "{body}: {response}");
        assert!(
            response.payload_text().contains(diagnostic),
            "{body}: the diagnostic should say {diagnostic:?}: {response}"
        );
    }
    let after = peer.get("/temperature").payload_json();
    assert!(
        (number(&after, "value") - before).abs() <= 0.2 + 1e-9,
        "{reading} then {after}"
    );
    assert_eq!(after["threshold"], 28, "{after}");
}

/// The LED serves both documents: seed 002's states (any case), seed 000's
/// `true`, and the mini project's colours with its `Invalid color`.
#[test]
fn led_takes_states_and_colours() {
    let server = Server::with_plugins(&["led"]);
    let mut peer = server.peer();
    let mut expect = |body: &str, code: Code, then: Value| {
        let response = put(&mut peer, "/led", body, Some(50));
        assert_eq!(response.code, code, "{body}: {response}");
        if code == Code::BAD_REQUEST {
            assert_eq!(
                response.payload_text(),
                "Invalid color",
                "{body}: {response}"
            );
        } else {
            assert_eq!(response.payload_json(), then, "{body}: {response}");
        }
        assert_eq!(peer.get("/led").payload_json(), then, "after {body}");
    };
    expect(r#"{"state":true}"#, Code::CHANGED, json!({"state": "on"}));
    expect(r#"{"state":"OFF"}"#, Code::CHANGED, json!({"state": "off"}));
    expect(r#"{"state":"On"}"#, Code::CHANGED, json!({"state": "on"}));
    expect(r#"{"state":false}"#, Code::CHANGED, json!({"state": "off"}));
    expect(
        r#"{"color":"red"}"#,
        Code::CHANGED,
        json!({"state": "on", "color": "red"}),
    );
    expect(
        r#"{"color":"purple"}"#,
        Code::BAD_REQUEST,
        json!({"state": "on", "color": "red"}),
    );
    expect(
        r#"{"color":"green"}"#,
        Code::CHANGED,
        json!({"state": "on", "color": "green"}),
    );
    expect(
        r#"{"color":"blue"}"#,
        Code::CHANGED,
        json!({"state": "on", "color": "blue"}),
    );
    expect(
        r#"{"color":"off"}"#,
        Code::CHANGED,
        json!({"state": "off", "color": "off"}),
    );
    expect(
        r#"{"state":"on"}"#,
        Code::CHANGED,
        json!({"state": "on", "color": "blue"}),
    );

    let response = peer.call(Code::POST, "/led");
    assert_eq!(response.code, Code::CHANGED, "{response}");
    assert_eq!(
        response.payload_json(),
        json!({"state": "off", "color": "off"})
    );
}

/// Seed 000's light switch: GET, PUT of a boolean (without Content-Format,
/// as the tutorial's client sends it) or of "on"/"off", observable.
#[test]
fn light_switch_at_actuators_light() {
    let server = Server::with_plugins(&["light"]);
    let mut peer = server.peer();
    let response = peer.get("/actuators/light");
    assert_eq!(response.code, Code::CONTENT, "{response}");
    assert_eq!(response.payload_json(), json!({"state": "off"}));

    let response = put(&mut peer, "/actuators/light", r#"{"state": true}"#, None);
    assert_eq!(response.code, Code::CHANGED, "{response}");
    assert_eq!(
        peer.get("/actuators/light").payload_json(),
        json!({"state": "on"})
    );

    let output = CoapClient::get(&server.uri("/actuators/light"))
        .method("put")
        .payload(r#"{"state":"off"}"#)
        .content_format(50)
        .run();
    output.assert_code("2.04");
    assert_eq!(
        peer.get("/actuators/light").payload_json(),
        json!({"state": "off"})
    );

    let response = put(&mut peer, "/actuators/light", r#"{"state": "dim"}"#, None);
    assert_eq!(response.code, Code::BAD_REQUEST, "{response}");
    assert!(response.payload_text().contains("dim"), "{response}");
    assert_eq!(
        peer.get("/actuators/light").payload_json(),
        json!({"state": "off"})
    );

    // Observable: a registration is answered with Observe.
    let request = peer
        .con(Code::GET, "/actuators/light")
        .uint_option(option::OBSERVE, 0);
    let response = peer.exchange(&request);
    assert_eq!(response.code, Code::CONTENT, "{response}");
    assert!(
        response.uint_option_value(option::OBSERVE).is_some(),
        "{response}"
    );
}

/// The words of a link's `rt` (RFC 6690 §3.1: space-separated).
fn resource_types(link: &Link) -> Vec<&str> {
    link.value("rt")
        .unwrap_or_else(|| panic!("no rt in {link:?}"))
        .split(' ')
        .collect()
}

/// /.well-known/core carries both documents' resource types and interfaces:
/// seed 000's temperature-celsius, percent and light-switch, seed 002's
/// sensor, actuator and device, beside this project's own.
#[test]
fn discovery_carries_both_documents_types() {
    let server = Server::with_plugins(&SEED_PLUGINS);
    let output = CoapClient::get(&server.uri("/.well-known/core")).run();
    output.assert_code("2.05");
    let links = link_format::parse(output.payload_text())
        .unwrap_or_else(|e| panic!("not link-format ({e})\n{}", output.shown()));
    for (path, types, interface) in [
        (
            "/temperature",
            &["temperature-celsius", "sensor", "temperature-c"][..],
            Some("sensor"),
        ),
        (
            "/humidity",
            &["percent", "sensor", "humidity-rh"],
            Some("sensor"),
        ),
        ("/led", &["actuator", "light"], Some("actuator")),
        ("/actuators/light", &["light-switch"], Some("actuator")),
        ("/info", &["device", "device-info"], None),
    ] {
        let link = link_format::find(&links, path);
        let rt = resource_types(link);
        for wanted in types {
            assert!(rt.contains(wanted), "{path}: rt {rt:?} lacks {wanted}");
        }
        assert_eq!(link.value("if"), interface, "{path}: {link:?}");
    }
    assert!(link_format::find(&links, "/actuators/light").has_flag("obs"));

    // Seed 002's discovery query for sensors finds both sensors.
    let output = CoapClient::get(&server.uri("/.well-known/core?rt=sensor")).run();
    output.assert_code("2.05");
    let links = link_format::parse(output.payload_text()).unwrap();
    assert_eq!(link_format::targets(&links), ["/humidity", "/temperature"]);
}

/// Seed 002's HTTP gateway (`examples/seeds/guide/coap_gateway.py`, FastAPI
/// under uvicorn), verbatim but for the device's port, in front of coapwasm:
/// GET /devices/{ip}/temperature gives the device's JSON, PUT
/// /devices/{ip}/led changes the LED, a state the LED refuses (4.00) is the
/// gateway's 502. Each step is bounded (curl --max-time, uvicorn's start
/// within 30 s; it is killed on drop).
#[test]
fn seed_002_gateway_in_front_of_coapwasm() {
    let installed = Command::new("python3")
        .args(["-c", "import fastapi, uvicorn, aiocoap"])
        .stdin(Stdio::null())
        .status()
        .expect("python3");
    assert!(
        installed.success(),
        "python3 cannot import fastapi, uvicorn or aiocoap: run `bash examples/setup.sh`"
    );
    let server = Server::with_plugins(&["led", "temperature"]);
    let device = server.addr();
    let gateway = SeedGateway::start(device.port());
    let url = |path: &str| format!("http://127.0.0.1:{}{path}", gateway.port);

    let (status, body) = http(&[], &url("/devices/127.0.0.1/temperature"));
    assert_eq!(status, 200, "{body}\n{}", gateway.stderr());
    let reading: Value = serde_json::from_str(&body).expect("JSON");
    number(&reading, "value");
    assert_eq!(reading["unit"], "celsius", "{body}");

    let put_led = |state: &str| {
        http(
            &[
                "-X",
                "PUT",
                "-H",
                "Content-Type: application/json",
                "--data-binary",
                &format!(r#"{{"state":"{state}"}}"#),
            ],
            &url("/devices/127.0.0.1/led"),
        )
    };
    let (status, body) = put_led("on");
    assert_eq!(status, 200, "{body}\n{}", gateway.stderr());
    assert_eq!(body, r#"{"status":"success"}"#);
    assert_eq!(
        server.peer().get("/led").payload_json()["state"],
        "on",
        "the PUT through the gateway reached the LED"
    );
    let (status, body) = put_led("purple");
    assert_eq!(status, 502, "{body}\n{}", gateway.stderr());
    assert!(body.contains("4.00"), "{body}");
}

/// `curl ARGS URL` (at most 20 s): the status and the body.
fn http(args: &[&str], url: &str) -> (u16, String) {
    let output = Command::new("curl")
        .args(["-s", "--max-time", "20", "-w", "\n%{http_code}"])
        .args(args)
        .arg(url)
        .stdin(Stdio::null())
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (body, status) = text.rsplit_once('\n').unwrap_or(("", &text));
    let status = status
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("curl {args:?} {url}: {output:?}"));
    (status, body.to_owned())
}

/// Seed 002's coap_gateway.py under uvicorn on a free loopback port, its
/// `coap://{device_ip}:5683/` rewritten to the test device's port; killed on
/// drop.
struct SeedGateway {
    child: Child,
    port: u16,
    dir: TempDir,
}

impl SeedGateway {
    fn start(device_port: u16) -> SeedGateway {
        let source = std::fs::read_to_string(
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../examples/seeds/guide/coap_gateway.py"),
        )
        .expect("examples/seeds/guide/coap_gateway.py");
        assert_eq!(
            source.matches(":5683/").count(),
            2,
            "the seed's two device URIs"
        );
        let dir = TempDir::new();
        std::fs::write(
            dir.path().join("coap_gateway.py"),
            source.replace(":5683/", &format!(":{device_port}/")),
        )
        .unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("python3")
            .args(["-m", "uvicorn", "coap_gateway:app"])
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .current_dir(dir.path())
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("stderr")).unwrap())
            .spawn()
            .expect("python3 -m uvicorn");
        let mut gateway = SeedGateway { child, port, dir };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !gateway.stderr().contains("Uvicorn running on") {
            if let Some(status) = gateway.child.try_wait().unwrap() {
                panic!("uvicorn exited: {status}\n{}", gateway.stderr());
            }
            assert!(
                Instant::now() < deadline,
                "uvicorn did not start within 30 s\n{}",
                gateway.stderr()
            );
            thread::sleep(Duration::from_millis(50));
        }
        gateway
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr")).unwrap_or_default()
    }
}

impl Drop for SeedGateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
