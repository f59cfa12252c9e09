//! DTLS handshakes, with no requests: how many a server completes a second
//! (each on a fresh socket, closed with close_notify once established), or
//! what holding many established sessions costs it in memory.
//!
//! `parallel` handshakes are under way at all times, each on its own
//! nonblocking socket; a handshake unfinished within the timeout counts as
//! failed and is replaced.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde_json::{Value, json};

use crate::cpu_time::cpu_time;
use crate::dtls::{self, Handshaking, Psk, Session, Step};
use crate::server_cpu::{server_cpu, server_rss_kb};

/// How often pending handshakes are checked for retransmission and timeout.
const SWEEP_INTERVAL: Duration = Duration::from_millis(10);

/// How long established sessions are held before the server's memory is
/// read, for it to settle.
const SETTLE: Duration = Duration::from_millis(500);

pub enum Mode {
    /// Handshakes per second: each session is closed once established.
    Rate,
    /// Establish this many sessions, keep them all, and read the server's
    /// resident memory before and after.
    Hold(usize),
}

pub struct Settings {
    pub server: SocketAddr,
    pub psk: Psk,
    pub mode: Mode,
    pub parallel: usize,
    pub warmup: Duration,
    pub duration: Duration,
    pub timeout: Duration,
    pub server_pid: Option<u32>,
}

pub struct Outcome {
    pub elapsed: Duration,
    pub completed: u64,
    pub failures: u64,
    /// Handshake time in nanoseconds, ClientHello to Finished.
    pub latency: Histogram<u64>,
    pub cpu: Duration,
    pub server_cpu: Option<Duration>,
    /// Sessions held, and the server's VmRSS (kB) before and after (Hold).
    pub held: usize,
    pub server_rss_kb: Option<(u64, u64)>,
}

pub fn run(settings: &Settings) -> io::Result<Outcome> {
    let context = dtls::context(&settings.psk)?;
    let local: SocketAddr = if settings.server.is_ipv6() {
        "[::]:0".parse().unwrap()
    } else {
        "0.0.0.0:0".parse().unwrap()
    };
    let hold = match settings.mode {
        Mode::Rate => None,
        Mode::Hold(n) => Some(n),
    };
    let mut slots: Vec<Option<(Handshaking, Instant)>> =
        (0..settings.parallel.max(1)).map(|_| None).collect();
    let mut held: Vec<Session> = Vec::new();
    let mut outcome = Outcome {
        elapsed: Duration::ZERO,
        completed: 0,
        failures: 0,
        latency: Histogram::new_with_bounds(1, 120_000_000_000, 3).expect("valid histogram bounds"),
        cpu: Duration::ZERO,
        server_cpu: None,
        held: 0,
        server_rss_kb: None,
    };
    let start = Instant::now();
    // Holding sessions measures from the first handshake; the rate after a
    // warm-up.
    let measure_from = if hold.is_some() {
        start
    } else {
        start + settings.warmup
    };
    let measure_until = measure_from + settings.duration;
    let mut measuring = false;
    let mut measure_start = measure_from;
    let mut cpu_start = Duration::ZERO;
    let mut server_cpu_start = None;
    let mut rss_before = None;
    let mut next_sweep = start + SWEEP_INTERVAL;
    let mut pollfds: Vec<libc::pollfd> = Vec::with_capacity(slots.len());
    let mut polled: Vec<usize> = Vec::with_capacity(slots.len());
    loop {
        let now = Instant::now();
        if !measuring && now >= measure_from {
            measuring = true;
            measure_start = now;
            cpu_start = cpu_time();
            server_cpu_start = settings.server_pid.and_then(server_cpu);
            rss_before = settings.server_pid.and_then(server_rss_kb);
        }
        if now >= measure_until || hold.is_some_and(|n| held.len() >= n) {
            outcome.elapsed = now - measure_start;
            outcome.cpu = cpu_time().saturating_sub(cpu_start);
            outcome.server_cpu = server_cpu_start
                .zip(settings.server_pid.and_then(server_cpu))
                .map(|(start, end)| end.saturating_sub(start));
            break;
        }
        // Keep `parallel` handshakes under way (holding: no more than needed).
        for slot in 0..slots.len() {
            let under_way = slots.iter().filter(|s| s.is_some()).count();
            if slots[slot].is_some() || hold.is_some_and(|n| held.len() + under_way >= n) {
                continue;
            }
            let step = UdpSocket::bind(local)
                .and_then(|socket| {
                    socket.connect(settings.server)?;
                    socket.set_nonblocking(true)?;
                    Ok(socket)
                })
                .map_or_else(Step::Failed, |socket| dtls::start(&context, socket));
            on_step(
                step,
                slot,
                now,
                measuring,
                hold.is_some(),
                &mut slots,
                &mut held,
                &mut outcome,
            );
        }
        if now >= next_sweep {
            for slot in slots.iter_mut() {
                let expired = match slot {
                    Some((handshaking, started)) => {
                        dtls::handle_timeout(handshaking);
                        now.saturating_duration_since(*started) > settings.timeout
                    }
                    None => false,
                };
                if expired {
                    *slot = None;
                    if measuring {
                        outcome.failures += 1;
                    }
                }
            }
            next_sweep = now + SWEEP_INTERVAL;
        }
        pollfds.clear();
        polled.clear();
        for (index, slot) in slots.iter().enumerate() {
            if let Some((handshaking, _)) = slot {
                pollfds.push(libc::pollfd {
                    fd: dtls::fd(handshaking),
                    events: libc::POLLIN,
                    revents: 0,
                });
                polled.push(index);
            }
        }
        let phase_end = if measuring {
            measure_until
        } else {
            measure_from
        };
        let wait = next_sweep.min(phase_end).saturating_duration_since(now);
        let millis = wait.as_micros().div_ceil(1000) as i32;
        // SAFETY: pollfds is a live buffer of as many entries as passed.
        let ready = unsafe { libc::poll(pollfds.as_mut_ptr(), pollfds.len() as _, millis) };
        if ready <= 0 {
            continue;
        }
        for (pollfd, &slot) in pollfds.iter().zip(&polled) {
            if pollfd.revents == 0 {
                continue;
            }
            let Some((handshaking, started)) = slots[slot].take() else {
                continue;
            };
            let step = dtls::resume(handshaking);
            on_step(
                step,
                slot,
                started,
                measuring,
                hold.is_some(),
                &mut slots,
                &mut held,
                &mut outcome,
            );
        }
    }
    if hold.is_some() {
        std::thread::sleep(SETTLE);
        outcome.held = held.len();
        outcome.server_rss_kb = rss_before.zip(settings.server_pid.and_then(server_rss_kb));
    }
    for mut session in held {
        let _ = session.shutdown();
    }
    Ok(outcome)
}

/// Files the result of starting or resuming the handshake in `slot`, begun
/// at `started`.
#[allow(clippy::too_many_arguments)]
fn on_step(
    step: Step,
    slot: usize,
    started: Instant,
    measuring: bool,
    hold: bool,
    slots: &mut [Option<(Handshaking, Instant)>],
    held: &mut Vec<Session>,
    outcome: &mut Outcome,
) {
    match step {
        Step::Pending(handshaking) => slots[slot] = Some((handshaking, started)),
        Step::Done(mut session) => {
            if measuring {
                outcome.completed += 1;
                let latency = started.elapsed().as_nanos().max(1) as u64;
                outcome.latency.saturating_record(latency);
            }
            if hold {
                held.push(session);
            } else {
                // close_notify, so that the server forgets the session now.
                let _ = session.shutdown();
            }
        }
        Step::Failed(_) => {
            if measuring {
                outcome.failures += 1;
            }
        }
    }
}

fn micros(nanos: u64) -> f64 {
    nanos as f64 / 1000.0
}

pub fn json(uri: &str, settings: &Settings, outcome: &Outcome) -> Value {
    let seconds = outcome.elapsed.as_secs_f64();
    let per = |total: f64| {
        if outcome.completed > 0 {
            total / outcome.completed as f64
        } else {
            0.0
        }
    };
    let latency = &outcome.latency;
    let mut report = json!({
        "mode": match settings.mode { Mode::Rate => "handshakes", Mode::Hold(_) => "sessions" },
        "uri": uri,
        "parallel": settings.parallel,
        "seconds": seconds,
        "handshakes": outcome.completed,
        "failures": outcome.failures,
        "rate": if seconds > 0.0 { outcome.completed as f64 / seconds } else { 0.0 },
        "latency_us": {
            "p50": micros(latency.value_at_quantile(0.50)),
            "p90": micros(latency.value_at_quantile(0.90)),
            "p99": micros(latency.value_at_quantile(0.99)),
            "max": micros(latency.max()),
            "mean": latency.mean() / 1000.0,
        },
        "generator_cpu_us_per_handshake": per(outcome.cpu.as_secs_f64() * 1e6),
        "generator_cpu_share": if seconds > 0.0 { outcome.cpu.as_secs_f64() / seconds } else { 0.0 },
        "server_cpu_us_per_handshake": outcome.server_cpu.map(|cpu| per(cpu.as_secs_f64() * 1e6)),
        "server_cpu_share": outcome.server_cpu.map(|cpu| if seconds > 0.0 { cpu.as_secs_f64() / seconds } else { 0.0 }),
    });
    if let Mode::Hold(_) = settings.mode {
        report["sessions_held"] = json!(outcome.held);
        if let Some((before, after)) = outcome.server_rss_kb {
            report["server_rss_kb_before"] = json!(before);
            report["server_rss_kb_after"] = json!(after);
            report["server_bytes_per_session"] = json!(if outcome.held > 0 {
                (after as f64 - before as f64) * 1024.0 / outcome.held as f64
            } else {
                0.0
            });
        }
    }
    report
}

pub fn human(report: &Value) -> String {
    let l = &report["latency_us"];
    let mut text = format!(
        "DTLS handshakes with {uri}, {parallel} in parallel, {seconds:.2} s\n\
         handshakes/s {rate:.0}\n\
         handshake µs p50 {p50:.1}  p90 {p90:.1}  p99 {p99:.1}  max {max:.1}\n\
         completed    {completed}   failed {failures}\n\
         generator    {cpu:.2} µs CPU/handshake, {share:.0}% of a core\n",
        uri = report["uri"].as_str().unwrap_or_default(),
        parallel = report["parallel"],
        seconds = report["seconds"].as_f64().unwrap_or_default(),
        rate = report["rate"].as_f64().unwrap_or_default(),
        p50 = l["p50"].as_f64().unwrap_or_default(),
        p90 = l["p90"].as_f64().unwrap_or_default(),
        p99 = l["p99"].as_f64().unwrap_or_default(),
        max = l["max"].as_f64().unwrap_or_default(),
        completed = report["handshakes"],
        failures = report["failures"],
        cpu = report["generator_cpu_us_per_handshake"]
            .as_f64()
            .unwrap_or_default(),
        share = report["generator_cpu_share"].as_f64().unwrap_or_default() * 100.0,
    );
    if let Some(cpu) = report["server_cpu_us_per_handshake"].as_f64() {
        text += &format!(
            "server       {cpu:.2} µs CPU/handshake, {:.0}% of a core\n",
            report["server_cpu_share"].as_f64().unwrap_or_default() * 100.0
        );
    }
    if let Some(held) = report.get("sessions_held") {
        text += &format!("sessions     {held} held\n");
    }
    if let Some(bytes) = report["server_bytes_per_session"].as_f64() {
        text += &format!(
            "server RSS   {} kB -> {} kB: {:.0} bytes per session\n",
            report["server_rss_kb_before"], report["server_rss_kb_after"], bytes
        );
    }
    text
}
