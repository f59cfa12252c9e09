//! Drives one [`ClientExchange`] over a tokio UDP socket: the async twin of
//! [`super::connection`]'s blocking loop, for the HTTP cross-proxy, which
//! serves many exchanges at once on the server's runtime. The messages go
//! as they are (coap://) or inside a DTLS session ([`super::driver_dtls`],
//! coaps://).
//!
//! The socket is the exchange's own, connected to the peer, so that an ICMP
//! port unreachable comes back as an error on it.

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::net::UdpSocket;

use super::driver_dtls::DtlsLink;
use super::exchange::{ClientExchange, Event, Failure, Request, Response};
use crate::message::TransmissionParameters;

/// The largest datagram read: the size of a UDP payload.
pub(crate) const MAX_DATAGRAM: usize = 65535;

/// Why a driven exchange ended without a response.
#[derive(Debug)]
pub enum DriveError {
    /// The peer said nothing useful within the silence allowed, or never
    /// acknowledged the request (RFC 7252 §4.2).
    Timeout,
    /// Nothing listens at the address (ICMP port unreachable).
    Unreachable,
    /// The peer answered with a Reset or broke the protocol.
    Failed(Failure),
    /// The DTLS handshake failed, or the session ended (RFC 6347).
    Dtls(String),
    /// The socket failed.
    Io(std::io::Error),
}

impl std::fmt::Display for DriveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DriveError::Timeout => write!(f, "no answer in time"),
            DriveError::Unreachable => write!(f, "nothing listens there (ICMP port unreachable)"),
            DriveError::Failed(Failure::Reset) => write!(f, "the device answered with a Reset"),
            DriveError::Failed(Failure::NotAcknowledged) => write!(f, "never acknowledged"),
            DriveError::Failed(Failure::Protocol(reason)) => write!(f, "{reason}"),
            DriveError::Dtls(reason) => write!(f, "DTLS: {reason}"),
            DriveError::Io(error) => write!(f, "{error}"),
        }
    }
}

impl From<std::io::Error> for DriveError {
    fn from(error: std::io::Error) -> Self {
        if error.kind() == ErrorKind::ConnectionRefused {
            DriveError::Unreachable
        } else {
            DriveError::Io(error)
        }
    }
}

/// A UDP socket connected to `peer`, from an ephemeral port.
async fn connected_socket(peer: SocketAddr) -> Result<UdpSocket, DriveError> {
    let local: SocketAddr = if peer.is_ipv4() {
        SocketAddr::from(([0, 0, 0, 0], 0))
    } else {
        SocketAddr::from(([0u16; 8], 0))
    };
    let socket = UdpSocket::bind(local).await?;
    socket.connect(peer).await?;
    Ok(socket)
}

/// How an exchange's messages reach the peer.
pub enum Link {
    /// coap://: a datagram per message (RFC 7252 §3).
    Udp(UdpSocket),
    /// coaps://: a record per message in one session (RFC 7252 §9.1).
    Dtls(Box<DtlsLink>),
}

impl Link {
    /// A plain coap link to `peer`.
    pub async fn udp(peer: SocketAddr) -> Result<Link, DriveError> {
        Ok(Link::Udp(connected_socket(peer).await?))
    }

    /// Sends one CoAP message.
    pub async fn send(&mut self, message: &[u8]) -> Result<(), DriveError> {
        match self {
            Link::Udp(socket) => {
                socket.send(message).await?;
                Ok(())
            }
            Link::Dtls(link) => link.send(message),
        }
    }

    /// The next message. Cancel-safe.
    pub async fn recv(&mut self, buffer: &mut [u8]) -> Result<Bytes, DriveError> {
        match self {
            Link::Udp(socket) => {
                let n = socket.recv(buffer).await?;
                Ok(Bytes::copy_from_slice(&buffer[..n]))
            }
            Link::Dtls(link) => link.recv().await,
        }
    }
}

/// Sends `request` to `peer` and waits for its whole response (every block
/// of it). `silence` bounds the wait for the first answer and between two
/// blocks of a block-wise transfer; datagrams that move nothing forward do
/// not extend it. Observe is not driven here: the first response is returned.
pub async fn exchange(
    peer: SocketAddr,
    request: Request,
    parameters: TransmissionParameters,
    seed: u64,
    silence: Duration,
) -> Result<Response, DriveError> {
    let mut link = Link::udp(peer).await?;
    exchange_over(&mut link, peer, request, parameters, seed, silence).await
}

/// [`exchange`] over a link already open (a DTLS session kept from an
/// earlier exchange, say).
pub async fn exchange_over(
    link: &mut Link,
    peer: SocketAddr,
    request: Request,
    parameters: TransmissionParameters,
    seed: u64,
    silence: Duration,
) -> Result<Response, DriveError> {
    let mut events = Vec::new();
    let continuing = match link {
        Link::Dtls(session) => session.next_message_id,
        Link::Udp(_) => None,
    };
    let now = Instant::now();
    let mut exchange = match continuing {
        Some(first) => {
            ClientExchange::start_from(peer, request, parameters, seed, first, now, &mut events)
        }
        None => ClientExchange::start(peer, request, parameters, seed, now, &mut events),
    };
    let result = drive(link, &mut exchange, events, silence).await;
    if let Link::Dtls(session) = link {
        session.next_message_id = Some(exchange.next_message_id());
    }
    result
}

/// Runs `exchange` over `link` to its response.
async fn drive(
    link: &mut Link,
    exchange: &mut ClientExchange,
    mut events: Vec<Event>,
    silence: Duration,
) -> Result<Response, DriveError> {
    let mut quiet_until = Instant::now() + silence;
    let mut buffer = vec![0; MAX_DATAGRAM];
    loop {
        let mut response = None;
        for event in events.drain(..) {
            match event {
                Event::Transmit(datagram) => {
                    link.send(&datagram).await?;
                }
                Event::Response(whole) => response = Some(whole),
                Event::Progress { .. } => quiet_until = Instant::now() + silence,
                Event::Notification(_) => {}
                Event::Failed(Failure::NotAcknowledged) => return Err(DriveError::Timeout),
                Event::Failed(failure) => return Err(DriveError::Failed(failure)),
            }
        }
        // Sent after the acknowledgement of a CON response, if any.
        if let Some(response) = response {
            return Ok(response);
        }
        let wake = exchange
            .next_deadline()
            .map_or(quiet_until, |due| due.min(quiet_until));
        tokio::select! {
            received = link.recv(&mut buffer) => {
                let message = received?;
                exchange.on_datagram(&message, Instant::now(), &mut events);
            }
            () = tokio::time::sleep_until(wake.into()) => {
                let now = Instant::now();
                if now >= quiet_until {
                    return Err(DriveError::Timeout);
                }
                exchange.on_timeout(now, &mut events);
            }
        }
    }
}
