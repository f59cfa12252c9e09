//! The coaps endpoint: the table of sessions by peer address and the API
//! the socket loop drives. It does no I/O and reads no clock; every call
//! says what to send, deliver or forget in [`DtlsEvent`]s.
//!
//! Bounds, so memory stays bounded whatever arrives:
//! - A ClientHello without a valid cookie gets a HelloVerifyRequest and
//!   leaves nothing behind (RFC 6347 §4.2.1).
//! - At most `max_handshakes` half-open sessions: a validly-cookied hello
//!   past it is dropped, not the oldest handshake evicted. The cookie has
//!   proven the address, so only real clients fill the slots; the dropped
//!   client retransmits its hello (same cookie) and gets in when a slot
//!   frees, and no handshake in progress is wasted. Slots free within
//!   `handshake_timeout`.
//! - At most `max_sessions` established sessions: completing one more
//!   evicts the least recently active (a linear scan, only when full).
//! - Handshakes end after `handshake_timeout`, sessions after
//!   `idle_timeout` without traffic; failed peers are remembered in a
//!   bounded table (for logging once).
//!
//! A new ClientHello (epoch 0) from a peer with a session, RFC 6347 §4.2.8:
//! it goes through the cookie exchange like any other, and the old session
//! stays until the hello returns a valid cookie; then it is replaced at
//! once (the cookie has shown the client is at that address, which §4.2.8
//! allows as the condition for destroying the old association). A hello
//! with the cookie the running handshake started with is a retransmission
//! and goes to that handshake.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use openssl::ssl::SslContext;

use super::config::DtlsConfig;
use super::cookie::CookieSecrets;
use super::credentials;
use super::failed_peers::FailedPeers;
use super::hello_verify;
use super::session::{self, Handshake, Phase, Session};
use crate::identity::Identity;

/// What the endpoint asks of the socket loop and the message layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DtlsEvent {
    /// Send these bytes to the peer (handshake flights, alerts, records).
    Transmit(SocketAddr, Bytes),
    /// A decrypted datagram (one CoAP message) from an established session.
    Deliver(SocketAddr, Bytes),
    /// A session ended (closed, failed, timed out, evicted, or replaced by
    /// a new handshake): the message layer may forget the peer. Every
    /// session entry removed says so, handshaking ones included.
    Closed(SocketAddr),
}

/// A coaps server endpoint: DTLS 1.2 sessions keyed by peer address.
pub struct DtlsEndpoint {
    context: SslContext,
    cookies: CookieSecrets,
    sessions: HashMap<SocketAddr, Session>,
    handshaking: usize,
    /// Session deadlines, earliest first, as (when, session id, peer);
    /// entries a session no longer has scheduled are skipped when popped.
    timers: BinaryHeap<Reverse<(Instant, u64, SocketAddr)>>,
    failed: FailedPeers,
    next_id: u64,
    max_handshakes: usize,
    max_sessions: usize,
    handshake_timeout: Duration,
    idle_timeout: Duration,
    /// The first retransmission timeout, if not OpenSSL's 1 s (tests).
    initial_retransmit: Option<Duration>,
}

impl DtlsEndpoint {
    /// An endpoint with `config`'s credentials and bounds; errors name the
    /// certificate or key file that could not be used.
    pub fn new(config: DtlsConfig) -> anyhow::Result<DtlsEndpoint> {
        let mut builder = credentials::server_context(&config)?;
        session::install_cookie_check(&mut builder);
        Ok(DtlsEndpoint {
            context: builder.build(),
            cookies: CookieSecrets::new(Instant::now())?,
            sessions: HashMap::new(),
            handshaking: 0,
            timers: BinaryHeap::new(),
            failed: FailedPeers::default(),
            next_id: 0,
            max_handshakes: config.max_handshakes,
            max_sessions: config.max_sessions.max(1),
            handshake_timeout: config.handshake_timeout,
            idle_timeout: config.idle_timeout,
            initial_retransmit: None,
        })
    }

    /// One datagram from `peer`.
    pub fn on_datagram(
        &mut self,
        peer: SocketAddr,
        datagram: &[u8],
        now: Instant,
        events: &mut Vec<DtlsEvent>,
    ) {
        self.cookies.rotate(now);
        if let Some(hello) = hello_verify::parse(datagram) {
            let admitted = self.sessions.get(&peer).map(|session| session.cookie);
            let retransmitted = admitted.is_some_and(|cookie| cookie[..] == *hello.cookie);
            if !retransmitted {
                if !self.cookies.verify(peer, &hello) {
                    let cookie = self.cookies.issue(peer, &hello);
                    let request = hello_verify::hello_verify_request(&hello, &cookie);
                    events.push(DtlsEvent::Transmit(peer, request.into()));
                    return;
                }
                let cookie = hello.cookie.try_into().expect("a verified cookie");
                self.start_handshake(peer, datagram, cookie, now, events);
                return;
            }
        }
        // A retransmitted hello goes to its handshake (OpenSSL answers it
        // with the flight again); once established, it is a stale duplicate.
        let Some(session) = self.sessions.get(&peer) else {
            return; // not a hello, and no session: dropped
        };
        if hello_verify::parse(datagram).is_some()
            && matches!(session.phase, Phase::Established { .. })
        {
            return;
        }
        self.drive(peer, datagram, now, events);
    }

    /// Encrypts one CoAP message for an established session; false
    /// (nothing sent) if there is none.
    pub fn send(
        &mut self,
        peer: SocketAddr,
        plaintext: &[u8],
        events: &mut Vec<DtlsEvent>,
    ) -> bool {
        let Some(session) = self.sessions.get_mut(&peer) else {
            return false;
        };
        if !matches!(session.phase, Phase::Established { .. }) {
            return false;
        }
        let written = session.write(plaintext);
        if written {
            session.last_active = session.last_active.max(Instant::now());
        }
        events.extend(
            session
                .output()
                .map(|datagram| DtlsEvent::Transmit(peer, datagram)),
        );
        written
    }

    /// Handshake retransmissions (RFC 6347 §4.2.4), handshake timeouts and
    /// idle sessions, for every deadline at or before `now`.
    pub fn on_timeout(&mut self, now: Instant, events: &mut Vec<DtlsEvent>) {
        self.cookies.rotate(now);
        while let Some(&Reverse((at, id, peer))) = self.timers.peek() {
            if at > now {
                break;
            }
            self.timers.pop();
            let Some(session) = self.sessions.get_mut(&peer) else {
                continue;
            };
            if session.id != id || session.scheduled != Some(at) {
                continue; // superseded
            }
            session.scheduled = None;
            match session.phase {
                Phase::Handshaking {
                    started,
                    retransmit_at,
                    ..
                } => {
                    if now >= started + self.handshake_timeout {
                        let reason = session.timeout_reason();
                        self.fail(peer, reason, now, events);
                        continue;
                    }
                    if retransmit_at.is_some_and(|at| at <= now) {
                        let retransmitted = session.retransmit(now);
                        events.extend(
                            session
                                .output()
                                .map(|datagram| DtlsEvent::Transmit(peer, datagram)),
                        );
                        if let Err(reason) = retransmitted {
                            self.fail(peer, &reason, now, events);
                            continue;
                        }
                    }
                }
                Phase::Established { .. } => {
                    if now >= session.last_active + self.idle_timeout {
                        tracing::debug!(%peer, "dtls: idle session dropped");
                        self.remove(peer, true, events);
                        continue;
                    }
                }
            }
            self.schedule(peer);
        }
    }

    /// When [`DtlsEndpoint::on_timeout`] next has something to do (or
    /// earlier: a superseded timer is only skipped when it comes due).
    pub fn next_deadline(&self) -> Option<Instant> {
        self.timers.peek().map(|Reverse((at, _, _))| *at)
    }

    /// The authenticated identity of an established session.
    pub fn identity(&self, peer: SocketAddr) -> Option<&Identity> {
        match &self.sessions.get(&peer)?.phase {
            Phase::Established { identity } => Some(identity),
            Phase::Handshaking { .. } => None,
        }
    }

    /// Established sessions.
    pub fn sessions(&self) -> usize {
        self.sessions.len() - self.handshaking
    }

    /// Half-open (handshaking) sessions.
    pub fn handshakes(&self) -> usize {
        self.handshaking
    }

    /// Starts every retransmission timer at `initial` instead of OpenSSL's
    /// 1 s (doubling up to 60 s as usual), for tests that lose flights.
    #[cfg(test)]
    pub(crate) fn set_initial_retransmit(&mut self, initial: Duration) {
        self.initial_retransmit = Some(initial);
    }

    /// The memory of failed peers (tests).
    #[cfg(test)]
    pub(crate) fn failed_peers(&self) -> &FailedPeers {
        &self.failed
    }

    /// A handshake for a hello that returned a valid cookie, replacing any
    /// session of the peer.
    fn start_handshake(
        &mut self,
        peer: SocketAddr,
        hello: &[u8],
        cookie: [u8; super::cookie::COOKIE_LEN],
        now: Instant,
        events: &mut Vec<DtlsEvent>,
    ) {
        let replacing_handshake = matches!(
            self.sessions.get(&peer).map(|session| &session.phase),
            Some(Phase::Handshaking { .. })
        );
        if self.handshaking - usize::from(replacing_handshake) >= self.max_handshakes {
            tracing::trace!(%peer, "dtls: handshake limit reached, hello dropped");
            return;
        }
        if self.sessions.contains_key(&peer) {
            tracing::debug!(%peer, "dtls: new handshake replaces the peer's session");
            self.remove(peer, false, events);
        }
        self.next_id += 1;
        match Session::accept(
            &self.context,
            hello,
            cookie,
            now,
            self.next_id,
            self.initial_retransmit,
        ) {
            Ok(session) => {
                self.sessions.insert(peer, session);
                self.handshaking += 1;
                self.step(peer, false, now, events);
            }
            Err(reason) => self.failed.report(peer, &reason, now),
        }
    }

    /// A datagram for the peer's session.
    fn drive(
        &mut self,
        peer: SocketAddr,
        datagram: &[u8],
        now: Instant,
        events: &mut Vec<DtlsEvent>,
    ) {
        let session = self.sessions.get_mut(&peer).expect("a session");
        session.input(datagram);
        match session.phase {
            Phase::Handshaking { .. } => {
                let encrypted = hello_verify::has_encrypted_record(datagram);
                self.step(peer, encrypted, now, events);
            }
            Phase::Established { .. } => self.read(peer, now, events),
        }
    }

    /// Advances a handshake with what its session has queued.
    fn step(
        &mut self,
        peer: SocketAddr,
        encrypted_input: bool,
        now: Instant,
        events: &mut Vec<DtlsEvent>,
    ) {
        let session = self.sessions.get_mut(&peer).expect("a session");
        let progress = session.handshake(now, encrypted_input);
        events.extend(
            session
                .output()
                .map(|datagram| DtlsEvent::Transmit(peer, datagram)),
        );
        match progress {
            Handshake::Pending => self.schedule(peer),
            Handshake::Failed(reason) => self.fail(peer, &reason, now, events),
            Handshake::Done => {
                self.handshaking -= 1;
                if let Some(identity) = self.identity(peer) {
                    tracing::debug!(%peer, %identity, "dtls: session established");
                }
                self.schedule(peer);
                // Application data may have come in the Finished's datagram.
                self.read(peer, now, events);
                if self.sessions() > self.max_sessions {
                    self.evict_least_recently_active(peer, events);
                }
            }
        }
    }

    /// Delivers what an established session decrypts.
    fn read(&mut self, peer: SocketAddr, now: Instant, events: &mut Vec<DtlsEvent>) {
        let Some(session) = self.sessions.get_mut(&peer) else {
            return;
        };
        let mut delivered = false;
        let result = session.read(|plaintext| {
            delivered = true;
            events.push(DtlsEvent::Deliver(peer, plaintext));
        });
        if delivered {
            session.last_active = session.last_active.max(now);
        }
        // Retransmitted final flight, alerts.
        events.extend(
            session
                .output()
                .map(|datagram| DtlsEvent::Transmit(peer, datagram)),
        );
        if let Err(reason) = result {
            tracing::debug!(%peer, reason, "dtls: session ended");
            self.remove(peer, false, events);
        }
    }

    /// Drops the least recently active established session but `keep`.
    fn evict_least_recently_active(&mut self, keep: SocketAddr, events: &mut Vec<DtlsEvent>) {
        let oldest = self
            .sessions
            .iter()
            .filter(|(peer, session)| {
                **peer != keep && matches!(session.phase, Phase::Established { .. })
            })
            .min_by_key(|(_, session)| session.last_active)
            .map(|(peer, _)| *peer);
        if let Some(oldest) = oldest {
            tracing::debug!(peer = %oldest, "dtls: session limit reached, least recently active evicted");
            self.remove(oldest, true, events);
        }
    }

    /// Ends a handshake that failed, logging it once per peer.
    fn fail(&mut self, peer: SocketAddr, reason: &str, now: Instant, events: &mut Vec<DtlsEvent>) {
        self.failed.report(peer, reason, now);
        self.remove(peer, false, events);
    }

    /// Removes the peer's session (sending close_notify first if asked and
    /// established) and says so.
    fn remove(&mut self, peer: SocketAddr, notify: bool, events: &mut Vec<DtlsEvent>) {
        let Some(mut session) = self.sessions.remove(&peer) else {
            return;
        };
        match session.phase {
            Phase::Handshaking { .. } => self.handshaking -= 1,
            Phase::Established { .. } if notify => {
                session.close();
                events.extend(
                    session
                        .output()
                        .map(|datagram| DtlsEvent::Transmit(peer, datagram)),
                );
            }
            Phase::Established { .. } => {}
        }
        events.push(DtlsEvent::Closed(peer));
    }

    /// Puts the session's next deadline in the timers, if it is earlier
    /// than what is scheduled (a later one is found when that comes due).
    fn schedule(&mut self, peer: SocketAddr) {
        let Some(session) = self.sessions.get_mut(&peer) else {
            return;
        };
        let deadline = match session.phase {
            Phase::Handshaking {
                started,
                retransmit_at,
                ..
            } => {
                let timeout = started + self.handshake_timeout;
                retransmit_at.map_or(timeout, |at| at.min(timeout))
            }
            Phase::Established { .. } => session.last_active + self.idle_timeout,
        };
        if session
            .scheduled
            .is_none_or(|scheduled| deadline < scheduled)
        {
            session.scheduled = Some(deadline);
            self.timers.push(Reverse((deadline, session.id, peer)));
        }
    }
}
