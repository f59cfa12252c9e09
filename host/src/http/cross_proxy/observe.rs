//! Observe through the cross-proxy as Server-Sent Events: `GET
//! /hc/coap://HOST/PATH` (or a route) with `Accept: text/event-stream`
//! registers an observation at the device (RFC 7641 §3.1, Observe 0, by
//! the client's exchange core: §3.4 freshness and block-wise notifications
//! included) and forwards each notification as an event in the format of
//! the host's own streams ([`crate::http::event_stream`]): `notification`,
//! `failure` (a non-2.xx, which ends it, §3.2), `base64`, and `gone`; `id`
//! the device's Observe sequence number.
//!
//! - The registration is answered before the stream opens: a device that
//!   does not answer is 504, one that fails 502, an error code maps as a
//!   plain request's would, and a 2.xx without Observe (the resource is not
//!   observable) is 406, as for the host's own resources.
//! - A device that stops sending: once the last notification's Max-Age
//!   (RFC 7252 §5.10.5, 60 s when absent) plus [`GRACE`] has passed, the
//!   proxy re-registers with the same token (RFC 7641 §3.3.1); without an
//!   answer within `timeout_ms` the stream ends with `gone`.
//! - Closing the HTTP stream deregisters at the device: a GET with Observe 1
//!   and the same token (§3.6), waited for at most `timeout_ms`.
//! - Each stream holds a place under the host's observer limits
//!   (`[observe] max_total`, `max_per_endpoint`), as a local one does, and
//!   one observation of its own at the device (one socket or DTLS session
//!   each; streams of the same target are not merged into one upstream
//!   observation). The registration counts against NSTART like any request.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse as _, Response};
use coap_lite::CoapOption;

use super::{ACCEPT, Busy, CrossProxy, plain};
use crate::client::driver::{DriveError, Link, MAX_DATAGRAM};
use crate::client::exchange::{
    ClientExchange, Event, Failure, Request, Response as CoapResponse, code_of,
};
use crate::http::event_stream::{self, Slot};
use crate::http::null_mapping::{self, Unmappable};
use crate::message::{Token, TransmissionParameters};

/// Time allowed past a notification's Max-Age before re-registering: a
/// device that notifies as its representation expires (libcoap's `/time`,
/// Max-Age 1, every second) is not raced.
pub const GRACE: Duration = Duration::from_secs(2);

/// Max-Age when a notification carries none (RFC 7252 §5.10.5).
const DEFAULT_MAX_AGE: u64 = 60;

impl CrossProxy {
    /// Opens an event stream of `target`'s notifications, holding `slot`.
    pub async fn observe(
        &self,
        target: Result<String, Unmappable>,
        headers: &HeaderMap,
        slot: Slot,
    ) -> Response {
        let (target, uri, peer) = match self.reach(target).await {
            Ok(reached) => reached,
            Err(refused) => return refused,
        };
        // Accept names text/event-stream; the notifications' format is the
        // other type it names, if any.
        let format = headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .and_then(event_stream::notification_format);
        let mut plain_headers = headers.clone();
        plain_headers.remove(header::ACCEPT);
        let mut request = match self.request(&Method::GET, &uri, &plain_headers, Vec::new()) {
            Ok(request) => request,
            Err(unmappable) => return plain(unmappable.status, &unmappable.reason),
        };
        if let Some(format) = format {
            request.options.push((ACCEPT, uint(u64::from(format))));
        }
        request.observe = true;
        let token_bytes: [u8; 8] = rand::random();
        request.token = Token::new(&token_bytes);
        let registered = {
            let Some(_busy) = Busy::claim(&self.busy, peer) else {
                return plain(
                    StatusCode::SERVICE_UNAVAILABLE,
                    &format!("a request to {peer} is already in flight (NSTART 1)"),
                );
            };
            match self.link(&uri, peer).await {
                Ok(link) => {
                    let mut upstream = Upstream {
                        link: Some(link),
                        peer,
                        request,
                        parameters: self.parameters,
                        timeout: self.timeout,
                        seed: self.seeds.fetch_add(1, Ordering::Relaxed),
                        exchange: None,
                        events: Vec::new(),
                        buffer: vec![0; MAX_DATAGRAM],
                        due: Instant::now() + self.timeout,
                        reregistering: false,
                        ended: false,
                        _slot: slot,
                    };
                    upstream.start();
                    match upstream.step().await {
                        Step::Delivered(response) => Ok((upstream, response)),
                        Step::Failed(error) => Err(error),
                        Step::Due => Err(DriveError::Timeout),
                    }
                }
                Err(error) => Err(error),
            }
        };
        let (mut upstream, first) = match registered {
            Ok(registered) => registered,
            Err(DriveError::Timeout) => {
                return plain(
                    StatusCode::GATEWAY_TIMEOUT,
                    &format!(
                        "{peer} did not answer within {} ms",
                        self.timeout.as_millis()
                    ),
                );
            }
            Err(error) => return plain(StatusCode::BAD_GATEWAY, &format!("{peer}: {error}")),
        };
        if code_of(&first.head).0 != 2 {
            return null_mapping::http_response(&first.head, first.payload, false, None);
        }
        if first.observe().is_none() {
            return plain(
                StatusCode::NOT_ACCEPTABLE,
                &format!("{target} is not observable: no event stream"),
            );
        }
        tracing::debug!(%peer, target, "proxied observation registered");
        let first_event = upstream.event_of(&first);
        let state = (Some(first_event), upstream);
        let stream = futures_util::stream::unfold(state, |(first, mut upstream)| async move {
            if let Some(event) = first {
                return Some((Ok::<SseEvent, Infallible>(event), (None, upstream)));
            }
            let event = upstream.next_event().await?;
            Some((Ok(event), (None, upstream)))
        });
        Sse::new(stream)
            .keep_alive(KeepAlive::default())
            .into_response()
    }
}

/// What one turn of driving the exchange came to.
enum Step {
    /// The registration's (or re-registration's) response, or a
    /// notification, whole.
    Delivered(CoapResponse),
    Failed(DriveError),
    /// `due` passed: the notification's Max-Age ran out, or the
    /// (re-)registration was not answered in time.
    Due,
}

/// One stream's observation at the device.
struct Upstream {
    /// None once handed to the deregistration.
    link: Option<Link>,
    peer: SocketAddr,
    /// The registration, with its token, for re-registrations.
    request: Request,
    parameters: TransmissionParameters,
    timeout: Duration,
    seed: u64,
    exchange: Option<ClientExchange>,
    events: Vec<Event>,
    buffer: Vec<u8>,
    /// When the freshest notification expires, or the (re-)registration's
    /// answer is late.
    due: Instant,
    reregistering: bool,
    /// The device ended it (an error, a notification without Observe) or
    /// went silent: nothing to deregister.
    ended: bool,
    _slot: Slot,
}

impl Upstream {
    /// Sends the registration (again, for a re-registration: same token).
    fn start(&mut self) {
        self.seed = self.seed.wrapping_add(1);
        self.events.clear();
        // A re-registration's ids continue the registration's: the same
        // endpoint (§4.5).
        let continuing = match (&self.exchange, &self.link) {
            (Some(earlier), _) => Some(earlier.next_message_id()),
            (None, Some(Link::Dtls(session))) => session.next_message_id,
            _ => None,
        };
        let (peer, request, now) = (self.peer, self.request.clone(), Instant::now());
        self.exchange = Some(match continuing {
            Some(first) => ClientExchange::start_from(
                peer,
                request,
                self.parameters,
                self.seed,
                first,
                now,
                &mut self.events,
            ),
            None => ClientExchange::start(
                peer,
                request,
                self.parameters,
                self.seed,
                now,
                &mut self.events,
            ),
        });
        self.due = Instant::now() + self.timeout;
    }

    /// Drives the exchange until it delivers, fails or `due` passes.
    async fn step(&mut self) -> Step {
        let (Some(link), Some(exchange)) = (self.link.as_mut(), self.exchange.as_mut()) else {
            return Step::Failed(DriveError::Timeout);
        };
        // Bounded: every pass waits for a datagram or a deadline no later
        // than `due`.
        loop {
            let mut delivered = None;
            for event in self.events.drain(..) {
                match event {
                    Event::Transmit(datagram) => {
                        if let Err(error) = link.send(&datagram).await {
                            return Step::Failed(error);
                        }
                    }
                    Event::Response(response) | Event::Notification(response) => {
                        delivered = Some(response);
                    }
                    Event::Progress { .. } => {}
                    Event::Failed(Failure::NotAcknowledged) => {
                        return Step::Failed(DriveError::Timeout);
                    }
                    Event::Failed(failure) => return Step::Failed(DriveError::Failed(failure)),
                }
            }
            if let Some(response) = delivered {
                return Step::Delivered(response);
            }
            let wake = exchange
                .next_deadline()
                .map_or(self.due, |at| at.min(self.due));
            tokio::select! {
                received = link.recv(&mut self.buffer) => match received {
                    Ok(message) => exchange.on_datagram(&message, Instant::now(), &mut self.events),
                    Err(error) => return Step::Failed(error),
                },
                () = tokio::time::sleep_until(wake.into()) => {
                    let now = Instant::now();
                    if now >= self.due {
                        return Step::Due;
                    }
                    exchange.on_timeout(now, &mut self.events);
                }
            }
        }
    }

    /// The next event of the stream; None after the last.
    async fn next_event(&mut self) -> Option<SseEvent> {
        if self.ended {
            return None;
        }
        // Bounded: a re-registration is sent at most once per Max-Age and
        // answered within `timeout` or the stream ends.
        loop {
            match self.step().await {
                Step::Delivered(response) => {
                    self.reregistering = false;
                    return Some(self.event_of(&response));
                }
                Step::Due if !self.reregistering => {
                    tracing::debug!(peer = %self.peer, "notification expired; re-registering");
                    self.reregistering = true;
                    self.start();
                }
                Step::Due => {
                    return Some(self.gone(
                        "the device stopped notifying and did not answer a re-registration",
                    ));
                }
                Step::Failed(error) => return Some(self.gone(&format!("{error}"))),
            }
        }
    }

    /// A notification as an event; the freshness deadline moves to its
    /// Max-Age (plus grace), and a last one (error, no Observe) ends it.
    fn event_of(&mut self, response: &CoapResponse) -> SseEvent {
        let max_age = response
            .head
            .get_first_option(CoapOption::MaxAge)
            .map_or(DEFAULT_MAX_AGE, |v| {
                v.iter().fold(0u64, |n, b| n << 8 | u64::from(*b))
            });
        self.due = Instant::now() + Duration::from_secs(max_age) + GRACE;
        let success = code_of(&response.head).0 == 2;
        let observing = self
            .exchange
            .as_ref()
            .is_some_and(ClientExchange::is_observing);
        if !observing {
            self.ended = true;
        }
        event_stream::event(
            success,
            u64::from(response.observe().unwrap_or(0)),
            &response.payload,
        )
    }

    fn gone(&mut self, reason: &str) -> SseEvent {
        self.ended = true;
        SseEvent::default().event("gone").data(reason)
    }
}

/// Closing the stream (the client went away) deregisters at the device
/// (RFC 7641 §3.6), beside the stream, within `timeout`.
impl Drop for Upstream {
    fn drop(&mut self) {
        if self.ended {
            return;
        }
        let (Some(mut link), Some(mut exchange)) = (self.link.take(), self.exchange.take()) else {
            return;
        };
        if !exchange.is_observing() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let timeout = self.timeout;
        let peer = self.peer;
        runtime.spawn(async move {
            let mut events = Vec::new();
            exchange.deregister(Instant::now(), &mut events);
            let until = Instant::now() + timeout;
            let mut buffer = vec![0; MAX_DATAGRAM];
            // Bounded by `until`.
            while !exchange.is_finished() {
                for event in events.drain(..) {
                    if let Event::Transmit(datagram) = event
                        && link.send(&datagram).await.is_err()
                    {
                        return;
                    }
                }
                if exchange.is_finished() {
                    break;
                }
                let wake = exchange.next_deadline().map_or(until, |at| at.min(until));
                tokio::select! {
                    received = link.recv(&mut buffer) => match received {
                        Ok(message) => exchange.on_datagram(&message, Instant::now(), &mut events),
                        Err(_) => return,
                    },
                    () = tokio::time::sleep_until(wake.into()) => {
                        if Instant::now() >= until {
                            break;
                        }
                        exchange.on_timeout(Instant::now(), &mut events);
                    }
                }
            }
            // The deregistration's own datagrams (an ACK of a CON answer).
            for event in events.drain(..) {
                if let Event::Transmit(datagram) = event {
                    let _ = link.send(&datagram).await;
                }
            }
            tracing::debug!(%peer, "proxied observation deregistered");
            if let Link::Dtls(session) = link {
                session.close();
            }
        });
    }
}

/// An option value in the uint format (RFC 7252 §3.2).
fn uint(value: u64) -> Vec<u8> {
    let bytes = value.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    bytes[skip..].to_vec()
}
