//! The host's metrics over HTTP: `GET /metrics` in the OpenMetrics text
//! format, and the count of every HTTP request (a middleware around the
//! whole router, so that the request handler knows nothing of it).

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};

use super::HttpFront;
use crate::metrics::{CONTENT_TYPE, Code, Transport};

/// Where the metrics are served.
pub const PATH: &str = "/metrics";

/// `GET /metrics`: every metric of the host, the gauges read now.
pub async fn metrics(State(front): State<Arc<HttpFront>>) -> Response {
    let metrics = front.exchanges.metrics();
    metrics.set_blockwise_held(front.exchanges.blockwise_held());
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE))],
        metrics.encode(),
    )
        .into_response()
}

/// The plugin an HTTP request called, put in its response's extensions by
/// the handler: the `plugin` label, empty when the host answered alone
/// (a 4.04, a 4.05, a refusal of the access policy, discovery), as over
/// CoAP.
#[derive(Clone)]
pub struct CalledPlugin(pub Arc<str>);

/// Counts an HTTP request, with the plugin it called and its latency.
pub async fn count(State(front): State<Arc<HttpFront>>, request: Request, next: Next) -> Response {
    let arrived = Instant::now();
    let method = method_label(request.method());
    let response = next.run(request).await;
    let plugin = response.extensions().get::<CalledPlugin>().map(|c| &c.0);
    front.exchanges.metrics().request(
        Transport::Http,
        plugin,
        method,
        Code::Http(response.status().as_u16()),
        arrived.elapsed(),
    );
    response
}

fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ if method.as_str() == "FETCH" => "FETCH",
        _ => "other",
    }
}
