//! The message layer, RFC 7252 §4: message types, message ids, acknowledgement,
//! retransmission and duplicate detection. Sans-I/O: datagrams and the time go
//! in, datagrams to send and requests to handle come out, so every rule here is
//! testable without a socket or a clock.

mod deduplication;
mod inbound;
mod message_id;
mod parameters;
mod retransmission;
mod token;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use coap_lite::{MessageClass, MessageType, Packet, ResponseType};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

pub use deduplication::{DeduplicationCache, MessageKey, Seen};
pub use inbound::{Inbound, classify};
pub use message_id::MessageIdSequence;
pub use parameters::TransmissionParameters;
pub use retransmission::{Expiry, RetransmissionTimer};
pub use token::Token;

/// A request the message layer handed up, with what it needs to answer it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exchange {
    /// The requester and the request's message id.
    pub key: MessageKey,
    /// The request's token, echoed in the response (§5.3.1).
    pub token: Token,
    /// Whether the request came in a CON (answered with an ACK) or a NON.
    pub confirmable: bool,
    /// The request datagram's size in bytes, which bounds the response's
    /// (amplification, §11.3).
    pub size: u16,
}

/// What the message layer asks of the code around it.
#[derive(Debug)]
pub enum Action {
    /// Send this datagram.
    Send { to: SocketAddr, datagram: Bytes },
    /// Handle this request and call [`MessageLayer::on_response`] with the answer.
    Deliver { exchange: Exchange, request: Packet },
    /// A CON the host originated was acknowledged.
    Acknowledged(MessageKey),
    /// A message the host originated was answered with a Reset (§4.2, §4.3).
    Reset(MessageKey),
    /// A CON the host originated was never acknowledged (§4.2).
    GaveUp(MessageKey),
}

/// The message layer of one socket.
pub struct MessageLayer {
    parameters: TransmissionParameters,
    seen: DeduplicationCache,
    retransmission: RetransmissionTimer,
    // Confirmable requests in arrival order, each due for an empty ACK at the
    // instant given unless answered by then (§5.2.2).
    ack_deadlines: VecDeque<(Instant, MessageKey)>,
    message_ids: MessageIdSequence,
    rng: SmallRng,
    expired: Vec<Expiry>,
}

impl MessageLayer {
    /// A message layer with these parameters; `seed` drives the random start
    /// of message ids and the retransmission jitter.
    pub fn new(parameters: TransmissionParameters, seed: u64) -> Self {
        let mut rng = SmallRng::seed_from_u64(seed);
        MessageLayer {
            seen: DeduplicationCache::new(
                parameters.exchange_lifetime(),
                parameters.non_lifetime(),
                parameters.deduplication_capacity,
            ),
            retransmission: RetransmissionTimer::default(),
            ack_deadlines: VecDeque::new(),
            message_ids: MessageIdSequence::starting_at(rng.random()),
            rng,
            parameters,
            expired: Vec::new(),
        }
    }

    /// Processes one datagram from `from`.
    pub fn on_datagram(
        &mut self,
        from: SocketAddr,
        datagram: &[u8],
        now: Instant,
        actions: &mut Vec<Action>,
    ) {
        // A server originates no requests: a response lacks context here.
        match classify(datagram).without_context() {
            Inbound::Response { .. } | Inbound::Ignore => {
                tracing::debug!(%from, len = datagram.len(), "ignored datagram")
            }
            Inbound::Ping { message_id } | Inbound::RejectConfirmable { message_id } => {
                actions.push(send(from, empty_message(MessageType::Reset, message_id)));
            }
            Inbound::Acknowledgement { message_id } => {
                let key = MessageKey {
                    peer: from,
                    message_id,
                };
                if self.retransmission.stop(&key) {
                    actions.push(Action::Acknowledged(key));
                } else {
                    tracing::debug!(%from, message_id, "ACK matches nothing");
                }
            }
            Inbound::Reset { message_id } => {
                let key = MessageKey {
                    peer: from,
                    message_id,
                };
                // A Reset may answer a NON of ours too (a notification), which
                // the message layer does not track: it is reported either way.
                self.retransmission.stop(&key);
                actions.push(Action::Reset(key));
            }
            Inbound::Request {
                packet,
                confirmable,
            } => self.on_request(from, packet, confirmable, datagram.len(), now, actions),
        }
    }

    fn on_request(
        &mut self,
        from: SocketAddr,
        request: Packet,
        confirmable: bool,
        size: usize,
        now: Instant,
        actions: &mut Vec<Action>,
    ) {
        let key = MessageKey {
            peer: from,
            message_id: request.header.message_id,
        };
        if let Some(seen) = self.seen.get(&key, now) {
            // §4.5: acknowledge each duplicate CON the same way, process it once.
            match seen {
                Seen::Answered(datagram) => actions.push(send(from, datagram.clone())),
                Seen::Handling { .. } if confirmable => {
                    // The client is retransmitting while the handler works:
                    // stop it with an empty ACK now, answer separately later.
                    let ack = empty_message(MessageType::Acknowledgement, key.message_id);
                    self.seen
                        .update(&key, Seen::Handling { acknowledged: true });
                    actions.push(send(from, ack));
                }
                Seen::Handling { .. } | Seen::NonConfirmable => {}
            }
            tracing::debug!(%from, message_id = key.message_id, "duplicate");
            return;
        }
        let Some(token) = Token::new(request.get_token()) else {
            // The parser refuses longer tokens; kept total all the same.
            return;
        };
        if confirmable {
            self.seen.insert(
                key,
                Seen::Handling {
                    acknowledged: false,
                },
                now,
            );
            self.ack_deadlines
                .push_back((now + self.parameters.separate_response_after, key));
        } else {
            self.seen.insert(key, Seen::NonConfirmable, now);
        }
        actions.push(Action::Deliver {
            exchange: Exchange {
                key,
                token,
                confirmable,
                size: u16::try_from(size).unwrap_or(u16::MAX),
            },
            request,
        });
    }

    /// Sends `response` (code, options and payload set) for `exchange`: a
    /// piggybacked ACK (§5.2.1), a separate CON once the request was
    /// acknowledged on its own (§5.2.2), or a NON for a NON request (§5.2.3).
    pub fn on_response(
        &mut self,
        exchange: Exchange,
        mut response: Packet,
        now: Instant,
        actions: &mut Vec<Action>,
    ) {
        let key = exchange.key;
        if !exchange.confirmable {
            let message_id = self.message_ids.next_id();
            let datagram = encode(
                &mut response,
                MessageType::NonConfirmable,
                message_id,
                exchange.token,
            );
            actions.push(send(key.peer, datagram));
            return;
        }
        match self.seen.get(&key, now) {
            Some(Seen::Handling { acknowledged: true }) => {
                let message_id = self.message_ids.next_id();
                let datagram = encode(
                    &mut response,
                    MessageType::Confirmable,
                    message_id,
                    exchange.token,
                );
                let timeout = self.parameters.initial_timeout(self.rng.random());
                self.retransmission.start(
                    MessageKey {
                        peer: key.peer,
                        message_id,
                    },
                    datagram.clone(),
                    timeout,
                    self.parameters.max_retransmit,
                    now,
                );
                // A late duplicate of the request gets the empty ACK again.
                let ack = empty_message(MessageType::Acknowledgement, key.message_id);
                self.seen.update(&key, Seen::Answered(ack));
                actions.push(send(key.peer, datagram));
            }
            // Forgotten early (capacity) counts as not yet acknowledged.
            Some(Seen::Handling {
                acknowledged: false,
            })
            | None => {
                let datagram = encode(
                    &mut response,
                    MessageType::Acknowledgement,
                    key.message_id,
                    exchange.token,
                );
                self.seen.update(&key, Seen::Answered(datagram.clone()));
                actions.push(send(key.peer, datagram));
            }
            Some(Seen::Answered(_) | Seen::NonConfirmable) => {
                tracing::warn!(peer = %key.peer, message_id = key.message_id, "second response to one request dropped");
            }
        }
    }

    /// Sends a message the host originates, such as a notification (RFC 7641
    /// §4.5): a CON is retransmitted until acknowledged (§4.2), a NON is
    /// sent once. Returns its message id.
    pub fn send_message(
        &mut self,
        peer: SocketAddr,
        token: Token,
        mut packet: Packet,
        confirmable: bool,
        now: Instant,
        actions: &mut Vec<Action>,
    ) -> u16 {
        let message_id = self.message_ids.next_id();
        let message_type = if confirmable {
            MessageType::Confirmable
        } else {
            MessageType::NonConfirmable
        };
        let datagram = encode(&mut packet, message_type, message_id, token);
        if confirmable {
            let timeout = self.parameters.initial_timeout(self.rng.random());
            self.retransmission.start(
                MessageKey { peer, message_id },
                datagram.clone(),
                timeout,
                self.parameters.max_retransmit,
                now,
            );
        }
        actions.push(send(peer, datagram));
        message_id
    }

    /// Rejects a request the exchange layer cannot process, with a Reset:
    /// §4.3 allows one for a NON, and §5.4.1 demands rejection of a NON that
    /// carries an unrecognised critical option.
    pub fn on_reject(&mut self, exchange: Exchange, actions: &mut Vec<Action>) {
        let reset = empty_message(MessageType::Reset, exchange.key.message_id);
        if exchange.confirmable {
            self.seen
                .update(&exchange.key, Seen::Answered(reset.clone()));
        }
        actions.push(send(exchange.key.peer, reset));
    }

    /// Does whatever is due at `now`: empty ACKs for slow handlers (§5.2.2),
    /// retransmissions (§4.2).
    pub fn on_timeout(&mut self, now: Instant, actions: &mut Vec<Action>) {
        while let Some(&(due, key)) = self.ack_deadlines.front() {
            if due > now {
                break;
            }
            self.ack_deadlines.pop_front();
            if let Some(Seen::Handling {
                acknowledged: false,
            }) = self.seen.get(&key, now)
            {
                self.seen
                    .update(&key, Seen::Handling { acknowledged: true });
                let ack = empty_message(MessageType::Acknowledgement, key.message_id);
                actions.push(send(key.peer, ack));
            }
        }
        self.retransmission.poll(now, &mut self.expired);
        for expiry in self.expired.drain(..) {
            match expiry {
                Expiry::Retransmit(key, datagram) => actions.push(send(key.peer, datagram)),
                Expiry::GaveUp(key) => {
                    tracing::debug!(
                        peer = %key.peer,
                        message_id = key.message_id,
                        "confirmable message never acknowledged; gave up after MAX_RETRANSMIT"
                    );
                    actions.push(Action::GaveUp(key));
                }
            }
        }
    }

    /// When [`MessageLayer::on_timeout`] next has something to do.
    pub fn next_deadline(&mut self) -> Option<Instant> {
        let ack = self.ack_deadlines.front().map(|&(due, _)| due);
        let retransmit = self.retransmission.next_due();
        match (ack, retransmit) {
            (Some(a), Some(r)) => Some(a.min(r)),
            (a, r) => a.or(r),
        }
    }

    /// Confirmable messages of ours awaiting acknowledgement.
    pub fn outstanding(&self) -> usize {
        self.retransmission.len()
    }
}

fn send(to: SocketAddr, datagram: Bytes) -> Action {
    Action::Send { to, datagram }
}

/// An Empty message (§4.1): an ACK or a Reset of `message_id`.
pub fn empty_message(message_type: MessageType, message_id: u16) -> Bytes {
    let type_bits = match message_type {
        MessageType::Confirmable => 0,
        MessageType::NonConfirmable => 1,
        MessageType::Acknowledgement => 2,
        MessageType::Reset => 3,
    };
    let [high, low] = message_id.to_be_bytes();
    Bytes::copy_from_slice(&[0x40 | (type_bits << 4), 0, high, low])
}

fn encode(packet: &mut Packet, message_type: MessageType, message_id: u16, token: Token) -> Bytes {
    packet.header.set_version(1);
    packet.header.set_type(message_type);
    packet.header.message_id = message_id;
    packet.set_token(token.as_bytes().to_vec());
    match packet.to_bytes_unlimited() {
        Ok(bytes) => Bytes::from(bytes),
        Err(error) => {
            tracing::error!(?error, "response cannot be encoded; answering 5.00");
            let mut fallback = Packet::new();
            fallback.header.code = MessageClass::Response(ResponseType::InternalServerError);
            encode(&mut fallback, message_type, message_id, token)
        }
    }
}

#[cfg(test)]
mod tests;
