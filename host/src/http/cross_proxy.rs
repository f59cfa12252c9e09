//! The HTTP-to-CoAP cross-proxy to other CoAP devices (RFC 8075).
//!
//! - §5.3's default mapping: `/hc/` followed by the target URI, as is
//!   (`/hc/coap://10.0.0.7:5683/temperature?x=1`) or percent-encoded
//!   (`/hc/coap%3A%2F%2F10.0.0.7%2Ftemperature`);
//! - §5.4's URI templates, `[[http.proxy.route]]` ([`super::uri_template`]),
//!   so that a gateway's own routes (seed 002's `/devices/{ip}/led`) keep
//!   their shape.
//!
//! The request is mapped as the null mapping maps one (method, Content-Type
//! and Accept, entity tags), sent by the client's exchange core
//! ([`crate::client::exchange`], block-wise both ways) over a socket of its
//! own ([`crate::client::driver`]), and the answer comes back per §7's
//! table. Only targets on the allow-list are reached (403 otherwise, and
//! always for multicast); a silent device is 504 after `timeout_ms`, an
//! unreachable or unintelligible one 502; one request at a time per device
//! (NSTART = 1, RFC 7252 §4.7), 503 past it. Answers to GET are cached
//! ([`super::proxy_cache`]); `Cache-Status` (RFC 9211) says whether one
//! was a hit.
//!
//! `coaps://` targets go over DTLS (RFC 7252 §9.1) with the proxy's own
//! credentials (`[http.proxy]` psk_identity and psk_key, certificate and
//! private_key, ca), in sessions kept between requests
//! ([`super::proxy_sessions`]); without credentials they are 502, and so is
//! a failed handshake.
//!
//! Observe goes through as Server-Sent Events ([`observe`]).

mod observe;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse as _, Response};
use coap_lite::RequestType;

use super::null_mapping::{self, Unmappable};
use super::proxy_allow::{self, AllowList};
use super::proxy_cache::{Lookup, ProxyCache};
use super::proxy_sessions::ProxySessions;
use super::uri_template::{self, Template};
use crate::client::driver::{self, DriveError, Link};
use crate::client::driver_dtls::DtlsLink;
use crate::client::exchange::Request;
use crate::client::uri::{CoapUri, Scheme};
use crate::config::ProxyConfig;
use crate::message::TransmissionParameters;
use crate::metrics::Metrics;
use crate::transport::dtls::ClientCredentials;

mod relay;
pub(crate) use relay::{Relayed, Unrelayed};

/// The default mapping's prefix (RFC 8075 §5.3's example's).
const PREFIX: &str = "/hc/";

/// Option numbers (RFC 7252 §5.10).
const URI_HOST: u16 = 3;
const URI_PATH: u16 = 11;
const URI_QUERY: u16 = 15;
const IF_MATCH: u16 = 1;
const ETAG: u16 = 4;
const ACCEPT: u16 = 17;

/// The block size of uploads and downloads (RFC 7959's largest).
const BLOCK_SIZE: usize = 1024;

struct Route {
    template: Template,
    target: String,
    /// Empty: every method.
    methods: Vec<Method>,
}

/// `[http.proxy]`, checked.
pub struct Settings {
    allow: AllowList,
    timeout: Option<Duration>,
    routes: Vec<Route>,
    /// For coaps:// targets; the server name is each request's.
    credentials: Option<ClientCredentials>,
}

impl Settings {
    /// Checks the allow-list and the routes (also called by config validation).
    pub fn parse(config: &ProxyConfig) -> anyhow::Result<Settings> {
        let allow = AllowList::parse(&config.allow)?;
        let mut routes = Vec::with_capacity(config.routes.len());
        for route in &config.routes {
            let template = Template::parse(&route.template)?;
            // Every variable of the target must be the template's.
            let probe: uri_template::Bindings = template
                .variables()
                .map(|name| (name.to_owned(), "x".to_owned()))
                .collect();
            uri_template::expand(&route.target, &probe)?;
            let scheme = route.target.to_ascii_lowercase();
            anyhow::ensure!(
                scheme.starts_with("coap://") || scheme.starts_with("coaps://"),
                "route target {:?} is not a coap:// or coaps:// URI template",
                route.target
            );
            let methods = route
                .methods
                .iter()
                .map(|m| {
                    Method::from_bytes(m.to_ascii_uppercase().as_bytes())
                        .map_err(|_| anyhow::anyhow!("{m:?} is not an HTTP method"))
                })
                .collect::<anyhow::Result<_>>()?;
            routes.push(Route {
                template,
                target: route.target.clone(),
                methods,
            });
        }
        anyhow::ensure!(config.timeout_ms != Some(0), "timeout_ms must be positive");
        Ok(Settings {
            allow,
            timeout: config.timeout_ms.map(Duration::from_millis),
            routes,
            credentials: config.client_credentials()?,
        })
    }
}

/// The proxy: its settings and the devices it is talking to.
pub struct CrossProxy {
    settings: Settings,
    parameters: TransmissionParameters,
    timeout: Duration,
    max_body: usize,
    /// Devices with a request in flight (NSTART = 1).
    busy: Mutex<HashSet<SocketAddr>>,
    seeds: AtomicU64,
    cache: ProxyCache,
    /// The host's metrics: the cache's hits are counted there.
    metrics: Arc<Metrics>,
    /// DTLS sessions to coaps devices between requests.
    sessions: ProxySessions,
}

impl CrossProxy {
    /// A proxy per `config`, with the host's transmission parameters and
    /// body limit (for both directions).
    pub fn new(
        config: &ProxyConfig,
        parameters: TransmissionParameters,
        max_body: usize,
    ) -> anyhow::Result<CrossProxy> {
        let settings = Settings::parse(config)?;
        let timeout = settings
            .timeout
            .unwrap_or_else(|| max_transmit_wait(&parameters));
        Ok(CrossProxy {
            settings,
            parameters,
            timeout,
            max_body,
            busy: Mutex::new(HashSet::new()),
            seeds: AtomicU64::new(rand::random()),
            cache: ProxyCache::new(config.cache_entries),
            metrics: Arc::new(Metrics::new()),
            sessions: ProxySessions::new(config.dtls_sessions),
        })
    }

    /// The same proxy, counting in the host's metrics.
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> CrossProxy {
        self.metrics = metrics;
        self
    }

    /// The target URI of an HTTP request for the proxy, or None when the
    /// request is for the host's own resources.
    pub fn target(
        &self,
        method: &Method,
        path: &str,
        query: Option<&str>,
    ) -> Option<Result<String, Unmappable>> {
        let target = if let Some(rest) = path.strip_prefix(PREFIX) {
            if rest.contains("://") {
                Ok(rest.to_owned())
            } else {
                null_mapping::percent_decoded(rest).and_then(|bytes| {
                    String::from_utf8(bytes).map_err(|_| Unmappable {
                        status: StatusCode::BAD_REQUEST,
                        reason: "the target URI is not UTF-8".to_owned(),
                    })
                })
            }
        } else {
            let as_get = if method == Method::HEAD {
                &Method::GET
            } else {
                method
            };
            let (route, bindings) = self.settings.routes.iter().find_map(|route| {
                let takes = route.methods.is_empty() || route.methods.contains(as_get);
                takes
                    .then(|| route.template.matches(path))
                    .flatten()
                    .map(|bindings| (route, bindings))
            })?;
            uri_template::expand(&route.target, &bindings).map_err(|error| Unmappable {
                status: StatusCode::BAD_REQUEST,
                reason: error.to_string(),
            })
        };
        Some(target.map(|mut uri| {
            if let Some(query) = query.filter(|q| !q.is_empty()) {
                uri.push(if uri.contains('?') { '&' } else { '?' });
                uri.push_str(query);
            }
            uri
        }))
    }

    /// Forwards the request to `target` and maps the answer back.
    pub async fn forward(
        &self,
        method: &Method,
        target: Result<String, Unmappable>,
        headers: &HeaderMap,
        body: Vec<u8>,
    ) -> Response {
        let (target, uri, peer) = match self.reach(target).await {
            Ok(reached) => reached,
            Err(refused) => return refused,
        };
        let mut request = match self.request(method, &uri, headers, body) {
            Ok(request) => request,
            Err(unmappable) => return plain(unmappable.status, &unmappable.reason),
        };
        // The resource as the device sees it, however the URI was spelled.
        let resource = resource_key(&uri, peer);
        // Only a GET of the proxy's own: a client's conditional one is its
        // business, not the cache's.
        let cache_key = (request.method == RequestType::Get
            && !request
                .options
                .iter()
                .any(|(n, _)| *n == ETAG || *n == IF_MATCH))
        .then(|| {
            let accept = request
                .options
                .iter()
                .find(|(n, _)| *n == ACCEPT)
                .map(|(_, v)| v.clone());
            (resource.clone(), accept)
        });
        let head_only = method == Method::HEAD;
        if !matches!(request.method, RequestType::Get | RequestType::Fetch) {
            self.cache.invalidate(&resource);
        }
        let mut cache_status = "coapwasm; fwd=uri-miss";
        if let Some(key) = &cache_key {
            match self.cache.lookup(key, Instant::now()) {
                Lookup::Fresh(head, payload) => {
                    // Only an answer the device was not asked for: a
                    // revalidation (2.03) asked it.
                    self.metrics.proxy_cache_hit();
                    let response = null_mapping::http_response(&head, payload, head_only, None);
                    return with_cache_status(response, "coapwasm; hit");
                }
                Lookup::Stale(etag) => {
                    request.options.push((ETAG, etag));
                    cache_status = "coapwasm; fwd=stale";
                }
                Lookup::Miss => {}
            }
        }
        let Some(_busy) = Busy::claim(&self.busy, peer) else {
            let mut response = plain(
                StatusCode::SERVICE_UNAVAILABLE,
                &format!("a request to {peer} is already in flight (NSTART 1)"),
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            return response;
        };
        let answer = self.send(&uri, peer, request).await;
        tracing::debug!(%peer, %method, target, ok = answer.is_ok(), "proxied");
        match answer {
            Ok(response) => {
                let cacheable = cache_key.is_some();
                let (head, payload) = match cache_key {
                    Some(key) => {
                        self.cache
                            .store(key, response.head, response.payload, Instant::now())
                    }
                    None => (response.head, response.payload),
                };
                let response = null_mapping::http_response(&head, payload, head_only, None);
                if cacheable {
                    with_cache_status(response, cache_status)
                } else {
                    response
                }
            }
            Err(DriveError::Timeout) => plain(
                StatusCode::GATEWAY_TIMEOUT,
                &format!(
                    "{peer} did not answer within {} ms",
                    self.timeout.as_millis()
                ),
            ),
            Err(error) => plain(StatusCode::BAD_GATEWAY, &format!("{peer}: {error}")),
        }
    }

    /// Sends `request` to the device at `peer` over [`CrossProxy::link`]
    /// and waits for its whole answer, within the proxy's timeout: for both
    /// fronts (HTTP's `forward`, CoAP's `relay`). The caller holds the
    /// device's NSTART claim.
    async fn send(
        &self,
        uri: &CoapUri,
        peer: SocketAddr,
        request: Request,
    ) -> Result<crate::client::exchange::Response, DriveError> {
        let seed = self.seeds.fetch_add(1, Ordering::Relaxed);
        let mut link = self.link(uri, peer).await?;
        let answer = driver::exchange_over(
            &mut link,
            peer,
            request,
            self.parameters,
            seed,
            self.timeout,
        )
        .await;
        // A session that carried an exchange to its end is kept.
        if let (Link::Dtls(session), Ok(_)) = (link, &answer) {
            self.sessions
                .put((peer, uri.host.clone()), *session, Instant::now());
        }
        answer
    }

    /// The way to the device: a socket of its own for coap, a kept or new
    /// DTLS session for coaps (its handshake bounded by the timeout).
    async fn link(&self, uri: &CoapUri, peer: SocketAddr) -> Result<Link, DriveError> {
        if uri.scheme == Scheme::Coap {
            return Link::udp(peer).await;
        }
        let Some(credentials) = &self.settings.credentials else {
            // Checked before: see `forward`.
            return Err(DriveError::Dtls("no credentials".to_owned()));
        };
        let key = (peer, uri.host.clone());
        if let Some(session) = self.sessions.take(&key, Instant::now()) {
            return Ok(Link::Dtls(Box::new(session)));
        }
        let credentials = ClientCredentials {
            server: uri.host.clone(),
            ..credentials.clone()
        };
        let session = DtlsLink::connect(peer, &credentials, self.timeout).await?;
        Ok(Link::Dtls(Box::new(session)))
    }

    /// The target parsed, resolved and checked against the allow-list and
    /// the credentials: what may be sent to, or the HTTP answer refusing it.
    async fn reach(
        &self,
        target: Result<String, Unmappable>,
    ) -> Result<(String, CoapUri, SocketAddr), Response> {
        let target = match target {
            Ok(target) => target,
            Err(unmappable) => return Err(plain(unmappable.status, &unmappable.reason)),
        };
        let uri = match CoapUri::parse(&target) {
            Ok(uri) => uri,
            Err(error) => return Err(plain(StatusCode::BAD_REQUEST, &format!("{error:#}"))),
        };
        let peer = match resolve(&uri).await {
            Some(peer) => peer,
            None => {
                return Err(plain(
                    StatusCode::BAD_GATEWAY,
                    &format!("cannot resolve {}", uri.host),
                ));
            }
        };
        if proxy_allow::is_group(peer.ip()) {
            return Err(plain(
                StatusCode::FORBIDDEN,
                "the proxy does not forward to multicast or broadcast addresses",
            ));
        }
        if !self.settings.allow.allows(&uri.host, peer) {
            return Err(plain(
                StatusCode::FORBIDDEN,
                &format!("{peer} is not an allowed proxy target ([http.proxy] allow)"),
            ));
        }
        if uri.scheme == Scheme::Coaps && self.settings.credentials.is_none() {
            return Err(plain(
                StatusCode::BAD_GATEWAY,
                "the proxy has no credentials for coaps:// targets: set [http.proxy] psk_identity and psk_key (or psk_key_hex), or certificate and private_key, or ca",
            ));
        }
        Ok((target, uri, peer))
    }

    /// The CoAP request: the target's Uri-Host, Uri-Path and Uri-Query, and
    /// what the null mapping makes of the method, headers and body.
    fn request(
        &self,
        method: &Method,
        uri: &CoapUri,
        headers: &HeaderMap,
        body: Vec<u8>,
    ) -> Result<Request, Unmappable> {
        let mapped = null_mapping::coap_request(method, "", None, headers, Vec::new())?;
        let coap_lite::MessageClass::Request(code) = mapped.header.code else {
            return Err(Unmappable {
                status: StatusCode::NOT_IMPLEMENTED,
                reason: format!("{method} has no CoAP equivalent"),
            });
        };
        let mut options: Vec<(u16, Vec<u8>)> = Vec::new();
        if let Some(host) = uri.uri_host() {
            options.push((URI_HOST, host.as_bytes().to_vec()));
        }
        options.extend(uri.path.iter().map(|s| (URI_PATH, s.as_bytes().to_vec())));
        options.extend(uri.query.iter().map(|s| (URI_QUERY, s.as_bytes().to_vec())));
        for (&number, values) in mapped.options() {
            options.extend(values.iter().map(|value| (number, value.clone())));
        }
        Ok(Request {
            method: code,
            options,
            payload: if code == RequestType::Get {
                Vec::new()
            } else {
                body
            },
            confirmable: true,
            observe: false,
            block_size: BLOCK_SIZE,
            early_block2: false,
            max_body: self.max_body,
            token: None,
        })
    }
}

/// The resource as the device sees it, however the URI was spelled: the
/// cache's key, the same for HTTP's requests and CoAP's Proxy-Uri ones (so
/// a PUT over either forgets what a GET over the other kept). coaps is
/// another endpoint, even on the same address.
fn resource_key(uri: &CoapUri, peer: SocketAddr) -> String {
    let scheme = if uri.scheme == Scheme::Coaps {
        "coaps "
    } else {
        ""
    };
    format!(
        "{scheme}{peer} {:?} {:?} {:?}",
        uri.uri_host(),
        uri.path,
        uri.query
    )
}

/// MAX_TRANSMIT_WAIT (RFC 7252 §4.8.2): from the first transmission of a
/// CON to when the sender gives up waiting for its acknowledgement.
fn max_transmit_wait(parameters: &TransmissionParameters) -> Duration {
    let transmissions = (2u32 << parameters.max_retransmit.min(16)) - 1;
    parameters
        .ack_timeout
        .mul_f64(f64::from(transmissions) * parameters.ack_random_factor)
}

/// The target's address: the literal, or the first its name resolves to.
async fn resolve(uri: &CoapUri) -> Option<SocketAddr> {
    if let Ok(ip) = uri.host.parse() {
        return Some(SocketAddr::new(ip, uri.port));
    }
    tokio::net::lookup_host((uri.host.as_str(), uri.port))
        .await
        .ok()?
        .next()
}

/// A device's one request in flight, given back on drop.
struct Busy<'a> {
    busy: &'a Mutex<HashSet<SocketAddr>>,
    peer: SocketAddr,
}

impl<'a> Busy<'a> {
    fn claim(busy: &'a Mutex<HashSet<SocketAddr>>, peer: SocketAddr) -> Option<Busy<'a>> {
        let claimed = busy.lock().unwrap_or_else(|e| e.into_inner()).insert(peer);
        claimed.then_some(Busy { busy, peer })
    }
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.busy
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.peer);
    }
}

/// `Cache-Status` (RFC 9211): served from the cache, or forwarded and why.
fn with_cache_status(mut response: Response, status: &'static str) -> Response {
    response
        .headers_mut()
        .insert("cache-status", HeaderValue::from_static(status));
    response
}

fn plain(status: StatusCode, reason: &str) -> Response {
    (status, format!("{reason}\n")).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ProxyRoute;

    fn proxy(routes: &[(&str, &str, &[&str])]) -> CrossProxy {
        let config = ProxyConfig {
            allow: vec!["127.0.0.1".to_owned()],
            timeout_ms: Some(1000),
            cache_entries: 16,
            routes: routes
                .iter()
                .map(|(template, target, methods)| ProxyRoute {
                    template: (*template).to_owned(),
                    target: (*target).to_owned(),
                    methods: methods.iter().map(|m| (*m).to_owned()).collect(),
                })
                .collect(),
            ..ProxyConfig::default()
        };
        CrossProxy::new(&config, TransmissionParameters::default(), 1 << 20).unwrap()
    }

    fn target(
        proxy: &CrossProxy,
        method: Method,
        path: &str,
        query: Option<&str>,
    ) -> Option<String> {
        proxy.target(&method, path, query).map(|t| t.unwrap())
    }

    #[test]
    fn default_mapping() {
        let proxy = proxy(&[]);
        assert_eq!(
            target(&proxy, Method::GET, "/hc/coap://h:1/a/b", Some("x=1")).as_deref(),
            Some("coap://h:1/a/b?x=1")
        );
        assert_eq!(
            target(
                &proxy,
                Method::GET,
                "/hc/coap%3A%2F%2Fh%2Fa%3Fy%3D2",
                Some("x=1")
            )
            .as_deref(),
            Some("coap://h/a?y=2&x=1")
        );
        assert_eq!(target(&proxy, Method::GET, "/led", None), None);
    }

    #[test]
    fn templates_and_methods() {
        let proxy = proxy(&[
            (
                "/devices/{ip}/temperature",
                "coap://{ip}:5683/temperature",
                &["GET"],
            ),
            ("/devices/{ip}/led", "coap://{ip}:5683/led", &["PUT"]),
        ]);
        assert_eq!(
            target(&proxy, Method::GET, "/devices/10.0.0.7/temperature", None).as_deref(),
            Some("coap://10.0.0.7:5683/temperature")
        );
        assert_eq!(
            target(&proxy, Method::HEAD, "/devices/10.0.0.7/temperature", None).as_deref(),
            Some("coap://10.0.0.7:5683/temperature")
        );
        assert_eq!(
            target(&proxy, Method::PUT, "/devices/10.0.0.7/led", None).as_deref(),
            Some("coap://10.0.0.7:5683/led")
        );
        assert_eq!(
            target(&proxy, Method::GET, "/devices/10.0.0.7/led", None),
            None
        );
    }

    #[test]
    fn bad_settings() {
        let mut config = ProxyConfig {
            timeout_ms: Some(0),
            ..ProxyConfig::default()
        };
        assert!(Settings::parse(&config).is_err());
        config.timeout_ms = None;
        config.routes.push(ProxyRoute {
            template: "/d/{ip}".to_owned(),
            target: "coap://{host}/x".to_owned(),
            methods: vec![],
        });
        assert!(Settings::parse(&config).is_err());
        config.routes[0].target = "http://{ip}/x".to_owned();
        assert!(Settings::parse(&config).is_err());
    }

    #[test]
    fn rfc_timeout() {
        assert_eq!(
            max_transmit_wait(&TransmissionParameters::default()),
            Duration::from_secs(93)
        );
    }
}
