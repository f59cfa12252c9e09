//! The command-line client (`coapwasm get|put|...|observe|discover`) against
//! CoAP servers no one here wrote: libcoap's `coap-server-notls` and
//! `coap-server-openssl` (C; Debian's libcoap3-bin) and an aiocoap server
//! (Python; `tests/servers/aiocoap_server.py`). Every method, block-wise
//! transfers both ways compared byte for byte, observation with its
//! deregistration, discovery with a filter, coaps with a pre-shared key, and
//! the exit statuses. Every server runs on a loopback port of its own and is
//! killed when its test ends; every wait is bounded.

use std::fs::File;
use std::io::{BufRead as _, BufReader, Write as _};
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use coapwasm_tests::aiocoap;
use coapwasm_tests::artifacts::binary;
use coapwasm_tests::child::wait_bounded;
use coapwasm_tests::temp_dir::TempDir;

/// The longest one client run may take before it is killed and the test fails.
const CLIENT_DEADLINE: Duration = Duration::from_secs(60);
/// How long a server may take to start answering.
const SERVER_START: Duration = Duration::from_secs(30);
/// How many ports to try when one turns out to be taken.
const PORT_ATTEMPTS: usize = 10;
/// The size of the block-wise bodies.
const LARGE: usize = 200_000;
/// The pre-shared key coap-server-openssl is given.
const PSK: &str = "interop-secret-key";

// ---------------------------------------------------------------------------
// The client

/// How a client run ended.
struct Run {
    code: Option<i32>,
    stdout: Vec<u8>,
    stderr: String,
    elapsed: Duration,
    described: String,
}

impl Run {
    fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// Fails the test unless the client exited with `code`.
    fn expect_exit(&self, code: i32) -> &Run {
        assert_eq!(
            self.code,
            Some(code),
            "{} should exit {code}\n{}",
            self.described,
            self.output()
        );
        self
    }

    fn output(&self) -> String {
        format!(
            "exit {:?} after {:?}\nstderr:\n{}\nstdout ({} bytes):\n{}",
            self.code,
            self.elapsed,
            self.stderr,
            self.stdout.len(),
            String::from_utf8_lossy(&self.stdout[..self.stdout.len().min(2000)])
        )
    }
}

/// Runs `coapwasm ARGS` with stdout and stderr piped (so the payload comes
/// raw), killing it and failing the test past [`CLIENT_DEADLINE`].
fn coapwasm(args: &[&str]) -> Run {
    coapwasm_fed(args, None)
}

/// [`coapwasm`], with `stdin` (if given) written to its standard input.
fn coapwasm_fed(args: &[&str], stdin: Option<Vec<u8>>) -> Run {
    let mut command = Command::new(binary());
    command
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let described = format!("coapwasm {}", args.join(" "));
    let started = Instant::now();
    let mut child = command.spawn().expect("spawn coapwasm");
    if let (Some(bytes), Some(mut pipe)) = (stdin, child.stdin.take()) {
        // Closed when done, so that the client sees the end of its input.
        thread::spawn(move || {
            let _ = pipe.write_all(&bytes);
        });
    }
    // Read both pipes on threads of their own so that a large payload never
    // blocks the client.
    let stdout = drain(child.stdout.take().unwrap());
    let stderr = drain(child.stderr.take().unwrap());
    let status = wait_bounded(&mut child, started + CLIENT_DEADLINE, &described, || {
        String::new()
    });
    let elapsed = started.elapsed();
    let stdout = stdout.join().unwrap();
    let stderr = String::from_utf8_lossy(&stderr.join().unwrap()).into_owned();
    Run {
        code: status.code(),
        stdout,
        stderr,
        elapsed,
        described,
    }
}

fn drain(mut source: impl std::io::Read + Send + 'static) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = source.read_to_end(&mut bytes);
        bytes
    })
}

/// `count` bytes from a xorshift generator seeded by the clock and a
/// counter: a body no server could guess or compress away, and never the
/// same twice, so that a stale body cannot pass for a new one.
fn random_bytes(count: usize) -> Vec<u8> {
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let call = CALLS.fetch_add(1, Ordering::Relaxed);
    let mut state = (nanos ^ call.wrapping_mul(0x9E37_79B9_7F4A_7C15)) | 1;
    let mut bytes = Vec::with_capacity(count + 8);
    while bytes.len() < count {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        bytes.extend_from_slice(&state.to_le_bytes());
    }
    bytes.truncate(count);
    bytes
}

fn write_file(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    path
}

/// Fails the test, saying where, unless `got` is `want` byte for byte.
fn assert_same_bytes(got: &[u8], want: &[u8], what: &str) {
    if got == want {
        return;
    }
    let first = got
        .iter()
        .zip(want)
        .position(|(a, b)| a != b)
        .unwrap_or(got.len().min(want.len()));
    panic!(
        "{what}: got {} bytes, want {}; first difference at byte {first}",
        got.len(),
        want.len()
    );
}

/// The first column of a discovery table's rows (the header left out).
fn table_paths(run: &Run) -> Vec<String> {
    let text = run.stdout_text();
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    assert!(
        header.starts_with("path"),
        "a discovery table starts with its header\n{}",
        run.output()
    );
    lines
        .filter_map(|line| line.split_whitespace().next().map(str::to_owned))
        .collect()
}

/// Each line of a `--jsonl` observation, parsed; each must have seq, time and code.
fn json_lines(run: &Run) -> Vec<serde_json::Value> {
    run.stdout_text()
        .lines()
        .map(|line| {
            let value: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}\n{}", run.output()));
            assert!(
                value["seq"].is_u64(),
                "seq should be the Observe number: {line}"
            );
            assert!(
                value["time"].as_str().is_some_and(|t| t.ends_with('Z')),
                "time should be RFC 3339 UTC: {line}"
            );
            assert!(
                value["code"]
                    .as_str()
                    .is_some_and(|c| c.starts_with("2.05")),
                "code should be 2.05: {line}"
            );
            value
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Ports and servers

/// A UDP port free on 127.0.0.1 a moment ago (bound and dropped); with
/// `pair`, the port after it was free too (coap-server-openssl takes both).
fn free_port(pair: bool) -> u16 {
    for _ in 0..100 {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = socket.local_addr().unwrap().port();
        if !pair {
            return port;
        }
        if port < u16::MAX && UdpSocket::bind(("127.0.0.1", port + 1)).is_ok() {
            return port;
        }
    }
    panic!("no free pair of UDP ports on 127.0.0.1 in 100 tries");
}

/// Whether something answers a CoAP ping (an empty CON; a server answers
/// with a Reset) on `port` within `within`.
fn answers_ping(port: u16, within: Duration) -> bool {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.connect(("127.0.0.1", port)).unwrap();
    socket.set_read_timeout(Some(within)).unwrap();
    let _ = socket.send(&[0x40, 0x00, 0x12, 0x34]);
    let mut buffer = [0u8; 64];
    matches!(socket.recv(&mut buffer), Ok(n) if n >= 4 && buffer[2..4] == [0x12, 0x34])
}

/// A libcoap example server on its own port, its log (`-v 7`) in a file.
/// Dropping it kills the process.
struct Libcoap {
    child: Child,
    port: u16,
    log: PathBuf,
    _dir: TempDir,
}

impl Libcoap {
    /// `coap-server-notls`, with up to 10 dynamic resources (`-d`): PUT or
    /// POST to an unknown path creates one, which GET returns and DELETE
    /// removes.
    fn notls() -> Libcoap {
        Libcoap::start("coap-server-notls", &[], false)
    }

    /// `coap-server-openssl` with a pre-shared key: coap on `port`, coaps on
    /// `port + 1`.
    fn openssl() -> Libcoap {
        Libcoap::start("coap-server-openssl", &["-k", PSK, "-h", "interop"], true)
    }

    fn start(program: &str, extra: &[&str], pair: bool) -> Libcoap {
        let dir = TempDir::new();
        let log = dir.path().join("server.log");
        for _ in 0..PORT_ATTEMPTS {
            let port = free_port(pair);
            let file = File::create(&log).unwrap();
            let mut command = Command::new(program);
            command
                .args(["-A", "127.0.0.1", "-p", &port.to_string(), "-d", "10"])
                .args(["-v", "7"])
                .args(extra)
                .stdin(Stdio::null())
                .stdout(file.try_clone().unwrap())
                .stderr(file);
            let mut child = command.spawn().unwrap_or_else(|e| {
                panic!("cannot run {program} ({e}): install libcoap3-bin (Debian)")
            });
            let deadline = Instant::now() + SERVER_START;
            // Bounded: until it answers, exits (the port was taken) or the deadline.
            loop {
                if child.try_wait().unwrap().is_some() {
                    break;
                }
                if answers_ping(port, Duration::from_millis(200)) {
                    return Libcoap {
                        child,
                        port,
                        log,
                        _dir: dir,
                    };
                }
                if Instant::now() >= deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "{program} did not answer on port {port} within {SERVER_START:?}\n{}",
                        std::fs::read_to_string(&log).unwrap_or_default()
                    );
                }
            }
        }
        panic!(
            "{program} did not start on any of {PORT_ATTEMPTS} ports\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    fn uri(&self, path: &str) -> String {
        format!("coap://127.0.0.1:{}{path}", self.port)
    }

    fn coaps_uri(&self, path: &str) -> String {
        format!("coaps://127.0.0.1:{}{path}", self.port + 1)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits up to `within` for a line of the log containing each of `parts`.
    fn log_shows(&self, parts: &[&str], within: Duration) -> bool {
        let deadline = Instant::now() + within;
        loop {
            if self
                .log()
                .lines()
                .any(|line| parts.iter().all(|part| line.contains(part)))
            {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Libcoap {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `tests/servers/aiocoap_server.py` on its own port. It prints a line
/// for each observation count change and each upload; it exits when its
/// standard input closes, and dropping this kills it besides.
struct Aiocoap {
    child: Child,
    _stdin: ChildStdin,
    port: u16,
    lines: Receiver<String>,
    /// The body /large serves.
    large: Vec<u8>,
    dir: TempDir,
}

impl Aiocoap {
    fn start() -> Aiocoap {
        aiocoap::assert_installed();
        let dir = TempDir::new();
        let large = random_bytes(LARGE);
        let large_file = write_file(dir.path(), "large.bin", &large);
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("servers/aiocoap_server.py");
        let errors = File::create(dir.path().join("stderr.log")).unwrap();
        let mut child = Command::new("python3")
            .arg(&script)
            .arg(&large_file)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(errors)
            .spawn()
            .expect("spawn python3");
        let stdin = child.stdin.take().unwrap();
        let (sender, lines) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let _ = sender.send(line);
            }
        });
        let mut server = Aiocoap {
            child,
            _stdin: stdin,
            port: 0,
            lines,
            large,
            dir,
        };
        let line = server
            .await_line("listening ", SERVER_START)
            .unwrap_or_else(|| {
                panic!(
                    "{} did not say it was listening within {SERVER_START:?}\n{}",
                    script.display(),
                    server.stderr()
                )
            });
        server.port = line["listening ".len()..].trim().parse().unwrap();
        server
    }

    fn uri(&self, path: &str) -> String {
        format!("coap://127.0.0.1:{}{path}", self.port)
    }

    /// The next line starting with `prefix` (earlier ones skipped), waiting
    /// up to `within`.
    fn await_line(&self, prefix: &str, within: Duration) -> Option<String> {
        let deadline = Instant::now() + within;
        // Bounded: each pass takes a line or ends at the deadline.
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            match self.lines.recv_timeout(left) {
                Ok(line) if line.starts_with(prefix) => return Some(line),
                Ok(_) => continue,
                Err(_) => return None,
            }
        }
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default()
    }
}

impl Drop for Aiocoap {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------
// libcoap

/// Every method reaches libcoap and its answer comes back: GET of `/`;
/// PUT creating a dynamic resource, GET returning its body, POST changing
/// it, DELETE removing it; FETCH, PATCH and iPATCH, which libcoap's example
/// resources do not implement, answered 4.05 (exit 4).
#[test]
fn libcoap_every_method() {
    let server = Libcoap::notls();

    let run = coapwasm(&["get", &server.uri("/")]);
    run.expect_exit(0);
    assert!(
        run.stdout_text().contains("libcoap"),
        "GET / is libcoap's greeting\n{}",
        run.output()
    );
    assert!(run.stderr.contains("2.05"), "{}", run.output());

    let run = coapwasm(&["put", &server.uri("/thing"), "-e", "first body"]);
    run.expect_exit(0);
    assert!(run.stderr.contains("2.01 Created"), "{}", run.output());
    let run = coapwasm(&["get", &server.uri("/thing")]);
    run.expect_exit(0);
    assert_eq!(run.stdout_text(), "first body", "{}", run.output());

    let run = coapwasm(&["post", &server.uri("/thing"), "-e", "second body"]);
    run.expect_exit(0);
    assert!(run.stderr.contains("2.04 Changed"), "{}", run.output());
    let run = coapwasm(&["get", &server.uri("/thing")]);
    assert_eq!(run.stdout_text(), "second body", "{}", run.output());

    let run = coapwasm(&["delete", &server.uri("/thing")]);
    run.expect_exit(0);
    assert!(run.stderr.contains("2.02 Deleted"), "{}", run.output());
    let run = coapwasm(&["get", &server.uri("/thing")]);
    run.expect_exit(4);
    assert!(run.stderr.contains("4.04 Not Found"), "{}", run.output());

    // libcoap's /async?1 answers after a second, in a separate response
    // (an empty ACK first, RFC 7252 §5.2.2).
    let run = coapwasm(&["get", &server.uri("/async?1"), "-v"]);
    run.expect_exit(0);
    assert_eq!(run.stdout_text(), "done", "{}", run.output());
    assert!(
        run.stderr.contains("<- ACK Empty") && run.stderr.contains("<- CON 2.05"),
        "an empty ACK, then the response in a CON\n{}",
        run.output()
    );
    assert!(
        run.elapsed >= Duration::from_millis(900),
        "{}",
        run.output()
    );

    for method in ["fetch", "patch", "ipatch"] {
        let run = coapwasm(&[method, &server.uri("/example_data"), "-e", "x"]);
        run.expect_exit(4);
        assert!(
            run.stderr.contains("4.05 Method Not Allowed"),
            "{method}\n{}",
            run.output()
        );
    }
}

/// A 200 KB random body PUT block-wise (Block1) into a libcoap dynamic
/// resource comes back block-wise (Block2) byte for byte, at the default
/// block size and at 64 bytes; /example_data (1500 bytes) too.
#[test]
fn libcoap_blockwise_both_ways() {
    let server = Libcoap::notls();
    let dir = TempDir::new();
    let body = random_bytes(LARGE);
    let file = write_file(dir.path(), "body.bin", &body);
    let file = file.to_str().unwrap();

    let run = coapwasm(&["put", &server.uri("/big"), "-f", file]);
    run.expect_exit(0);
    let run = coapwasm(&["get", &server.uri("/big")]);
    run.expect_exit(0);
    assert_same_bytes(&run.stdout, &body, "GET /big after PUT");

    // The same in NON messages (-N), another random body.
    let body = random_bytes(LARGE);
    let file = write_file(dir.path(), "non.bin", &body);
    let run = coapwasm(&[
        "put",
        &server.uri("/non"),
        "-N",
        "-f",
        file.to_str().unwrap(),
    ]);
    run.expect_exit(0);
    let run = coapwasm(&["get", &server.uri("/non"), "-N"]);
    run.expect_exit(0);
    assert_same_bytes(&run.stdout, &body, "GET -N /non after PUT -N");

    let small = random_bytes(20_000);
    let small_file = write_file(dir.path(), "small.bin", &small);
    let run = coapwasm(&[
        "put",
        &server.uri("/small"),
        "-b",
        "64",
        "-f",
        small_file.to_str().unwrap(),
    ]);
    run.expect_exit(0);
    let run = coapwasm(&["get", &server.uri("/small"), "-b", "64"]);
    run.expect_exit(0);
    assert_same_bytes(&run.stdout, &small, "GET /small -b 64 after PUT -b 64");

    // libcoap's /example_data: "a123456789b123456789...", 1500 bytes.
    let pattern: Vec<u8> = (0..1500)
        .map(|i| {
            if i % 10 == 0 {
                b'a' + (i / 10 % 26) as u8
            } else {
                b'0' + (i % 10) as u8
            }
        })
        .collect();
    for size in ["1024", "16"] {
        let run = coapwasm(&["get", &server.uri("/example_data"), "-b", size]);
        run.expect_exit(0);
        assert_same_bytes(&run.stdout, &pattern, "GET /example_data");
    }
}

/// Observing libcoap's /time (a notification each second): `--count 3`
/// exits 0 after three; `--jsonl` lines are JSON; on the way out the client
/// deregisters, which libcoap logs as the subscription removed.
#[test]
fn libcoap_observe() {
    let server = Libcoap::notls();
    let run = coapwasm(&["observe", &server.uri("/time"), "--count", "3"]);
    run.expect_exit(0);
    let text = run.stdout_text();
    assert_eq!(
        text.lines().count(),
        3,
        "three notifications\n{}",
        run.output()
    );
    assert!(
        text.lines().all(|line| line.contains(':')),
        "each is libcoap's clock, e.g. Dec 04 03:41:47\n{}",
        run.output()
    );

    let token = "c0ffee0102030405";
    let run = coapwasm(&[
        "observe",
        &server.uri("/time"),
        "--count",
        "3",
        "--jsonl",
        "-T",
        token,
    ]);
    run.expect_exit(0);
    let lines = json_lines(&run);
    assert_eq!(lines.len(), 3, "{}", run.output());
    let seqs: Vec<u64> = lines.iter().map(|l| l["seq"].as_u64().unwrap()).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "Observe numbers increase: {seqs:?}"
    );
    // The deregistration: a GET with Observe: 1 and the observation's
    // token, upon which libcoap removes the subscription.
    let braced = format!("{{{token}}}");
    assert!(
        server.log_shows(&["c:GET", &braced, "Observe:1"], Duration::from_secs(5))
            && server.log_shows(&["removed subscription", token], Duration::from_secs(5)),
        "libcoap should log a GET with Observe:1 and token {token}, and the subscription removed\n{}",
        server.log()
    );
}

/// Observing libcoap's /example_data, which is observable and larger than
/// a block: the registration's answer and a notification each come in
/// blocks (the later ones fetched with plain GETs, RFC 7959 §2.6), whole,
/// and each keeps its Observe number in `--jsonl`.
#[test]
fn libcoap_observe_blockwise() {
    let server = Libcoap::notls();
    let dir = TempDir::new();
    let body: Vec<u8> = (0..3000).map(|i| b'A' + (i % 26) as u8).collect();
    let file = write_file(dir.path(), "body.txt", &body);
    let uri = server.uri("/example_data");
    let observer = {
        let uri = uri.clone();
        thread::spawn(move || coapwasm(&["observe", &uri, "--count", "2", "--jsonl"]))
    };
    assert!(
        server.log_shows(&["create new subscription"], Duration::from_secs(10)),
        "the observation should register\n{}",
        server.log()
    );
    coapwasm(&["put", &uri, "-f", file.to_str().unwrap()]).expect_exit(0);
    let run = observer.join().unwrap();
    run.expect_exit(0);
    let lines = json_lines(&run);
    let sizes: Vec<usize> = lines
        .iter()
        .map(|l| l["payload"].as_str().map_or(0, str::len))
        .collect();
    assert_eq!(sizes, [1500, 3000], "{}", run.output());
    assert_eq!(
        lines[1]["payload"].as_str().unwrap().as_bytes(),
        &body[..],
        "{}",
        run.output()
    );
}

/// libcoap ends an observation with 4.04 when the resource is deleted:
/// the client reports it and exits 4. Observing a resource that is not
/// observable (libcoap's `/`) exits 1, saying so.
#[test]
fn libcoap_observation_ended_or_refused() {
    let server = Libcoap::notls();
    let uri = server.uri("/watched");
    coapwasm(&["put", &uri, "-e", "first"]).expect_exit(0);
    let observer = {
        let uri = uri.clone();
        thread::spawn(move || coapwasm(&["observe", &uri, "--jsonl", "-B", "30"]))
    };
    assert!(
        server.log_shows(&["create new subscription"], Duration::from_secs(10)),
        "the observation should register\n{}",
        server.log()
    );
    coapwasm(&["put", &uri, "-e", "second"]).expect_exit(0);
    // Once libcoap has sent the notification of "second", not before, so
    // that the deletion cannot overtake it.
    assert!(
        server.log_shows(&["c:2.05", "'second'"], Duration::from_secs(10)),
        "libcoap should notify the change\n{}",
        server.log()
    );
    coapwasm(&["delete", &uri]).expect_exit(0);
    let run = observer.join().unwrap();
    run.expect_exit(4);
    assert!(
        run.stderr.contains("ended the observation with 4.04"),
        "{}",
        run.output()
    );
    let text = run.stdout_text();
    let payloads: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["payload"].clone())
        .collect();
    assert_eq!(payloads[..2], ["first", "second"], "{}", run.output());

    let run = coapwasm(&["observe", &server.uri("/"), "--count", "2"]);
    run.expect_exit(1);
    assert!(
        run.stderr.contains("did not accept the observation"),
        "{}",
        run.output()
    );
}

/// URIs as RFC 7252 §6.4 takes them apart, checked by what libcoap serves:
/// the scheme in any case, "." and ".." resolved (RFC 3986 §5.2.4),
/// percent-encoding decoded.
#[test]
fn libcoap_uri_forms() {
    let server = Libcoap::notls();
    let port = server.port;
    for uri in [
        format!("COAP://127.0.0.1:{port}/time"),
        format!("coap://127.0.0.1:{port}/./time"),
        format!("coap://127.0.0.1:{port}/no/such/../../time"),
        format!("coap://127.0.0.1:{port}/%74ime"),
    ] {
        let run = coapwasm(&["get", &uri, "-v"]);
        run.expect_exit(0);
        let request = run
            .stderr
            .lines()
            .find(|l| l.starts_with("-> CON GET"))
            .unwrap_or_default();
        assert!(
            request.ends_with("| Uri-Path: time") && request.matches("Uri-Path").count() == 1,
            "{uri} is /time: one Uri-Path, time\n{}",
            run.output()
        );
    }
}

/// Discovery of libcoap's resources: the table has its paths, and `--rt`
/// reaches libcoap as a query, which filters.
#[test]
fn libcoap_discovery() {
    let server = Libcoap::notls();
    let run = coapwasm(&["discover", &server.uri("")]);
    run.expect_exit(0);
    let paths = table_paths(&run);
    for path in ["/", "/time", "/async", "/example_data"] {
        assert!(
            paths.iter().any(|p| p == path),
            "{path} in {paths:?}\n{}",
            run.output()
        );
    }
    assert!(run.stdout_text().contains("ticks"), "{}", run.output());

    let run = coapwasm(&["discover", &server.uri(""), "--rt", "ticks"]);
    run.expect_exit(0);
    assert_eq!(table_paths(&run), ["/time"], "{}", run.output());
    let run = coapwasm(&["discover", &server.uri(""), "--rt", "tic*"]);
    run.expect_exit(0);
    assert_eq!(table_paths(&run), ["/time"], "{}", run.output());

    // Eight dynamic resources with long names make the document larger
    // than a block: libcoap serves it block-wise, and the table has them all.
    let long: Vec<String> = (1..=8)
        .map(|i| format!("/a-resource-with-a-long-name-so-that-the-discovery-document-takes-more-than-one-block-of-1024-bytes-{i}"))
        .collect();
    for path in &long {
        coapwasm(&["put", &server.uri(path), "-e", "x"]).expect_exit(0);
    }
    let run = coapwasm(&["discover", &server.uri(""), "--raw"]);
    run.expect_exit(0);
    assert!(run.stdout.len() > 1024, "{}", run.output());
    let run = coapwasm(&["discover", &server.uri("")]);
    run.expect_exit(0);
    let paths = table_paths(&run);
    for path in long.iter().map(String::as_str).chain(["/", "/time"]) {
        assert!(
            paths.iter().any(|p| p == path),
            "{path} in {paths:?}\n{}",
            run.output()
        );
    }
}

/// coaps to coap-server-openssl with a pre-shared key: a GET succeeds; with
/// the wrong key the handshake fails, exit 1, within the -B time.
#[test]
fn libcoap_coaps_psk() {
    let server = Libcoap::openssl();
    let uri = server.coaps_uri("/");
    let run = coapwasm(&["get", &uri, "-u", "client", "-k", PSK, "-B", "20"]);
    run.expect_exit(0);
    assert!(run.stdout_text().contains("libcoap"), "{}", run.output());

    // Block-wise both ways and an observation, inside the DTLS session.
    let dir = TempDir::new();
    let body = random_bytes(50_000);
    let file = write_file(dir.path(), "body.bin", &body);
    let big = server.coaps_uri("/big");
    let psk = ["-u", "client", "-k", PSK, "-B", "20"];
    let put = [&["put", &big, "-f", file.to_str().unwrap()][..], &psk].concat();
    coapwasm(&put).expect_exit(0);
    let run = coapwasm(&[&["get", &big][..], &psk].concat());
    run.expect_exit(0);
    assert_same_bytes(&run.stdout, &body, "coaps GET /big after PUT");
    let time = server.coaps_uri("/time");
    let run = coapwasm(&[&["observe", &time, "--count", "2", "--jsonl"][..], &psk].concat());
    run.expect_exit(0);
    assert_eq!(json_lines(&run).len(), 2, "{}", run.output());

    let run = coapwasm(&["get", &uri, "-u", "client", "-k", "not-the-key", "-B", "3"]);
    run.expect_exit(1);
    assert!(
        run.stderr.contains("DTLS"),
        "the message says the DTLS handshake failed\n{}",
        run.output()
    );
    assert!(
        run.elapsed < Duration::from_secs(3) + Duration::from_secs(2),
        "a wrong key fails within -B 3\n{}",
        run.output()
    );
}

/// libcoap's errors: a 4.04 is exit 4, its diagnostic payload on stderr; an
/// unknown critical option (9) in a CON is a 4.02, exit 4; in a NON libcoap
/// answers with a Reset (RFC 7252 §5.4.1), exit 1, said on stderr.
#[test]
fn libcoap_error_statuses() {
    let server = Libcoap::notls();
    let run = coapwasm(&["get", &server.uri("/no/such/resource")]);
    run.expect_exit(4);
    assert!(run.stderr.contains("4.04"), "{}", run.output());
    assert!(run.stdout.is_empty(), "{}", run.output());

    let run = coapwasm(&["get", &server.uri("/"), "-O", "9,x"]);
    run.expect_exit(4);
    assert!(run.stderr.contains("4.02 Bad Option"), "{}", run.output());

    let run = coapwasm(&["get", &server.uri("/"), "-O", "9,x", "-N", "-B", "10"]);
    run.expect_exit(1);
    assert!(run.stderr.contains("Reset"), "{}", run.output());
    assert!(run.elapsed < Duration::from_secs(5), "{}", run.output());
}

// ---------------------------------------------------------------------------
// aiocoap

/// Every method reaches aiocoap's resource with its payload: the answer is
/// "METHOD:payload", exit 0.
#[test]
fn aiocoap_every_method() {
    let server = Aiocoap::start();
    for (method, name, code) in [
        ("get", "GET", "2.05"),
        ("post", "POST", "2.04"),
        ("put", "PUT", "2.04"),
        ("delete", "DELETE", "2.02"),
        ("fetch", "FETCH", "2.05"),
        ("patch", "PATCH", "2.04"),
        ("ipatch", "iPATCH", "2.04"),
    ] {
        let payload = format!("payload of {method}");
        let run = coapwasm(&[method, &server.uri("/method"), "-e", &payload]);
        run.expect_exit(0);
        assert_eq!(
            run.stdout_text(),
            format!("{name}:{payload}"),
            "{}",
            run.output()
        );
        assert!(
            run.stderr.contains(code),
            "{method}: {code}\n{}",
            run.output()
        );
    }

    // A body of several blocks each way: Block1 up, reassembled by aiocoap,
    // and the echo Block2 down, in one exchange (RFC 7959 §3.3).
    let dir = TempDir::new();
    let body: Vec<u8> = random_bytes(6000).iter().map(|b| b'a' + b % 26).collect();
    let file = write_file(dir.path(), "body.txt", &body);
    for (method, name) in [
        ("post", "POST"),
        ("put", "PUT"),
        ("fetch", "FETCH"),
        ("patch", "PATCH"),
        ("ipatch", "iPATCH"),
    ] {
        let run = coapwasm(&[method, &server.uri("/method"), "-f", file.to_str().unwrap()]);
        run.expect_exit(0);
        let mut want = format!("{name}:").into_bytes();
        want.extend_from_slice(&body);
        assert_same_bytes(
            &run.stdout,
            &want,
            &format!("{method} of 6000 bytes echoed"),
        );
    }
}

/// aiocoap serves a 200 KB body block-wise (Block2), which arrives byte for
/// byte; a 200 KB random body PUT block-wise (Block1, reassembled by
/// aiocoap) is what a GET then returns.
#[test]
fn aiocoap_blockwise_both_ways() {
    let server = Aiocoap::start();
    let run = coapwasm(&["get", &server.uri("/large")]);
    run.expect_exit(0);
    assert_same_bytes(&run.stdout, &server.large, "GET /large");
    let run = coapwasm(&["get", &server.uri("/large"), "-b", "128"]);
    run.expect_exit(0);
    assert_same_bytes(&run.stdout, &server.large, "GET /large -b 128");

    let dir = TempDir::new();
    let body = random_bytes(LARGE);
    let file = write_file(dir.path(), "body.bin", &body);
    let run = coapwasm(&["put", &server.uri("/upload"), "-f", file.to_str().unwrap()]);
    run.expect_exit(0);
    assert!(
        server
            .await_line(&format!("uploaded {LARGE}"), Duration::from_secs(5))
            .is_some(),
        "aiocoap should have reassembled {LARGE} bytes\n{}",
        server.stderr()
    );
    let run = coapwasm(&["get", &server.uri("/upload")]);
    run.expect_exit(0);
    assert_same_bytes(&run.stdout, &body, "GET /upload after PUT");

    // The same from standard input (-f -), another random body.
    let body = random_bytes(LARGE);
    let run = coapwasm_fed(
        &["put", &server.uri("/upload"), "-f", "-"],
        Some(body.clone()),
    );
    run.expect_exit(0);
    let run = coapwasm(&["get", &server.uri("/upload")]);
    run.expect_exit(0);
    assert_same_bytes(&run.stdout, &body, "GET /upload after PUT -f -");

    // And in NON messages (-N).
    let body = random_bytes(LARGE);
    let run = coapwasm_fed(
        &["put", &server.uri("/upload"), "-N", "-f", "-"],
        Some(body.clone()),
    );
    run.expect_exit(0);
    let run = coapwasm(&["get", &server.uri("/upload"), "-N"]);
    run.expect_exit(0);
    assert_same_bytes(&run.stdout, &body, "GET -N /upload after PUT -N");
}

/// Observing aiocoap's /counter (changes every 0.5 s): `--count 3` exits 0
/// after three; `--jsonl` lines are JSON; the client deregisters on the way
/// out (a GET with Observe: 1, seen in its -v trace) and aiocoap's count of
/// observations drops back to 0.
#[test]
fn aiocoap_observe() {
    let server = Aiocoap::start();
    let run = coapwasm(&["observe", &server.uri("/counter"), "--count", "3"]);
    run.expect_exit(0);
    let values: Vec<u64> = run
        .stdout_text()
        .lines()
        .map(|l| {
            l.parse()
                .unwrap_or_else(|_| panic!("{l:?}\n{}", run.output()))
        })
        .collect();
    assert_eq!(values.len(), 3, "{}", run.output());
    assert!(values.windows(2).all(|w| w[0] < w[1]), "{values:?}");
    for count in ["observers 1", "observers 0"] {
        assert!(
            server.await_line(count, Duration::from_secs(5)).is_some(),
            "aiocoap should print {count:?}\n{}",
            server.stderr()
        );
    }

    let run = coapwasm(&[
        "observe",
        &server.uri("/counter"),
        "--count",
        "3",
        "--jsonl",
        "-v",
    ]);
    run.expect_exit(0);
    let lines = json_lines(&run);
    assert_eq!(lines.len(), 3, "{}", run.output());
    assert!(
        lines.iter().all(|l| l["payload"].is_string()),
        "{}",
        run.output()
    );
    assert!(
        run.stderr
            .lines()
            .any(|l| l.starts_with("-> CON GET") && l.contains("Observe: 1")),
        "the client should deregister with a GET carrying Observe: 1\n{}",
        run.output()
    );
    for count in ["observers 1", "observers 0"] {
        assert!(
            server.await_line(count, Duration::from_secs(5)).is_some(),
            "aiocoap should print {count:?}\n{}",
            server.stderr()
        );
    }
}

/// An observation runs until it is interrupted: on SIGINT (Ctrl-C) the
/// client deregisters (a GET with Observe: 1 in its -v trace; aiocoap's
/// count of observations back to 0) and exits 0. `get -s SECONDS` observes
/// for that long and exits 0.
#[test]
fn aiocoap_observe_until_interrupted() {
    let server = Aiocoap::start();
    let mut child = Command::new(binary())
        .args(["observe", &server.uri("/counter"), "-v"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn coapwasm");
    let stderr = drain(child.stderr.take().unwrap());
    let (sender, lines) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let _ = sender.send(line);
        }
    });
    for _ in 0..2 {
        if lines.recv_timeout(Duration::from_secs(10)).is_err() {
            let _ = child.kill();
            let _ = child.wait();
            panic!("no notification within 10 s");
        }
    }
    let interrupted = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(interrupted.success());
    let status = wait_bounded(
        &mut child,
        Instant::now() + Duration::from_secs(10),
        "coapwasm observe after SIGINT",
        String::new,
    );
    let stderr = String::from_utf8_lossy(&stderr.join().unwrap()).into_owned();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with("-> CON GET") && l.contains("Observe: 1")),
        "SIGINT should deregister with a GET carrying Observe: 1\n{stderr}"
    );
    for count in ["observers 1", "observers 0"] {
        assert!(
            server.await_line(count, Duration::from_secs(5)).is_some(),
            "aiocoap should print {count:?}\n{}",
            server.stderr()
        );
    }

    for subcommand in ["get", "observe"] {
        let run = coapwasm(&[subcommand, &server.uri("/counter"), "-s", "1.2", "-v"]);
        run.expect_exit(0);
        let shown = run.stdout_text().lines().count();
        // The registration's answer and one notification each 0.5 s.
        assert!(
            (2..=5).contains(&shown),
            "{shown} notifications\n{}",
            run.output()
        );
        // Then the deregistration, sent once and answered at once.
        let trace: Vec<&str> = run
            .stderr
            .lines()
            .filter(|l| l.starts_with("->") || l.starts_with("<-"))
            .collect();
        let deregistrations: Vec<usize> = (0..trace.len())
            .filter(|&i| trace[i].starts_with("-> CON GET") && trace[i].contains("Observe: 1"))
            .collect();
        assert_eq!(
            deregistrations.len(),
            1,
            "one deregistration, not retransmitted\n{}",
            run.output()
        );
        assert!(
            trace[deregistrations[0]..]
                .iter()
                .any(|l| l.starts_with("<- ACK 2.05") && !l.contains("Observe")),
            "the deregistration's answer should be read\n{}",
            run.output()
        );
        assert!(
            run.elapsed >= Duration::from_millis(1200) && run.elapsed < Duration::from_millis(2700),
            "-s 1.2 and a deregistration take about 1.2 s\n{}",
            run.output()
        );
    }
}

/// Discovery of aiocoap's resources (WKCResource): the table has the
/// paths with their rt and if; `--rt` filters on aiocoap's side, with the
/// `*` prefix form too.
#[test]
fn aiocoap_discovery() {
    let server = Aiocoap::start();
    let run = coapwasm(&["discover", &server.uri("")]);
    run.expect_exit(0);
    let paths = table_paths(&run);
    for path in ["/method", "/large", "/upload", "/counter", "/fail"] {
        assert!(
            paths.iter().any(|p| p == path),
            "{path} in {paths:?}\n{}",
            run.output()
        );
    }
    let text = run.stdout_text();
    let counter = text
        .lines()
        .find(|l| l.starts_with("/counter"))
        .unwrap_or_default();
    assert!(
        counter.contains("counter") && counter.contains("sensor") && counter.contains("yes"),
        "/counter's row has rt, if and obs: {counter:?}\n{}",
        run.output()
    );

    let run = coapwasm(&["discover", &server.uri(""), "--rt", "counter"]);
    run.expect_exit(0);
    assert_eq!(table_paths(&run), ["/counter"], "{}", run.output());
    let run = coapwasm(&["discover", &server.uri(""), "--rt", "ec*"]);
    run.expect_exit(0);
    assert_eq!(table_paths(&run), ["/method"], "{}", run.output());
}

/// An exception in an aiocoap resource is a 5.00: exit 5.
#[test]
fn aiocoap_server_error_exits_5() {
    let server = Aiocoap::start();
    let run = coapwasm(&["get", &server.uri("/fail")]);
    run.expect_exit(5);
    assert!(run.stderr.contains("5.00"), "{}", run.output());
    assert!(run.stdout.is_empty(), "{}", run.output());
}

// ---------------------------------------------------------------------------
// No server

/// Nothing listening (ICMP port unreachable): exit 1, said on stderr, at once.
#[test]
fn nothing_listening_exits_1() {
    let port = free_port(false);
    let run = coapwasm(&["get", &format!("coap://127.0.0.1:{port}/x"), "-B", "20"]);
    run.expect_exit(1);
    assert!(
        run.stderr.contains("error:") && run.stderr.contains(&port.to_string()),
        "{}",
        run.output()
    );
    assert!(run.elapsed < Duration::from_secs(10), "{}", run.output());
}

/// A server that never answers (a socket bound here, never read): with
/// `-B 2`, exit 3 after about 2 s, said on stderr.
#[test]
fn silent_server_exits_3() {
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let run = coapwasm(&["get", &format!("coap://127.0.0.1:{port}/x"), "-B", "2"]);
    run.expect_exit(3);
    assert!(
        run.stderr.contains("no response") && run.stderr.contains("-B"),
        "{}",
        run.output()
    );
    assert!(
        run.elapsed >= Duration::from_millis(1900) && run.elapsed < Duration::from_secs(6),
        "{}",
        run.output()
    );
    // coaps: no handshake answer either.
    let run = coapwasm(&[
        "get",
        &format!("coaps://127.0.0.1:{port}/x"),
        "-u",
        "client",
        "-k",
        PSK,
        "-B",
        "2",
    ]);
    run.expect_exit(3);
    assert!(run.stderr.contains("timed out"), "{}", run.output());
    assert!(run.elapsed < Duration::from_secs(6), "{}", run.output());
    drop(silent);
}

/// A bad argument: exit 2, said on stderr.
#[test]
fn bad_arguments_exit_2() {
    for args in [
        &["get", "http://x"][..],
        &["get", "coap://127.0.0.1/x", "-B", "0"],
        &["get", "coap://127.0.0.1/x", "-b", "1000"],
        &["observe", "coap://127.0.0.1/x", "--count"],
    ] {
        let run = coapwasm(args);
        run.expect_exit(2);
        assert!(!run.stderr.is_empty(), "{}", run.output());
    }
}
