//! The registrant: a tokio task that drives a [`Registration`] with the
//! async client core ([`crate::client::driver`]), hands it the host's links
//! each time the routing table is replaced, and on a clean shutdown removes
//! the registration within a bounded time.
//!
//! Requests leave from an ephemeral socket of their own, not from the
//! serving socket, so the registration always carries `base`: RFC 9176 §5
//! "If the registrant-ep uses an ephemeral port to register with, it MUST
//! include the base parameter". Sending from the serving socket would need
//! the socket task to hand responses to a client exchange; an explicit base
//! works as well and also covers NAT (where it must be configured anyway).
//! A wildcard bind (`[::]:5683`) knows no address of its own: the base is
//! then the address the kernel's route to the directory leaves from.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

use coap_lite::CoapOption;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::registration::{
    LINK_FORMAT, Outcome, Parameters, Purpose, RdRequest, Registration, Step,
};
use crate::client::driver;
use crate::client::exchange::{Request, code_of};
use crate::client::uri::CoapUri;
use crate::config::RdConfig;
use crate::exchange::ExchangeLayer;
use crate::identity::Identity;
use crate::message::TransmissionParameters;
use crate::router::Router;

/// Option numbers (RFC 7252 §5.10).
const URI_HOST: u16 = 3;
const URI_PATH: u16 = 11;
const CONTENT_FORMAT: u16 = 12;
const URI_QUERY: u16 = 15;
const ACCEPT: u16 = 17;

/// How long one request may go unanswered (retransmissions included): a
/// directory that is down is tried again after the backoff.
const SILENCE: Duration = Duration::from_secs(20);
/// The largest answer taken: a discovery document.
const MAX_BODY: usize = 64 * 1024;

/// The running registrant.
pub struct Registrant {
    shutdown: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

/// What the registrant needs of the host.
pub struct Host {
    /// Renders the host's discovery document.
    pub exchanges: Arc<ExchangeLayer>,
    /// Tells when the resources change.
    pub router: Arc<Router>,
    /// The plain coap sockets' addresses, then the coaps ones.
    pub serving: Vec<(SocketAddr, bool)>,
    /// The default endpoint name.
    pub device_id: String,
    /// Message-layer timing for the requests.
    pub transmission: TransmissionParameters,
}

impl Registrant {
    /// Starts registering as `config` says; None when no directory is
    /// configured.
    pub fn start(config: &RdConfig, host: Host) -> anyhow::Result<Option<Registrant>> {
        let Some(directory) = &config.directory else {
            return Ok(None);
        };
        let directory = CoapUri::parse(directory)?;
        // The name is resolved again for each request (a directory that
        // moves, or DNS that is not up yet, is retried with the backoff);
        // here only to choose the base, which needs no name when configured.
        let base = match &config.base {
            Some(base) => base.clone(),
            None => {
                let peer = directory.resolve().map_err(|error| {
                    error.context("rd: the directory's address is needed to choose the base URI; set [rd] base")
                })?;
                base_uri(&host.serving, peer)?
            }
        };
        let parameters = Parameters {
            endpoint: config
                .endpoint
                .clone()
                .unwrap_or_else(|| host.device_id.clone()),
            sector: config.sector.clone(),
            lifetime_s: config.lifetime_s,
            base: Some(base.clone()),
            registration_resource: (!directory.path.is_empty()).then(|| directory.path.clone()),
        };
        tracing::info!(
            directory = %authority(&directory),
            endpoint = parameters.endpoint,
            base,
            lifetime_s = parameters.lifetime_s,
            "registering with the resource directory"
        );
        let registration = Registration::new(parameters, rand::random());
        let (shutdown, stop) = oneshot::channel();
        let task = tokio::spawn(run(registration, directory, host, stop));
        Ok(Some(Registrant { shutdown, task }))
    }

    /// Removes the registration (RFC 9176 §5.3.2), waiting at most `within`:
    /// a directory that does not answer must not hold the shutdown up.
    pub async fn remove(self, within: Duration) {
        let _ = self.shutdown.send(());
        if tokio::time::timeout(within, self.task).await.is_err() {
            tracing::warn!(
                "the resource directory did not confirm the removal within {} ms; the \
                 registration stays until its lifetime ends",
                within.as_millis()
            );
        }
    }
}

async fn run(
    mut registration: Registration,
    directory: CoapUri,
    host: Host,
    mut stop: oneshot::Receiver<()>,
) {
    let mut replacements = host.router.replacements();
    let mut stopping = false;
    let mut registered_at: Option<Vec<String>> = None;
    let mut outage = false;
    loop {
        let now = Instant::now();
        if !stopping && let Some(document) = host.exchanges.discovery_document(&Identity::Anonymous)
        {
            registration.links_changed(document, now);
        }
        match registration.poll(now) {
            Step::Finished => return,
            Step::Send(request) => {
                let purpose = request.purpose;
                let exchange = send(&directory, request, host.transmission);
                let outcome = if stopping {
                    exchange.await
                } else {
                    tokio::select! {
                        outcome = exchange => outcome,
                        _ = &mut stop => {
                            stopping = true;
                            registration.shut_down();
                            continue;
                        }
                    }
                };
                match &outcome {
                    Outcome::Answer { code, .. } if purpose == Purpose::Removal => {
                        tracing::info!(
                            "removed the registration at the resource directory ({}.{:02})",
                            code.0,
                            code.1
                        );
                    }
                    Outcome::NoAnswer if purpose == Purpose::Removal => tracing::warn!(
                        "the resource directory did not answer the removal; the registration \
                         stays until its lifetime ends"
                    ),
                    Outcome::NoAnswer if !outage => {
                        outage = true;
                        tracing::warn!(
                            directory = %authority(&directory),
                            ?purpose,
                            "the resource directory does not answer; retrying with backoff"
                        );
                    }
                    Outcome::Answer { code, .. } if code.0 != 2 => tracing::warn!(
                        directory = %authority(&directory),
                        ?purpose,
                        "the resource directory answered {}.{:02}",
                        code.0,
                        code.1
                    ),
                    Outcome::Answer { .. } => outage = false,
                    Outcome::NoAnswer => {}
                }
                registration.handle(outcome, Instant::now());
                let location = registration.location().map(<[String]>::to_vec);
                if location.is_some() && location != registered_at {
                    tracing::info!(
                        location =
                            format!("/{}", location.as_deref().unwrap_or_default().join("/")),
                        "registered with the resource directory"
                    );
                }
                registered_at = location;
            }
            Step::Wait(until) => {
                let sleep = async {
                    match until {
                        Some(until) => tokio::time::sleep_until(until.into()).await,
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    () = sleep => {}
                    changed = replacements.changed(), if !stopping => {
                        if changed.is_err() {
                            // The router is gone: the host is stopping.
                            stopping = true;
                            registration.shut_down();
                        }
                    }
                    _ = &mut stop, if !stopping => {
                        stopping = true;
                        registration.shut_down();
                    }
                }
            }
        }
    }
}

/// Sends one request to the directory and waits for its answer.
async fn send(
    directory: &CoapUri,
    request: RdRequest,
    transmission: TransmissionParameters,
) -> Outcome {
    let peer = match tokio::net::lookup_host((directory.host.as_str(), directory.port)).await {
        Ok(mut addresses) => match addresses.next() {
            Some(peer) => peer,
            None => return Outcome::NoAnswer,
        },
        Err(error) => {
            tracing::debug!(directory = %authority(directory), "cannot resolve: {error}");
            return Outcome::NoAnswer;
        }
    };
    let mut options = Vec::new();
    if let Some(host) = directory.uri_host() {
        options.push((URI_HOST, host.as_bytes().to_vec()));
    }
    for segment in &request.path {
        options.push((URI_PATH, segment.as_bytes().to_vec()));
    }
    if request.payload.is_some() {
        options.push((CONTENT_FORMAT, vec![LINK_FORMAT as u8]));
    }
    for item in &request.query {
        options.push((URI_QUERY, item.as_bytes().to_vec()));
    }
    if request.payload.is_none() && request.method == coap_lite::RequestType::Get {
        options.push((ACCEPT, vec![LINK_FORMAT as u8]));
    }
    let request = Request {
        method: request.method,
        options,
        payload: request.payload.unwrap_or_default(),
        confirmable: true,
        observe: false,
        block_size: 1024,
        early_block2: false,
        max_body: MAX_BODY,
        token: None,
    };
    match driver::exchange(peer, request, transmission, rand::random(), SILENCE).await {
        Ok(response) => Outcome::Answer {
            code: code_of(&response.head),
            location: response
                .head
                .get_option(CoapOption::LocationPath)
                .map(|values| {
                    values
                        .iter()
                        .map(|value| String::from_utf8_lossy(value).into_owned())
                        .collect()
                })
                .unwrap_or_default(),
            payload: response.payload,
        },
        Err(error) => {
            tracing::debug!(directory = %peer, "resource directory request failed: {error}");
            Outcome::NoAnswer
        }
    }
}

/// `HOST:PORT` of the directory, for the log.
fn authority(directory: &CoapUri) -> String {
    if directory.host.contains(':') {
        format!("[{}]:{}", directory.host, directory.port)
    } else {
        format!("{}:{}", directory.host, directory.port)
    }
}

/// The base URI of the registration (RFC 9176 §5: "scheme://authority"):
/// the first plain coap socket (else coaps) of the directory's address
/// family, with its address, or for a wildcard bind the address the route
/// to the directory leaves from.
fn base_uri(serving: &[(SocketAddr, bool)], directory: SocketAddr) -> anyhow::Result<String> {
    let same_family = |address: &SocketAddr| {
        address.is_ipv4() == directory.is_ipv4()
            || (address.is_ipv6() && address.ip().is_unspecified())
    };
    let (address, secure) = [false, true]
        .iter()
        .find_map(|&secure| {
            serving
                .iter()
                .find(|(address, s)| *s == secure && same_family(address))
        })
        .or_else(|| serving.first())
        .copied()
        .ok_or_else(|| {
            anyhow::anyhow!("rd: no socket serves CoAP, so nothing can be registered")
        })?;
    let ip = if address.ip().is_unspecified() {
        route_source(directory)?
    } else {
        address.ip()
    };
    let scheme = if secure { "coaps" } else { "coap" };
    Ok(match ip {
        IpAddr::V4(ip) => format!("{scheme}://{ip}:{}", address.port()),
        IpAddr::V6(ip) => match ip.to_ipv4_mapped() {
            Some(v4) => format!("{scheme}://{v4}:{}", address.port()),
            None => format!("{scheme}://[{ip}]:{}", address.port()),
        },
    })
}

/// The local address the kernel picks to reach `directory`: connecting a
/// UDP socket sends nothing, it only chooses the route.
fn route_source(directory: SocketAddr) -> anyhow::Result<IpAddr> {
    let any: SocketAddr = if directory.is_ipv4() {
        SocketAddr::from(([0, 0, 0, 0], 0))
    } else {
        SocketAddr::from(([0u16; 8], 0))
    };
    let socket = UdpSocket::bind(any)?;
    socket.connect(directory)?;
    Ok(socket.local_addr()?.ip())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_base_is_the_bound_address_or_the_route_to_the_directory() {
        let rd: SocketAddr = "127.0.0.1:5683".parse().unwrap();
        let specific = [("127.0.0.3:5690".parse().unwrap(), false)];
        assert_eq!(base_uri(&specific, rd).unwrap(), "coap://127.0.0.3:5690");
        let wildcard = [("[::]:5683".parse().unwrap(), false)];
        assert_eq!(base_uri(&wildcard, rd).unwrap(), "coap://127.0.0.1:5683");
        let coaps_first = [
            ("127.0.0.1:5684".parse().unwrap(), true),
            ("127.0.0.1:5683".parse().unwrap(), false),
        ];
        assert_eq!(base_uri(&coaps_first, rd).unwrap(), "coap://127.0.0.1:5683");
        let v6 = [("[::1]:5683".parse().unwrap(), false)];
        assert_eq!(
            base_uri(&v6, "[::1]:5683".parse().unwrap()).unwrap(),
            "coap://[::1]:5683"
        );
        assert!(base_uri(&[], rd).is_err());
    }
}
