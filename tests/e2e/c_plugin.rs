//! The humidity example plugin, written in C (plugins/humidity, built with
//! clang, wasi-libc, wit-bindgen's C generator and the WASI preview1 reactor
//! adapter): served, discovered, observed and hot-reloaded like a Rust one.

use std::time::{Duration, Instant};

use coapwasm_tests::{CoapClient, Code, Server, link_format, rebuild};

const FILE: &str = "humidity.wasm";

/// How long a reload of the C component may take; far beyond what it needs
/// (it compiles in tens of milliseconds).
const RELOAD_WAIT: Duration = Duration::from_secs(20);

/// The reading in a JSON body: `{"timestamp":T,"unit":"percent","value":N}`
/// within the simulation's bounds.
fn assert_json_reading(json: &serde_json::Value) -> f64 {
    assert_eq!(json["unit"], "percent", "{json}");
    assert!(
        json["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')),
        "{json}"
    );
    let value = json["value"]
        .as_f64()
        .unwrap_or_else(|| panic!("no numeric value in {json}"));
    assert!((30.0..=70.0).contains(&value), "out of range: {json}");
    value
}

/// RFC 7252 §5.8.1 and §5.10.4: GET answers JSON by default and text/plain
/// for Accept 0, the reading at 0.1 %RH resolution; through coap-client.
#[test]
fn get_returns_a_reading_in_either_format() {
    let server = Server::with_plugins(&["humidity"]);
    let uri = server.uri("/humidity");

    let output = CoapClient::get(&uri).run();
    output.assert_code("2.05");
    assert_json_reading(&output.payload_json());
    assert_eq!(
        output.response().option("Content-Format"),
        Some("application/json"),
        "{}",
        output.shown()
    );

    let output = CoapClient::get(&uri).accept(0).run();
    output.assert_code("2.05");
    let text = output.payload_text();
    let number = text
        .strip_suffix(" %RH")
        .unwrap_or_else(|| panic!("not `N.N %RH`: {text:?}"));
    let value: f64 = number
        .parse()
        .unwrap_or_else(|_| panic!("not a number: {text:?}"));
    assert!((30.0..=70.0).contains(&value), "out of range: {text:?}");

    // 4.06 from the host, not the plugin: JSON and text are all it declared.
    CoapClient::get(&uri).accept(60).run().assert_code("4.06");
}

/// RFC 6690 §4: /.well-known/core lists /humidity with the link attributes
/// its describe() gave, `ct` for both formats and `obs`.
#[test]
fn discovery_lists_the_resource() {
    let server = Server::with_plugins(&["humidity", "led"]);
    let output = CoapClient::get(&server.uri("/.well-known/core")).run();
    output.assert_code("2.05");
    let links = link_format::parse(output.payload_text())
        .unwrap_or_else(|e| panic!("not link-format ({e})\n{}", output.shown()));
    assert_eq!(link_format::targets(&links), ["/humidity", "/led"]);
    let humidity = link_format::find(&links, "/humidity");
    assert_eq!(humidity.value("ct"), Some("50 0"));
    let rt: Vec<&str> = humidity
        .value("rt")
        .unwrap_or_default()
        .split(' ')
        .collect();
    assert!(rt.contains(&"humidity-rh"), "{humidity:?}");
    assert_eq!(humidity.value("if"), Some("sensor"));
    assert_eq!(humidity.value("title"), Some("Relative humidity"));
    assert!(humidity.has_flag("obs"), "{humidity:?}");
}

/// RFC 7641 §4.2: the host samples the sensor every 2 s; each sample moves
/// the random walk kept in the key-value store, and an observer is notified
/// of a new reading. A sample stays put with probability 1/11, so two
/// different readings within 14 s fail to come only if six samples in a row
/// stay put (about 2e-6).
#[test]
fn observers_see_the_sampled_reading_move() {
    let server = Server::with_plugins(&["humidity"]);
    let client = CoapClient::get(&server.uri("/humidity"))
        .accept(0)
        .observe(16)
        .spawn();
    let deadline = Instant::now() + Duration::from_secs(14);
    let readings = loop {
        let readings: Vec<String> = client
            .received_so_far()
            .iter()
            .filter(|m| m.code == "2.05" && m.option("Observe").is_some())
            .filter_map(|m| m.payload().map(str::to_string))
            .collect();
        let mut distinct = readings.clone();
        distinct.dedup();
        if distinct.len() >= 2 || Instant::now() >= deadline {
            break distinct;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        readings.len() >= 2,
        "no change notified within 14 s: {readings:?}\n{}",
        client.trace_so_far()
    );
    assert!(
        readings.iter().all(|r| r.ends_with(" %RH")),
        "notifications keep the observer's Accept: {readings:?}"
    );
}

/// Hot reload: another build of the component dropped over the file is
/// compiled and swapped in while requests keep being answered.
#[test]
fn another_build_replaces_it_while_it_serves() {
    let server = Server::with_plugins(&["humidity"]);
    let mut peer = server.peer();
    let response = peer.get("/humidity");
    assert_eq!(response.code, Code::CONTENT, "{response}");

    rebuild::upgrade_while_serving(
        &server,
        &mut peer,
        "humidity",
        FILE,
        "/humidity",
        RELOAD_WAIT,
        |_| {},
    );

    let response = peer.get("/humidity");
    assert_eq!(response.code, Code::CONTENT, "{response}");
    assert_json_reading(&response.payload_json());
    CoapClient::get(&server.uri("/humidity"))
        .run()
        .assert_code("2.05");
}

/// `cargo test --release -p coapwasm-tests --test c_plugin -- --ignored --nocapture`.
/// Prints the load lines (compile or cache, instantiate, describe), the time
/// to answer a burst of concurrent GETs (the first makes instances), and the
/// median round trip of sequential GETs over loopback, for /humidity and for the
/// Rust led plugin in the same server.
#[test]
#[ignore = "a measurement; run on demand"]
fn per_request_cost() {
    let server = Server::with_plugins(&["humidity", "led"]);
    for line in server.log_lines(|l| l.contains("loaded plugin")) {
        println!("{line}");
    }
    let mut peer = server.peer();
    for path in ["/humidity", "/led"] {
        // The first burst makes instances: only one exists after loading.
        for burst in ["first", "second"] {
            let time = coapwasm_tests::round_trip::burst(&mut peer, path, 8);
            println!("{path}: {burst} burst of 8 concurrent GETs answered in {time:?}");
        }
        let median = coapwasm_tests::round_trip::median(&mut peer, path, 2000);
        println!("{path}: median round trip of 2000 sequential GETs {median:?}");
    }
}
