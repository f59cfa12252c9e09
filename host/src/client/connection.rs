//! The client's socket: a UDP socket connected to the server, carrying CoAP
//! messages as they are (coap://) or inside one DTLS session (coaps://).
//! Blocking, with a deadline on every receive: a command-line client serves
//! one exchange at a time, and a runtime would cost start-up time.

use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use bytes::Bytes;

use crate::transport::dtls::{ClientCredentials, ConnectorEvent, DtlsConnector};

/// The largest datagram read: the size of a UDP payload.
const MAX_DATAGRAM: usize = 65535;

/// Why a receive returned nothing.
#[derive(Debug)]
pub enum Quiet {
    /// The deadline passed.
    Deadline,
    /// The wait was cut short (a signal), to let the caller look around.
    Interrupted,
}

/// A connected socket and its security.
pub struct Connection {
    socket: UdpSocket,
    peer: SocketAddr,
    dtls: Option<DtlsConnector>,
    /// Decrypted messages read with a handshake's last flight.
    ready: Vec<Bytes>,
    /// Prints every datagram exchanged (`-v`).
    trace: Option<fn(&str, &[u8])>,
    buffer: Vec<u8>,
}

impl Connection {
    /// A socket connected to `peer` (so an ICMP port unreachable is seen),
    /// and for coaps a completed handshake, before `deadline`.
    pub fn open(
        peer: SocketAddr,
        credentials: Option<&ClientCredentials>,
        deadline: Instant,
        trace: Option<fn(&str, &[u8])>,
    ) -> anyhow::Result<Connection> {
        let local: SocketAddr = if peer.is_ipv4() {
            "0.0.0.0:0".parse()?
        } else {
            "[::]:0".parse()?
        };
        let socket = UdpSocket::bind(local).context("cannot open a UDP socket")?;
        socket
            .connect(peer)
            .with_context(|| format!("cannot reach {peer}"))?;
        let mut connection = Connection {
            socket,
            peer,
            dtls: None,
            ready: Vec::new(),
            trace,
            buffer: vec![0; MAX_DATAGRAM],
        };
        if let Some(credentials) = credentials {
            connection.handshake(credentials, deadline)?;
        }
        Ok(connection)
    }

    /// The server's address.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    fn handshake(
        &mut self,
        credentials: &ClientCredentials,
        deadline: Instant,
    ) -> anyhow::Result<()> {
        let now = Instant::now();
        let mut events = Vec::new();
        let connector = DtlsConnector::connect(
            credentials,
            now,
            deadline.saturating_duration_since(now),
            &mut events,
        )?;
        self.dtls = Some(connector);
        loop {
            for event in events.drain(..) {
                match event {
                    ConnectorEvent::Transmit(datagram) => self.send_raw(&datagram)?,
                    ConnectorEvent::Deliver(message) => self.ready.push(message),
                    ConnectorEvent::Established => {}
                    ConnectorEvent::Failed(reason) => {
                        bail!("DTLS handshake with {} failed: {reason}", self.peer)
                    }
                }
            }
            let Some(connector) = self.dtls.as_mut() else {
                bail!("no DTLS session");
            };
            if connector.is_established() {
                return Ok(());
            }
            let wake = connector.next_deadline().unwrap_or(deadline);
            match self.receive_raw(wake)? {
                Some(n) => {
                    let datagram = self.buffer[..n].to_vec();
                    if let Some(connector) = self.dtls.as_mut() {
                        connector.on_datagram(&datagram, Instant::now(), &mut events);
                    }
                }
                None => {
                    if let Some(connector) = self.dtls.as_mut() {
                        connector.on_timeout(Instant::now(), &mut events);
                    }
                }
            }
        }
    }

    /// Sends one CoAP message.
    pub fn send(&mut self, message: &[u8]) -> anyhow::Result<()> {
        if let Some(trace) = self.trace {
            trace("->", message);
        }
        let Some(connector) = self.dtls.as_mut() else {
            return self.send_raw(message);
        };
        let mut events = Vec::new();
        connector.seal(message, &mut events);
        self.apply(events)
    }

    /// The next CoAP message from the server, waiting until `deadline` at
    /// most and no longer than `slice` at a time (so the caller can notice
    /// a signal).
    pub fn receive(
        &mut self,
        deadline: Instant,
        slice: Duration,
    ) -> anyhow::Result<Result<Bytes, Quiet>> {
        loop {
            if let Some(message) = (!self.ready.is_empty()).then(|| self.ready.remove(0)) {
                if let Some(trace) = self.trace {
                    trace("<-", &message);
                }
                return Ok(Ok(message));
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(Err(Quiet::Deadline));
            }
            let wake = deadline.min(now + slice);
            let Some(n) = self.receive_raw(wake)? else {
                return Ok(Err(if wake < deadline {
                    Quiet::Interrupted
                } else {
                    Quiet::Deadline
                }));
            };
            match self.dtls.as_mut() {
                None => self.ready.push(Bytes::copy_from_slice(&self.buffer[..n])),
                Some(connector) => {
                    let datagram = self.buffer[..n].to_vec();
                    let mut events = Vec::new();
                    connector.on_datagram(&datagram, Instant::now(), &mut events);
                    self.apply(events)?;
                }
            }
        }
    }

    /// Ends a DTLS session politely.
    pub fn close(&mut self) {
        if let Some(connector) = self.dtls.as_mut() {
            let mut events = Vec::new();
            connector.close(&mut events);
            let _ = self.apply(events);
        }
    }

    fn apply(&mut self, events: Vec<ConnectorEvent>) -> anyhow::Result<()> {
        for event in events {
            match event {
                ConnectorEvent::Transmit(datagram) => self.send_raw(&datagram)?,
                ConnectorEvent::Deliver(message) => self.ready.push(message),
                ConnectorEvent::Established => {}
                ConnectorEvent::Failed(reason) => {
                    bail!("the DTLS session with {} ended: {reason}", self.peer)
                }
            }
        }
        Ok(())
    }

    fn send_raw(&self, datagram: &[u8]) -> anyhow::Result<()> {
        match self.socket.send(datagram) {
            Ok(_) => Ok(()),
            Err(error) if error.kind() == ErrorKind::ConnectionRefused => {
                Err(unreachable(self.peer))
            }
            Err(error) => Err(error).with_context(|| format!("cannot send to {}", self.peer)),
        }
    }

    /// One datagram into the buffer, or None at `wake`.
    fn receive_raw(&mut self, wake: Instant) -> anyhow::Result<Option<usize>> {
        let wait = wake.saturating_duration_since(Instant::now());
        if wait.is_zero() {
            return Ok(None);
        }
        self.socket.set_read_timeout(Some(wait))?;
        match self.socket.recv(&mut self.buffer) {
            Ok(n) => Ok(Some(n)),
            Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                Ok(None)
            }
            Err(error) if error.kind() == ErrorKind::Interrupted => Ok(None),
            Err(error) if error.kind() == ErrorKind::ConnectionRefused => {
                Err(unreachable(self.peer))
            }
            Err(error) => Err(error).with_context(|| format!("cannot receive from {}", self.peer)),
        }
    }
}

/// An ICMP port unreachable: nothing listens at the address (another
/// address of the same name may be worth a try).
#[derive(Debug, thiserror::Error)]
#[error("nothing listens at {0} (ICMP port unreachable)")]
pub struct Unreachable(pub SocketAddr);

fn unreachable(peer: SocketAddr) -> anyhow::Error {
    Unreachable(peer).into()
}
