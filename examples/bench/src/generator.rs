//! The load generator: a closed loop on one thread. `in_flight` requests are
//! outstanding at all times; each response (or timeout) sends the next
//! request, on the next socket in turn, so every socket's Message IDs recur
//! only after `sockets` × 65536 requests (a server's deduplication,
//! RFC 7252 §4.5, must never mistake a new request for an old one).
//!
//! Requests are matched to responses by token (§5.3.2), which names a slot
//! and its generation, so a late answer to a request that timed out is never
//! counted for the request that reused its slot. There is no retransmission:
//! a request unanswered within the timeout is counted and replaced.

use std::io::{self, ErrorKind};
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, RawFd};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::cpu_time::cpu_time;
use crate::dtls::{self, Psk, Session};
use crate::poller::Poller;
use crate::request::{ACK, CON, RST, RequestTemplate, TOKEN_LENGTH, empty_ack};
use crate::server_cpu::server_cpu;

/// How often outstanding requests are checked for timeouts.
const SWEEP_INTERVAL: Duration = Duration::from_millis(10);

/// What to run.
pub struct Settings {
    pub server: SocketAddr,
    pub template: RequestTemplate,
    pub in_flight: usize,
    pub sockets: usize,
    pub warmup: Duration,
    pub duration: Duration,
    /// Stop the measurement after this many responses (and at `duration` at the latest).
    pub requests: Option<u64>,
    pub timeout: Duration,
    /// The server's process, whose CPU time is read around the measurement.
    pub server_pid: Option<u32>,
    /// coaps: each socket does one DTLS handshake with this key before the
    /// load starts, and every request and response is a DTLS record.
    pub psk: Option<Psk>,
}

/// One of the generator's client endpoints: a UDP socket, or a DTLS
/// session over one.
enum Endpoint {
    Plain(UdpSocket),
    Dtls(Box<Session>),
}

impl Endpoint {
    fn send(&mut self, datagram: &[u8]) -> io::Result<usize> {
        match self {
            Endpoint::Plain(socket) => socket.send(datagram),
            Endpoint::Dtls(session) => dtls::write(session, datagram),
        }
    }

    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Endpoint::Plain(socket) => socket.recv(buf),
            Endpoint::Dtls(session) => dtls::read(session, buf),
        }
    }

    /// Whether a received datagram is still partly unread (DTLS can carry
    /// several records in one), which the poller would not report.
    fn has_pending(&self) -> bool {
        match self {
            Endpoint::Plain(_) => false,
            Endpoint::Dtls(session) => dtls::has_pending(session),
        }
    }

    fn fd(&self) -> RawFd {
        match self {
            Endpoint::Plain(socket) => socket.as_raw_fd(),
            Endpoint::Dtls(session) => session.get_ref().0.as_raw_fd(),
        }
    }
}

/// What was measured, after the warm-up.
pub struct Outcome {
    pub elapsed: Duration,
    pub responses: u64,
    pub timeouts: u64,
    /// Responses by code byte (class << 5 | detail, RFC 7252 §3).
    pub codes: Box<[u64; 256]>,
    pub resets: u64,
    /// Datagrams that matched no outstanding request (late, or malformed).
    pub unmatched: u64,
    /// Failed sends and receives (for example ICMP port unreachable).
    pub errors: u64,
    /// Latency in nanoseconds.
    pub latency: Histogram<u64>,
    /// The generator's own CPU time (user + system) while measuring.
    pub cpu: Duration,
    /// The server's CPU time while measuring, if its pid was given.
    pub server_cpu: Option<Duration>,
}

#[derive(Clone, Copy)]
struct Slot {
    generation: u16,
    busy: bool,
    socket: usize,
    message_id: u16,
    sent_at: Instant,
}

struct Generator<'a> {
    settings: &'a Settings,
    sockets: Vec<Endpoint>,
    message_ids: Vec<u16>,
    next_socket: usize,
    slots: Vec<Slot>,
    buffer: Vec<u8>,
    measuring: bool,
    outcome: Outcome,
}

pub fn run(settings: &Settings) -> io::Result<Outcome> {
    assert!(settings.in_flight > 0 && settings.in_flight <= usize::from(u16::MAX));
    let unspecified: SocketAddr = if settings.server.is_ipv6() {
        "[::]:0".parse().unwrap()
    } else {
        "0.0.0.0:0".parse().unwrap()
    };
    let context = settings.psk.as_ref().map(dtls::context).transpose()?;
    let mut sockets = Vec::with_capacity(settings.sockets);
    for _ in 0..settings.sockets.max(1) {
        let socket = UdpSocket::bind(unspecified)?;
        socket.connect(settings.server)?;
        socket.set_nonblocking(true)?;
        // The handshakes come before the load starts: not measured.
        sockets.push(match &context {
            Some(context) => Endpoint::Dtls(Box::new(dtls::connect(
                context,
                socket,
                Duration::from_secs(10),
            )?)),
            None => Endpoint::Plain(socket),
        });
    }
    // Different Message IDs in each run, so that a server still remembering
    // the previous run's (RFC 7252 §4.5) does not take these for duplicates.
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let now = Instant::now();
    let mut generator = Generator {
        settings,
        message_ids: (0..sockets.len())
            .map(|i| (seed as u16).wrapping_add((i as u16).wrapping_mul(4099)))
            .collect(),
        sockets,
        next_socket: 0,
        slots: vec![
            Slot {
                generation: 0,
                busy: false,
                socket: 0,
                message_id: 0,
                sent_at: now,
            };
            settings.in_flight
        ],
        buffer: Vec::with_capacity(1500),
        measuring: false,
        outcome: Outcome {
            elapsed: Duration::ZERO,
            responses: 0,
            timeouts: 0,
            codes: Box::new([0; 256]),
            resets: 0,
            unmatched: 0,
            errors: 0,
            latency: Histogram::new_with_bounds(1, 120_000_000_000, 3)
                .expect("valid histogram bounds"),
            cpu: Duration::ZERO,
            server_cpu: None,
        },
    };
    generator.run()?;
    Ok(generator.outcome)
}

impl Generator<'_> {
    fn run(&mut self) -> io::Result<()> {
        let fds: Vec<RawFd> = self.sockets.iter().map(Endpoint::fd).collect();
        let poller = Poller::new(&fds)?;
        let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; self.sockets.len()];
        let mut datagram = vec![0u8; 65_536];
        let start = Instant::now();
        for slot in 0..self.slots.len() {
            self.send(slot, start);
        }
        let measure_from = start + self.settings.warmup;
        let measure_until = measure_from + self.settings.duration;
        let mut measure_start = measure_from;
        let mut cpu_start = Duration::ZERO;
        let mut server_cpu_start = None;
        let mut next_sweep = start + SWEEP_INTERVAL;
        loop {
            let now = Instant::now();
            if !self.measuring && now >= measure_from {
                self.measuring = true;
                measure_start = now;
                cpu_start = cpu_time();
                server_cpu_start = self.settings.server_pid.and_then(server_cpu);
            }
            let done = self
                .settings
                .requests
                .is_some_and(|n| self.measuring && self.outcome.responses >= n);
            if now >= measure_until || done {
                self.outcome.elapsed = now - measure_start;
                self.outcome.cpu = cpu_time().saturating_sub(cpu_start);
                let server_cpu_end = self.settings.server_pid.and_then(server_cpu);
                self.outcome.server_cpu = server_cpu_start
                    .zip(server_cpu_end)
                    .map(|(start, end)| end.saturating_sub(start));
                return Ok(());
            }
            if now >= next_sweep {
                self.sweep(now);
                next_sweep = now + SWEEP_INTERVAL;
            }
            let phase_end = if self.measuring {
                measure_until
            } else {
                measure_from
            };
            let wait = next_sweep.min(phase_end).saturating_duration_since(now);
            let ready = poller.wait(&mut events, wait)?;
            for event in &events[..ready] {
                let socket = event.u64 as usize;
                // One datagram per ready socket per turn: under load most
                // sockets hold one, and a second recv would mostly be a
                // wasted EAGAIN. The next wait finds any left (level-triggered).
                loop {
                    match self.sockets[socket].recv(&mut datagram) {
                        Ok(len) => self.on_datagram(socket, &datagram[..len]),
                        Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                        Err(_) => {
                            self.count_error();
                            break;
                        }
                    }
                    if !self.sockets[socket].has_pending() {
                        break;
                    }
                }
            }
        }
    }

    fn on_datagram(&mut self, socket: usize, datagram: &[u8]) {
        let now = Instant::now();
        if datagram.len() < 4 || datagram[0] >> 6 != 1 {
            return self.count_unmatched();
        }
        let kind = (datagram[0] >> 4) & 3;
        let token_length = usize::from(datagram[0] & 0x0F);
        let code = datagram[1];
        let message_id = u16::from_be_bytes([datagram[2], datagram[3]]);
        if kind == RST {
            let found = self
                .slots
                .iter()
                .position(|s| s.busy && s.socket == socket && s.message_id == message_id);
            match found {
                Some(slot) => {
                    if self.measuring {
                        self.outcome.resets += 1;
                    }
                    self.complete(slot, now, None);
                }
                None => self.count_unmatched(),
            }
            return;
        }
        if kind == ACK && code == 0 {
            // The empty ACK of a separate response (§5.2.2): the response
            // itself comes later, matched by token.
            return;
        }
        if token_length != TOKEN_LENGTH || datagram.len() < 4 + TOKEN_LENGTH {
            return self.count_unmatched();
        }
        if kind == CON {
            let _ = self.sockets[socket].send(&empty_ack(message_id));
        }
        let token = u32::from_be_bytes(datagram[4..8].try_into().expect("four bytes"));
        let slot = (token & 0xFFFF) as usize;
        let generation = (token >> 16) as u16;
        match self.slots.get(slot) {
            Some(s) if s.busy && s.generation == generation => self.complete(slot, now, Some(code)),
            _ => self.count_unmatched(),
        }
    }

    fn complete(&mut self, slot: usize, now: Instant, code: Option<u8>) {
        if self.measuring {
            let latency = now.saturating_duration_since(self.slots[slot].sent_at);
            self.outcome
                .latency
                .saturating_record(latency.as_nanos().max(1) as u64);
            self.outcome.responses += 1;
            if let Some(code) = code {
                self.outcome.codes[usize::from(code)] += 1;
            }
        }
        self.send(slot, now);
    }

    fn sweep(&mut self, now: Instant) {
        for slot in 0..self.slots.len() {
            let s = self.slots[slot];
            if s.busy && now.saturating_duration_since(s.sent_at) > self.settings.timeout {
                if self.measuring {
                    self.outcome.timeouts += 1;
                }
                self.send(slot, now);
            }
        }
    }

    fn send(&mut self, slot: usize, now: Instant) {
        let socket = self.next_socket;
        self.next_socket = (socket + 1) % self.sockets.len();
        let message_id = self.message_ids[socket];
        self.message_ids[socket] = message_id.wrapping_add(1);
        let s = &mut self.slots[slot];
        s.generation = s.generation.wrapping_add(1);
        s.busy = true;
        s.socket = socket;
        s.message_id = message_id;
        s.sent_at = now;
        let token = (u32::from(s.generation) << 16) | slot as u32;
        self.settings
            .template
            .write(&mut self.buffer, message_id, token);
        // A failed send leaves the slot busy: it times out and is replaced.
        if self.sockets[socket].send(&self.buffer).is_err() {
            self.count_error();
        }
    }

    fn count_unmatched(&mut self) {
        if self.measuring {
            self.outcome.unmatched += 1;
        }
    }

    fn count_error(&mut self) {
        if self.measuring {
            self.outcome.errors += 1;
        }
    }
}
