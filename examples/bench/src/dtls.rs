//! coaps (RFC 7252 §9.1): DTLS 1.2 with a pre-shared key,
//! TLS_PSK_WITH_AES_128_CCM_8, the cipher suite RFC 7252 §9.1.3.1 makes
//! mandatory. OpenSSL runs over a connected UDP socket through a small
//! Read/Write wrapper: each write is one datagram, each read one datagram.

use std::io::{self, Read, Write};
use std::net::UdpSocket;
use std::os::fd::{AsRawFd, RawFd};
use std::time::{Duration, Instant};

use foreign_types::ForeignTypeRef;
use openssl::ssl::{
    ErrorCode, HandshakeError, MidHandshakeSslStream, Ssl, SslContext, SslContextBuilder,
    SslMethod, SslOptions, SslStream, SslVersion,
};

/// The largest datagram a session writes: the IPv6 minimum MTU less the
/// IPv6 and UDP headers, as the host does.
const MTU: u32 = 1280 - 40 - 8;

unsafe extern "C" {
    /// OpenSSL 1.1.0 and later; not declared by openssl-sys.
    fn SSL_has_pending(ssl: *const openssl_sys::SSL) -> libc::c_int;
}

/// OpenSSL's DTLS_CTRL_HANDLE_TIMEOUT (not in openssl-sys' safe API).
const DTLS_CTRL_HANDLE_TIMEOUT: i32 = 74;

/// A client's pre-shared key.
#[derive(Clone)]
pub struct Psk {
    pub identity: String,
    pub key: Vec<u8>,
}

/// A client context that offers PSK-AES128-CCM8 with `psk`, DTLS 1.2 only.
pub fn context(psk: &Psk) -> io::Result<SslContext> {
    let mut builder = SslContextBuilder::new(SslMethod::dtls()).map_err(io::Error::other)?;
    builder
        .set_min_proto_version(Some(SslVersion::DTLS1_2))
        .map_err(io::Error::other)?;
    builder
        .set_max_proto_version(Some(SslVersion::DTLS1_2))
        .map_err(io::Error::other)?;
    // The wrapper below is no datagram BIO: OpenSSL cannot ask it for the
    // path MTU, so each SSL is given one.
    builder.set_options(SslOptions::NO_QUERY_MTU);
    builder
        .set_cipher_list("PSK-AES128-CCM8")
        .map_err(io::Error::other)?;
    let identity = psk.identity.as_bytes().to_vec();
    let key = psk.key.clone();
    builder.set_psk_client_callback(move |_ssl, _hint, identity_out, key_out| {
        if identity.len() >= identity_out.len() || key.len() > key_out.len() {
            return Err(openssl::error::ErrorStack::get());
        }
        identity_out[..identity.len()].copy_from_slice(&identity);
        identity_out[identity.len()] = 0;
        key_out[..key.len()].copy_from_slice(&key);
        Ok(key.len())
    });
    Ok(builder.build())
}

/// A connected UDP socket as OpenSSL's transport.
pub struct Datagrams(pub UdpSocket);

impl Read for Datagrams {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.recv(buf)
    }
}

impl Write for Datagrams {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.send(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

pub type Session = SslStream<Datagrams>;
pub type Handshaking = MidHandshakeSslStream<Datagrams>;

/// The outcome of one step of a nonblocking handshake.
pub enum Step {
    Done(Session),
    Pending(Handshaking),
    Failed(io::Error),
}

/// Starts a handshake on `socket` (connected, nonblocking): sends the
/// ClientHello.
pub fn start(context: &SslContext, socket: UdpSocket) -> Step {
    let mut ssl = match Ssl::new(context) {
        Ok(ssl) => ssl,
        Err(e) => return Step::Failed(io::Error::other(e)),
    };
    if let Err(e) = ssl.set_mtu(MTU) {
        return Step::Failed(io::Error::other(e));
    }
    step(ssl.connect(Datagrams(socket)))
}

/// Carries the handshake on with what arrived.
pub fn resume(handshaking: Handshaking) -> Step {
    step(handshaking.handshake())
}

/// Retransmits the last flight if OpenSSL's timer (1 s, doubling) expired.
pub fn handle_timeout(handshaking: &Handshaking) {
    // SAFETY: a valid SSL; DTLS_CTRL_HANDLE_TIMEOUT takes no argument.
    unsafe {
        openssl_sys::SSL_ctrl(
            handshaking.ssl().as_ptr(),
            DTLS_CTRL_HANDLE_TIMEOUT,
            0,
            std::ptr::null_mut(),
        );
    }
}

fn step(result: Result<Session, HandshakeError<Datagrams>>) -> Step {
    match result {
        Ok(session) => Step::Done(session),
        Err(HandshakeError::WouldBlock(handshaking)) => Step::Pending(handshaking),
        Err(HandshakeError::Failure(handshaking)) => {
            Step::Failed(io::Error::other(handshaking.into_error()))
        }
        Err(HandshakeError::SetupFailure(e)) => Step::Failed(io::Error::other(e)),
    }
}

pub fn fd(handshaking: &Handshaking) -> RawFd {
    handshaking.get_ref().0.as_raw_fd()
}

/// One handshake on `socket` (connected, nonblocking), waiting at most `limit`.
pub fn connect(context: &SslContext, socket: UdpSocket, limit: Duration) -> io::Result<Session> {
    let deadline = Instant::now() + limit;
    let mut handshaking = match start(context, socket) {
        Step::Done(session) => return Ok(session),
        Step::Pending(handshaking) => handshaking,
        Step::Failed(e) => return Err(e),
    };
    loop {
        let now = Instant::now();
        if now >= deadline {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "no DTLS handshake within the limit",
            ));
        }
        let wait = (deadline - now).min(Duration::from_millis(50));
        let mut poll = libc::pollfd {
            fd: fd(&handshaking),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        unsafe { libc::poll(&mut poll, 1, wait.as_millis() as i32 + 1) };
        handle_timeout(&handshaking);
        handshaking = match resume(handshaking) {
            Step::Done(session) => return Ok(session),
            Step::Pending(handshaking) => handshaking,
            Step::Failed(e) => return Err(e),
        };
    }
}

/// Decrypts the next record: its application data into `buf`, WouldBlock
/// when no datagram (or only a handshake or alert record) was waiting.
pub fn read(session: &mut Session, buf: &mut [u8]) -> io::Result<usize> {
    match session.ssl_read(buf) {
        Ok(len) => Ok(len),
        Err(e) => Err(match e.code() {
            ErrorCode::WANT_READ | ErrorCode::WANT_WRITE => io::ErrorKind::WouldBlock.into(),
            ErrorCode::ZERO_RETURN => io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "the server closed the session",
            ),
            _ => match e.into_io_error() {
                Ok(e) => e,
                Err(e) => io::Error::other(e),
            },
        }),
    }
}

/// Encrypts `datagram` as one record, in one datagram.
pub fn write(session: &mut Session, datagram: &[u8]) -> io::Result<usize> {
    session
        .ssl_write(datagram)
        .map_err(|e| match e.into_io_error() {
            Ok(e) => e,
            Err(e) => io::Error::other(e),
        })
}

/// Whether OpenSSL holds more of the last datagram (another record).
pub fn has_pending(session: &Session) -> bool {
    // SAFETY: a valid SSL.
    unsafe { SSL_has_pending(session.ssl().as_ptr()) != 0 }
}
