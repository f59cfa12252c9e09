//! A `curl -N` reading a Server-Sent Events stream: its events as they
//! come, each wait bounded; the process killed on drop (the stream closed).

use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

/// One event: its id (0 when none), type and data.
pub type SseEvent = (u64, String, String);

pub struct EventStream {
    child: Child,
    lines: Receiver<String>,
}

impl EventStream {
    /// `curl -sN -H 'Accept: ACCEPT' URL`, for 60 s at most.
    pub fn open(url: &str, accept: &str) -> EventStream {
        let mut child = Command::new("curl")
            .args(["-sN", "--path-as-is", "--max-time", "60", "-H"])
            .arg(format!("Accept: {accept}"))
            .arg(url)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("curl (Debian: curl)");
        let stdout = child.stdout.take().unwrap();
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufRead::lines(std::io::BufReader::new(stdout)) {
                let Ok(line) = line else { break };
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        EventStream { child, lines }
    }

    /// The next event within `within`; None when none came or the stream
    /// ended.
    pub fn next_event(&self, within: Duration) -> Option<SseEvent> {
        let deadline = Instant::now() + within;
        let (mut id, mut event, mut data) = (None, String::new(), Vec::new());
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            let line = self.lines.recv_timeout(left).ok()?;
            if line.is_empty() {
                if !data.is_empty() {
                    return Some((id.unwrap_or(0), event, data.join("\n")));
                }
                continue;
            }
            if let Some(value) = line.strip_prefix("id: ") {
                id = value.parse().ok();
            } else if let Some(value) = line.strip_prefix("event: ") {
                event = value.to_owned();
            } else if let Some(value) = line.strip_prefix("data: ") {
                data.push(value.to_owned());
            }
        }
    }

    /// Whether curl exited (the server ended the stream) within `within`.
    pub fn ended_within(&mut self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if self.child.try_wait().unwrap().is_some() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }
}

impl Drop for EventStream {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
