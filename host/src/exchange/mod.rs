//! The exchange layer: turns a request that the message layer delivered into a
//! response, RFC 7252 §5 (request/response semantics). It answers what the host
//! answers itself (discovery, unknown paths, methods and formats the resource
//! does not take, bad options) and hands the rest to the resource's plugin.
//! Block-wise transfer (RFC 7959) and Observe (RFC 7641) will live here too.

pub mod blockwise;
pub mod observe;
pub mod request;
pub mod response;

use std::net::SocketAddr;
use std::sync::Arc;

use coap_lite::{Packet, ResponseType};

use crate::discovery::{self, LINK_FORMAT, WELL_KNOWN_CORE};
use crate::router::Router;
use crate::runtime::bindings::types::{Method, Methods, Request};
use crate::runtime::{CallError, Plugin};

use request::RequestError;

/// What to do with a request.
pub enum Dispatch {
    /// Answer with this response now.
    Respond(Packet),
    /// Reject the message (a NON with an unrecognised critical option, §5.4.1).
    Reject,
    /// Call a plugin, off the socket's task, and answer with what it says.
    Call(PluginCall),
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
}

impl PluginCall {
    /// Calls the plugin; a trap or a timeout becomes a 5.xx with a diagnostic.
    pub async fn run(self) -> Packet {
        match self.plugin.handle(self.request).await {
            Ok(answer) => response::from_plugin(answer, &self.etags),
            Err(error @ CallError::Timeout { .. }) => {
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
}

impl ExchangeLayer {
    /// An exchange layer routing with `router`.
    pub fn new(router: Arc<Router>) -> Self {
        ExchangeLayer { router }
    }

    /// Decides what to do with `request` from `source`.
    pub fn dispatch(&self, mut request: Packet, source: SocketAddr, confirmable: bool) -> Dispatch {
        let options = match request::parse(&request) {
            Ok(options) => options,
            Err(RequestError::BadOption(_)) if !confirmable => return Dispatch::Reject,
            Err(error) => return Dispatch::Respond(error_response(&error)),
        };

        if options.path == WELL_KNOWN_CORE {
            return Dispatch::Respond(self.discovery(
                options.method,
                options.accept,
                &options.query,
            ));
        }

        let table = self.router.table();
        let Some(route) = table.route(&options.path) else {
            return Dispatch::Respond(response::diagnostic(
                ResponseType::NotFound,
                &format!("no resource at {}", options.path),
            ));
        };
        if !route.resource.methods.contains(method_flag(options.method)) {
            return Dispatch::Respond(response::diagnostic(
                ResponseType::MethodNotAllowed,
                &format!("{} does not accept {:?}", options.path, options.method),
            ));
        }
        if let Some(accept) = options.accept
            && !route.resource.content_formats.is_empty()
            && !route.resource.content_formats.contains(&accept)
        {
            return Dispatch::Respond(response::diagnostic(
                ResponseType::NotAcceptable,
                &format!("{} cannot answer in Content-Format {accept}", options.path),
            ));
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
            request: Request {
                method: options.method,
                path: options.path,
                query: options.query,
                content_format: options.content_format,
                accept: options.accept,
                payload: std::mem::take(&mut request.payload),
                source: source.to_string(),
            },
        })
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

    /// GET /.well-known/core (RFC 6690 §4).
    fn discovery(&self, method: Method, accept: Option<u16>, query: &[String]) -> Packet {
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
        let document = discovery::document(table.links(), query);
        // RFC 6690 §4.1 leaves open what a unicast query that matches nothing
        // gets; 4.04 lets a client tell "no match" from an empty document.
        if document.is_empty() && !query.is_empty() {
            return response::diagnostic(ResponseType::NotFound, "no resource matches the query");
        }
        response::content(LINK_FORMAT, document.into_bytes())
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

fn method_flag(method: Method) -> Methods {
    match method {
        Method::Get => Methods::GET,
        Method::Post => Methods::POST,
        Method::Put => Methods::PUT,
        Method::Delete => Methods::DELETE,
        Method::Fetch => Methods::FETCH,
        Method::Patch => Methods::PATCH,
        Method::Ipatch => Methods::IPATCH,
    }
}
