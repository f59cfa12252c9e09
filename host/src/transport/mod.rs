//! Transports under the message layer: how one endpoint's CoAP messages
//! reach the network. Plain UDP (RFC 7252 §6: `coap://`) carries each
//! message as one datagram; DTLS (§9.1: `coaps://`) carries it as one
//! record of a session per peer, whose handshake authenticates the peer.
//!
//! The message layer, exchanges, Observe and block-wise never learn which
//! transport carried a message; they see a peer address, and the exchange
//! layer asks the transport who that peer is ([`Requester`]). CoAP over TCP
//! and WebSockets (RFC 8323) have no message layer of their own to share and
//! would come in beside this, as streams.

pub mod dtls;

use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;

use crate::identity::Requester;
use dtls::{DtlsEndpoint, DtlsEvent};

/// A datagram transport: what turns the network's datagrams into CoAP
/// messages and back, for one socket.
pub enum DatagramTransport {
    /// `coap://`: a datagram is a message; every peer is anonymous.
    Udp,
    /// `coaps://`: DTLS 1.2 sessions, one per peer.
    Dtls(Box<DtlsEndpoint>, Vec<DtlsEvent>),
}

/// What a datagram from the network came to.
pub enum Received<'a> {
    /// A CoAP message, for the message layer.
    Message(&'a [u8]),
    /// Nothing for the message layer (a handshake record, a dropped one).
    Nothing,
}

impl DatagramTransport {
    /// A DTLS transport.
    pub fn dtls(endpoint: DtlsEndpoint) -> DatagramTransport {
        DatagramTransport::Dtls(Box::new(endpoint), Vec::new())
    }

    /// Takes one datagram from `peer`. The CoAP messages it carried are
    /// handed to `deliver`; datagrams the transport itself must send (DTLS
    /// handshake flights, alerts) are appended to `wire`.
    pub fn on_datagram(
        &mut self,
        peer: SocketAddr,
        datagram: &[u8],
        now: Instant,
        wire: &mut Vec<(SocketAddr, Bytes)>,
        mut deliver: impl FnMut(SocketAddr, &[u8]),
    ) {
        match self {
            DatagramTransport::Udp => deliver(peer, datagram),
            DatagramTransport::Dtls(endpoint, events) => {
                endpoint.on_datagram(peer, datagram, now, events);
                drain(events, wire, &mut deliver);
            }
        }
    }

    /// Turns the message layer's outgoing messages in `messages` into
    /// datagrams in `wire`. A message for a peer without a DTLS session is
    /// dropped, as a network would drop it: the message layer retransmits
    /// or gives up as for any loss.
    pub fn seal(
        &mut self,
        messages: &mut Vec<(SocketAddr, Bytes)>,
        wire: &mut Vec<(SocketAddr, Bytes)>,
    ) {
        match self {
            DatagramTransport::Udp => wire.append(messages),
            DatagramTransport::Dtls(endpoint, events) => {
                for (peer, message) in messages.drain(..) {
                    if !endpoint.send(peer, &message, events) {
                        tracing::debug!(%peer, "no DTLS session: message dropped");
                    }
                }
                drain(events, wire, &mut |_, _| {});
            }
        }
    }

    /// Runs the transport's timers that are due (DTLS retransmissions,
    /// handshake and idle timeouts).
    pub fn on_timeout(&mut self, now: Instant, wire: &mut Vec<(SocketAddr, Bytes)>) {
        if let DatagramTransport::Dtls(endpoint, events) = self {
            endpoint.on_timeout(now, events);
            drain(events, wire, &mut |_, _| {});
        }
    }

    /// When [`DatagramTransport::on_timeout`] next has work.
    pub fn next_deadline(&self) -> Option<Instant> {
        match self {
            DatagramTransport::Udp => None,
            DatagramTransport::Dtls(endpoint, _) => endpoint.next_deadline(),
        }
    }

    /// Who `peer` is, as far as this transport knows.
    pub fn requester(&self, peer: SocketAddr) -> Requester {
        match self {
            DatagramTransport::Udp => Requester::anonymous(),
            DatagramTransport::Dtls(endpoint, _) => Requester {
                identity: endpoint
                    .identity(peer)
                    .cloned()
                    .unwrap_or(crate::identity::Identity::Anonymous),
                dtls: true,
            },
        }
    }

    /// Established DTLS sessions (none over plain UDP).
    pub fn sessions(&self) -> usize {
        match self {
            DatagramTransport::Udp => 0,
            DatagramTransport::Dtls(endpoint, _) => endpoint.sessions(),
        }
    }

    /// `coap` or `coaps`, for logs.
    pub fn scheme(&self) -> &'static str {
        match self {
            DatagramTransport::Udp => "coap",
            DatagramTransport::Dtls(..) => "coaps",
        }
    }
}

fn drain(
    events: &mut Vec<DtlsEvent>,
    wire: &mut Vec<(SocketAddr, Bytes)>,
    deliver: &mut impl FnMut(SocketAddr, &[u8]),
) {
    for event in events.drain(..) {
        match event {
            DtlsEvent::Transmit(peer, datagram) => wire.push((peer, datagram)),
            DtlsEvent::Deliver(peer, message) => deliver(peer, &message),
            DtlsEvent::Closed(peer) => tracing::debug!(%peer, "DTLS session closed"),
        }
    }
}
