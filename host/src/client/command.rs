//! The client's command line: `coapwasm get|put|post|delete|fetch|patch|
//! ipatch|observe|discover URI`. Flags take coap-client's letters where they
//! mean the same (`-m -e -f -t -A -O -T -s -B -N -u -k -v -b`).
//!
//! The payload goes to standard output, the response code and options to
//! standard error; on a terminal both are pretty, piped the payload is the
//! raw bytes. The exit status says what happened ([`ExitStatus`]).

use std::io::{IsTerminal as _, Read as _, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context as _, bail};
use coap_lite::RequestType;

use super::connection::{Connection, Quiet};
use super::content_format;
use super::exchange::{ClientExchange, Event, Failure, Request, Response, code_of};
use super::link_format;
use super::presentation::{self, Style};
use super::uri::{CoapUri, Scheme};
use crate::message::{Token, TransmissionParameters};
use crate::transport::dtls::ClientCredentials;

/// What the exit status says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ExitStatus {
    /// A 2.xx response (for observe: the observation ran and ended as asked).
    Success = 0,
    /// Anything else that went wrong: a Reset, no DTLS session, nothing
    /// listening, a broken block-wise transfer, an observation refused.
    Failure = 1,
    /// A bad argument (as clap's own usage errors).
    Usage = 2,
    /// No response within the timeout (`-B`), or never acknowledged.
    Timeout = 3,
    /// A 4.xx response.
    ClientError = 4,
    /// A 5.xx response.
    ServerError = 5,
}

impl From<ExitStatus> for ExitCode {
    fn from(status: ExitStatus) -> ExitCode {
        ExitCode::from(status as u8)
    }
}

/// Flags every client subcommand takes.
#[derive(clap::Args, Debug, Clone)]
pub struct CommonArgs {
    /// Accept: the Content-Format wanted, by name (json, cbor, text, link) or number.
    #[arg(short = 'A', long, value_name = "FORMAT")]
    pub accept: Option<String>,
    /// An extra option, NUMBER,VALUE (VALUE as text, or 0x... as hex); repeatable.
    #[arg(short = 'O', long = "option", value_name = "NUM,VALUE")]
    pub options: Vec<String>,
    /// The token, in hex (default: 8 random bytes).
    #[arg(short = 'T', long, value_name = "HEX")]
    pub token: Option<String>,
    /// Block size for block-wise transfers, 16 to 1024 (as coap-client: [NUM,]SIZE).
    #[arg(short = 'b', long = "block-size", value_name = "SIZE")]
    pub block_size: Option<String>,
    /// Give up after this many seconds without an answer.
    #[arg(
        short = 'B',
        long = "timeout",
        value_name = "SECONDS",
        default_value_t = 90.0
    )]
    pub timeout: f64,
    /// Send NON (non-confirmable) instead of CON requests.
    #[arg(short = 'N', long = "non")]
    pub non: bool,
    /// Send the request through this forward-proxy, coap://HOST[:PORT] or
    /// coaps://... (as coap-client's -P): the target URI goes as
    /// Proxy-Scheme and Uri-* options (RFC 7252 §5.10.2).
    #[arg(short = 'P', long = "proxy", value_name = "URI")]
    pub proxy: Option<String>,
    /// coaps: the PSK identity.
    #[arg(short = 'u', long = "identity", value_name = "IDENTITY")]
    pub identity: Option<String>,
    /// coaps: the pre-shared key, as text.
    #[arg(short = 'k', long = "key", value_name = "KEY")]
    pub key: Option<String>,
    /// coaps: the pre-shared key, in hex.
    #[arg(long = "key-hex", value_name = "HEX", conflicts_with = "key")]
    pub key_hex: Option<String>,
    /// coaps: a client certificate chain (PEM).
    #[arg(
        short = 'c',
        long = "cert",
        value_name = "FILE",
        requires = "private_key"
    )]
    pub certificate: Option<PathBuf>,
    /// coaps: the client certificate's private key (PEM).
    #[arg(
        short = 'j',
        long = "cert-key",
        value_name = "FILE",
        requires = "certificate"
    )]
    pub private_key: Option<PathBuf>,
    /// coaps: a CA the server's certificate must chain to (default: not verified).
    #[arg(short = 'R', long = "ca", value_name = "FILE")]
    pub trusted_cas: Vec<PathBuf>,
    /// Show every datagram exchanged on standard error.
    #[arg(short = 'v', long, conflicts_with = "quiet")]
    pub verbose: bool,
    /// Show only the payload.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Write the payload as received even on a terminal.
    #[arg(long, conflicts_with = "pretty")]
    pub raw: bool,
    /// Pretty-print the payload even when piped.
    #[arg(long)]
    pub pretty: bool,
}

/// `coapwasm get|put|post|delete|fetch|patch|ipatch URI`.
#[derive(clap::Args, Debug)]
pub struct RequestArgs {
    /// coap://HOST[:PORT]/PATH[?QUERY] or coaps://...; HOST a name, an IPv4
    /// address or an [IPv6] one.
    #[arg(value_name = "URI")]
    pub uri: String,
    /// The method (get, post, put, delete, fetch, patch, ipatch), as
    /// coap-client's -m; the subcommand's by default.
    #[arg(short = 'm', long, value_name = "METHOD")]
    pub method: Option<String>,
    /// The payload, as given.
    #[arg(
        short = 'e',
        long = "text",
        value_name = "TEXT",
        conflicts_with = "file"
    )]
    pub text: Option<String>,
    /// The payload from a file, or standard input for `-`.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// The payload's Content-Format, by name or number; JSON given with
    /// `-t cbor` is sent as CBOR.
    #[arg(short = 't', long = "content-format", value_name = "FORMAT")]
    pub content_format: Option<String>,
    /// Observe the resource for this many seconds (as coap-client's -s).
    #[arg(short = 's', long = "duration", value_name = "SECONDS")]
    pub observe_for: Option<f64>,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// `coapwasm observe URI`.
#[derive(clap::Args, Debug)]
pub struct ObserveArgs {
    /// The resource to observe.
    #[arg(value_name = "URI")]
    pub uri: String,
    /// Stop after this many notifications (the registration's answer counts).
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    /// Stop after this many seconds.
    #[arg(short = 's', long = "duration", value_name = "SECONDS")]
    pub duration: Option<f64>,
    /// One JSON object per notification and line: seq, time, code,
    /// content_format, payload.
    #[arg(long)]
    pub jsonl: bool,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// `coapwasm discover URI`.
#[derive(clap::Args, Debug)]
pub struct DiscoverArgs {
    /// The server (coap://HOST[:PORT]); a path other than /.well-known/core
    /// is ignored.
    #[arg(value_name = "URI")]
    pub uri: String,
    /// Only resources of this resource type (RFC 6690 §4.1 filter; `*` suffix for a prefix).
    #[arg(long)]
    pub rt: Option<String>,
    /// Only resources of this interface description.
    #[arg(long = "if", value_name = "IF")]
    pub interface: Option<String>,
    /// Only resources whose path matches.
    #[arg(long)]
    pub href: Option<String>,
    /// Only resources of this Content-Format number.
    #[arg(long)]
    pub ct: Option<String>,
    /// Only resources with this title.
    #[arg(long)]
    pub title: Option<String>,
    /// Any other filter, NAME=VALUE.
    #[arg(long, value_name = "NAME=VALUE")]
    pub filter: Vec<String>,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Set by SIGINT or SIGTERM: an observation deregisters and stops.
static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

fn catch_signals() {
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
    }
}

/// How often a wait looks at [`STOP`].
const SIGNAL_POLL: Duration = Duration::from_millis(100);
/// The largest response body reassembled from blocks.
const MAX_BODY: usize = 64 << 20;
/// How long deregistering may take on the way out.
const DEREGISTRATION_WAIT: Duration = Duration::from_secs(3);
/// A transfer taking longer than this gets a progress bar on a terminal.
const PROGRESS_AFTER: Duration = Duration::from_millis(300);

/// Runs a request subcommand; `default` is the subcommand's method.
pub fn request(default: RequestType, args: RequestArgs) -> ExitCode {
    let outcome = (|| {
        let method = match &args.method {
            Some(name) => method(name)?,
            None => default,
        };
        let payload = payload(&args)?;
        let (uri, mut request) = prepare(&args.uri, method, &args.common)?;
        request.payload = payload.0;
        if let Some(format) = payload.1 {
            request.options.push((12, encode_uint(u32::from(format))));
        }
        if let Some(seconds) = args.observe_for {
            request.observe = true;
            let stop = Stop {
                count: None,
                after: Some(seconds_arg(seconds, "-s")?),
            };
            return Ok(run(
                &uri,
                request,
                &args.common,
                Mode::Observe { stop, jsonl: false },
            ));
        }
        Ok(run(&uri, request, &args.common, Mode::Once))
    })();
    finish(outcome)
}

/// Runs `observe`.
pub fn observe(args: ObserveArgs) -> ExitCode {
    let outcome = (|| {
        let (uri, mut request) = prepare(&args.uri, RequestType::Get, &args.common)?;
        request.observe = true;
        let stop = Stop {
            count: args.count,
            after: args
                .duration
                .map(|s| seconds_arg(s, "--duration"))
                .transpose()?,
        };
        Ok(run(
            &uri,
            request,
            &args.common,
            Mode::Observe {
                stop,
                jsonl: args.jsonl,
            },
        ))
    })();
    finish(outcome)
}

/// Runs `discover`.
pub fn discover(args: DiscoverArgs) -> ExitCode {
    let outcome = (|| {
        let base = CoapUri::parse(&args.uri)?;
        let mut query = Vec::new();
        for (name, value) in [
            ("rt", &args.rt),
            ("if", &args.interface),
            ("href", &args.href),
            ("ct", &args.ct),
            ("title", &args.title),
        ] {
            if let Some(value) = value {
                query.push(format!("{name}={value}"));
            }
        }
        for filter in &args.filter {
            if !filter.contains('=') {
                bail!("--filter takes NAME=VALUE, not {filter:?}");
            }
            query.push(filter.clone());
        }
        let mut target = base.with_path("/.well-known/core")?;
        target.query = query;
        let (destination, mut request) = prepare_uri(&target, RequestType::Get, &args.common)?;
        if args.common.accept.is_none() {
            request.options.push((17, encode_uint(40)));
        }
        Ok(run(&destination, request, &args.common, Mode::Discover))
    })();
    finish(outcome)
}

fn finish(outcome: anyhow::Result<ExitStatus>) -> ExitCode {
    match outcome {
        Ok(status) => status.into(),
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitStatus::Usage.into()
        }
    }
}

fn method(name: &str) -> anyhow::Result<RequestType> {
    Ok(match name.to_ascii_lowercase().as_str() {
        "get" => RequestType::Get,
        "post" => RequestType::Post,
        "put" => RequestType::Put,
        "delete" => RequestType::Delete,
        "fetch" => RequestType::Fetch,
        "patch" => RequestType::Patch,
        "ipatch" => RequestType::IPatch,
        _ => bail!("unknown method {name:?}: get, post, put, delete, fetch, patch or ipatch"),
    })
}

fn seconds_arg(seconds: f64, flag: &str) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(seconds)
        .ok()
        .filter(|d| !d.is_zero())
        .with_context(|| format!("{flag} takes a positive number of seconds, not {seconds}"))
}

/// The payload and its Content-Format, from -e or -f and -t.
fn payload(args: &RequestArgs) -> anyhow::Result<(Vec<u8>, Option<u16>)> {
    let mut bytes = match (&args.text, &args.file) {
        (Some(text), _) => text.as_bytes().to_vec(),
        (None, Some(path)) if path.as_os_str() == "-" => {
            let mut bytes = Vec::new();
            std::io::stdin()
                .read_to_end(&mut bytes)
                .context("cannot read standard input")?;
            bytes
        }
        (None, Some(path)) => {
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?
        }
        (None, None) => Vec::new(),
    };
    let format = args
        .content_format
        .as_deref()
        .map(content_format::parse)
        .transpose()
        .map_err(anyhow::Error::msg)?;
    if format == Some(60)
        && let Some(cbor) = presentation::json_to_cbor(&bytes)
    {
        bytes = cbor;
    }
    Ok((bytes, format))
}

fn prepare(
    uri: &str,
    method: RequestType,
    common: &CommonArgs,
) -> anyhow::Result<(CoapUri, Request)> {
    let uri = CoapUri::parse(uri)?;
    prepare_uri(&uri, method, common)
}

/// The request for `uri` with the common flags applied, and where to send
/// it: `uri`'s host, or the proxy of `-P`.
fn prepare_uri(
    uri: &CoapUri,
    method: RequestType,
    common: &CommonArgs,
) -> anyhow::Result<(CoapUri, Request)> {
    let mut options: Vec<(u16, Vec<u8>)> = Vec::new();
    let proxy = common
        .proxy
        .as_deref()
        .map(|proxy| CoapUri::parse(proxy).context("-P"))
        .transpose()?;
    if proxy.is_some() {
        // §5.10.2's Proxy-Scheme form: the destination is the proxy, so
        // the target's host and port must be said, literal or not.
        let scheme: &[u8] = match uri.scheme {
            crate::client::uri::Scheme::Coap => b"coap",
            crate::client::uri::Scheme::Coaps => b"coaps",
        };
        options.push((3, uri.host.as_bytes().to_vec()));
        options.push((7, encode_uint(u32::from(uri.port))));
        options.push((39, scheme.to_vec()));
    } else if let Some(host) = uri.uri_host() {
        options.push((3, host.as_bytes().to_vec()));
    }
    options.extend(uri.path.iter().map(|s| (11, s.as_bytes().to_vec())));
    options.extend(uri.query.iter().map(|s| (15, s.as_bytes().to_vec())));
    if let Some(accept) = &common.accept {
        let format = content_format::parse(accept).map_err(anyhow::Error::msg)?;
        options.push((17, encode_uint(u32::from(format))));
    }
    for option in &common.options {
        let (number, value) = option
            .split_once(',')
            .with_context(|| format!("-O takes NUMBER,VALUE, not {option:?}"))?;
        let number: u16 = number
            .trim()
            .parse()
            .with_context(|| format!("-O {option:?}: {number:?} is not an option number"))?;
        let value = match value.strip_prefix("0x") {
            Some(hex) => decode_hex(hex).with_context(|| format!("-O {option:?}: bad hex"))?,
            None => value.as_bytes().to_vec(),
        };
        options.push((number, value));
    }
    let token = common
        .token
        .as_deref()
        .map(|hex| {
            decode_hex(hex)
                .and_then(|bytes| Token::new(&bytes))
                .with_context(|| format!("-T {hex:?}: a token is 0 to 8 bytes in hex"))
        })
        .transpose()?;
    let block_size = match &common.block_size {
        None => None,
        Some(text) => {
            // coap-client's form is [NUM,]SIZE: the block number is not ours to choose.
            let size = text.rsplit(',').next().unwrap_or(text);
            let size: usize = size
                .parse()
                .ok()
                .filter(|s| (16..=1024).contains(s) && usize::is_power_of_two(*s))
                .with_context(|| format!("-b {text:?}: a block size is 16, 32, 64, ... or 1024"))?;
            Some(size)
        }
    };
    if common.timeout.is_nan() || common.timeout <= 0.0 {
        bail!("-B takes a positive number of seconds");
    }
    Ok((
        // Where the request goes: the proxy, when there is one.
        proxy.unwrap_or_else(|| uri.clone()),
        Request {
            method,
            options,
            payload: Vec::new(),
            confirmable: !common.non,
            observe: false,
            block_size: block_size.unwrap_or(1024),
            early_block2: block_size.is_some(),
            max_body: MAX_BODY,
            token,
        },
    ))
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

fn encode_uint(value: u32) -> Vec<u8> {
    let bytes = value.to_be_bytes();
    let skip = bytes.iter().take_while(|&&b| b == 0).count();
    bytes[skip..].to_vec()
}

/// When an observation stops by itself.
#[derive(Debug, Clone, Copy)]
struct Stop {
    count: Option<u64>,
    after: Option<Duration>,
}

#[derive(Clone)]
enum Mode {
    Once,
    Observe { stop: Stop, jsonl: bool },
    Discover,
}

/// The security to use for `uri`, from the flags.
fn credentials(uri: &CoapUri, common: &CommonArgs) -> anyhow::Result<Option<ClientCredentials>> {
    let key = match (&common.key, &common.key_hex) {
        (Some(key), _) => Some(key.as_bytes().to_vec()),
        (None, Some(hex)) => Some(decode_hex(hex).context("--key-hex: bad hex")?),
        (None, None) => None,
    };
    let has_credentials =
        key.is_some() || common.identity.is_some() || common.certificate.is_some();
    match uri.scheme {
        Scheme::Coap if has_credentials => {
            bail!("-u, -k and -c are for coaps:// URIs; this one is coap://")
        }
        Scheme::Coap => Ok(None),
        Scheme::Coaps => {
            let psk = match (common.identity.clone(), key) {
                (Some(identity), Some(key)) => Some((identity, key)),
                (None, None) => None,
                _ => bail!("a pre-shared key takes both -u IDENTITY and -k KEY"),
            };
            if psk.is_none() && common.certificate.is_none() && common.trusted_cas.is_empty() {
                bail!(
                    "coaps:// needs credentials: -u IDENTITY -k KEY, or -c CERT -j KEY, or -R CA"
                );
            }
            Ok(Some(ClientCredentials {
                psk,
                certificate: common.certificate.clone().zip(common.private_key.clone()),
                trusted_cas: common.trusted_cas.clone(),
                server: uri.host.clone(),
            }))
        }
    }
}

fn trace_datagram(arrow: &str, datagram: &[u8]) {
    eprintln!("{}", presentation::datagram_text(arrow, datagram));
}

/// Sends the request and shows what comes back.
fn run(uri: &CoapUri, request: Request, common: &CommonArgs, mode: Mode) -> ExitStatus {
    let credentials = match credentials(uri, common) {
        Ok(credentials) => credentials,
        Err(error) => {
            eprintln!("error: {error:#}");
            return ExitStatus::Usage;
        }
    };
    let peers = match uri.resolve_all() {
        Ok(peers) => peers,
        Err(error) => {
            eprintln!("error: {error:#}");
            return ExitStatus::Failure;
        }
    };
    if matches!(mode, Mode::Observe { .. }) {
        catch_signals();
    }
    let started = Instant::now();
    // A name with several addresses (localhost: ::1 and 127.0.0.1) is tried
    // address by address while nothing listens at the one tried.
    for (i, &peer) in peers.iter().enumerate() {
        let last = i + 1 == peers.len();
        if let Some(status) = run_on(
            peer,
            credentials.as_ref(),
            request.clone(),
            common,
            &mode,
            started,
            last,
        ) {
            return status;
        }
    }
    ExitStatus::Failure
}

/// [`run`] on one address; None when nothing listens there, nothing was
/// answered and another address is left to try.
fn run_on(
    peer: std::net::SocketAddr,
    credentials: Option<&ClientCredentials>,
    request: Request,
    common: &CommonArgs,
    mode: &Mode,
    started: Instant,
    last: bool,
) -> Option<ExitStatus> {
    let mode = mode.clone();
    let timeout = Duration::from_secs_f64(common.timeout);
    let deadline = started + timeout;
    let next_address = |error: &anyhow::Error| {
        !last
            && error
                .downcast_ref::<super::connection::Unreachable>()
                .is_some()
    };
    let trace = common.verbose.then_some(trace_datagram as fn(&str, &[u8]));
    let mut connection = match Connection::open(peer, credentials, deadline, trace) {
        Ok(connection) => connection,
        Err(error) if next_address(&error) => return None,
        Err(error) => {
            let timed_out = format!("{error:#}").contains("timed out");
            eprintln!("error: {error:#}");
            return Some(if timed_out {
                ExitStatus::Timeout
            } else {
                ExitStatus::Failure
            });
        }
    };
    let mut view = View::new(common, &mode);
    let mut events = Vec::new();
    let seed = rand::random();
    let mut exchange = ClientExchange::start(
        peer,
        request,
        TransmissionParameters::default(),
        seed,
        Instant::now(),
        &mut events,
    );
    let mut status = None;
    let mut observe_until: Option<Instant> = None;
    let mut deregistering_since: Option<Instant> = None;
    // Bounded: every pass waits for a datagram or a deadline, and the
    // exchange ends at the timeout, the observation's end, or a failure.
    loop {
        for event in events.drain(..) {
            match event {
                Event::Transmit(datagram) => {
                    if let Err(error) = connection.send(&datagram) {
                        if status.is_none() && next_address(&error) {
                            return None;
                        }
                        view.clear_progress();
                        eprintln!("error: {error:#}");
                        return Some(ExitStatus::Failure);
                    }
                }
                Event::Progress { done, total } => view.progress(done, total, started),
                Event::Response(response) => {
                    view.clear_progress();
                    status = Some(view.response(&response, &mode, exchange.is_observing()));
                    if exchange.is_observing()
                        && let Mode::Observe { stop, .. } = &mode
                    {
                        observe_until = stop.after.map(|after| Instant::now() + after);
                    }
                }
                Event::Notification(response) => {
                    view.clear_progress();
                    view.notification(&response);
                    if !exchange.is_observing() && status == Some(ExitStatus::Success) {
                        status = Some(status_of(&response));
                        if status != Some(ExitStatus::Success) {
                            eprintln!(
                                "the server ended the observation with {}",
                                presentation::code_text(response.head.header.code)
                            );
                        }
                    }
                }
                Event::Failed(failure) => {
                    view.clear_progress();
                    let (message, failed) = match failure {
                        Failure::NotAcknowledged => (
                            format!(
                                "no answer from {peer}: the request was sent 5 times over {:.0} s and never acknowledged",
                                started.elapsed().as_secs_f64()
                            ),
                            ExitStatus::Timeout,
                        ),
                        Failure::Reset => (
                            format!(
                                "{peer} answered with a Reset: it could not process the request"
                            ),
                            ExitStatus::Failure,
                        ),
                        Failure::Protocol(reason) => {
                            (format!("{peer}: {reason}"), ExitStatus::Failure)
                        }
                    };
                    eprintln!("error: {message}");
                    status = Some(failed);
                }
            }
        }
        if exchange.is_finished() {
            break;
        }
        let now = Instant::now();
        let wants_stop = STOP.load(Ordering::SeqCst)
            || observe_until.is_some_and(|until| now >= until)
            || matches!(&mode, Mode::Observe { stop: Stop { count: Some(count), .. }, .. } if view.shown >= *count);
        if wants_stop && deregistering_since.is_none() {
            deregistering_since = Some(now);
            // Past, it would cut every wait short: the deregistration's
            // answer never read, the loop spinning until DEREGISTRATION_WAIT.
            observe_until = None;
            if exchange.is_observing() {
                exchange.deregister(now, &mut events);
                continue;
            }
            break;
        }
        if deregistering_since.is_some_and(|since| now >= since + DEREGISTRATION_WAIT) {
            break;
        }
        // The overall timeout holds until the first response; an observation
        // then runs until it is stopped.
        let overall = if status.is_some() {
            deregistering_since.map_or(far_future(now), |since| since + DEREGISTRATION_WAIT)
        } else {
            deadline
        };
        let wake = exchange
            .next_deadline()
            .map_or(overall, |due| due.min(overall));
        let wake = observe_until.map_or(wake, |until| wake.min(until));
        match connection.receive(wake, SIGNAL_POLL) {
            Ok(Ok(message)) => exchange.on_datagram(&message, Instant::now(), &mut events),
            Ok(Err(Quiet::Interrupted)) => {}
            Ok(Err(Quiet::Deadline)) => {
                let now = Instant::now();
                if status.is_none() && now >= deadline {
                    view.clear_progress();
                    eprintln!(
                        "error: no response from {peer} within {} s (-B)",
                        common.timeout
                    );
                    status = Some(ExitStatus::Timeout);
                    break;
                }
                exchange.on_timeout(now, &mut events);
            }
            Err(error) => {
                if status.is_none() && next_address(&error) {
                    return None;
                }
                view.clear_progress();
                eprintln!("error: {error:#}");
                if status.is_none() {
                    status = Some(ExitStatus::Failure);
                }
                break;
            }
        }
    }
    connection.close();
    let _ = std::io::stdout().flush();
    Some(status.unwrap_or(ExitStatus::Success))
}

fn far_future(now: Instant) -> Instant {
    now + Duration::from_secs(86_400 * 365)
}

fn status_of(response: &Response) -> ExitStatus {
    match code_of(&response.head).0 {
        2 => ExitStatus::Success,
        4 => ExitStatus::ClientError,
        5 => ExitStatus::ServerError,
        _ => ExitStatus::Failure,
    }
}

/// What the user sees.
struct View {
    quiet: bool,
    stdout_terminal: bool,
    stderr_style: Style,
    pretty: bool,
    /// `--raw`: discovery as the link-format document.
    raw: bool,
    jsonl: bool,
    progress_shown: bool,
    /// Notifications (and the registration's answer) shown.
    shown: u64,
}

impl View {
    fn new(common: &CommonArgs, mode: &Mode) -> View {
        let stdout_terminal = std::io::stdout().is_terminal();
        let stderr_terminal = std::io::stderr().is_terminal();
        View {
            quiet: common.quiet,
            stdout_terminal,
            stderr_style: Style {
                colour: stderr_terminal,
            },
            pretty: common.pretty || (stdout_terminal && !common.raw),
            raw: common.raw,
            jsonl: matches!(mode, Mode::Observe { jsonl: true, .. }),
            progress_shown: false,
            shown: 0,
        }
    }

    /// The answer to the request; returns the exit status it means.
    fn response(&mut self, response: &Response, mode: &Mode, observing: bool) -> ExitStatus {
        let status = status_of(response);
        match mode {
            Mode::Once => {
                self.head(response);
                self.payload(response);
            }
            Mode::Discover => {
                self.head(response);
                if status == ExitStatus::Success && !self.raw_discovery() {
                    self.table(response);
                } else {
                    self.payload(response);
                }
            }
            Mode::Observe { .. } => {
                self.notification(response);
                if status == ExitStatus::Success && !observing {
                    eprintln!(
                        "the server did not accept the observation: its 2.xx has no Observe option (RFC 7641 §3.1); the state above is the resource's now"
                    );
                    return ExitStatus::Failure;
                }
            }
        }
        status
    }

    fn raw_discovery(&self) -> bool {
        self.raw
    }

    /// The code line and options on standard error.
    fn head(&self, response: &Response) {
        if self.quiet && status_of(response) == ExitStatus::Success {
            return;
        }
        let mut out = std::io::stderr().lock();
        let _ = writeln!(
            out,
            "{}",
            presentation::code_line(&response.head, self.stderr_style)
        );
        if self.quiet {
            return;
        }
        for line in presentation::options_text(&response.head) {
            // Block-wise options describe the last block only.
            if line.starts_with("Block") {
                continue;
            }
            let _ = writeln!(out, "  {line}");
        }
    }

    /// The payload on standard output: pretty or raw. An error's payload
    /// is its diagnostic (RFC 7252 §5.5.2): text for the user, on standard
    /// error, so that a script never takes it for the resource.
    fn payload(&self, response: &Response) {
        if response.payload.is_empty() {
            return;
        }
        if status_of(response) != ExitStatus::Success {
            eprintln!("{}", String::from_utf8_lossy(&response.payload));
            return;
        }
        let mut out = std::io::stdout().lock();
        if self.pretty {
            let text = presentation::pretty(&response.payload, content_format_of(response));
            let _ = writeln!(out, "{text}");
        } else {
            let _ = out.write_all(&response.payload);
        }
        let _ = out.flush();
    }

    /// A notification: a JSON line, or a header and the payload, each
    /// ending in a newline so that notifications never run together.
    fn notification(&mut self, response: &Response) {
        self.shown += 1;
        let now = presentation::rfc3339(SystemTime::now());
        let mut out = std::io::stdout().lock();
        if self.jsonl {
            let format = content_format_of(response);
            let mut line = serde_json::json!({
                "seq": response.observe(),
                "time": now,
                "code": presentation::code_text(response.head.header.code),
                "content_format": format,
            });
            let payload = &response.payload;
            if let Some(value) = (content_format::kind(format) == content_format::Kind::Json)
                .then(|| serde_json::from_slice::<serde_json::Value>(payload).ok())
                .flatten()
            {
                line["payload"] = value;
            } else if let Ok(text) = std::str::from_utf8(payload) {
                line["payload"] = text.into();
            } else {
                line["payload_hex"] = presentation::hex(payload).into();
            }
            let _ = writeln!(out, "{line}");
            let _ = out.flush();
            return;
        }
        if !self.quiet {
            let seq = response
                .observe()
                .map_or_else(|| "no Observe".to_owned(), |seq| format!("Observe {seq}"));
            eprintln!(
                "{} {} at {now}",
                presentation::code_line(&response.head, self.stderr_style),
                seq
            );
        }
        if self.pretty {
            let text = presentation::pretty(&response.payload, content_format_of(response));
            let _ = writeln!(out, "{text}");
        } else {
            let _ = out.write_all(&response.payload);
            if !response.payload.ends_with(b"\n") {
                let _ = out.write_all(b"\n");
            }
        }
        let _ = out.flush();
    }

    /// Discovery as a table: path, rt, if, ct, obs, title.
    fn table(&self, response: &Response) {
        let text = String::from_utf8_lossy(&response.payload);
        let Some(links) = link_format::parse(&text) else {
            eprintln!("the answer is not link-format (RFC 6690):");
            return self.payload(response);
        };
        let header = ["path", "rt", "if", "ct", "obs", "title"];
        let rows: Vec<[String; 6]> = links
            .iter()
            .map(|link| {
                [
                    link.target.clone(),
                    link.value("rt").unwrap_or_default(),
                    link.value("if").unwrap_or_default(),
                    link.value("ct").unwrap_or_default(),
                    if link.has("obs") { "yes" } else { "" }.to_owned(),
                    link.value("title").unwrap_or_default(),
                ]
            })
            .collect();
        let mut widths = header.map(str::len);
        for row in &rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let mut out = std::io::stdout().lock();
        let line = |cells: Vec<&str>| {
            let mut text = String::new();
            for (i, (cell, width)) in cells.iter().zip(widths).enumerate() {
                if i + 1 == cells.len() {
                    text.push_str(cell);
                } else {
                    text.push_str(&format!("{cell:<width$}  "));
                }
            }
            text.trim_end().to_owned()
        };
        let _ = writeln!(out, "{}", line(header.to_vec()));
        for row in &rows {
            let _ = writeln!(out, "{}", line(row.iter().map(String::as_str).collect()));
        }
        if !self.quiet {
            eprintln!(
                "{} resource{}",
                rows.len(),
                if rows.len() == 1 { "" } else { "s" }
            );
        }
    }

    /// A progress bar on a terminal, once a transfer takes a moment.
    fn progress(&mut self, done: usize, total: Option<usize>, started: Instant) {
        if !self.stderr_style.colour || self.quiet || started.elapsed() < PROGRESS_AFTER {
            return;
        }
        self.progress_shown = true;
        let line = match total.filter(|&t| t > 0) {
            Some(total) => {
                let width = 30;
                let filled = (done.min(total) * width) / total;
                format!(
                    "[{}{}] {:>3}% {} / {}",
                    "#".repeat(filled),
                    ".".repeat(width - filled),
                    done.min(total) * 100 / total,
                    human_bytes(done),
                    human_bytes(total)
                )
            }
            None => format!("{} received", human_bytes(done)),
        };
        eprint!("\r\x1b[2K{line}");
    }

    fn clear_progress(&mut self) {
        if self.progress_shown {
            eprint!("\r\x1b[2K");
            self.progress_shown = false;
        }
        let _ = self.stdout_terminal;
    }
}

fn content_format_of(response: &Response) -> Option<u16> {
    response
        .head
        .get_first_option(coap_lite::CoapOption::ContentFormat)
        .map(|v| v.iter().fold(0u16, |acc, &b| (acc << 8) | u16::from(b)))
}

fn human_bytes(bytes: usize) -> String {
    if bytes < 1024 {
        format!("{bytes} B")
    } else if bytes < 1 << 20 {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    } else {
        format!("{:.1} MiB", bytes as f64 / f64::from(1 << 20))
    }
}
