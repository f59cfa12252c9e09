//! Observe over HTTP (issue 17): a GET with `Accept: text/event-stream` on
//! an observable resource opens a Server-Sent Events stream (WHATWG HTML
//! §9.2) of its notifications, as a CoAP observation would carry them (RFC
//! 7641): the current state first, then each change, coalesced to the
//! newest (§4.5.2) and paced as CoAP notifications are. The event `id` is
//! the Observe sequence number; the payload is in the format the `Accept`
//! header's other type asks for. Closing the stream ends the observation.
//! The host's observer limits bound the streams: `[observe] max_total` in
//! all and `max_per_endpoint` per client address.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse as _, Response};

use super::HttpFront;
use crate::exchange::observe::clock_sequence;
use crate::identity::Requester;
use crate::runtime::{ResourceEvent, Subscription};

/// The streams open, against the observer limits.
pub struct EventStreams {
    per_address: Mutex<HashMap<IpAddr, usize>>,
    max_total: usize,
    max_per_address: usize,
    /// The least time between two notifications of one stream.
    min_interval: Duration,
}

impl EventStreams {
    /// Bounds of `[observe]`: in all, per client address, and the pacing.
    pub fn new(max_total: usize, max_per_address: usize, min_interval: Duration) -> EventStreams {
        EventStreams {
            per_address: Mutex::new(HashMap::new()),
            max_total,
            max_per_address,
            min_interval,
        }
    }

    /// A stream's place for the client at `address`, or None past the
    /// bounds (also for the cross-proxy's streams of other devices).
    pub fn open(self: &Arc<Self>, address: IpAddr) -> Option<Slot> {
        let mut open = self.per_address.lock().unwrap_or_else(|e| e.into_inner());
        let total: usize = open.values().sum();
        let mine = open.get(&address).copied().unwrap_or(0);
        if total >= self.max_total || mine >= self.max_per_address {
            return None;
        }
        *open.entry(address).or_insert(0) += 1;
        Some(Slot {
            streams: self.clone(),
            address,
        })
    }

    /// Streams open now.
    pub fn open_count(&self) -> usize {
        self.per_address
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .sum()
    }
}

/// One open stream's place; given back when the stream is dropped, which
/// is when the client goes away.
pub struct Slot {
    streams: Arc<EventStreams>,
    address: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self
            .streams
            .per_address
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(count) = open.get_mut(&self.address) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.address);
            }
        }
    }
}

/// Whether an `Accept` header asks for an event stream.
pub fn wants_event_stream(accept: Option<&str>) -> bool {
    accept.is_some_and(|accept| {
        accept
            .split(',')
            .any(|item| item.split(';').next().unwrap_or("").trim() == "text/event-stream")
    })
}

/// The Content-Format asked for beside `text/event-stream`, if any.
pub fn notification_format(accept: &str) -> Option<u16> {
    let others: Vec<&str> = accept
        .split(',')
        .filter(|item| item.split(';').next().unwrap_or("").trim() != "text/event-stream")
        .collect();
    match super::media_type::accept_of(&others.join(",")) {
        super::media_type::Wanted::Format(format) => Some(format),
        _ => None,
    }
}

/// One stream's state between notifications.
struct Observing {
    front: Arc<HttpFront>,
    path: String,
    accept: Option<u16>,
    subscription: Subscription,
    _slot: Slot,
    sent_at: Option<Instant>,
    ended: bool,
}

/// Opens the event stream of `path` for the client at `address`.
pub async fn open(
    front: Arc<HttpFront>,
    path: String,
    accept: Option<u16>,
    address: IpAddr,
) -> Response {
    {
        let table = front.router.table();
        match table.route(&path) {
            None => {
                return (StatusCode::NOT_FOUND, format!("no resource at {path}\n")).into_response();
            }
            Some(route) if !route.resource.observable => {
                return (
                    StatusCode::NOT_ACCEPTABLE,
                    format!("{path} is not observable: no event stream\n"),
                )
                    .into_response();
            }
            Some(_) => {}
        }
    }
    // An observation is a GET (RFC 7641 §2): the policy decides it as one.
    if !front.exchanges.may_observe(&Requester::anonymous(), &path) {
        return (
            StatusCode::FORBIDDEN,
            format!("no access to observe {path}\n"),
        )
            .into_response();
    }
    let Some(slot) = front.event_streams.open(address) else {
        return too_many();
    };
    // Subscribed before the first rendering, so no change in between is lost.
    let subscription = front.host.subscribe();
    let state = Observing {
        front,
        path,
        accept,
        subscription,
        _slot: slot,
        sent_at: None,
        ended: false,
    };
    let stream = futures_util::stream::unfold(state, |mut state| async move {
        if state.ended {
            return None;
        }
        if state.sent_at.is_some() && !state.changed().await {
            // Removed: one last event says so (RFC 7641 §3.2: the
            // observation ends with the resource).
            state.ended = true;
            let gone = Event::default()
                .event("gone")
                .data(format!("{} is gone", state.path));
            return Some((Ok::<Event, Infallible>(gone), state));
        }
        if let Some(sent_at) = state.sent_at {
            let due = sent_at + state.front.event_streams.min_interval;
            tokio::time::sleep_until(due.into()).await;
            // Whatever came meanwhile is in this rendering.
            let _ = state.subscription.take();
        }
        let event = state.notification().await;
        state.sent_at = Some(Instant::now());
        Some((Ok(event), state))
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// 503 past the observer limits.
pub fn too_many() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::RETRY_AFTER, HeaderValue::from_static("10"))],
        "too many observations\n",
    )
        .into_response()
}

/// A notification as an event: `notification` for a 2.xx, `failure` for
/// anything else, `base64` for a payload that is not text; `id` the
/// Observe sequence number.
pub fn event(success: bool, sequence: u64, payload: &[u8]) -> Event {
    let event = Event::default().id(sequence.to_string()).event(if success {
        "notification"
    } else {
        "failure"
    });
    match std::str::from_utf8(payload) {
        Ok(text) if !text.contains('\0') => {
            event.data(text.replace("\r\n", "\n").replace('\r', "\n"))
        }
        _ => event.event("base64").data(base64(payload)),
    }
}

impl Observing {
    /// Waits for the next change of the path; false when it is removed.
    async fn changed(&mut self) -> bool {
        loop {
            for event in self.subscription.next().await {
                match event {
                    ResourceEvent::Changed { path, .. } if path == self.path => return true,
                    ResourceEvent::Removed { path } if path == self.path => return false,
                    _ => {}
                }
            }
        }
    }

    /// The resource's state now, as an event: a 2.xx as `notification`,
    /// anything else as `failure`, which ends the stream (§3.2). (Not `error`:
    /// a browser's EventSource gives that type to its own connection errors.)
    async fn notification(&mut self) -> Event {
        let Some(call) = self.front.exchanges.representation(&self.path, self.accept) else {
            self.ended = true;
            return Event::default()
                .event("gone")
                .data(format!("{} is gone", self.path));
        };
        let response = call.whole().await;
        let code = u8::from(response.header.code);
        let sequence = clock_sequence(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis()),
        );
        let success = code >> 5 == 2;
        if !success {
            self.ended = true;
        }
        event(success, u64::from(sequence), &response.payload)
    }
}

/// Base64 (RFC 4648 §4) for a binary notification.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &b)| acc | (u32::from(b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_headers() {
        assert!(wants_event_stream(Some("text/event-stream")));
        assert!(wants_event_stream(Some(
            "application/json, text/event-stream;q=0.9"
        )));
        assert!(!wants_event_stream(Some("application/json")));
        assert!(!wants_event_stream(None));
        assert_eq!(
            notification_format("text/event-stream, text/plain"),
            Some(0)
        );
        assert_eq!(notification_format("text/event-stream"), None);
    }

    #[test]
    fn base64_of_rfc_4648_examples() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn slots_are_bounded_and_given_back() {
        let streams = Arc::new(EventStreams::new(3, 2, Duration::ZERO));
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "127.0.0.2".parse().unwrap();
        let first = streams.open(a).unwrap();
        let _second = streams.open(a).unwrap();
        assert!(streams.open(a).is_none(), "per address");
        let _third = streams.open(b).unwrap();
        assert!(streams.open(b).is_none(), "in all");
        drop(first);
        assert!(streams.open(a).is_some(), "given back on drop");
    }
}
