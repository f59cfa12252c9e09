//! `coapwasm-bench`: a closed-loop CoAP load generator, and a trivial
//! responder that shows its ceiling.
//!
//! ```sh
//! coapwasm-bench coap://127.0.0.1:5683/led --in-flight 16 --sockets 16 --duration 5
//! coapwasm-bench coaps://127.0.0.1:5684/temperature --psk-identity device-001 --psk-key super-secret-key-12345
//! coapwasm-bench coaps://127.0.0.1:5684/ --psk-identity device-001 --psk-key ... --handshakes
//! coapwasm-bench coaps://127.0.0.1:5684/ --psk-identity device-001 --psk-key ... --sessions 1000 --server-pid PID
//! coapwasm-bench --responder 127.0.0.1:0
//! ```

mod affinity;
mod cpu_time;
mod dtls;
mod generator;
mod handshakes;
mod poller;
mod probe;
mod report;
mod request;
mod responder;
mod server_cpu;
mod target;

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;

use request::{Method, RequestTemplate};
use target::Target;

#[derive(Parser)]
#[command(version, about = "A closed-loop CoAP load generator")]
struct Cli {
    /// The resource to request: coap[s]://HOST[:PORT]/PATH[?QUERY].
    #[arg(required_unless_present = "responder")]
    uri: Option<String>,
    /// Request method.
    #[arg(long, value_enum, default_value = "get")]
    method: Method,
    /// Request payload (UTF-8 text).
    #[arg(long, default_value = "")]
    payload: String,
    /// Content-Format of the payload (e.g. 50 for JSON).
    #[arg(long)]
    content_format: Option<u16>,
    /// Send NON requests instead of CON.
    #[arg(long)]
    non: bool,
    /// coaps: the PSK identity each socket's DTLS handshake names.
    #[arg(long, value_name = "ID")]
    psk_identity: Option<String>,
    /// coaps: the pre-shared key (its UTF-8 bytes).
    #[arg(long, value_name = "KEY")]
    psk_key: Option<String>,
    /// coaps: instead of requests, measure DTLS handshakes per second, each
    /// on a fresh socket and closed (close_notify) once established;
    /// --in-flight of them under way at once.
    #[arg(long, conflicts_with_all = ["sessions", "probe"])]
    handshakes: bool,
    /// coaps: instead of requests, establish this many DTLS sessions and
    /// hold them (--in-flight handshakes at once); with --server-pid, report
    /// the server's resident memory per session (VmRSS after - before).
    #[arg(long, value_name = "N", conflicts_with = "probe")]
    sessions: Option<usize>,
    /// Requests outstanding at all times.
    #[arg(long, default_value_t = 16)]
    in_flight: usize,
    /// UDP sockets (client endpoints) the requests take turns on.
    #[arg(long, default_value_t = 16)]
    sockets: usize,
    /// Seconds measured.
    #[arg(long, default_value_t = 5.0)]
    duration: f64,
    /// Seconds of load before measuring.
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// Stop after this many responses (still at most --duration).
    #[arg(long)]
    requests: Option<u64>,
    /// Milliseconds after which an unanswered request counts as a timeout.
    #[arg(long, default_value_t = 1000)]
    timeout_ms: u64,
    /// Pin to this CPU.
    #[arg(long)]
    cpu: Option<usize>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// Read this process's CPU time (/proc/PID/stat) at the start and end of
    /// the measurement, and report the server's CPU time per request.
    #[arg(long, value_name = "PID")]
    server_pid: Option<u32>,
    /// Instead of generating load, send one request a millisecond until the
    /// first success (2.xx) response (at most --duration) and print when it
    /// came, in nanoseconds since the Unix epoch, and its code.
    #[arg(long)]
    probe: bool,
    /// Instead of generating load, answer every request on this address
    /// with a fixed 2.05 (the trivial responder).
    #[arg(long, value_name = "ADDR")]
    responder: Option<SocketAddr>,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Some(cpu) = cli.cpu {
        affinity::pin_to(cpu).with_context(|| format!("cannot pin to CPU {cpu}"))?;
    }
    if let Some(address) = cli.responder {
        return Ok(responder::run(address)?);
    }
    let uri = cli.uri.as_deref().expect("clap requires a URI");
    if cli.in_flight == 0 || cli.in_flight > usize::from(u16::MAX) {
        bail!("--in-flight must be 1..=65535");
    }
    if cli.sockets == 0 {
        bail!("--sockets must be at least 1");
    }
    let target = Target::parse(uri)?;
    let psk = match (&cli.psk_identity, &cli.psk_key) {
        (Some(identity), Some(key)) => Some(dtls::Psk {
            identity: identity.clone(),
            key: key.as_bytes().to_vec(),
        }),
        (None, None) => None,
        _ => bail!("--psk-identity and --psk-key go together"),
    };
    if target.secure != psk.is_some() {
        bail!("coaps:// URIs need --psk-identity and --psk-key, and only they take them");
    }
    if cli.handshakes || cli.sessions.is_some() {
        let Some(psk) = psk else {
            bail!("--handshakes and --sessions measure coaps:// servers");
        };
        let settings = handshakes::Settings {
            server: target.server,
            psk,
            mode: match cli.sessions {
                Some(n) => handshakes::Mode::Hold(n),
                None => handshakes::Mode::Rate,
            },
            parallel: cli.in_flight,
            warmup: Duration::from_secs_f64(cli.warmup),
            duration: Duration::from_secs_f64(cli.duration),
            timeout: Duration::from_millis(cli.timeout_ms.max(5000)),
            server_pid: cli.server_pid,
        };
        let outcome = handshakes::run(&settings).context("the handshakes failed")?;
        let report = handshakes::json(uri, &settings, &outcome);
        if cli.json {
            println!("{report}");
        } else {
            print!("{}", handshakes::human(&report));
        }
        return Ok(());
    }
    let template = RequestTemplate::new(
        &target,
        cli.method,
        !cli.non,
        cli.content_format,
        cli.payload.as_bytes(),
    );
    if cli.probe {
        if target.secure {
            bail!("--probe sends coap:// requests only");
        }
        let limit = Duration::from_secs_f64(cli.duration);
        let Some((at, code)) = probe::run(target.server, &template, limit)? else {
            bail!("no response within {} s", cli.duration);
        };
        println!("{at} {}.{:02}", code >> 5, code & 0x1F);
        return Ok(());
    }
    let settings = generator::Settings {
        server: target.server,
        template,
        server_pid: cli.server_pid,
        in_flight: cli.in_flight,
        sockets: cli.sockets,
        warmup: Duration::from_secs_f64(cli.warmup),
        duration: Duration::from_secs_f64(cli.duration),
        requests: cli.requests,
        timeout: Duration::from_millis(cli.timeout_ms),
        psk,
    };
    let outcome = generator::run(&settings).context("the load generator failed")?;
    let method = format!("{:?}", cli.method).to_uppercase();
    let run = report::Run {
        uri,
        method: &method,
        confirmable: !cli.non,
        in_flight: cli.in_flight,
        sockets: cli.sockets,
    };
    let report = report::json(&run, &outcome);
    if cli.json {
        println!("{report}");
    } else {
        print!("{}", report::human(&report));
    }
    Ok(())
}
