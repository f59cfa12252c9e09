//! The web console in a real headless browser (Debian's chromium and
//! chromium-driver, driven by selenium from PyPI: `tests/clients/
//! console_check.py`): it lists the resources, a PUT from its form changes
//! `/led`, an observed panel updates after a CoAP PUT, and the plugin list
//! shows the plugins serving.

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use coapwasm_tests::Server;
use coapwasm_tests::artifacts::binary;

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
    let status = child.wait().unwrap();
    assert!(status.success(), "{}", errors_text());
    // Kept for the README when asked: COAPWASM_CONSOLE_SCREENSHOT=path.
    if let Ok(target) = std::env::var("COAPWASM_CONSOLE_SCREENSHOT") {
        std::fs::copy(&screenshot, target).unwrap();
    }
    let _ = std::fs::remove_file(&screenshot);
}
