//! `coapwasm get|put|post|delete|fetch|observe|discover`, the client, against
//! the real host (and, for retransmission and separate responses, against
//! a scripted UDP server in the test): what it prints where, its exit
//! statuses, block-wise both ways, observe with deregistration, coaps.
//! tests/e2e/client_interop.rs runs it against libcoap's and aiocoap's servers.

use std::io::Write as _;
use std::net::UdpSocket;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use coapwasm_tests::artifacts::binary;
use coapwasm_tests::blocks::random_bytes;
use coapwasm_tests::child::wait_bounded;
use coapwasm_tests::temp_dir::TempDir;
use coapwasm_tests::{Code, Message, Server, Type};

/// Longer than any command here takes; a hung client fails the test.
const COMMAND_WAIT: Duration = Duration::from_secs(60);

const COAPS: &str = "[coaps]\nbind = [\"127.0.0.1:0\"]\n[[coaps.psk]]\nidentity = \"device-001\"\nkey = \"super-secret-key-12345\"\n";

/// Runs `coapwasm ARGS` to its end (bounded), stdin closed.
fn coapwasm(args: &[&str]) -> Output {
    let mut child = Command::new(binary())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run coapwasm");
    let described = format!("coapwasm {}", args.join(" "));
    // Read both pipes on threads so a large payload cannot block the child.
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut stdout, &mut bytes).unwrap();
        bytes
    });
    let err = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut stderr, &mut bytes).unwrap();
        bytes
    });
    let status = wait_bounded(
        &mut child,
        Instant::now() + COMMAND_WAIT,
        &described,
        String::new,
    );
    Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn assert_status(output: &Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "exit status\nstdout: {}\nstderr: {}",
        stdout(output),
        stderr(output)
    );
}

/// The seed 002 client's session (discover, get temperature, get info, put
/// the LED on, toggle it) as the README gives it in coapwasm commands.
#[test]
fn seed_session_as_coapwasm_commands() {
    let server = Server::with_plugins(&["temperature", "info", "led"]);
    let discovered = coapwasm(&["discover", &server.uri("/")]);
    assert_status(&discovered, 0);
    let table = stdout(&discovered);
    assert!(table.starts_with("path"), "a table with a header: {table}");
    for path in ["/temperature", "/info", "/led"] {
        assert!(
            table.lines().any(|line| line.starts_with(path)),
            "{path} in {table}"
        );
    }
    assert!(stderr(&discovered).contains("2.05 Content"));

    let temperature = coapwasm(&["get", &server.uri("/temperature")]);
    assert_status(&temperature, 0);
    let json: serde_json::Value = serde_json::from_slice(&temperature.stdout).unwrap();
    assert!(json["temperature"].is_number(), "{json}");
    assert!(stderr(&temperature).contains("Content-Format: application/json (50)"));

    let info = coapwasm(&["get", &server.uri("/info")]);
    assert_status(&info, 0);
    let json: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
    assert!(
        json["device_id"].is_string() && json["firmware"].is_string(),
        "{json}"
    );

    let on = coapwasm(&[
        "put",
        "-e",
        r#"{"state": "on"}"#,
        "-t",
        "json",
        &server.uri("/led"),
    ]);
    assert_status(&on, 0);
    assert!(stderr(&on).starts_with("2.04 Changed"), "{}", stderr(&on));
    let toggled = coapwasm(&["post", &server.uri("/led")]);
    assert_status(&toggled, 0);
    let json: serde_json::Value = serde_json::from_slice(&toggled.stdout).unwrap();
    assert_eq!(json["state"], "off", "POST toggles the LED: {json}");
}

/// 0 for 2.xx, 4 for 4.xx, 5 for 5.xx, 2 for a bad argument, 3 for no
/// answer in time, 1 for nothing listening; each says why on stderr, and an
/// error's diagnostic never reaches stdout.
#[test]
fn exit_status_says_what_happened() {
    let server = Server::with_plugins(&["testkit", "led"]);
    let missing = coapwasm(&["get", &server.uri("/nothing")]);
    assert_status(&missing, 4);
    assert!(
        stderr(&missing).starts_with("4.04 Not Found"),
        "{}",
        stderr(&missing)
    );
    assert!(missing.stdout.is_empty(), "diagnostics go to stderr");

    let method = coapwasm(&["patch", "-e", "x", &server.uri("/test/echo")]);
    assert_status(&method, 4);
    assert!(stderr(&method).contains("4.05 Method Not Allowed"));

    let trap = coapwasm(&["get", &server.uri("/test/trap")]);
    assert_status(&trap, 5);
    assert!(
        stderr(&trap).contains("5.00 Internal Server Error"),
        "{}",
        stderr(&trap)
    );

    for bad in [
        vec!["get", "http://127.0.0.1/led"],
        vec!["get", "-b", "1000", &server.uri("/led")],
        vec!["get", "-t", "yaml", "-e", "x", &server.uri("/led")],
        vec!["get", "-u", "id", "-k", "key", &server.uri("/led")],
        vec!["get", "coaps://127.0.0.1:1/led"],
    ] {
        let output = coapwasm(&bad);
        assert_status(&output, 2);
        assert!(
            stderr(&output).contains("error"),
            "{bad:?}: {}",
            stderr(&output)
        );
    }

    // A socket that reads nothing: no ACK, no response, until -B.
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let started = Instant::now();
    let timeout = coapwasm(&[
        "get",
        "-B",
        "2",
        &format!("coap://{}/x", silent.local_addr().unwrap()),
    ]);
    assert_status(&timeout, 3);
    assert!(
        stderr(&timeout).contains("no response"),
        "{}",
        stderr(&timeout)
    );
    assert!(started.elapsed() < Duration::from_secs(10));

    let port = silent.local_addr().unwrap().port();
    drop(silent);
    let unreachable = coapwasm(&["get", "-B", "5", &format!("coap://127.0.0.1:{port}/x")]);
    assert_status(&unreachable, 1);
    assert!(
        stderr(&unreachable).contains("nothing listens"),
        "{}",
        stderr(&unreachable)
    );
}

/// Every method reaches the plugin as such, the payload and its format with
/// it; JSON given with `-t cbor` arrives as CBOR.
#[test]
fn methods_payloads_and_formats() {
    let server = Server::with_plugins(&["testkit"]);
    let echo = server.uri("/test/echo?x=1");
    for (method, expected) in [
        ("get", "get"),
        ("post", "post"),
        ("put", "put"),
        ("delete", "delete"),
        ("fetch", "fetch"),
    ] {
        let output = coapwasm(&[method, "-e", "hello", "-t", "text", &echo]);
        assert_status(&output, 0);
        let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(json["method"], expected);
        assert_eq!(json["query"], serde_json::json!(["x=1"]));
        if method != "get" && method != "delete" {
            assert_eq!(json["payload_utf8"], "hello", "{method}: {json}");
            assert_eq!(json["content_format"], 0);
        }
    }
    let cbor = coapwasm(&["put", "-e", r#"{"a": 1}"#, "-t", "cbor", &echo]);
    assert_status(&cbor, 0);
    let json: serde_json::Value = serde_json::from_slice(&cbor.stdout).unwrap();
    assert_eq!(json["content_format"], 60);
    // {"a": 1} in CBOR: a1 61 61 01.
    assert_eq!(json["payload_len"], 4, "{json}");

    // -m as coap-client's, -A by name, a payload from stdin.
    let dir = TempDir::new();
    let file = dir.path().join("body.txt");
    std::fs::write(&file, "from a file").unwrap();
    let output = coapwasm(&["get", "-m", "put", "-f", file.to_str().unwrap(), &echo]);
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        (json["method"].as_str(), json["payload_utf8"].as_str()),
        (Some("put"), Some("from a file"))
    );
    let mut child = Command::new(binary())
        .args(["post", "-f", "-", "-A", "json", &echo])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"piped in").unwrap();
    let output = child.wait_with_output().unwrap();
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        (json["payload_utf8"].as_str(), json["accept"].as_u64()),
        (Some("piped in"), Some(50))
    );
}

/// A 200 KB firmware image up (Block1) and down (Block2), bit-exact, with
/// the default block size and with -b 64.
#[test]
fn firmware_image_block_wise_both_ways() {
    let server = Server::with_plugins(&["firmware"]);
    let dir = TempDir::new();
    for (size, len) in [(None, 200_000), (Some("64"), 20_000)] {
        let image = random_bytes(len);
        let file = dir.path().join("image.bin");
        std::fs::write(&file, &image).unwrap();
        let mut args = vec!["put", "-f", file.to_str().unwrap(), "-t", "octet"];
        if let Some(size) = size {
            args.extend(["-b", size]);
        }
        let firmware = server.uri("/firmware");
        args.push(&firmware);
        let uploaded = coapwasm(&args);
        assert_status(&uploaded, 0);
        let json: serde_json::Value = serde_json::from_slice(&uploaded.stdout).unwrap();
        assert_eq!(json["size"], len, "{json}");

        let mut args = vec!["get"];
        if let Some(size) = size {
            args.extend(["-b", size]);
        }
        let image_uri = server.uri("/firmware/image");
        args.push(&image_uri);
        let downloaded = coapwasm(&args);
        assert_status(&downloaded, 0);
        assert!(
            downloaded.stdout == image,
            "the image came back bit-exact ({} bytes of {len})",
            downloaded.stdout.len()
        );
    }
}

/// `-v` shows every datagram: the CON and its piggybacked ACK with the
/// same message id and token; `-N` sends NON and gets NON.
#[test]
fn verbose_shows_datagrams_and_non_sends_non() {
    let server = Server::with_plugins(&["led"]);
    let output = coapwasm(&["get", "-v", &server.uri("/led")]);
    assert_status(&output, 0);
    let trace = stderr(&output);
    let sent = trace
        .lines()
        .find(|l| l.starts_with("-> CON GET"))
        .unwrap_or_else(|| panic!("{trace}"));
    let received = trace
        .lines()
        .find(|l| l.starts_with("<- ACK 2.05 Content"))
        .unwrap_or_else(|| panic!("{trace}"));
    let mid = |line: &str| {
        line.split_whitespace()
            .find(|w| w.starts_with("mid="))
            .unwrap()
            .to_owned()
    };
    let token = |line: &str| {
        line.split_whitespace()
            .find(|w| w.starts_with("token="))
            .unwrap()
            .to_owned()
    };
    assert_eq!(mid(sent), mid(received));
    assert_eq!(token(sent), token(received));
    assert!(sent.contains("Uri-Path: led"), "{sent}");

    let output = coapwasm(&["get", "-v", "-N", &server.uri("/led")]);
    assert_status(&output, 0);
    let trace = stderr(&output);
    assert!(
        trace.contains("-> NON GET") && trace.contains("<- NON 2.05 Content"),
        "{trace}"
    );

    // A host name: sent as Uri-Host (RFC 7252 §6.4 step 5); where localhost
    // is ::1 first, where nothing listens, the next address is tried.
    let named = format!("coap://localhost:{}/led", server.addr().port());
    let output = coapwasm(&["get", "-v", &named]);
    assert_status(&output, 0);
    assert!(
        stderr(&output).contains("Uri-Host: localhost"),
        "{}",
        stderr(&output)
    );

    let quiet = coapwasm(&["get", "-q", &server.uri("/led")]);
    assert_status(&quiet, 0);
    assert!(quiet.stderr.is_empty(), "-q: only the payload");
    assert_eq!(
        stdout(&quiet),
        r#"{"state":"off"}"#,
        "piped: the raw payload"
    );
}

/// A lost request is retransmitted with the same message id (RFC 7252
/// §4.2) until answered; a separate response (§5.2.2) is acknowledged.
#[test]
fn retransmits_a_lost_request_and_acknowledges_a_separate_response() {
    let server = UdpSocket::bind("127.0.0.1:0").unwrap();
    server
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let uri = format!("coap://{}/slow", server.local_addr().unwrap());
    let client = std::thread::spawn(move || coapwasm(&["get", "-B", "30", &uri]));
    let mut buffer = [0u8; 2048];
    let (n, from) = server.recv_from(&mut buffer).expect("the request");
    let first = Message::decode(&buffer[..n]).unwrap();
    // Dropped: the client must send it again, the same message.
    let (n, _) = server.recv_from(&mut buffer).expect("the retransmission");
    let again = Message::decode(&buffer[..n]).unwrap();
    assert_eq!((again.mid, &again.token), (first.mid, &first.token));
    assert_eq!(again.mtype, Type::Con);
    // An empty ACK now, the response later in a CON of its own.
    server
        .send_to(
            &Message::new(Type::Ack, Code::EMPTY, first.mid).encode(),
            from,
        )
        .unwrap();
    let response = Message::new(Type::Con, Code::CONTENT, 4242)
        .token(&first.token)
        .payload(b"at last");
    server.send_to(&response.encode(), from).unwrap();
    let (n, _) = server
        .recv_from(&mut buffer)
        .expect("the ACK of the separate response");
    let ack = Message::decode(&buffer[..n]).unwrap();
    assert_eq!(
        (ack.mtype, ack.code, ack.mid),
        (Type::Ack, Code::EMPTY, 4242)
    );
    let output = client.join().unwrap();
    assert_status(&output, 0);
    assert_eq!(stdout(&output), "at last");
}

fn deregistrations(server: &Server) -> usize {
    server
        .log_lines(|line| line.contains("observation deregistered"))
        .len()
}

/// `observe --count 3 --jsonl`: three JSON lines with a sequence number and
/// a time, then a deregistration the host logs.
#[test]
fn observe_counts_notifications_as_json_lines_and_deregisters() {
    let server = Server::builder()
        .plugins(&["temperature", "info"])
        .arg("--log-level")
        .arg("debug")
        .start();
    let output = coapwasm(&[
        "observe",
        "--count",
        "3",
        "--jsonl",
        &server.uri("/temperature"),
    ]);
    assert_status(&output, 0);
    let lines: Vec<serde_json::Value> = stdout(&output)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}")))
        .collect();
    assert_eq!(lines.len(), 3, "{}", stdout(&output));
    let seqs: Vec<u64> = lines.iter().map(|l| l["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    for line in &lines {
        assert_eq!(line["code"], "2.05 Content");
        assert!(line["time"].as_str().unwrap().ends_with('Z'));
        assert!(line["payload"]["temperature"].is_number(), "{line}");
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while deregistrations(&server) == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(deregistrations(&server), 1, "{}", server.stderr());

    // /info is not observable: said, and not a success.
    let refused = coapwasm(&["observe", "--count", "2", &server.uri("/info")]);
    assert_status(&refused, 1);
    assert!(
        stderr(&refused).contains("did not accept the observation"),
        "{}",
        stderr(&refused)
    );
}

/// Ctrl-C (SIGINT) deregisters on the way out and exits 0; a client killed
/// outright cannot, which shows the host's log line means deregistration.
#[test]
fn interrupt_deregisters_and_kill_does_not() {
    let server = Server::builder()
        .plugins(&["temperature"])
        .arg("--log-level")
        .arg("debug")
        .start();
    for (signal, expected) in [("KILL", 0), ("INT", 1)] {
        let mut child = Command::new(binary())
            .args(["observe", &server.uri("/temperature")])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        std::io::BufRead::read_line(&mut stdout, &mut first).unwrap();
        assert!(
            first.contains("temperature"),
            "the registration's answer: {first}"
        );
        Command::new("kill")
            .args([&format!("-{signal}"), &child.id().to_string()])
            .status()
            .unwrap();
        let status = wait_bounded(
            &mut child,
            Instant::now() + COMMAND_WAIT,
            "observer",
            String::new,
        );
        if signal == "INT" {
            assert_eq!(status.code(), Some(0));
        }
        let deadline = Instant::now() + Duration::from_secs(3);
        while deregistrations(&server) < expected && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert_eq!(deregistrations(&server), expected, "after SIG{signal}");
    }
}

/// coaps with a PSK; a wrong key fails (exit 1) with a reason, in bounded time.
#[test]
fn coaps_with_a_psk() {
    let server = Server::builder().plugins(&["led"]).config(COAPS).start();
    let uri = server.coaps_uri("/led");
    let output = coapwasm(&[
        "get",
        "-u",
        "device-001",
        "-k",
        "super-secret-key-12345",
        &uri,
    ]);
    assert_status(&output, 0);
    assert_eq!(stdout(&output), r#"{"state":"off"}"#);
    let started = Instant::now();
    let wrong = coapwasm(&["get", "-B", "4", "-u", "device-001", "-k", "wrong", &uri]);
    assert_status(&wrong, 1);
    assert!(stderr(&wrong).contains("wrong PSK"), "{}", stderr(&wrong));
    assert!(started.elapsed() < Duration::from_secs(15));
}

/// The discovery filters reach the server (RFC 6690 §4.1).
#[test]
fn discover_filters() {
    let server = Server::with_plugins(&["temperature", "led"]);
    let output = coapwasm(&["discover", "--rt", "light", &server.uri("/")]);
    assert_status(&output, 0);
    let table = stdout(&output);
    assert!(
        table.contains("/led") && !table.contains("/temperature"),
        "{table}"
    );
    let raw = coapwasm(&[
        "discover",
        "--raw",
        "--href",
        "/temperature",
        &server.uri("/"),
    ]);
    assert!(
        stdout(&raw).starts_with("</temperature>"),
        "{}",
        stdout(&raw)
    );
    let _ = Path::new("");
}

/// coaps with certificates: the client's authenticates it (the plugin learns
/// its subject); with -R the server's must chain to that CA and be issued
/// for the address or name in the URI, else no session (exit 1).
#[test]
fn coaps_with_certificates() {
    let dir = TempDir::new();
    coapwasm_tests::certificates::make_certificates(dir.path());
    let other = TempDir::new();
    coapwasm_tests::certificates::make_certificates(other.path());
    let file = |name: &str| dir.path().join(name).display().to_string();
    let config = format!(
        "bind = [\"127.0.0.1:0\"]\n[coaps]\nbind = [\"127.0.0.1:0\"]\ncertificate = {:?}\nprivate_key = {:?}\nclient_ca = [{:?}]\n",
        file("server.pem"),
        file("server.key"),
        file("ca.pem"),
    );
    let server = Server::builder()
        .plugins(&["whoami"])
        .config(&config)
        .start();
    let uri = server.coaps_uri("/whoami");
    let (cert, key, ca) = (file("client.pem"), file("client.key"), file("ca.pem"));
    let verified = coapwasm(&["get", "-c", &cert, "-j", &key, "-R", &ca, &uri]);
    assert_status(&verified, 0);
    assert_eq!(stdout(&verified), "cert:CN=gateway-7 secure=true");

    let other_ca = other.path().join("ca.pem").display().to_string();
    let untrusted = coapwasm(&[
        "get", "-B", "5", "-c", &cert, "-j", &key, "-R", &other_ca, &uri,
    ]);
    assert_status(&untrusted, 1);
    assert!(
        stderr(&untrusted).contains("certificate verify failed"),
        "{}",
        stderr(&untrusted)
    );

    // The certificate is for IP 127.0.0.1, not for the name localhost.
    let named = format!("coaps://localhost:{}/whoami", server.coaps_addr().port());
    let wrong_name = coapwasm(&["get", "-B", "5", "-c", &cert, "-j", &key, "-R", &ca, &named]);
    assert_status(&wrong_name, 1);
    assert!(
        stderr(&wrong_name).contains("certificate verify failed"),
        "{}",
        stderr(&wrong_name)
    );
}
