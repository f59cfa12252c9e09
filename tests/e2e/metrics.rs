//! `/metrics` on the HTTP front: CoAP requests (coapwasm's own client) and
//! HTTP ones (curl), a trapping plugin, then the scrape read by
//! prometheus_client's text parser (Python), whose counts must be exactly
//! what the test did.

use std::io::Write as _;
use std::process::{Command, Stdio};

use coapwasm_tests::Server;
use coapwasm_tests::artifacts::binary;

/// One sample of the scrape.
struct Sample {
    name: String,
    labels: serde_json::Map<String, serde_json::Value>,
    value: f64,
}

/// The scrape's samples, as prometheus_client's parser reads them.
fn scrape(server: &Server) -> Vec<Sample> {
    let output = Command::new("curl")
        .args(["-s", "--max-time", "30", "-w", "\n%{content_type}"])
        .arg(server.http_url("/metrics"))
        .output()
        .expect("curl (Debian: curl)");
    let text = String::from_utf8(output.stdout).unwrap();
    let (body, content_type) = text.rsplit_once('\n').unwrap();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/clients/parse_metrics.py");
    let mut parser = Command::new("python3")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3");
    parser
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let parsed = parser.wait_with_output().unwrap();
    assert!(
        parsed.status.success(),
        "prometheus_client's parser (examples/setup.sh installs it) refused the scrape: {}\n{body}",
        String::from_utf8_lossy(&parsed.stderr)
    );
    let samples: Vec<serde_json::Value> = serde_json::from_slice(&parsed.stdout).unwrap();
    samples
        .into_iter()
        .map(|sample| Sample {
            name: sample[0].as_str().unwrap().to_owned(),
            labels: sample[1].as_object().unwrap().clone(),
            value: sample[2].as_f64().unwrap(),
        })
        .collect()
}

/// The value of the sample `name` with exactly `labels`; 0 if absent (a
/// label set never counted is not shown).
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    let matching: Vec<&Sample> = samples
        .iter()
        .filter(|s| {
            s.name == name
                && s.labels.len() == labels.len()
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).and_then(|x| x.as_str()) == Some(*v))
        })
        .collect();
    assert!(matching.len() <= 1, "{name} {labels:?} more than once");
    matching.first().map_or(0.0, |s| s.value)
}

fn coap_get(server: &Server, path: &str) {
    let output = Command::new(binary())
        .args(["get", &server.uri(path)])
        .output()
        .unwrap();
    assert!(!output.stdout.is_empty() || !output.stderr.is_empty());
}

fn curl_status(url: &str) -> String {
    let output = Command::new("curl")
        .args([
            "-s",
            "--max-time",
            "30",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
        ])
        .arg(url)
        .output()
        .expect("curl");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn counts_match_what_was_done() {
    let mut server = Server::builder()
        .plugins(&["led", "testkit"])
        .arg("--http")
        .arg("127.0.0.1:0")
        .start();
    server.wait_plugins_loaded();

    for _ in 0..3 {
        coap_get(&server, "/led");
    }
    coap_get(&server, "/test/trap");
    for _ in 0..2 {
        assert_eq!(curl_status(&server.http_url("/led")), "200");
    }
    assert_eq!(curl_status(&server.http_url("/test/trap")), "500");
    assert_eq!(curl_status(&server.http_url("/nothing")), "404");
    // A method the resource does not have: the host answers alone, and both
    // transports count it without the plugin.
    let refused = Command::new(binary())
        .args(["post", &server.uri("/test/trap")])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(4), "{refused:?}");
    let refused = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST"])
        .arg(server.http_url("/test/trap"))
        .output()
        .expect("curl");
    assert_eq!(String::from_utf8_lossy(&refused.stdout), "405");

    let samples = scrape(&server);
    let requests = |transport, plugin, code| {
        value(
            &samples,
            "coapwasm_requests_total",
            &[
                ("transport", transport),
                ("plugin", plugin),
                ("method", "GET"),
                ("code", code),
            ],
        )
    };
    assert_eq!(requests("coap", "led", "2.05"), 3.0);
    assert_eq!(requests("coap", "testkit", "5.00"), 1.0);
    assert_eq!(requests("http", "led", "200"), 2.0);
    assert_eq!(requests("http", "testkit", "500"), 1.0);
    assert_eq!(requests("http", "", "404"), 1.0);
    let refused = |transport, code| {
        value(
            &samples,
            "coapwasm_requests_total",
            &[
                ("transport", transport),
                ("plugin", ""),
                ("method", "POST"),
                ("code", code),
            ],
        )
    };
    assert_eq!(refused("coap", "4.05"), 1.0);
    assert_eq!(refused("http", "405"), 1.0);
    let total: f64 = samples
        .iter()
        .filter(|s| s.name == "coapwasm_requests_total")
        .map(|s| s.value)
        .sum();
    assert_eq!(total, 10.0, "nothing else counted");

    let latency = |transport| {
        value(
            &samples,
            "coapwasm_request_duration_seconds_count",
            &[("transport", transport)],
        )
    };
    assert_eq!(latency("coap"), 5.0);
    assert_eq!(latency("http"), 5.0);
    let calls = |plugin, outcome| {
        value(
            &samples,
            "coapwasm_plugin_calls_total",
            &[("plugin", plugin), ("outcome", outcome)],
        )
    };
    assert_eq!(calls("led", "ok"), 5.0);
    assert_eq!(calls("testkit", "trap"), 2.0);
    assert!(
        value(
            &samples,
            "coapwasm_plugin_call_seconds_total",
            &[("plugin", "led")]
        ) > 0.0
    );
    assert_eq!(
        value(&samples, "coapwasm_observers", &[("transport", "coap")]),
        0.0
    );
    assert_eq!(value(&samples, "coapwasm_dtls_sessions", &[]), 0.0);
    assert_eq!(value(&samples, "coapwasm_blockwise_held_bytes", &[]), 0.0);
    assert_eq!(value(&samples, "coapwasm_proxy_cache_hits_total", &[]), 0.0);

    // The first scrape is counted by the second, as the host's own path.
    let again = scrape(&server);
    assert_eq!(
        value(
            &again,
            "coapwasm_requests_total",
            &[
                ("transport", "http"),
                ("plugin", ""),
                ("method", "GET"),
                ("code", "200"),
            ],
        ),
        1.0
    );
}

/// The observers gauge follows a CoAP observation's registration.
#[test]
fn observers_are_a_gauge() {
    let mut server = Server::builder()
        .plugins(&["led"])
        .arg("--http")
        .arg("127.0.0.1:0")
        .start();
    server.wait_plugins_loaded();
    let observers = |server: &Server| {
        value(
            &scrape(server),
            "coapwasm_observers",
            &[("transport", "coap")],
        )
    };
    assert_eq!(observers(&server), 0.0);
    let mut observer = Command::new(binary())
        .args(["observe", "--count", "2", "--duration", "10", "--jsonl"])
        .arg(server.uri("/led"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(observer.stdout.take().unwrap());
    let mut first = String::new();
    std::io::BufRead::read_line(&mut stdout, &mut first).unwrap();
    assert!(first.contains("off"), "{first}");
    // The socket's loop adds its count once the turn that registered ends.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let mut seen = observers(&server);
    while seen != 1.0 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
        seen = observers(&server);
    }
    let _ = observer.kill();
    let _ = observer.wait();
    assert_eq!(seen, 1.0);
}

/// Proxy cache hits: a proxy host's counter rises by exactly the number of
/// GETs answered from its cache, and not for the misses that filled it.
#[test]
fn proxy_cache_hits_are_counted() {
    let device = Server::with_plugins(&["led", "temperature"]);
    let mut proxy = Server::builder()
        .arg("--http")
        .arg("127.0.0.1:0")
        .config("[http.proxy]\nallow = [\"127.0.0.1\"]\ntimeout_ms = 5000\n")
        .start();
    proxy.wait_plugins_loaded();
    let hits = |proxy: &Server| value(&scrape(proxy), "coapwasm_proxy_cache_hits_total", &[]);
    let led = proxy.http_url(&format!("/hc/coap://{}/led", device.addr()));
    let temperature = proxy.http_url(&format!("/hc/coap://{}/temperature", device.addr()));
    // Misses: the first GET of each (fresh for 60 s and 5 s: their Max-Age).
    assert_eq!(curl_status(&led), "200");
    assert_eq!(curl_status(&temperature), "200");
    assert_eq!(hits(&proxy), 0.0);
    // Hits: three more of /led, one more of /temperature.
    for _ in 0..3 {
        assert_eq!(curl_status(&led), "200");
    }
    assert_eq!(curl_status(&temperature), "200");
    assert_eq!(hits(&proxy), 4.0);
    // A miss after a PUT forgot /led's entry: still 4.
    let put = Command::new("curl")
        .args(["-s", "--max-time", "30", "-o", "/dev/null", "-X", "PUT"])
        .args(["-H", "Content-Type: application/json"])
        .args(["--data-binary", r#"{"state":"on"}"#])
        .arg(&led)
        .output()
        .expect("curl");
    assert!(put.status.success());
    assert_eq!(curl_status(&led), "200");
    assert_eq!(hits(&proxy), 4.0);
}

/// Plugin CPU is the time its code ran, not the time its calls took: a
/// call that sleeps on a WASI clock adds to the wall time but not to the
/// CPU; one that spins until its CPU budget stops it adds that budget.
#[test]
fn plugin_cpu_is_running_time_not_waiting() {
    let mut server = Server::builder()
        .plugins(&["testkit"])
        .config("[runtime]\nmax_cpu_ms_per_call = 400\n")
        .arg("--http")
        .arg("127.0.0.1:0")
        .start();
    server.wait_plugins_loaded();
    let testkit = [("plugin", "testkit")];

    coap_get(&server, "/test/slow?ms=300");
    coap_get(&server, "/test/slow?ms=300");
    let samples = scrape(&server);
    let wall = value(&samples, "coapwasm_plugin_call_seconds_total", &testkit);
    let cpu = value(&samples, "coapwasm_plugin_cpu_seconds_total", &testkit);
    assert!(wall >= 0.6, "two 300 ms sleeps took {wall} s of wall time");
    assert!(cpu > 0.0, "the calls ran some code: {cpu}");
    assert!(cpu < 0.1, "sleeping is not running: {cpu} s of CPU");

    coap_get(&server, "/test/spin");
    let samples = scrape(&server);
    let spun = value(&samples, "coapwasm_plugin_cpu_seconds_total", &testkit) - cpu;
    assert!(
        (0.35..2.0).contains(&spun),
        "a spin stopped at its 400 ms budget ran {spun} s"
    );
    assert_eq!(
        value(
            &samples,
            "coapwasm_plugin_calls_total",
            &[("plugin", "testkit"), ("outcome", "cpu_limit")]
        ),
        1.0
    );
}
