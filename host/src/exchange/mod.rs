//! The exchange layer: turns a request that the message layer delivered into a
//! response, RFC 7252 §5 (request/response semantics). It answers what the host
//! answers itself (discovery, unknown paths, methods and formats the resource
//! does not take, bad options) and hands the rest to the resource's plugin.
//! Block-wise transfer (RFC 7959) and Observe (RFC 7641) will live here too.

pub mod amplification;
pub mod blockwise;
mod forward;
mod not_served;
pub mod notification_pacing;
pub mod observe;
pub mod proxy_request;
pub mod representations;
pub mod request;
pub mod response;
mod source;
pub mod transfer_memory;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use coap_lite::{CoapOption, MessageClass, Packet, ResponseType};

use crate::access::{Decision, MethodSet, Policy, methods};
use crate::config::CoapProxying;
use crate::discovery::{self, LINK_FORMAT, WELL_KNOWN_CORE};
use crate::http::cross_proxy::CrossProxy;
use crate::identity::{Identity, Requester};
use crate::metrics::{CallOutcome, Metrics};
use crate::router::Router;
use crate::runtime::bindings::types::{Method, Request};
use crate::runtime::{CallError, Plugin};

use amplification::Budget;
use blockwise::{Block, HeldResponses, Refusal, UploadLimits, UploadStep, Uploads};
pub use forward::ProxyCall;
use not_served::{LOADING_RETRY_SECONDS, not_served, still_loading};
use representations::{HeldResponse, Representations};
use source::source_text;
use transfer_memory::TransferMemory;

/// Large responses a socket holds for block fetches, at most.
pub const HELD_RESPONSES: usize = 256;

/// The block-wise state of one socket: partial uploads and held responses.
/// Their bytes draw on the host's one [`TransferMemory`].
pub struct Transfers {
    /// Partial Block1 uploads.
    pub uploads: Uploads,
    /// Large responses, for the requests of their later blocks.
    pub responses: HeldResponses,
    /// The payloads held, shared by every socket.
    pub representations: Representations,
}

impl Transfers {
    /// Holds `whole` for `peer`'s requests of its later blocks (RFC 7959
    /// §2.4); when the host's block-wise memory cannot take it, the 5.03
    /// with Max-Age to send instead (RFC 7252 §5.9.3.4), as for uploads.
    pub fn hold(&mut self, peer: SocketAddr, whole: ToHold, now: Instant) -> Result<(), Packet> {
        let Some(representation) = self.representations.hold(whole.payload) else {
            let memory = self.representations.memory();
            tracing::debug!(
                used = memory.used(),
                limit = memory.limit(),
                "block-wise memory spent; response not held"
            );
            return Err(refusal_response(Refusal::Busy));
        };
        let held = HeldResponse {
            head: whole.head,
            representation,
        };
        self.responses.hold(peer, whole.key, held, now);
        Ok(())
    }
}

/// A response sent block-wise, to be held for the later blocks.
pub struct ToHold {
    /// Its [`blockwise::request_key`].
    key: String,
    /// The response without its payload, with the ETag its blocks carry.
    head: Packet,
    /// The whole payload.
    payload: Vec<u8>,
}

impl ToHold {
    /// The whole response, for a transport that sends it in one piece
    /// (HTTP): its head (ETag included) and its payload.
    pub fn into_whole(self) -> (Packet, Vec<u8>) {
        (self.head, self.payload)
    }
}

/// How the exchange layer bounds what it sends and holds.
#[derive(Debug, Clone, Copy)]
pub struct BlockwiseLimits {
    /// The host's largest block.
    pub max_block: usize,
    /// The largest request body.
    pub max_body: usize,
    /// A response may take this many times its request's datagram
    /// (0: no limit) ...
    pub amplification_factor: usize,
    /// ... or this many bytes, whichever is more (§11.3 of RFC 7252).
    pub amplification_allowance: usize,
    /// Bytes all held responses and partial uploads of the host may take.
    pub max_transfer_memory: usize,
}
use request::RequestError;

/// What to do with a request.
pub enum Dispatch {
    /// Answer with this response now.
    Respond(Packet),
    /// Reject the message (a NON with an unrecognised critical option, §5.4.1).
    Reject,
    /// Call a plugin, off the socket's task, and answer with what it says.
    Call(PluginCall),
    /// Forward to another device (RFC 7252 §5.7.2), off the socket's task.
    Proxy(ProxyCall),
}

/// What a request means for observations (RFC 7641 §3.1, §3.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObserveIntent {
    /// Not about observing.
    None,
    /// A GET with Observe 0 on an observable resource: register if the
    /// response is a success.
    Register { path: String, accept: Option<u16> },
    /// A GET with Observe 1: end the observation of this token.
    Deregister,
    /// A request that changes the resource (not GET or FETCH): its observers
    /// are notified if it succeeds.
    Change { path: String },
}

/// A request on its way to a plugin.
pub struct PluginCall {
    plugin: Arc<Plugin>,
    request: Request,
    etags: Vec<Vec<u8>>,
    /// What the request means for observations.
    pub observe: ObserveIntent,
    blocks: Blocks,
    /// A GET made by the host to notify the resource's observers: it cannot
    /// announce a change of the path it renders, and a response sent
    /// block-wise is not held, as a notification's later blocks are fetched
    /// by GET (RFC 7959 §3.4).
    for_observers: bool,
    /// Who sent the request, for the plugin's `requester` import. Unused
    /// for a rendering for observers, which the plugin renders as for no
    /// one in particular (its observers may be several requesters).
    requester: Requester,
    /// Where the call's outcome is counted.
    metrics: Arc<Metrics>,
}

/// The block-wise options of a request, for its response (RFC 7959).
#[derive(Debug, Clone, Copy, Default)]
struct Blocks {
    /// The last Block1 of an upload, echoed in the response (§2.3).
    block1: Option<Block>,
    /// The block of the response asked for (§2.4).
    block2: Option<Block>,
    /// Whether the client asked for Size2 (§4).
    size2: bool,
    /// The host's largest block.
    max_block: usize,
    /// What the response may take, and the token the message layer adds to
    /// it (§11.3 of RFC 7252); none for notifications, whose registration
    /// was answered within it.
    budget: Option<(Budget, usize)>,
}

impl Blocks {
    /// The response, with the Block1 echo, and sliced into the block asked
    /// for if it does not fit one (§2.4): with an ETag, so that a client can
    /// tell blocks of different versions apart, and Size2 if asked.
    fn apply(&self, packet: Packet) -> Packet {
        self.apply_to(packet, None)
    }

    /// The block asked for of a held response.
    fn apply_held(&self, held: &HeldResponse) -> Packet {
        self.apply_to(held.head.clone(), Some(held.representation.payload()))
    }

    /// [`Blocks::apply`] to `packet`, whose payload is `payload` if given
    /// (a held one, copied only in the part sent).
    fn apply_to(&self, mut packet: Packet, payload: Option<&[u8]>) -> Packet {
        if let Some(block1) = self.block1 {
            packet.add_option(CoapOption::Block1, block1.encode());
        }
        let len = payload.map_or(packet.payload.len(), <[u8]>::len);
        let size2 = self
            .size2
            .then(|| response::uint(u32::try_from(len).unwrap_or(u32::MAX)));
        let max_block = self.max_block_for(&packet, len);
        let slice = match blockwise::slice(len, self.block2, max_block) {
            Ok(Some(slice)) => slice,
            Ok(None) => {
                if let Some(payload) = payload {
                    packet.payload = payload.to_vec();
                }
                if let Some(size2) = size2 {
                    packet.add_option(CoapOption::Size2, size2);
                }
                return packet;
            }
            Err(blockwise::PastTheEnd) => {
                return response::diagnostic(ResponseType::BadOption, "no such block");
            }
        };
        let own;
        let payload = match payload {
            Some(payload) => payload,
            None => {
                own = std::mem::take(&mut packet.payload);
                &own[..]
            }
        };
        if packet.get_first_option(CoapOption::ETag).is_none() && response::is_success(&packet) {
            let etag = blockwise::etag_of(payload);
            packet.add_option(CoapOption::ETag, etag);
        }
        let part = payload[slice.range].to_vec();
        if let Some(size2) = size2 {
            packet.add_option(CoapOption::Size2, size2);
        }
        packet.payload = part;
        packet.add_option(CoapOption::Block2, slice.block.encode());
        packet
    }

    /// Whether `response` takes more than the block asked for.
    fn splits(&self, response: &Packet) -> bool {
        let len = response.payload.len();
        let max_block = self.max_block_for(response, len);
        matches!(blockwise::slice(len, self.block2, max_block), Ok(Some(s)) if s.block.more)
    }

    /// The largest block `response`, of a `len`-byte payload, may be sent
    /// in: the host's, or smaller to keep within the amplification budget.
    fn max_block_for(&self, response: &Packet, len: usize) -> usize {
        self.budget
            .and_then(|(budget, token_len)| {
                budget.block_for(response, len, token_len, self.max_block)
            })
            .unwrap_or(self.max_block)
    }
}

/// A plugin's answer, as the socket loop needs it.
pub struct Answer {
    /// The response to send: one block of it if it is large.
    pub response: Packet,
    /// The whole response when it takes several blocks: to be held for the
    /// client's requests of the later blocks (RFC 7959 §2.4, §3.3) with
    /// [`Transfers::hold`].
    pub held: Option<ToHold>,
}

impl PluginCall {
    /// The plugin, if this call may run on the socket's own task: a safe
    /// request (RFC 7252 §5.1: GET, FETCH) to a plugin whose calls are quick.
    /// Unsafe requests may write to the key-value store, durably, which
    /// takes milliseconds.
    pub fn inline(&self) -> Option<Arc<Plugin>> {
        (matches!(self.request.method, Method::Get | Method::Fetch)
            && self.plugin.placement().inline())
        .then(|| self.plugin.clone())
    }

    /// The name of the plugin called.
    pub fn plugin_name(&self) -> &Arc<str> {
        self.plugin.shared_name()
    }

    /// Calls the plugin; a trap or a timeout becomes a 5.xx with a diagnostic.
    pub async fn run(self) -> Answer {
        let blocks = self.blocks;
        let mut whole = self.answer().await;
        if self.for_observers || !blocks.splits(&whole) {
            return Answer {
                response: blocks.apply(whole),
                held: None,
            };
        }
        let request = &self.request;
        let key = blockwise::request_key(&request.path, &request.query, request.accept);
        let payload = std::mem::take(&mut whole.payload);
        // Added once here, not hashed again for every later block.
        if whole.get_first_option(CoapOption::ETag).is_none() && response::is_success(&whole) {
            whole.add_option(CoapOption::ETag, blockwise::etag_of(&payload));
        }
        Answer {
            response: blocks.apply_to(whole.clone(), Some(&payload)),
            held: Some(ToHold {
                key,
                head: whole,
                payload,
            }),
        }
    }

    /// Calls the plugin and returns its whole response, never sliced into
    /// blocks: for a transport that carries any size (an HTTP event stream).
    pub async fn whole(self) -> Packet {
        self.answer().await
    }

    async fn answer(&self) -> Packet {
        let started = Instant::now();
        let result = if self.for_observers {
            self.plugin.render(&self.request).await
        } else {
            self.plugin.handle(&self.request, &self.requester).await
        };
        let outcome = match &result {
            Ok(answer) if answer.payload.len() > self.plugin.max_response_bytes() => {
                CallOutcome::TooLarge
            }
            Ok(_) => CallOutcome::Ok,
            Err(CallError::Trap { .. }) => CallOutcome::Trap,
            Err(CallError::Timeout { .. }) => CallOutcome::Timeout,
            Err(CallError::CpuTime { .. }) => CallOutcome::CpuLimit,
            Err(_) => CallOutcome::Error,
        };
        self.metrics
            .plugin_call(self.plugin.shared_name(), outcome, started.elapsed());
        match result {
            Ok(answer) if answer.payload.len() > self.plugin.max_response_bytes() => {
                let limit = self.plugin.max_response_bytes();
                let bytes = answer.payload.len();
                self.plugin.warn_failure(
                    &self.request.path,
                    &format!("answered {bytes} bytes, more than its max_response_bytes of {limit}"),
                );
                response::diagnostic(
                    ResponseType::InternalServerError,
                    &format!(
                        "plugin {} answered {bytes} bytes, more than its max_response_bytes \
                         of {limit}",
                        self.plugin.name()
                    ),
                )
            }
            Ok(answer) => response::from_plugin(answer, &self.etags),
            Err(error @ CallError::StoreUnavailable { retry_after, .. }) => {
                let mut packet =
                    response::diagnostic(ResponseType::ServiceUnavailable, &error.to_string());
                packet.add_option(CoapOption::MaxAge, response::uint(retry_after));
                packet
            }
            Err(error @ (CallError::Timeout { .. } | CallError::CpuTime { .. })) => {
                response::diagnostic(ResponseType::ServiceUnavailable, &error.to_string())
            }
            Err(error) => {
                response::diagnostic(ResponseType::InternalServerError, &error.to_string())
            }
        }
    }
}

/// Routes requests to resources.
pub struct ExchangeLayer {
    router: Arc<Router>,
    max_block: usize,
    max_body: usize,
    amplification_factor: usize,
    amplification_allowance: usize,
    representations: Representations,
    access: Policy,
    metrics: Arc<Metrics>,
    /// The cross-proxy, for requests with Proxy-Uri or Proxy-Scheme; None:
    /// they get 5.05.
    proxy: Option<Arc<CrossProxy>>,
    proxying: CoapProxying,
}

impl ExchangeLayer {
    /// RFC 7959 §2.5: takes a Block1 block into its upload, or checks a body
    /// that came whole (with its Size1) against `max_body`. `Ok` once the
    /// whole body is in `payload`, with the last block's option to echo;
    /// `Err` with the answer otherwise: 2.31 Continue, or a refusal (4.08,
    /// 4.13, 5.03).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn whole_body(
        &self,
        transfers: &mut Transfers,
        source: SocketAddr,
        path: &str,
        block1: Option<Block>,
        size1: Option<u32>,
        payload: &mut Vec<u8>,
        now: Instant,
    ) -> Result<Option<Block>, Packet> {
        let Some(block1) = block1 else {
            if payload.len() > self.max_body
                || size1.is_some_and(|size| size as usize > self.max_body)
            {
                return Err(refusal_response(Refusal::TooLarge {
                    limit: self.max_body,
                }));
            }
            return Ok(None);
        };
        match transfers
            .uploads
            .receive(source, path, block1, size1, payload, now)
        {
            UploadStep::Complete { body, block } => {
                *payload = body;
                Ok(Some(block))
            }
            UploadStep::Continue(block) => Err(continue_response(block)),
            UploadStep::Refused(refusal) => Err(refusal_response(refusal)),
        }
    }

    /// An exchange layer routing with `router`, within `limits`, letting
    /// through what `access` allows.
    pub fn new(router: Arc<Router>, limits: BlockwiseLimits, access: Policy) -> Self {
        ExchangeLayer {
            router,
            access,
            max_block: limits.max_block,
            max_body: limits.max_body,
            amplification_factor: limits.amplification_factor,
            amplification_allowance: limits.amplification_allowance,
            representations: Representations::new(TransferMemory::new(limits.max_transfer_memory)),
            metrics: Arc::new(Metrics::new()),
            proxy: None,
            proxying: CoapProxying::Off,
        }
    }

    /// The layer, forwarding requests with Proxy-Uri or Proxy-Scheme
    /// through `proxy` (RFC 7252 §5.7.2) for the requesters `proxying`
    /// admits.
    pub fn with_proxy(mut self, proxy: Arc<CrossProxy>, proxying: CoapProxying) -> Self {
        self.proxy = (proxying != CoapProxying::Off).then_some(proxy);
        self.proxying = proxying;
        self
    }

    /// The layer, counting into `metrics` (the host's one registry) rather
    /// than a registry of its own.
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// The host's metrics, for the transports to count their requests in.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The bytes block-wise transfers hold now, partial uploads and held
    /// responses of every socket.
    pub fn blockwise_held(&self) -> usize {
        self.representations.memory().used()
    }

    /// The block-wise state of a new socket, drawing on the host's one
    /// block-wise memory.
    pub fn transfers(&self, uploads: UploadLimits) -> Transfers {
        Transfers {
            uploads: Uploads::new(uploads, self.representations.memory().clone()),
            responses: HeldResponses::new(uploads.timeout, HELD_RESPONSES),
            representations: self.representations.clone(),
        }
    }

    /// Decides what to do with `request`, a datagram of `size` bytes from
    /// `source`, sent by `requester`. A block of an upload is kept in
    /// `uploads` until the body is whole (RFC 7959 §2.3).
    ///
    /// The access policy decides first, from the requester, the method and
    /// the path alone: a refused request is answered 4.01 or 4.03 whether a
    /// resource has the path or not (so a refused requester learns nothing
    /// of which paths exist; an allowed one gets 4.04 for a path nothing
    /// serves), before any block of an upload is kept, any held block is
    /// sent, or any plugin is called. An Observe registration is a GET and
    /// is decided as one; the notifications it brings are not decided again.
    // The transport's facts about the request, each its own argument.
    #[allow(clippy::too_many_arguments)]
    pub fn dispatch(
        &self,
        mut request: Packet,
        source: SocketAddr,
        requester: &Requester,
        confirmable: bool,
        size: usize,
        transfers: &mut Transfers,
        now: Instant,
    ) -> Dispatch {
        if let Some(proxy) = &self.proxy
            && proxy_request::is_proxy_request(&request)
        {
            return self.dispatch_proxy(proxy, request, source, requester, size, transfers, now);
        }
        let options = match request::parse(&request) {
            Ok(options) => options,
            Err(RequestError::BadOption(_)) if !confirmable => return Dispatch::Reject,
            Err(error) => return Dispatch::Respond(error_response(&error)),
        };
        let mut blocks = Blocks {
            block1: None,
            block2: options.block2,
            size2: options.size2.is_some(),
            max_block: self.max_block,
            budget: Budget::new(
                self.amplification_factor,
                self.amplification_allowance,
                size,
            )
            .map(|budget| (budget, request.get_token().len())),
        };
        let respond = |packet: Packet| Dispatch::Respond(blocks.apply(packet));

        if options.path == WELL_KNOWN_CORE {
            if let Some(refused) = refusal(self.access.may_discover(&requester.identity)) {
                return respond(refused);
            }
            return respond(self.discovery(
                options.method,
                options.accept,
                &options.query,
                &requester.identity,
            ));
        }
        let decision = self
            .access
            .decide(&requester.identity, options.method, &options.path);
        if let Some(refused) = refusal(decision) {
            return respond(refused);
        }

        let table = self.router.table();
        let Some(route) = table.route(&options.path) else {
            return respond(not_served(&options.path, table.loading()));
        };
        if !route
            .resource
            .methods
            .contains(crate::access::methods::flag(options.method))
        {
            // RFC 7252 §5.9.2.6; §5.5.2: a diagnostic a person reads, so the
            // methods as CoAP names them.
            let accepted = MethodSet::of(route.resource.methods)
                .iter()
                .map(methods::name);
            return respond(response::diagnostic(
                ResponseType::MethodNotAllowed,
                &format!(
                    "{} does not accept {} (it accepts {})",
                    options.path,
                    options.method,
                    accepted.collect::<Vec<_>>().join(", ")
                ),
            ));
        }
        if let Some(accept) = options.accept
            && !route.resource.content_formats.is_empty()
            && !route.resource.content_formats.contains(&accept)
        {
            return respond(response::diagnostic(
                ResponseType::NotAcceptable,
                &format!("{} cannot answer in Content-Format {accept}", options.path),
            ));
        }

        // A later block of a large response comes from the response held
        // for it: the request is not processed again, and every block is of
        // one representation.
        if options.block2.is_some_and(|block| block.num > 0)
            && let Some(held) = transfers.responses.get(
                source,
                &blockwise::request_key(&options.path, &options.query, options.accept),
                now,
            )
        {
            return Dispatch::Respond(blocks.apply_held(held));
        }
        if !matches!(options.method, Method::Get | Method::Fetch) {
            transfers.responses.forget_path(&options.path);
        }

        match self.whole_body(
            transfers,
            source,
            &options.path,
            options.block1,
            options.size1,
            &mut request.payload,
            now,
        ) {
            Ok(block1) => blocks.block1 = block1,
            Err(answer) => return Dispatch::Respond(answer),
        }

        let observe = match (options.method, options.observe) {
            // Only GET: a notification repeats the registration as a GET, and
            // a FETCH's body is not kept.
            (Method::Get, Some(0)) if route.resource.observable => ObserveIntent::Register {
                path: options.path.clone(),
                accept: options.accept,
            },
            (Method::Get | Method::Fetch, Some(1)) => ObserveIntent::Deregister,
            (Method::Get | Method::Fetch, _) => ObserveIntent::None,
            _ if route.resource.observable => ObserveIntent::Change {
                path: options.path.clone(),
            },
            _ => ObserveIntent::None,
        };
        Dispatch::Call(PluginCall {
            plugin: route.plugin.clone(),
            etags: options.etags,
            observe,
            blocks,
            for_observers: false,
            requester: requester.clone(),
            metrics: self.metrics.clone(),
            request: Request {
                method: options.method,
                path: options.path,
                query: options.query,
                content_format: options.content_format,
                accept: options.accept,
                payload: std::mem::take(&mut request.payload),
                source: source_text(source),
            },
        })
    }

    /// Whether `requester` may observe `path` (a GET, RFC 7641 §2): what a
    /// stored observation must still pass when the host restarts, since
    /// the policy may have changed since it was registered.
    pub fn may_observe(&self, requester: &Requester, path: &str) -> bool {
        matches!(
            self.access.decide(&requester.identity, Method::Get, path),
            Decision::Allowed
        )
    }

    /// A GET of `path` in `accept` for a notification (RFC 7641 §4.2), if the
    /// resource is still served.
    pub fn representation(&self, path: &str, accept: Option<u16>) -> Option<PluginCall> {
        let table = self.router.table();
        let route = table.route(path)?;
        Some(PluginCall {
            plugin: route.plugin.clone(),
            etags: Vec::new(),
            observe: ObserveIntent::None,
            // §3.4 of RFC 7959: a large notification carries its first block.
            blocks: Blocks {
                max_block: self.max_block,
                ..Blocks::default()
            },
            for_observers: true,
            requester: Requester::anonymous(),
            metrics: self.metrics.clone(),
            request: Request {
                method: Method::Get,
                path: path.to_owned(),
                query: Vec::new(),
                content_format: None,
                accept,
                payload: Vec::new(),
                source: "observe".to_owned(),
            },
        })
    }

    /// The links `identity` gets from GET /.well-known/core without a
    /// query, or None while plugins are still loading: what a Resource
    /// Directory registration carries (RFC 9176 §5), so that a lookup
    /// finds what discovery at the host finds.
    pub fn discovery_document(&self, identity: &Identity) -> Option<String> {
        if self.router.table().loading() {
            return None;
        }
        let packet = self.discovery(Method::Get, None, &[], identity);
        String::from_utf8(packet.payload).ok()
    }

    /// GET /.well-known/core (RFC 6690 §4): the links of the resources (and
    /// listed collection members) `identity` may use with at least one of
    /// their methods.
    fn discovery(
        &self,
        method: Method,
        accept: Option<u16>,
        query: &[String],
        identity: &Identity,
    ) -> Packet {
        if method != Method::Get {
            return response::diagnostic(
                ResponseType::MethodNotAllowed,
                "/.well-known/core accepts GET only",
            );
        }
        if accept.is_some_and(|format| format != LINK_FORMAT) {
            return response::diagnostic(
                ResponseType::NotAcceptable,
                "/.well-known/core is application/link-format (40) only",
            );
        }
        let table = self.router.table();
        let members = table.member_links();
        let usable = |link: &&discovery::Link| {
            self.access.is_open()
                || table.route(link.href()).is_some_and(|route| {
                    let methods = MethodSet::of(route.resource.methods);
                    self.access.allows_some(identity, link.href(), methods)
                })
        };
        let document = if members.is_empty() {
            discovery::document(table.links().iter().filter(usable), query)
        } else {
            let mut links: Vec<&discovery::Link> = table
                .links()
                .iter()
                .chain(members.iter().map(|link| &**link))
                .filter(usable)
                .collect();
            links.sort_by(|a, b| a.href().cmp(b.href()));
            discovery::document(links, query)
        };
        // RFC 6690 §4.1 leaves open what a unicast query that matches nothing
        // gets; 4.04 lets a client tell "no match" from an empty document.
        if document.is_empty() && !query.is_empty() {
            if table.loading() {
                return still_loading("no resource matches the query yet: plugins still loading");
            }
            return response::diagnostic(ResponseType::NotFound, "no resource matches the query");
        }
        let mut packet = response::content(LINK_FORMAT, document.into_bytes());
        if table.loading() {
            // Not the default 60 s (§5.10.5): the list grows as plugins load.
            packet.add_option(CoapOption::MaxAge, response::uint(LOADING_RETRY_SECONDS));
        }
        packet
    }
}

/// The answer to a request the access policy refused: 4.01 Unauthorized
/// (RFC 7252 §5.9.2.2) or 4.03 Forbidden (§5.9.2.4), with the policy's
/// reason as diagnostic payload; none if it is allowed.
fn refusal(decision: Decision) -> Option<Packet> {
    match decision {
        Decision::Allowed => None,
        Decision::Unauthorized(reason) => {
            Some(response::diagnostic(ResponseType::Unauthorized, &reason))
        }
        Decision::Forbidden(reason) => Some(response::diagnostic(ResponseType::Forbidden, &reason)),
    }
}

/// 2.31 Continue: the block was stored, send the next (RFC 7959 §2.3).
fn continue_response(block: Block) -> Packet {
    let mut packet = Packet::new();
    packet.header.code = MessageClass::Response(ResponseType::Continue);
    packet.add_option(CoapOption::Block1, block.encode());
    packet
}

fn refusal_response(refusal: Refusal) -> Packet {
    match refusal {
        Refusal::Incomplete => response::diagnostic(
            ResponseType::RequestEntityIncomplete,
            "block out of order or missing: start again from block 0",
        ),
        Refusal::TooLarge { limit } => {
            let mut packet = response::diagnostic(
                ResponseType::RequestEntityTooLarge,
                &format!("the body may be {limit} bytes at most"),
            );
            let limit = u32::try_from(limit).unwrap_or(u32::MAX);
            packet.add_option(CoapOption::Size1, response::uint(limit));
            packet
        }
        Refusal::BadBlock => response::diagnostic(
            ResponseType::BadRequest,
            "a block before the last must fill the block size",
        ),
        Refusal::Busy => {
            let mut packet = response::diagnostic(
                ResponseType::ServiceUnavailable,
                "the host's block-wise memory is spent (blockwise.max_transfer_memory): \
                 try again later",
            );
            packet.add_option(CoapOption::MaxAge, response::uint(5));
            packet
        }
    }
}

fn error_response(error: &RequestError) -> Packet {
    match error {
        RequestError::BadOption(number) => response::diagnostic(
            ResponseType::BadOption,
            &format!("unrecognised critical option {number}"),
        ),
        RequestError::UnknownMethod(code) => response::diagnostic(
            ResponseType::MethodNotAllowed,
            &format!("unknown method code 0.{code:02}"),
        ),
        RequestError::ProxyingNotSupported => response::diagnostic(
            ResponseType::ProxyingNotSupported,
            "this host is not a proxy",
        ),
        RequestError::NotUtf8(number) => response::diagnostic(
            ResponseType::BadRequest,
            &format!("option {number} is not UTF-8"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blocks(block2: Option<Block>, budget: Option<Budget>) -> Blocks {
        Blocks {
            block1: None,
            block2,
            size2: true,
            max_block: 1024,
            budget: budget.map(|budget| (budget, 2)),
        }
    }

    /// A later block of a held response is the block the whole response
    /// would have given: same payload, ETag, Size2 and Block2.
    #[test]
    fn a_held_response_gives_the_blocks_of_the_whole() {
        let payload: Vec<u8> = (0..3000u32).map(|i| i as u8).collect();
        let whole = response::content(42, payload.clone());
        let mut head = whole.clone();
        head.payload.clear();
        head.add_option(CoapOption::ETag, blockwise::etag_of(&payload));
        let representations = Representations::new(TransferMemory::new(4096));
        let held = HeldResponse {
            head,
            representation: representations.hold(payload).unwrap(),
        };
        for budget in [None, Budget::new(3, 512, 12)] {
            for num in 0..3 {
                let blocks = blocks(Some(Block::new(num, false, 1024)), budget);
                let direct = blocks.apply(whole.clone());
                let from_held = blocks.apply_held(&held);
                assert_eq!(from_held.payload, direct.payload, "block {num}");
                let options = |packet: &Packet| {
                    packet
                        .options()
                        .map(|(number, values)| (*number, values.clone()))
                        .collect::<Vec<_>>()
                };
                assert_eq!(options(&from_held), options(&direct), "block {num}");
            }
        }
    }

    /// Only a response that goes out in several blocks is held, and never a
    /// notification's.
    #[test]
    fn only_a_sliced_response_is_held() {
        let small = response::content(50, vec![b'x'; 191]);
        let tiny_get = Budget::new(3, 512, 10);
        assert!(!blocks(None, tiny_get).splits(&small));
        assert!(blocks(None, Budget::new(3, 0, 10)).splits(&small));
        let large = response::content(42, vec![0; 2000]);
        assert!(blocks(None, tiny_get).splits(&large));
    }
}
