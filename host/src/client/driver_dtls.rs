//! One DTLS 1.2 session to one device over a tokio UDP socket (RFC 7252
//! §9.1): the async twin of [`super::connection`]'s coaps half, for the
//! HTTP cross-proxy's `coaps://` targets. The session is the sans-I/O
//! [`DtlsConnector`] the command-line client uses; this only moves its
//! datagrams.
//!
//! Every transmission is a non-blocking send on a clone of the socket, so
//! that the one await point of a receive is the socket's own:
//! [`DtlsLink::recv`] is cancel-safe (it runs inside `select!`), and a
//! datagram the kernel would not take is a lost one, which DTLS's and
//! CoAP's retransmissions are there for. (Not tokio's `try_send`: on a new
//! socket it reports WouldBlock until the reactor has seen it writable,
//! and the ClientHello was lost, each handshake a second late.)

use std::collections::VecDeque;
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::net::UdpSocket;

use super::driver::{DriveError, MAX_DATAGRAM};
use crate::transport::dtls::{ClientCredentials, ConnectorEvent, DtlsConnector};

/// An established session and its socket.
pub struct DtlsLink {
    socket: UdpSocket,
    connector: DtlsConnector,
    /// Decrypted CoAP messages not read yet.
    ready: VecDeque<Bytes>,
    buffer: Vec<u8>,
    /// When it last carried an exchange, for the proxy's session cache.
    pub last_used: Instant,
    /// Where the next exchange's message ids start: the session is one
    /// endpoint to the device, whose duplicate detection spans exchanges
    /// (RFC 7252 §4.5). None before the first.
    pub next_message_id: Option<u16>,
    /// The socket again, for sending without waiting (see the module
    /// documentation).
    sender: std::net::UdpSocket,
}

impl DtlsLink {
    /// A socket connected to `peer` and a completed handshake, within
    /// `timeout`. A handshake nobody answered is [`DriveError::Timeout`];
    /// one the device answered but that failed or never completed (a wrong
    /// key, an unknown identity, no suite in common, a certificate that
    /// does not verify) is [`DriveError::Dtls`].
    pub async fn connect(
        peer: SocketAddr,
        credentials: &ClientCredentials,
        timeout: Duration,
    ) -> Result<DtlsLink, DriveError> {
        let (socket, sender) = connected_socket_pair(peer)?;
        let started = Instant::now();
        let mut events = Vec::new();
        let connector = DtlsConnector::connect(credentials, started, timeout, &mut events)
            .map_err(|error| DriveError::Dtls(format!("{error:#}")))?;
        let mut link = DtlsLink {
            socket,
            connector,
            ready: VecDeque::new(),
            buffer: vec![0; MAX_DATAGRAM],
            last_used: started,
            next_message_id: None,
            sender,
        };
        let mut heard = false;
        // Bounded: the connector fails itself at `timeout`.
        loop {
            if let Err(error) = link.apply(std::mem::take(&mut events)) {
                return Err(match error {
                    DriveError::Dtls(_) if !heard => DriveError::Timeout,
                    other => other,
                });
            }
            if link.connector.is_established() {
                return Ok(link);
            }
            let wake = link.connector.next_deadline().unwrap_or(started + timeout);
            tokio::select! {
                received = link.socket.recv(&mut link.buffer) => {
                    let n = received?;
                    heard = true;
                    link.connector.on_datagram(&link.buffer[..n], Instant::now(), &mut events);
                }
                () = tokio::time::sleep_until(wake.into()) => {
                    link.connector.on_timeout(Instant::now(), &mut events);
                }
            }
        }
    }

    /// Sends one CoAP message in one record.
    pub fn send(&mut self, message: &[u8]) -> Result<(), DriveError> {
        let mut events = Vec::new();
        self.connector.seal(message, &mut events);
        self.apply(events)
    }

    /// The next CoAP message from the device. Cancel-safe.
    pub async fn recv(&mut self) -> Result<Bytes, DriveError> {
        loop {
            if let Some(message) = self.ready.pop_front() {
                return Ok(message);
            }
            let n = self.socket.recv(&mut self.buffer).await?;
            let mut events = Vec::new();
            self.connector
                .on_datagram(&self.buffer[..n], Instant::now(), &mut events);
            self.apply(events)?;
        }
    }

    /// Ends the session with close_notify, so the device forgets it now
    /// rather than at its idle timeout.
    pub fn close(mut self) {
        let mut events = Vec::new();
        self.connector.close(&mut events);
        let _ = self.apply(events);
    }

    fn apply(&mut self, events: Vec<ConnectorEvent>) -> Result<(), DriveError> {
        for event in events {
            match event {
                ConnectorEvent::Transmit(datagram) => match self.sender.send(&datagram) {
                    Ok(_) => {}
                    Err(error) if error.kind() == ErrorKind::WouldBlock => {}
                    Err(error) => return Err(error.into()),
                },
                ConnectorEvent::Deliver(message) => self.ready.push_back(message),
                ConnectorEvent::Established => {}
                ConnectorEvent::Failed(reason) => return Err(DriveError::Dtls(reason)),
            }
        }
        Ok(())
    }
}

/// A non-blocking socket connected to `peer`: tokio's for receiving, a
/// clone for sending.
fn connected_socket_pair(peer: SocketAddr) -> Result<(UdpSocket, std::net::UdpSocket), DriveError> {
    let local: SocketAddr = if peer.is_ipv4() {
        SocketAddr::from(([0, 0, 0, 0], 0))
    } else {
        SocketAddr::from(([0u16; 8], 0))
    };
    let socket = std::net::UdpSocket::bind(local)?;
    socket.connect(peer)?;
    socket.set_nonblocking(true)?;
    let sender = socket.try_clone()?;
    Ok((UdpSocket::from_std(socket)?, sender))
}
