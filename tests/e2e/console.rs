//! The web console in a real headless browser (Debian's chromium and
//! chromium-driver, driven by selenium from PyPI: `tests/clients/
//! console_check.py`): it lists the resources, a PUT from its form changes
//! `/led`, an observed panel updates after a CoAP PUT, the plugin list
//! shows the plugins serving, and the exchange log shows a coap-client GET
//! both ways and holds new rows back while paused.

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use coapwasm_tests::artifacts::binary;
use coapwasm_tests::{CoapClient, Server};

fn coap(args: &[&str]) -> String {
    let output = Command::new(binary()).args(args).output().unwrap();
    assert!(output.status.success(), "coapwasm {args:?}: {output:?}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn the_console_lists_puts_and_observes() {
    let server = Server::builder()
        .plugins(&["led", "temperature", "info"])
        .arg("--http")
        .arg("127.0.0.1:0")
        .arg("--exchange-log")
        .start();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/clients/console_check.py");
    let screenshot =
        std::env::temp_dir().join(format!("coapwasm-console-{}.png", std::process::id()));
    let mut child = Command::new("python3")
        .arg(script)
        .arg(server.http_url("/"))
        .arg(&screenshot)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3");
    let mut stdin = child.stdin.take().unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let (send, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            let _ = send.send(line);
        }
    });
    let mut stderr = child.stderr.take().unwrap();
    let errors = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let collected = errors.clone();
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut text);
        *collected.lock().unwrap() = text;
    });
    let errors_text = || errors.lock().unwrap().clone();
    let next = |step: &str| -> String {
        match lines.recv_timeout(Duration::from_secs(90)) {
            Ok(line) => {
                eprintln!("browser: {line}");
                assert!(line.starts_with(step), "expected {step}, got {line}");
                line[step.len()..].trim().to_owned()
            }
            Err(_) => {
                // The script's stderr (its traceback) once it has ended.
                std::thread::sleep(Duration::from_millis(500));
                panic!("no `{step}` from the browser: {}", errors_text());
            }
        }
    };

    let resources: Vec<String> = serde_json::from_str(&next("resources")).unwrap();
    for path in ["/led", "/temperature", "/info"] {
        assert!(
            resources.iter().any(|p| p == path),
            "{path} in {resources:?}"
        );
    }
    let plugins: Vec<String> = serde_json::from_str(&next("plugins")).unwrap();
    assert_eq!(plugins, ["info", "led", "temperature"]);
    assert_eq!(next("put"), "200 OK");
    assert_eq!(
        coap(&["get", &server.uri("/led")]),
        r#"{"state":"on"}"#,
        "the form's PUT reached the plugin"
    );

    let observing = next("observing");
    assert!(observing.contains("on"), "{observing}");
    coap(&[
        "put",
        "-t",
        "json",
        "-e",
        r#"{"state":"off"}"#,
        &server.uri("/led"),
    ]);
    writeln!(stdin, "go").unwrap();
    let notified = next("notified");
    assert!(
        notified.contains("off"),
        "the panel shows the CoAP change: {notified}"
    );

    // The log: libcoap's coap-client GET shows both ways, by its message id.
    let get_led = || {
        let output = CoapClient::get(&server.uri("/led")).run();
        output.assert_code("2.05");
        output.sent[0].mid
    };
    next("log-ready");
    let mid = get_led();
    writeln!(stdin, "{mid}").unwrap();
    let logged: Vec<String> = serde_json::from_str(&next("logged")).unwrap();
    assert_eq!(logged.len(), 2, "{logged:?}");
    for (row, words) in logged.iter().zip([
        ["in", "CON", "GET", "Uri-Path: led"],
        ["out", "ACK", "2.05 Content", "state"],
    ]) {
        for word in words {
            assert!(row.contains(word), "{word} in {row}");
        }
    }
    // Paused: the records are counted but no row is added until Resume.
    next("paused");
    let mid = get_led();
    writeln!(stdin, "{mid}").unwrap();
    let held = next("held");
    let (waiting, rows) = held.split_once(' ').unwrap();
    assert!(waiting.parse::<u32>().unwrap() >= 2, "{held}");
    assert_eq!(rows, "0", "no row while paused: {held}");
    assert_eq!(next("resumed"), "2");

    let status = child.wait().unwrap();
    assert!(status.success(), "{}", errors_text());
    // Kept for the README when asked: COAPWASM_CONSOLE_SCREENSHOT=path.
    if let Ok(target) = std::env::var("COAPWASM_CONSOLE_SCREENSHOT") {
        std::fs::copy(&screenshot, target).unwrap();
    }
    let _ = std::fs::remove_file(&screenshot);
}
