//! The log of CoAP exchanges over HTTP (issue 17), what the console's log
//! panel and scripts read: `GET /.well-known/coapwasm/exchanges` with
//! `Accept: text/event-stream` is a Server-Sent Events stream of the
//! messages the sockets receive and send ([`crate::exchange_log`]):
//!
//! - `watching` first, once the watcher is subscribed: `{"watchers",
//!   "max_watchers", "coaps_payloads"}` (not `open`: a browser's
//!   EventSource gives that type to its own event);
//! - `exchange` per message, the event id its sequence number, the data
//!   its [`Record`] as JSON;
//! - `dropped` when the watcher read too slowly and lost records:
//!   `{"dropped": N}`.
//!
//! Any other GET of the path is the log's state as JSON (`enabled`,
//! `watchers`, `max_watchers`, `coaps_payloads`). Off unless configured
//! (`[http.exchange_log]`, `--exchange-log`): 403 saying how to turn it
//! on. Past `max_watchers` streams, 503.
//!
//! Requests made over HTTP are not in it: they are no CoAP messages.

use std::convert::Infallible;
use std::sync::Arc;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse as _, Response};
use tokio::sync::broadcast::error::RecvError;

use crate::exchange_log::record::Record;
use crate::exchange_log::{ExchangeLog, Watcher};

/// The log's path, among the host's own resources.
pub const PATH: &str = "/.well-known/coapwasm/exchanges";

/// How to turn the log on, for the 403 and the console.
const HOW_TO_ENABLE: &str =
    "the exchange log is off: start with --exchange-log, or set [http.exchange_log] enabled = true";

/// The log as an HTTP front serves it.
pub struct Served {
    pub log: Arc<ExchangeLog>,
    /// Whether coaps payloads are shown.
    pub coaps_payloads: bool,
}

/// The response to a GET of [`PATH`]; `served` is None when the log is off.
pub fn respond(served: Option<&Served>, event_stream: bool) -> Response {
    let Some(served) = served else {
        return json(
            StatusCode::FORBIDDEN,
            serde_json::json!({ "enabled": false, "enable": HOW_TO_ENABLE }),
        );
    };
    if !event_stream {
        return json(StatusCode::OK, state(served));
    }
    let Some(watcher) = served.log.watch() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, HeaderValue::from_static("10"))],
            format!(
                "too many watchers of the exchange log (at most {})\n",
                served.log.max_watchers()
            ),
        )
            .into_response();
    };
    let watching = Event::default()
        .event("watching")
        .data(state(served).to_string());
    let reading = Reading {
        watcher,
        coaps_payloads: served.coaps_payloads,
        first: Some(watching),
    };
    let stream = futures_util::stream::unfold(reading, |mut reading| async move {
        let event = reading.next().await?;
        Some((Ok::<Event, Infallible>(event), reading))
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// One watcher's stream; its place is given back when hyper drops it.
struct Reading {
    watcher: Watcher,
    coaps_payloads: bool,
    first: Option<Event>,
}

impl Reading {
    async fn next(&mut self) -> Option<Event> {
        if let Some(first) = self.first.take() {
            return Some(first);
        }
        match self.watcher.receiver.recv().await {
            Ok(capture) => {
                let record = Record::of(&capture, self.coaps_payloads);
                let data = serde_json::to_string(&record).ok()?;
                Some(
                    Event::default()
                        .event("exchange")
                        .id(capture.sequence.to_string())
                        .data(data),
                )
            }
            Err(RecvError::Lagged(dropped)) => Some(
                Event::default()
                    .event("dropped")
                    .data(serde_json::json!({ "dropped": dropped }).to_string()),
            ),
            Err(RecvError::Closed) => None,
        }
    }
}

fn state(served: &Served) -> serde_json::Value {
    serde_json::json!({
        "enabled": true,
        "watchers": served.log.watchers(),
        "max_watchers": served.log.max_watchers(),
        "coaps_payloads": served.coaps_payloads,
    })
}

fn json(status: StatusCode, value: serde_json::Value) -> Response {
    (
        status,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        value.to_string(),
    )
        .into_response()
}
