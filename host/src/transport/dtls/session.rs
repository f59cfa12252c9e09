//! One peer's DTLS session: an OpenSSL `SSL` over a [`DatagramPipe`], from
//! the ClientHello that returned a valid cookie to its end. OpenSSL does
//! the handshake, its retransmissions (RFC 6347 §4.2.4), record protection
//! and replay detection (RFC 6347 §4.1.2.6); this wraps it in calls that
//! never block.

use std::ffi::{c_int, c_long, c_uint, c_void};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use bytes::Bytes;
use foreign_types::ForeignTypeRef;
use openssl::error::ErrorStack;
use openssl::ex_data::Index;
use openssl::ssl::{ErrorCode, Ssl, SslContext, SslContextBuilder, SslRef, SslStream};
use openssl::x509::{X509NameRef, X509VerifyResult};

use super::cookie::COOKIE_LEN;
use super::datagram_pipe::DatagramPipe;
use super::hello_verify;
use crate::identity::Identity;

/// The largest datagram a session writes: the IPv6 minimum MTU (1280)
/// less the IPv6 and UDP headers, so no flight needs IP fragmentation
/// (RFC 7252 §4.6). Set per SSL since the in-memory BIO has no path MTU.
pub(crate) const MTU: u32 = 1280 - 40 - 8;

// Not wrapped by the openssl crates: DTLSv1_listen (libssl since 1.1.0)
// continues a handshake after a stateless cookie exchange with the right
// sequence numbers; DTLS_set_timer_cb sets the retransmission timer.
unsafe extern "C" {
    fn DTLSv1_listen(ssl: *mut openssl_sys::SSL, client: *mut c_void) -> c_int;
    fn BIO_ADDR_new() -> *mut c_void;
    fn BIO_ADDR_free(address: *mut c_void);
    fn DTLS_set_timer_cb(ssl: *mut openssl_sys::SSL, callback: Option<TimerCallback>);
}
type TimerCallback = unsafe extern "C" fn(*mut openssl_sys::SSL, c_uint) -> c_uint;
/// `DTLSv1_get_timeout`, a macro over `SSL_ctrl`.
const DTLS_CTRL_GET_TIMEOUT: c_int = 73;
/// `DTLSv1_handle_timeout`, a macro over `SSL_ctrl`.
const DTLS_CTRL_HANDLE_TIMEOUT: c_int = 74;

/// Where an SSL keeps the cookie its ClientHello was admitted with.
fn cookie_index() -> Index<Ssl, [u8; COOKIE_LEN]> {
    static INDEX: OnceLock<Index<Ssl, [u8; COOKIE_LEN]>> = OnceLock::new();
    *INDEX.get_or_init(|| Ssl::new_ex_index().expect("an SSL ex_data index"))
}

/// The cookie callbacks `DTLSv1_listen` requires. The endpoint verified
/// the cookie before making the SSL (RFC 6347 §4.2.1) and stored it in the
/// SSL; OpenSSL's check is that the hello carries that same cookie.
pub(crate) fn install_cookie_check(builder: &mut SslContextBuilder) {
    builder.set_cookie_generate_cb(|ssl, buffer| {
        let cookie = ssl.ex_data(cookie_index()).ok_or_else(ErrorStack::get)?;
        buffer[..COOKIE_LEN].copy_from_slice(cookie);
        Ok(COOKIE_LEN)
    });
    builder.set_cookie_verify_cb(|ssl, cookie| {
        ssl.ex_data(cookie_index()).is_some_and(|expected| {
            cookie.len() == COOKIE_LEN && openssl::memcmp::eq(expected, cookie)
        })
    });
}

/// One peer's session.
pub(crate) struct Session {
    stream: SslStream<DatagramPipe>,
    pub(crate) phase: Phase,
    /// When a datagram last brought data, or data was last sent.
    pub(crate) last_active: Instant,
    /// Tells this session from an earlier one of the same peer in timers.
    pub(crate) id: u64,
    /// The earliest timer entry live for this session, if any.
    pub(crate) scheduled: Option<Instant>,
    /// The cookie the hello was admitted with: a later hello with the same
    /// cookie is a retransmission or duplicate, another valid one a new
    /// handshake (RFC 6347 §4.2.8).
    pub(crate) cookie: [u8; COOKIE_LEN],
}

/// Handshaking or established.
pub(crate) enum Phase {
    Handshaking {
        started: Instant,
        /// When OpenSSL's retransmission timer fires (RFC 6347 §4.2.4).
        retransmit_at: Option<Instant>,
        /// Whether the peer sent anything under the new keys.
        saw_encrypted: bool,
    },
    Established {
        identity: Identity,
    },
}

/// Where a handshake step left the session.
pub(crate) enum Handshake {
    Pending,
    Done,
    Failed(String),
}

impl Session {
    /// A session for the validly-cookied ClientHello in `hello`, having
    /// consumed it (the handshake proper starts with [`Session::handshake`]).
    pub(crate) fn accept(
        context: &SslContext,
        hello: &[u8],
        cookie: [u8; COOKIE_LEN],
        now: Instant,
        id: u64,
        initial_retransmit: Option<Duration>,
    ) -> Result<Session, String> {
        let mut ssl = Ssl::new(context).map_err(|error| error.to_string())?;
        ssl.set_mtu(MTU).map_err(|error| error.to_string())?;
        ssl.set_ex_data(cookie_index(), cookie);
        ssl.set_accept_state();
        if let Some(initial) = initial_retransmit {
            set_initial_retransmit(&mut ssl, initial);
        }
        let mut stream =
            SslStream::new(ssl, DatagramPipe::default()).map_err(|error| error.to_string())?;
        stream.get_mut().push_inbound(hello);
        // SAFETY: the SSL is valid and has its BIO; the address is
        // allocated and freed here and only written by DTLSv1_listen.
        let listened = unsafe {
            let address = BIO_ADDR_new();
            if address.is_null() {
                return Err("out of memory".into());
            }
            let listened = DTLSv1_listen(stream.ssl().as_ptr(), address);
            BIO_ADDR_free(address);
            listened
        };
        stream.get_mut().clear_inbound();
        if listened != 1 {
            return Err(format!("hello refused: {}", ErrorStack::get()));
        }
        Ok(Session::handshaking(stream, now, id, cookie))
    }

    fn handshaking(
        stream: SslStream<DatagramPipe>,
        now: Instant,
        id: u64,
        cookie: [u8; COOKIE_LEN],
    ) -> Session {
        Session {
            stream,
            phase: Phase::Handshaking {
                started: now,
                retransmit_at: None,
                saw_encrypted: false,
            },
            last_active: now,
            id,
            scheduled: None,
            cookie,
        }
    }

    /// The client side of a session: the handshake starts (with the
    /// ClientHello) at the first [`Session::handshake`]. OpenSSL answers a
    /// HelloVerifyRequest itself (RFC 6347 §4.2.1).
    ///
    /// `server` is the host as the URI names it: its certificate must be
    /// for that name or address (RFC 6125), and a name goes in the SNI.
    pub(crate) fn connect(
        context: &SslContext,
        server: &str,
        now: Instant,
    ) -> Result<Session, String> {
        let mut ssl = Ssl::new(context).map_err(|error| error.to_string())?;
        ssl.set_mtu(MTU).map_err(|error| error.to_string())?;
        let named = match server.parse::<std::net::IpAddr>() {
            Ok(ip) => ssl.param_mut().set_ip(ip),
            Err(_) => ssl
                .set_hostname(server)
                .and_then(|()| ssl.param_mut().set_host(server)),
        };
        named.map_err(|error| error.to_string())?;
        ssl.set_connect_state();
        let stream =
            SslStream::new(ssl, DatagramPipe::default()).map_err(|error| error.to_string())?;
        // A client's session has no cookie of its own to remember.
        Ok(Session::handshaking(stream, now, 0, [0; COOKIE_LEN]))
    }

    /// Queues a datagram from the peer for the next step or read.
    pub(crate) fn input(&mut self, datagram: &[u8]) {
        if let Phase::Handshaking { saw_encrypted, .. } = &mut self.phase {
            *saw_encrypted |= hello_verify::has_encrypted_record(datagram);
        }
        self.stream.get_mut().push_inbound(datagram);
    }

    /// Advances the handshake as far as the queued datagrams allow.
    pub(crate) fn handshake(&mut self, now: Instant, encrypted_input: bool) -> Handshake {
        let result = self.stream.do_handshake();
        self.stream.get_mut().clear_inbound();
        match result {
            Ok(()) => {
                self.phase = Phase::Established {
                    identity: authenticated_identity(self.stream.ssl()),
                };
                self.last_active = now;
                Handshake::Done
            }
            Err(error) if error.code() == ErrorCode::WANT_READ => {
                // The client's Finished is its only encrypted record before
                // the handshake completes: if it arrived after its
                // ChangeCipherSpec and still left the handshake waiting, it
                // did not decrypt, which is a wrong key (OpenSSL silently
                // drops records that fail, RFC 6347 §4.1.2.7).
                if encrypted_input && self.stream.ssl().state_string() == "TRCCS" {
                    return Handshake::Failed(
                        "the client's Finished did not decrypt: wrong PSK or key".into(),
                    );
                }
                let timeout = self.retransmission_timeout();
                if let Phase::Handshaking { retransmit_at, .. } = &mut self.phase {
                    *retransmit_at = timeout.map(|timeout| now + timeout);
                }
                Handshake::Pending
            }
            Err(error) => Handshake::Failed(describe(&error)),
        }
    }

    /// Retransmits the last flight if OpenSSL's timer has expired
    /// (RFC 6347 §4.2.4), and rearms the deadline.
    pub(crate) fn retransmit(&mut self, now: Instant) -> Result<(), String> {
        // SAFETY: a valid SSL; DTLS_CTRL_HANDLE_TIMEOUT takes no argument.
        let handled: c_long = unsafe {
            openssl_sys::SSL_ctrl(
                self.stream.ssl().as_ptr(),
                DTLS_CTRL_HANDLE_TIMEOUT,
                0,
                std::ptr::null_mut(),
            )
        };
        if handled < 0 {
            return Err(format!("retransmissions exhausted: {}", ErrorStack::get()));
        }
        let timeout = self.retransmission_timeout();
        if let Phase::Handshaking { retransmit_at, .. } = &mut self.phase {
            // Not expired by OpenSSL's clock yet: wait what it says is left.
            *retransmit_at = timeout.map(|timeout| now + timeout.max(Duration::from_millis(1)));
        }
        Ok(())
    }

    /// Why a handshake that ran out of time failed.
    pub(crate) fn timeout_reason(&self) -> &'static str {
        match self.phase {
            Phase::Handshaking {
                saw_encrypted: true,
                ..
            } => "handshake timed out after the client's Finished: wrong PSK or key?",
            _ => "handshake timed out",
        }
    }

    /// Every decrypted datagram queued, to `deliver`; Err when the session
    /// ended (close_notify or a fatal alert or error).
    pub(crate) fn read(&mut self, mut deliver: impl FnMut(Bytes)) -> Result<(), String> {
        let mut buffer = [0u8; 16 * 1024];
        let result = loop {
            match self.stream.ssl_read(&mut buffer) {
                Ok(n) => deliver(Bytes::copy_from_slice(&buffer[..n])),
                Err(error) if error.code() == ErrorCode::WANT_READ => break Ok(()),
                Err(error) if error.code() == ErrorCode::ZERO_RETURN => {
                    break Err("closed by the peer".into());
                }
                Err(error) => break Err(describe(&error)),
            }
        };
        self.stream.get_mut().clear_inbound();
        result
    }

    /// Encrypts one datagram's plaintext into one record.
    pub(crate) fn write(&mut self, plaintext: &[u8]) -> bool {
        matches!(self.stream.ssl_write(plaintext), Ok(n) if n == plaintext.len())
    }

    /// Sends close_notify (the session is being dropped).
    pub(crate) fn close(&mut self) {
        let _ = self.stream.shutdown();
    }

    /// The datagrams written since the last call.
    pub(crate) fn output(&mut self) -> impl Iterator<Item = Bytes> + '_ {
        self.stream.get_mut().take_outbound()
    }

    /// How long until OpenSSL's retransmission timer fires, if it runs.
    fn retransmission_timeout(&self) -> Option<Duration> {
        let mut timeout = libc::timeval {
            tv_sec: 0,
            tv_usec: 0,
        };
        // SAFETY: a valid SSL; DTLS_CTRL_GET_TIMEOUT writes one timeval.
        let running = unsafe {
            openssl_sys::SSL_ctrl(
                self.stream.ssl().as_ptr(),
                DTLS_CTRL_GET_TIMEOUT,
                0,
                (&mut timeout as *mut libc::timeval).cast(),
            )
        };
        (running == 1).then(|| {
            Duration::from_secs(timeout.tv_sec.max(0) as u64)
                + Duration::from_micros(timeout.tv_usec.max(0) as u64)
        })
    }
}

/// The identity the handshake authenticated: the PSK identity, or the
/// subject of a client certificate the configured CAs verified.
fn authenticated_identity(ssl: &SslRef) -> Identity {
    if let Some(identity) = ssl.psk_identity() {
        return Identity::PreSharedKey(String::from_utf8_lossy(identity).into());
    }
    match ssl.peer_certificate() {
        Some(certificate) if ssl.verify_result() == X509VerifyResult::OK => {
            Identity::Certificate(rfc4514(certificate.subject_name()).into())
        }
        _ => Identity::Anonymous,
    }
}

/// A distinguished name as RFC 4514 writes it: last RDN first, `CN=...`.
fn rfc4514(name: &X509NameRef) -> String {
    let mut parts: Vec<String> = name
        .entries()
        .map(|entry| {
            let attribute = entry.object().nid().short_name().unwrap_or("?");
            let value = entry.data().to_string().unwrap_or_default();
            format!("{attribute}={}", escape_rfc4514(&value))
        })
        .collect();
    parts.reverse();
    parts.join(",")
}

/// RFC 4514 §2.4's escapes for an attribute value.
fn escape_rfc4514(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for (i, c) in value.chars().enumerate() {
        let at_edge =
            (i == 0 && (c == ' ' || c == '#')) || (i + 1 == value.chars().count() && c == ' ');
        if at_edge || matches!(c, '"' | '+' | ',' | ';' | '<' | '>' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// The first reason OpenSSL gave, or the error itself.
fn describe(error: &openssl::ssl::Error) -> String {
    error
        .ssl_error()
        .and_then(|stack| stack.errors().first())
        .and_then(|first| first.reason())
        .map(str::to_owned)
        .unwrap_or_else(|| error.to_string())
}

/// Where an SSL keeps its first retransmission timeout, in microseconds.
fn initial_retransmit_index() -> Index<Ssl, c_uint> {
    static INDEX: OnceLock<Index<Ssl, c_uint>> = OnceLock::new();
    *INDEX.get_or_init(|| Ssl::new_ex_index().expect("an SSL ex_data index"))
}

/// Starts the retransmission timer at `initial`, doubling to at most 60 s
/// as RFC 6347 §4.2.4.1 says; OpenSSL's default starts at 1 s.
pub(crate) fn set_initial_retransmit(ssl: &mut SslRef, initial: Duration) {
    let micros = c_uint::try_from(initial.as_micros()).unwrap_or(c_uint::MAX);
    ssl.set_ex_data(initial_retransmit_index(), micros.max(1));
    // SAFETY: a valid SSL and a callback with the signature OpenSSL expects.
    unsafe { DTLS_set_timer_cb(ssl.as_ptr(), Some(retransmit_timer)) }
}

/// OpenSSL's timer callback: the next timeout from the previous one (0
/// for the first).
unsafe extern "C" fn retransmit_timer(ssl: *mut openssl_sys::SSL, previous_us: c_uint) -> c_uint {
    if previous_us != 0 {
        return previous_us.saturating_mul(2).min(60_000_000);
    }
    // SAFETY: OpenSSL passes the SSL the callback was set on.
    let ssl = unsafe { SslRef::from_ptr(ssl) };
    ssl.ex_data(initial_retransmit_index())
        .copied()
        .unwrap_or(1_000_000)
}
