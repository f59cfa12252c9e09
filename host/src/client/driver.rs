//! Drives one [`ClientExchange`] over a tokio UDP socket: the async twin of
//! [`super::connection`]'s blocking loop, for the HTTP cross-proxy, which
//! serves many exchanges at once on the server's runtime. Plain coap only.
//!
//! The socket is the exchange's own, connected to the peer, so that an ICMP
//! port unreachable comes back as an error on it.

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;

use super::exchange::{ClientExchange, Event, Failure, Request, Response};
use crate::message::TransmissionParameters;

/// The largest datagram read: the size of a UDP payload.
const MAX_DATAGRAM: usize = 65535;

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
    let local: SocketAddr = if peer.is_ipv4() {
        SocketAddr::from(([0, 0, 0, 0], 0))
    } else {
        SocketAddr::from(([0u16; 8], 0))
    };
    let socket = UdpSocket::bind(local).await?;
    socket.connect(peer).await?;
    let mut events = Vec::new();
    let mut exchange =
        ClientExchange::start(peer, request, parameters, seed, Instant::now(), &mut events);
    let mut quiet_until = Instant::now() + silence;
    let mut buffer = vec![0; MAX_DATAGRAM];
    loop {
        let mut response = None;
        for event in events.drain(..) {
            match event {
                Event::Transmit(datagram) => {
                    socket.send(&datagram).await?;
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
            received = socket.recv(&mut buffer) => {
                let n = received?;
                exchange.on_datagram(&buffer[..n], Instant::now(), &mut events);
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
