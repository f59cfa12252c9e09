//! Runs libcoap's `coap-client`, a real third-party CoAP client.
//!
//! coap-client 4.3.1 exits 0 even when nothing answered, and prints only error
//! codes, so its exit status alone proves little. It is therefore run with
//! `-v 7`, which dumps every message it sends and receives to stdout, and with
//! `-o FILE`, which writes the response payload (reassembled across blocks) to
//! a file; the tests assert on the received messages and the payload.

use crate::temp_dir::TempDir;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// The longest a run may take before it is killed and the test fails.
const KILL_AFTER: Duration = Duration::from_secs(20);

/// `coap-client`, else Debian's `coap-client-notls`, from PATH; fails the test
/// if neither is installed.
pub fn program() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in ["coap-client", "coap-client-notls"] {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    panic!(
        "neither coap-client nor coap-client-notls is on PATH: install libcoap's client \
         (Debian: apt-get install libcoap3-bin)"
    );
}

/// One coap-client invocation being described.
pub struct CoapClient {
    args: Vec<String>,
    wait_seconds: u32,
    program: Option<PathBuf>,
}

/// One message as coap-client's `-v 7` trace shows it, e.g.
/// `v:1 t:ACK c:2.05 i:f0c6 {01} [ Max-Age:1 ] :: 'payload'`.
#[derive(Clone, Debug)]
pub struct Traced {
    /// CON, NON, ACK or RST.
    pub mtype: String,
    /// `2.05`, or a method name such as `GET` for requests.
    pub code: String,
    pub mid: u16,
    /// The whole trace line, for assertion messages and option checks.
    pub line: String,
}

pub struct Output {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    /// The response payload as written by `-o`; empty when there was none.
    pub payload: Vec<u8>,
    /// The messages coap-client sent, in order.
    pub sent: Vec<Traced>,
    /// The messages coap-client received, in order.
    pub received: Vec<Traced>,
}

impl CoapClient {
    /// A GET of `uri` (`coap://ADDR/path`).
    pub fn get(uri: &str) -> CoapClient {
        CoapClient {
            args: vec![uri.to_string()],
            wait_seconds: 10,
            program: None,
        }
    }

    /// Runs another build of coap-client: `coap-client-openssl` or
    /// `coap-client-gnutls` for coaps (Debian's libcoap3-bin has both).
    pub fn using(mut self, program: &str) -> CoapClient {
        self.program = Some(PathBuf::from(program));
        self
    }

    /// `-u IDENTITY -k KEY`: DTLS with a pre-shared key.
    pub fn psk(mut self, identity: &str, key: &str) -> CoapClient {
        self.push(&["-u", identity, "-k", key]);
        self
    }

    /// Any other coap-client arguments, before the URI.
    pub fn args(mut self, args: &[&str]) -> CoapClient {
        self.push(args);
        self
    }

    /// `-m METHOD`: get, put, post or delete.
    pub fn method(mut self, method: &str) -> CoapClient {
        self.push(&["-m", method]);
        self
    }

    /// `-e PAYLOAD`.
    pub fn payload(mut self, payload: &str) -> CoapClient {
        self.push(&["-e", payload]);
        self
    }

    /// `-t FORMAT`: the request's Content-Format.
    pub fn content_format(mut self, format: u16) -> CoapClient {
        self.push(&["-t", &format.to_string()]);
        self
    }

    /// `-A FORMAT`: the Accept option.
    pub fn accept(mut self, format: u16) -> CoapClient {
        self.push(&["-A", &format.to_string()]);
        self
    }

    /// `-B SECONDS`: how long coap-client waits for a response (default 10).
    pub fn wait(mut self, seconds: u32) -> CoapClient {
        self.wait_seconds = seconds;
        self
    }

    fn push(&mut self, args: &[&str]) {
        // Options go before the URI, which stays last.
        let uri = self.args.pop().unwrap();
        self.args.extend(args.iter().map(|a| a.to_string()));
        self.args.push(uri);
    }

    /// `-s SECONDS`: observe the resource (RFC 7641) for this long, then
    /// deregister and exit; every notification shows in the trace. Use with
    /// `spawn`, to change the resource while it observes.
    pub fn observe(mut self, seconds: u32) -> CoapClient {
        self.push(&["-s", &seconds.to_string()]);
        self
    }

    /// Runs coap-client, killing it if it outlives `KILL_AFTER`.
    pub fn run(self) -> Output {
        self.spawn().finish()
    }

    /// Starts coap-client and returns at once; `Running::finish` waits for it
    /// (and kills it if it outlives `KILL_AFTER`).
    pub fn spawn(self) -> Running {
        let dir = TempDir::new();
        let (out, err, payload) = (
            dir.path().join("stdout"),
            dir.path().join("stderr"),
            dir.path().join("payload"),
        );
        let mut command = Command::new(self.program.clone().unwrap_or_else(program));
        command
            .args(["-v", "7", "-B", &self.wait_seconds.to_string(), "-o"])
            .arg(&payload)
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(&err).unwrap());
        let described = format!("{command:?}");
        let child = command.spawn().expect("spawn coap-client");
        Running {
            child,
            described,
            deadline: Instant::now() + KILL_AFTER,
            _dir: dir,
            out,
            err,
            payload,
        }
    }
}

/// A coap-client run that has been started; killed if dropped unfinished.
pub struct Running {
    child: Child,
    described: String,
    deadline: Instant,
    // Holds the files below; removed with it.
    _dir: TempDir,
    out: PathBuf,
    err: PathBuf,
    payload: PathBuf,
}

impl Running {
    /// The messages received so far: coap-client writes its trace as it goes.
    pub fn received_so_far(&self) -> Vec<Traced> {
        let stdout = std::fs::read_to_string(&self.out).unwrap_or_default();
        parse_trace(&stdout).1
    }

    /// Waits up to `within` until a received message satisfies `matches`,
    /// and returns it; None if none did in time.
    pub fn await_received(
        &self,
        within: Duration,
        matches: impl Fn(&Traced) -> bool,
    ) -> Option<Traced> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(found) = self.received_so_far().into_iter().find(|m| matches(m)) {
                return Some(found);
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// coap-client's trace so far, for assertion messages.
    pub fn trace_so_far(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }

    /// Waits for coap-client to exit, killing it (and failing the test) if it
    /// runs longer than `KILL_AFTER` in all.
    pub fn finish(mut self) -> Output {
        let out = self.out.clone();
        let status = crate::child::wait_bounded(
            &mut self.child,
            self.deadline,
            &format!("{} (after {KILL_AFTER:?})", self.described),
            || std::fs::read_to_string(&out).unwrap_or_default(),
        );
        let stdout = std::fs::read_to_string(&self.out).unwrap_or_default();
        let stderr = std::fs::read_to_string(&self.err).unwrap_or_default();
        let (sent, received) = parse_trace(&stdout);
        Output {
            status,
            payload: std::fs::read(&self.payload).unwrap_or_default(),
            stdout,
            stderr,
            sent,
            received,
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Traced {
    /// The payload as the trace shows it (`:: 'text'`); None without one.
    pub fn payload(&self) -> Option<&str> {
        let (_, rest) = self.line.split_once(" :: '")?;
        rest.strip_suffix('\'')
    }

    /// The value of option `name` as the trace shows it, e.g. `"12345"` for
    /// `Observe:12345` in `[ Observe:12345, Content-Format:... ]`.
    pub fn option(&self, name: &str) -> Option<&str> {
        let (_, after) = self.line.split_once(" [ ")?;
        let (options, _) = after.split_once(" ]")?;
        options
            .split(", ")
            .find_map(|option| option.strip_prefix(name)?.strip_prefix(':'))
    }
}

impl Output {
    /// The final response: the last received message that is not an empty ACK.
    /// Fails the test, showing coap-client's output, if there was none.
    pub fn response(&self) -> &Traced {
        self.received
            .iter()
            .rev()
            .find(|m| m.code != "0.00")
            .unwrap_or_else(|| panic!("coap-client received no response\n{}", self.shown()))
    }

    /// The final response code, e.g. `2.05`.
    pub fn code(&self) -> &str {
        &self.response().code
    }

    /// Asserts a clean run that ended in the response `code`.
    pub fn assert_code(&self, code: &str) -> &Output {
        assert!(
            self.status.success(),
            "coap-client failed: {}\n{}",
            self.status,
            self.shown()
        );
        assert_eq!(self.code(), code, "response code\n{}", self.shown());
        self
    }

    pub fn payload_text(&self) -> &str {
        std::str::from_utf8(&self.payload)
            .unwrap_or_else(|_| panic!("payload is not UTF-8\n{}", self.shown()))
    }

    pub fn payload_json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.payload)
            .unwrap_or_else(|e| panic!("payload is not JSON ({e})\n{}", self.shown()))
    }

    /// coap-client's output, for assertion messages.
    pub fn shown(&self) -> String {
        format!(
            "--- coap-client stdout ---\n{}\n--- stderr ---\n{}\n--- payload ---\n{}",
            self.stdout,
            self.stderr,
            String::from_utf8_lossy(&self.payload)
        )
    }
}

/// Splits the `-v 7` trace into sent and received messages: each `v:1 ...`
/// line follows a log line that ends in `sent N bytes` or `received N bytes`.
fn parse_trace(stdout: &str) -> (Vec<Traced>, Vec<Traced>) {
    let (mut sent, mut received) = (Vec::new(), Vec::new());
    let mut direction = None;
    for line in stdout.lines() {
        if let Some(message) = line.strip_prefix("v:1 ") {
            let field = |key: &str| {
                message
                    .split_whitespace()
                    .find_map(|w| w.strip_prefix(key))
                    .unwrap_or_default()
                    .to_string()
            };
            let traced = Traced {
                mtype: field("t:"),
                code: field("c:"),
                mid: u16::from_str_radix(&field("i:"), 16).unwrap_or_default(),
                line: line.to_string(),
            };
            match direction.take() {
                Some(true) => sent.push(traced),
                Some(false) => received.push(traced),
                None => {}
            }
        } else if let Some(i) = line.rfind(" bytes") {
            let words: Vec<&str> = line[..i].split_whitespace().rev().take(2).collect();
            direction = match words.get(1) {
                Some(&"sent") => Some(true),
                Some(&"received") => Some(false),
                _ => None,
            };
        }
    }
    (sent, received)
}
