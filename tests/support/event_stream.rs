//! A Server-Sent Events reader (WHATWG HTML §9.2): `curl -N` reading a
//! stream, its events as they come, always with a bounded wait.

use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

/// One event: its `id`, `event` type and `data` (lines joined by `\n`).
#[derive(Debug, Clone)]
pub struct Event {
    pub id: Option<u64>,
    pub event: String,
    pub data: String,
}

/// A stream being read; curl is killed when it is dropped.
pub struct EventStream {
    child: Child,
    lines: Receiver<String>,
}

impl EventStream {
    /// `GET url` with this `Accept` (at most 60 s in all).
    pub fn open(url: &str, accept: &str) -> EventStream {
        let mut child = Command::new("curl")
            .args([
                "-sN",
                "--max-time",
                "60",
                "-H",
                &format!("Accept: {accept}"),
                url,
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("curl (Debian: curl)");
        let stdout = child.stdout.take().unwrap();
        let (send, lines) = channel();
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

    /// The next event with data, within `within`.
    pub fn next(&self, within: Duration) -> Option<Event> {
        let deadline = Instant::now() + within;
        let (mut id, mut event, mut data) = (None, String::new(), Vec::new());
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            let line = self.lines.recv_timeout(left).ok()?;
            if line.is_empty() {
                if !data.is_empty() {
                    return Some(Event {
                        id,
                        event,
                        data: data.join("\n"),
                    });
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

    /// The first event of type `event` whose data satisfies `matches`,
    /// within `within` in all; the others are passed over.
    pub fn find(
        &self,
        event: &str,
        within: Duration,
        matches: impl Fn(&str) -> bool,
    ) -> Option<Event> {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            let next = self.next(left)?;
            if next.event == event && matches(&next.data) {
                return Some(next);
            }
        }
    }
}

impl EventStream {
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
