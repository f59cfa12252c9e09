//! Runs `tests/clients/aiocoap_observe.py`: aiocoap, a real third-party CoAP
//! client (Python), observing one resource through its observation API
//! (RFC 7641). The script prints `registered code=... observe=...` on standard
//! error once the registration is answered, and each notification's payload
//! on a line of its own on standard output; it exits 0 after the number of
//! notifications asked for, non-zero if fewer came within its timeout.

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// How much longer than its own timeout the script may run before the test
/// kills it and fails: Python's start-up and aiocoap's shutdown.
const GRACE: Duration = Duration::from_secs(15);

/// The script, next to this crate's manifest.
pub fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("clients/aiocoap_observe.py")
}

/// Fails the test, saying how to fix it, if `python3` cannot import aiocoap.
pub fn assert_installed() {
    let output = Command::new("python3")
        .args(["-c", "import aiocoap"])
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run python3 ({e}): install Python 3"));
    assert!(
        output.status.success(),
        "python3 cannot import aiocoap: run `bash examples/setup.sh` (pip install \
         aiocoap==0.4.17)\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A running aiocoap observer. Dropping it kills the process.
pub struct AiocoapObserver {
    child: Child,
    described: String,
    deadline: Instant,
    payloads: Receiver<String>,
    status_lines: Receiver<String>,
    stderr: Arc<Mutex<String>>,
}

/// How the script ended.
pub struct Finished {
    pub status: ExitStatus,
    /// Payload lines not yet taken with `next_payload`.
    pub remaining: Vec<String>,
    pub stderr: String,
}

impl AiocoapObserver {
    /// Starts observing `uri`, to exit after `count` notifications or after
    /// `timeout`, whichever comes first.
    pub fn start(uri: &str, count: usize, timeout: Duration) -> AiocoapObserver {
        assert_installed();
        let mut command = Command::new("python3");
        command
            .arg(script())
            .arg(uri)
            .arg(count.to_string())
            .arg(format!("{:.1}", timeout.as_secs_f64()))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let described = format!("{command:?}");
        let mut child = command.spawn().expect("spawn python3");
        let payloads = lines(child.stdout.take().unwrap(), None);
        let stderr = Arc::new(Mutex::new(String::new()));
        let status_lines = lines(child.stderr.take().unwrap(), Some(Arc::clone(&stderr)));
        AiocoapObserver {
            child,
            described,
            deadline: Instant::now() + timeout + GRACE,
            payloads,
            status_lines,
            stderr,
        }
    }

    /// Waits up to `within` for the `registered ...` line and returns it;
    /// fails the test if it does not come.
    pub fn await_registered(&self, within: Duration) -> String {
        let deadline = Instant::now() + within;
        // Bounded: the script writes a handful of status lines at most.
        for _ in 0..100 {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.status_lines.recv_timeout(left) {
                Ok(line) if line.starts_with("registered ") => return line,
                Ok(_) => continue,
                Err(_) => break,
            }
        }
        panic!(
            "{} did not register within {within:?}; its stderr:\n{}",
            self.described,
            self.stderr()
        );
    }

    /// The next notification payload it printed, waiting up to `within`.
    pub fn next_payload(&self, within: Duration) -> Option<String> {
        self.payloads.recv_timeout(within).ok()
    }

    /// What it wrote to standard error so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits for the script to exit (killing it, and failing the test, if it
    /// outlives its timeout by more than `GRACE`).
    pub fn finish(mut self) -> Finished {
        let status = crate::child::wait_bounded(
            &mut self.child,
            self.deadline,
            &format!("{} (timeout plus {GRACE:?})", self.described),
            || format!("stderr:\n{}", self.stderr.lock().unwrap()),
        );
        // Let the reader threads take the last lines.
        thread::sleep(Duration::from_millis(100));
        Finished {
            status,
            remaining: self.payloads.try_iter().collect(),
            stderr: self.stderr(),
        }
    }
}

impl Drop for AiocoapObserver {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Sends each line `source` produces through a channel, on its own thread,
/// also appending it to `copy` if given.
fn lines(source: impl Read + Send + 'static, copy: Option<Arc<Mutex<String>>>) -> Receiver<String> {
    let (sender, receiver) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(source).lines() {
            let Ok(line) = line else { break };
            if let Some(copy) = &copy {
                let mut text = copy.lock().unwrap();
                text.push_str(&line);
                text.push('\n');
            }
            // The receiver may be gone; keep draining so the child never blocks.
            let _ = sender.send(line);
        }
    });
    receiver
}
