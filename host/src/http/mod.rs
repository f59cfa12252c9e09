//! The HTTP front (issue 17): HTTP/1.1 beside CoAP, on hyper through axum.
//! Every resource the host serves is reachable at its own path (RFC 8075
//! §5.3, the null mapping) through the same exchange layer as a CoAP
//! request: the same access policy (an HTTP client is anonymous, as on
//! plain coap), routing, plugins, limits and discovery; a change made over
//! HTTP notifies the resource's CoAP observers.
//!
//! - [`null_mapping`]: HTTP request to CoAP request, CoAP response to HTTP;
//! - [`status`]: RFC 8075 §7's table of codes;
//! - [`media_type`]: Content-Type and Accept to Content-Format and back;
//! - [`event_stream`]: Observe as Server-Sent Events;
//! - [`console`]: the web console at `/`;
//! - [`host_api`]: the host's own resources under `/.well-known/coapwasm/`;
//! - [`exchange_log`]: the live log of CoAP exchanges, when turned on;
//! - `scrape`: the host's own `/metrics`, and the count of HTTP requests;
//! - [`cross_proxy`]: the HTTP-to-CoAP proxy to other devices (`/hc/...`
//!   and URI templates), with [`uri_template`], [`proxy_allow`],
//!   [`proxy_cache`] and [`proxy_sessions`].

pub mod console;
pub mod cross_proxy;
pub mod event_stream;
pub mod exchange_log;
pub mod host_api;
pub mod media_type;
pub mod null_mapping;
pub mod proxy_allow;
pub mod proxy_cache;
pub mod proxy_sessions;
mod scrape;
pub mod status;
pub mod uri_template;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse as _, Response};
use coap_lite::{CoapOption, Packet};
use tokio::sync::Semaphore;

use crate::access::methods::MethodSet;
use crate::exchange::blockwise::Block;
use crate::exchange::{Dispatch, ExchangeLayer, ObserveIntent, Transfers};
use crate::identity::Requester;
use crate::router::Router;
use crate::runtime::{HostContext, ResourceEvent};

/// What every HTTP request needs of the host.
pub struct HttpFront {
    exchanges: Arc<ExchangeLayer>,
    router: Arc<Router>,
    host: Arc<HostContext>,
    /// Block-wise state the exchange layer asks for; HTTP bodies are whole,
    /// so only a large response's slicing uses it.
    transfers: Mutex<Transfers>,
    in_flight: Semaphore,
    max_body: usize,
    event_streams: Arc<event_stream::EventStreams>,
    /// The cross-proxy to other CoAP devices, when set (one for every
    /// listener: one cache, one request in flight per device).
    proxy: Option<Arc<cross_proxy::CrossProxy>>,
    /// The log of CoAP exchanges, when turned on.
    exchange_log: Option<exchange_log::Served>,
}

impl HttpFront {
    /// A front over the host's exchange layer.
    pub fn new(
        exchanges: Arc<ExchangeLayer>,
        router: Arc<Router>,
        host: Arc<HostContext>,
        transfers: Transfers,
        max_in_flight: usize,
        max_body: usize,
        event_streams: event_stream::EventStreams,
    ) -> HttpFront {
        HttpFront {
            exchanges,
            router,
            host,
            transfers: Mutex::new(transfers),
            in_flight: Semaphore::new(max_in_flight),
            max_body,
            event_streams: Arc::new(event_streams),
            proxy: None,
            exchange_log: None,
        }
    }

    /// The same front, serving the log of CoAP exchanges if `served`.
    pub fn with_exchange_log(mut self, served: Option<exchange_log::Served>) -> HttpFront {
        self.exchange_log = served;
        self
    }

    /// The same front, with the cross-proxy.
    pub fn with_proxy(mut self, proxy: Arc<cross_proxy::CrossProxy>) -> HttpFront {
        self.proxy = Some(proxy);
        self
    }
}

/// Serves HTTP on `listener` until the process ends.
pub async fn serve(listener: tokio::net::TcpListener, front: Arc<HttpFront>) {
    let app = axum::Router::new()
        // The host's own, as /.well-known/core is: a plugin's /metrics is
        // not reachable over HTTP (over CoAP it is).
        .route(scrape::PATH, axum::routing::get(scrape::metrics))
        .fallback(handle)
        .layer(axum::middleware::from_fn_with_state(
            front.clone(),
            scrape::count,
        ))
        .with_state(front);
    if let Err(error) = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await
    {
        tracing::error!(%error, "the HTTP front stopped");
    }
}

/// The largest number of blocks one HTTP response is assembled from: a
/// sliced answer the exchange layer did not hand over whole (discovery).
const MAX_BLOCKS: u32 = 4096;

async fn handle(
    State(front): State<Arc<HttpFront>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    // Past the bound, 503 at once rather than a queue without end.
    let Ok(_permit) = front.in_flight.try_acquire() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, HeaderValue::from_static("1"))],
            "too many HTTP requests in flight\n",
        )
            .into_response();
    };
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, front.max_body).await {
        Ok(body) => body.to_vec(),
        Err(_) => {
            return (
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the body is larger than {} bytes\n", front.max_body),
            )
                .into_response();
        }
    };
    if let Some(proxy) = &front.proxy
        && let Some(target) = proxy.target(&parts.method, parts.uri.path(), parts.uri.query())
    {
        let accept = parts
            .headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok());
        if parts.method == Method::GET && event_stream::wants_event_stream(accept) {
            // Long-lived, as a local stream: an observer slot, not a
            // request one.
            drop(_permit);
            let Some(slot) = front.event_streams.open(peer.ip()) else {
                return event_stream::too_many();
            };
            return proxy.observe(target, &parts.headers, slot).await;
        }
        return proxy
            .forward(&parts.method, target, &parts.headers, body)
            .await;
    }
    let path = parts.uri.path().to_owned();
    let accept = parts
        .headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    if parts.method == Method::GET && console::is_console_request(&path, accept) {
        return console::page();
    }
    if parts.method == Method::GET && path == exchange_log::PATH {
        // A watcher is long-lived, and bounded by the log's own limit.
        drop(_permit);
        return exchange_log::respond(
            front.exchange_log.as_ref(),
            event_stream::wants_event_stream(accept),
        );
    }
    if parts.method == Method::GET
        && let Some(response) = host_api::respond(&front.router, &path, |p| {
            front.exchanges.may_observe(&Requester::anonymous(), p)
        })
    {
        return response;
    }
    if parts.method == Method::GET && event_stream::wants_event_stream(accept) {
        let format = accept.and_then(event_stream::notification_format);
        // The stream is long-lived: it holds an observer slot, not a
        // request one.
        drop(_permit);
        let plugin = front
            .router
            .table()
            .route(&path)
            .map(|route| route.plugin.shared_name().clone());
        let mut response = event_stream::open(front.clone(), path, format, peer.ip()).await;
        // An open stream has called the plugin for the first notification.
        if let Some(plugin) = plugin
            && response.status() == StatusCode::OK
        {
            response
                .extensions_mut()
                .insert(scrape::CalledPlugin(plugin));
        }
        return response;
    }
    let head_only = parts.method == Method::HEAD;
    let packet = match null_mapping::coap_request(
        &parts.method,
        &path,
        parts.uri.query(),
        &parts.headers,
        body,
    ) {
        Ok(packet) => packet,
        Err(unmappable) => {
            return (unmappable.status, format!("{}\n", unmappable.reason)).into_response();
        }
    };
    let (head, payload, plugin) = exchange(&front, packet, peer).await;
    let allow = allowed_methods(&front.router, &path);
    let mut response = null_mapping::http_response(&head, payload, head_only, allow);
    if let Some(plugin) = plugin {
        response
            .extensions_mut()
            .insert(scrape::CalledPlugin(plugin));
    }
    response
}

/// The CoAP exchange for `request`: the response's head, its whole body,
/// and the plugin called for it, if one was.
async fn exchange(
    front: &HttpFront,
    request: Packet,
    peer: SocketAddr,
) -> (Packet, Vec<u8>, Option<Arc<str>>) {
    let requester = Requester::anonymous();
    let (mut head, mut payload, plugin) = answer(front, request.clone(), peer, &requester).await;
    // A response the layer sliced without handing it whole (the discovery
    // document): fetched block by block, as a CoAP client would.
    let mut blocks = 0;
    while let Some(block) = head
        .get_first_option(CoapOption::Block2)
        .and_then(|v| Block::decode(v))
        .filter(|b| b.more && blocks < MAX_BLOCKS)
    {
        blocks += 1;
        let mut next = request.clone();
        next.clear_option(CoapOption::Block2);
        next.add_option(
            CoapOption::Block2,
            Block::new(block.num + 1, false, block.size()).encode(),
        );
        let (next_head, next_payload, _) = answer(front, next, peer, &requester).await;
        if u8::from(next_head.header.code) >> 5 != 2 {
            return (next_head, next_payload, plugin);
        }
        payload.extend_from_slice(&next_payload);
        head = next_head;
    }
    head.clear_option(CoapOption::Block2);
    (head, payload, plugin)
}

/// One dispatch through the exchange layer, and the plugin call it asks for.
async fn answer(
    front: &HttpFront,
    request: Packet,
    peer: SocketAddr,
    requester: &Requester,
) -> (Packet, Vec<u8>, Option<Arc<str>>) {
    let dispatch = {
        let mut transfers = front.transfers.lock().unwrap_or_else(|e| e.into_inner());
        // TCP's handshake proves the address: no amplification bound (the
        // request size it takes is "unbounded").
        front.exchanges.dispatch(
            request,
            peer,
            requester,
            true,
            usize::MAX,
            &mut transfers,
            Instant::now(),
        )
    };
    match dispatch {
        Dispatch::Respond(mut response) => {
            let payload = std::mem::take(&mut response.payload);
            (response, payload, None)
        }
        Dispatch::Reject => {
            let mut response = Packet::new();
            response.header.code =
                coap_lite::MessageClass::Response(coap_lite::ResponseType::BadOption);
            (response, b"an unrecognised critical option".to_vec(), None)
        }
        // The null mapping makes no Proxy-Uri; answered whole all the same.
        Dispatch::Proxy(call) => {
            let answer = call.run().await;
            let (head, payload) = match answer.held {
                Some(whole) => whole.into_whole(),
                None => {
                    let mut response = answer.response;
                    let payload = std::mem::take(&mut response.payload);
                    (response, payload)
                }
            };
            (head, payload, None)
        }
        Dispatch::Call(call) => {
            let observe = call.observe.clone();
            let plugin = call.plugin_name().clone();
            let answer = call.run().await;
            let (head, payload) = match answer.held {
                Some(whole) => whole.into_whole(),
                None => {
                    let mut response = answer.response;
                    let payload = std::mem::take(&mut response.payload);
                    (response, payload)
                }
            };
            if let ObserveIntent::Change { path } = observe
                && u8::from(head.header.code) >> 5 == 2
            {
                front.host.publish(ResourceEvent::Changed {
                    path,
                    important: false,
                });
            }
            (head, payload, Some(plugin))
        }
    }
}

/// The methods of the resource at `path`, as an `Allow` header value.
fn allowed_methods(router: &Router, path: &str) -> Option<String> {
    let table = router.table();
    let route = table.route(path)?;
    let methods = MethodSet::of(route.resource.methods);
    let mut names: Vec<String> = methods
        .iter()
        .map(|m| crate::access::methods::name(m).to_ascii_uppercase())
        .collect();
    if methods.contains(crate::runtime::bindings::types::Method::Get) {
        names.push("HEAD".to_owned());
    }
    Some(names.join(", "))
}

/// Binds the HTTP addresses (before the slow start-up, like the UDP ones).
pub async fn bind(address: SocketAddr) -> anyhow::Result<tokio::net::TcpListener> {
    use anyhow::Context as _;
    tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| format!("cannot serve HTTP on {address}"))
}
