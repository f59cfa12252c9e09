//! A client that requests one resource at a steady pace on a thread of its
//! own while a test makes another resource misbehave, and reports what it
//! saw: every latency, and the requests that got no answer. Bounded in count
//! and time; it stops when dropped or told to.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::datagram::{Code, Type};
use crate::peer::Peer;

/// How long one request may wait for its answer before it counts as lost.
const ANSWER_WAIT: Duration = Duration::from_secs(2);
/// The most requests one probe sends, whatever the test asks.
const MAX_REQUESTS: usize = 10_000;
/// The longest a probe runs.
const MAX_RUN: Duration = Duration::from_secs(120);

/// A running probe.
pub struct LatencyProbe {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<ProbeReport>>,
}

/// What a probe saw.
#[derive(Debug, Clone)]
pub struct ProbeReport {
    /// The latency of every answered request, in the order sent.
    pub latencies: Vec<Duration>,
    /// Requests that got no 2.05 within the wait (or any other answer).
    pub lost: usize,
}

impl ProbeReport {
    /// The `p`-th percentile (0 to 100) of the latencies.
    pub fn percentile(&self, p: usize) -> Duration {
        let mut sorted = self.latencies.clone();
        sorted.sort_unstable();
        if sorted.is_empty() {
            return Duration::MAX;
        }
        sorted[(sorted.len() - 1) * p.min(100) / 100]
    }

    /// Requests sent.
    pub fn sent(&self) -> usize {
        self.latencies.len() + self.lost
    }
}

impl std::fmt::Display for ProbeReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} sent, {} lost, p50 {:?}, p99 {:?}, max {:?}",
            self.sent(),
            self.lost,
            self.percentile(50),
            self.percentile(99),
            self.percentile(100),
        )
    }
}

impl LatencyProbe {
    /// Starts sending a CON GET of `path` to `server` every `every`.
    pub fn start(server: SocketAddr, path: &str, every: Duration) -> LatencyProbe {
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let path = path.to_owned();
        let thread = std::thread::spawn(move || {
            let mut peer = Peer::new(server);
            let mut report = ProbeReport {
                latencies: Vec::new(),
                lost: 0,
            };
            let started = Instant::now();
            for _ in 0..MAX_REQUESTS {
                if stopping.load(Ordering::Relaxed) || started.elapsed() > MAX_RUN {
                    break;
                }
                let request = peer.con(Code::GET, &path);
                let sent = Instant::now();
                peer.send(&request);
                match await_answer(&peer, request.mid, sent) {
                    Some(latency) => report.latencies.push(latency),
                    None => report.lost += 1,
                }
                std::thread::sleep(every.saturating_sub(sent.elapsed()));
            }
            report
        });
        LatencyProbe {
            stop,
            thread: Some(thread),
        }
    }

    /// Stops the probe and returns what it saw.
    pub fn finish(mut self) -> ProbeReport {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .take()
            .expect("finished once")
            .join()
            .expect("the probe thread does not panic")
    }
}

impl Drop for LatencyProbe {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// The latency of the piggybacked 2.05 to message `mid`, skipping stale
/// answers to earlier requests; None if it does not come in time.
fn await_answer(peer: &Peer, mid: u16, sent: Instant) -> Option<Duration> {
    let deadline = sent + ANSWER_WAIT;
    // At most a few stale datagrams can be waiting.
    for _ in 0..64 {
        let left = deadline.saturating_duration_since(Instant::now());
        let reply = peer.recv(left)?;
        if reply.mtype == Type::Ack && reply.mid == mid {
            return (reply.code == Code::CONTENT).then(|| sent.elapsed());
        }
    }
    None
}
