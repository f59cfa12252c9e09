//! The client side of one exchange, sans-I/O: a request goes out, and
//! datagrams and the time come in, until the response (and, for an
//! observation, its notifications) has come out. It uses the message
//! layer's parts the server uses: [`classify`], the [`RetransmissionTimer`]
//! (RFC 7252 §4.2), [`MessageIdSequence`] (§4.4) and [`Token`] (§5.3.1), and
//! the block-wise exchange layer's [`Block`] (RFC 7959 §2.2).
//!
//! - Matching (§5.3.2): a piggybacked response by message id and token, a
//!   separate one by token; a CON response is acknowledged, duplicates
//!   again (§4.5) but processed once.
//! - Block-wise (RFC 7959): a body larger than a block goes up in Block1
//!   blocks (§2.5), sized down when the server asks (§2.5 late
//!   negotiation); a response in Block2 blocks is fetched block by block and
//!   handed out whole (§2.4), its ETag compared across blocks (§2.4).
//! - Observe (RFC 7641): notifications matched by the registration's token
//!   (§3.2), stale ones dropped by sequence number (§3.4), an error ends the
//!   observation (§3.2), and [`ClientExchange::deregister`] cancels it (§3.6).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use coap_lite::{CoapOption, MessageClass, MessageType, Packet, RequestType};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::exchange::blockwise::Block;
use crate::message::{
    Expiry, Inbound, MessageIdSequence, MessageKey, RetransmissionTimer, Token,
    TransmissionParameters, classify, empty_message as empty,
};

/// Option numbers (RFC 7252 §5.10, RFC 7641 §2, RFC 7959 §2.1, §4).
const OBSERVE: u16 = 6;
const ETAG: u16 = 4;
const BLOCK2: u16 = 23;
const BLOCK1: u16 = 27;
const SIZE2: u16 = 28;
const SIZE1: u16 = 60;

/// What to send: the method, the options naming the resource and
/// describing the payload, and the whole payload.
#[derive(Debug, Clone)]
pub struct Request {
    /// GET, POST, PUT, DELETE, FETCH, PATCH or iPATCH.
    pub method: RequestType,
    /// Options by number, in the order given for repeated ones. Block1,
    /// Block2, Size1 and Observe are the exchange's to set.
    pub options: Vec<(u16, Vec<u8>)>,
    /// The whole request body; sent block-wise when larger than `block_size`.
    pub payload: Vec<u8>,
    /// CON (retransmitted until acknowledged) or NON.
    pub confirmable: bool,
    /// Register as an observer (RFC 7641 §3.1).
    pub observe: bool,
    /// The block size for Block1 and the Block2 size proposed: 16 to 1024.
    pub block_size: usize,
    /// Propose `block_size` for the response's blocks up front (RFC 7959
    /// §2.4 early negotiation), as when the user chose a size.
    pub early_block2: bool,
    /// The largest response body to reassemble.
    pub max_body: usize,
    /// The token to use, random when None.
    pub token: Option<Token>,
}

/// A response, with its body reassembled from its blocks.
#[derive(Debug, Clone)]
pub struct Response {
    /// The last message of it (its code and options; Block2 that of the
    /// last block).
    pub head: Packet,
    /// The whole body.
    pub payload: Vec<u8>,
}

impl Response {
    /// The Observe option's value, if any (RFC 7641 §2).
    pub fn observe(&self) -> Option<u32> {
        let value = self.head.get_first_option(CoapOption::from(OBSERVE))?;
        Some(uint(value))
    }
}

/// Why an exchange ended without a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// No acknowledgement after MAX_RETRANSMIT retransmissions (§4.2).
    NotAcknowledged,
    /// The server answered the request with a Reset (§4.2).
    Reset,
    /// The server broke block-wise or observe rules, or sent too much.
    Protocol(String),
}

/// What the exchange asks of the code around it, or tells it.
#[derive(Debug)]
pub enum Event {
    /// Send this datagram.
    Transmit(Bytes),
    /// The response to the request (for an observation: the registration's).
    Response(Response),
    /// A later notification of the observation (RFC 7641 §3.2).
    Notification(Response),
    /// Block-wise progress: bytes moved so far, and the total when known.
    Progress { done: usize, total: Option<usize> },
    /// The exchange ended without a response.
    Failed(Failure),
}

/// The request message in flight and what its answer is for.
#[derive(Debug, Clone)]
struct Pending {
    message_id: u16,
    token: Token,
    purpose: Purpose,
    /// The message as sent, to send again under another message id.
    datagram: Bytes,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    /// The request itself, or one block of its upload or response.
    Request,
    /// A later block of an observation's response or notification (RFC
    /// 7959 §2.6), fetched by GET with a token of its own.
    Blocks,
    /// The deregistration GET (RFC 7641 §3.6).
    Deregistration,
}

/// A response body being assembled from Block2 blocks.
struct Download {
    body: Vec<u8>,
    etag: Option<Vec<u8>>,
    total: Option<usize>,
    /// The first block's Observe value: the later blocks, answers to plain
    /// GETs (RFC 7959 §2.6), carry none, yet the whole is the notification.
    observe: Option<Vec<u8>>,
}

/// The exchange's state. See the module documentation.
pub struct ClientExchange {
    peer: SocketAddr,
    request: Request,
    parameters: TransmissionParameters,
    rng: SmallRng,
    message_ids: MessageIdSequence,
    retransmission: RetransmissionTimer,
    expired: Vec<Expiry>,
    /// The request's token, and the observation's.
    token: Token,
    pending: Option<Pending>,
    /// Bytes of the payload acknowledged so far, while uploading.
    uploaded: Option<usize>,
    upload_block: Block,
    download: Option<Download>,
    observing: bool,
    /// The freshest notification: its Observe value and arrival (§3.4).
    freshest: Option<(u32, Instant)>,
    /// CON and NON message ids received lately: duplicates are acknowledged
    /// again but processed once (§4.5).
    received: VecDeque<u16>,
    /// Whether the request's response was handed out: any later one is a
    /// notification.
    answered: bool,
    finished: bool,
}

/// How many received message ids are remembered for duplicate detection.
const RECEIVED_MEMORY: usize = 64;

impl ClientExchange {
    /// Starts the exchange at `now`: the first datagram is in `events`.
    /// `seed` drives the token, the message ids and the retransmission jitter.
    pub fn start(
        peer: SocketAddr,
        request: Request,
        parameters: TransmissionParameters,
        seed: u64,
        now: Instant,
        events: &mut Vec<Event>,
    ) -> ClientExchange {
        Self::begin(peer, request, parameters, seed, None, now, events)
    }

    /// [`ClientExchange::start`] on an endpoint an earlier exchange used
    /// (one DTLS session for many): its message ids continue from
    /// `first_message_id`, the earlier one's
    /// [`ClientExchange::next_message_id`], since the server takes an id it
    /// saw within EXCHANGE_LIFETIME for a duplicate (RFC 7252 §4.4, §4.5).
    pub fn start_from(
        peer: SocketAddr,
        request: Request,
        parameters: TransmissionParameters,
        seed: u64,
        first_message_id: u16,
        now: Instant,
        events: &mut Vec<Event>,
    ) -> ClientExchange {
        Self::begin(
            peer,
            request,
            parameters,
            seed,
            Some(first_message_id),
            now,
            events,
        )
    }

    /// The message id this exchange would use next.
    pub fn next_message_id(&self) -> u16 {
        self.message_ids.peek()
    }

    fn begin(
        peer: SocketAddr,
        request: Request,
        parameters: TransmissionParameters,
        seed: u64,
        first_message_id: Option<u16>,
        now: Instant,
        events: &mut Vec<Event>,
    ) -> ClientExchange {
        let mut rng = SmallRng::seed_from_u64(seed);
        let token = request.token.unwrap_or_else(|| random_token(&mut rng));
        let upload_block = Block::new(0, false, request.block_size);
        let drawn: u16 = rng.random();
        let mut exchange = ClientExchange {
            peer,
            parameters,
            message_ids: MessageIdSequence::starting_at(first_message_id.unwrap_or(drawn)),
            rng,
            retransmission: RetransmissionTimer::default(),
            expired: Vec::new(),
            token,
            pending: None,
            uploaded: (request.payload.len() > upload_block.size()).then_some(0),
            upload_block,
            download: None,
            observing: false,
            freshest: None,
            received: VecDeque::new(),
            answered: false,
            finished: false,
            request,
        };
        let first = exchange.request_message(None);
        exchange.transmit(first, token, Purpose::Request, now, events);
        exchange
    }

    /// Whether the exchange is over: answered (and not observing), failed,
    /// or deregistered.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Whether the server accepted the observation and it still runs.
    pub fn is_observing(&self) -> bool {
        self.observing
    }

    /// When [`ClientExchange::on_timeout`] next has something to do.
    pub fn next_deadline(&mut self) -> Option<Instant> {
        self.retransmission.next_due()
    }

    /// Retransmits what is due (§4.2); gives up after MAX_RETRANSMIT.
    pub fn on_timeout(&mut self, now: Instant, events: &mut Vec<Event>) {
        self.retransmission.poll(now, &mut self.expired);
        let expired = std::mem::take(&mut self.expired);
        for expiry in &expired {
            match expiry {
                Expiry::Retransmit(_, datagram) => events.push(Event::Transmit(datagram.clone())),
                Expiry::GaveUp(key) => {
                    if self
                        .pending
                        .as_ref()
                        .is_some_and(|p| p.message_id == key.message_id)
                    {
                        self.fail(Failure::NotAcknowledged, events);
                    }
                }
            }
        }
        self.expired = expired;
        self.expired.clear();
    }

    /// Cancels the observation with a GET carrying Observe 1 and its token
    /// (RFC 7641 §3.6). The exchange finishes on its answer, or at once if
    /// nothing was being observed.
    pub fn deregister(&mut self, now: Instant, events: &mut Vec<Event>) {
        if !self.observing {
            self.finished = true;
            return;
        }
        self.observing = false;
        self.stop_pending();
        let mut message = self.request_message(None);
        message.clear_option(CoapOption::from(OBSERVE));
        message.add_option(CoapOption::from(OBSERVE), vec![1]);
        message.header.code = MessageClass::Request(RequestType::Get);
        message.payload.clear();
        self.transmit(message, self.token, Purpose::Deregistration, now, events);
    }

    /// Processes one datagram from the server.
    pub fn on_datagram(&mut self, datagram: &[u8], now: Instant, events: &mut Vec<Event>) {
        match classify(datagram) {
            Inbound::Acknowledgement { message_id } => {
                // An empty ACK: the response will come separately (§5.2.2).
                if self
                    .pending
                    .as_ref()
                    .is_some_and(|p| p.message_id == message_id)
                {
                    self.retransmission.stop(&self.key(message_id));
                }
            }
            Inbound::Reset { message_id } => {
                if let Some(pending) = self.pending.clone().filter(|p| p.message_id == message_id) {
                    self.stop_pending();
                    if pending.purpose == Purpose::Deregistration {
                        self.finished = true;
                    } else {
                        self.fail(Failure::Reset, events);
                    }
                }
            }
            // A CoAP ping is answered with a Reset (§4.2).
            Inbound::Ping { message_id } | Inbound::RejectConfirmable { message_id } => {
                events.push(Event::Transmit(empty(MessageType::Reset, message_id)));
            }
            Inbound::Response {
                packet,
                message_type,
            } => self.on_response(packet, message_type, now, events),
            Inbound::Request { .. } | Inbound::Ignore => {}
        }
    }

    fn on_response(
        &mut self,
        packet: Packet,
        message_type: MessageType,
        now: Instant,
        events: &mut Vec<Event>,
    ) {
        let message_id = packet.header.message_id;
        if message_type != MessageType::Acknowledgement && self.received.contains(&message_id) {
            // A duplicate (§4.5): acknowledged again, processed once.
            if message_type == MessageType::Confirmable {
                events.push(Event::Transmit(empty(
                    MessageType::Acknowledgement,
                    message_id,
                )));
            }
            return;
        }
        let token = Token::new(packet.get_token());
        let answers_pending = self.pending.clone().filter(|p| {
            Some(p.token) == token
                && (message_type != MessageType::Acknowledgement || p.message_id == message_id)
        });
        let is_notification = answers_pending.is_none()
            && self.observing
            && token == Some(self.token)
            && message_type != MessageType::Acknowledgement;
        if message_type == MessageType::Acknowledgement
            && packet.header.code != MessageClass::Empty
            && let Some(pending) = self.pending.clone().filter(|p| p.message_id == message_id)
            && token != Some(pending.token)
        {
            return self.resend_under_new_id(pending, now, events);
        }
        if answers_pending.is_none() && !is_notification {
            // §5.3.2: a response matching nothing is rejected if it is a
            // CON (and RFC 7641 §3.6: that ends an unwanted observation).
            if message_type == MessageType::Confirmable {
                events.push(Event::Transmit(empty(MessageType::Reset, message_id)));
            }
            return;
        }
        if message_type != MessageType::Acknowledgement {
            if message_type == MessageType::Confirmable {
                events.push(Event::Transmit(empty(
                    MessageType::Acknowledgement,
                    message_id,
                )));
            }
            if self.received.len() == RECEIVED_MEMORY {
                self.received.pop_front();
            }
            self.received.push_back(message_id);
        }
        match answers_pending {
            Some(pending) => {
                self.stop_pending();
                match pending.purpose {
                    // Its answer is the resource's state again: not shown.
                    Purpose::Deregistration => self.finished = true,
                    Purpose::Request => self.on_answer(packet, now, events),
                    Purpose::Blocks => self.on_block2(packet, now, events),
                }
            }
            None => self.on_notification(packet, now, events),
        }
    }

    /// The answer to the request or to one of its blocks.
    fn on_answer(&mut self, packet: Packet, now: Instant, events: &mut Vec<Event>) {
        let code = code_of(&packet);
        if let Some(uploaded) = self.uploaded {
            let block1 = option(&packet, BLOCK1).and_then(Block::decode);
            if code == (2, 31) {
                let Some(block1) = block1 else {
                    return self.fail(protocol("2.31 Continue without Block1"), events);
                };
                // §2.5: the server may ask for smaller blocks from now on.
                let size = block1.size().min(self.upload_block.size());
                let done = uploaded + self.upload_block.size();
                if done >= self.request.payload.len() {
                    return self.fail(protocol("2.31 Continue after the last block"), events);
                }
                self.uploaded = Some(done);
                self.upload_block = Block::new(0, false, size);
                events.push(Event::Progress {
                    done,
                    total: Some(self.request.payload.len()),
                });
                let message = self.request_message(None);
                return self.transmit(message, self.token, Purpose::Request, now, events);
            }
            if code == (4, 13)
                && let Some(block1) = block1
                && uploaded == 0
                && block1.size() < self.upload_block.size()
            {
                // §2.9.3: too large a block; start over with the size asked.
                self.upload_block = Block::new(0, false, block1.size());
                let message = self.request_message(None);
                return self.transmit(message, self.token, Purpose::Request, now, events);
            }
            self.uploaded = None;
            events.push(Event::Progress {
                done: self.request.payload.len(),
                total: Some(self.request.payload.len()),
            });
        }
        if self.request.observe && !self.answered && self.download.is_none() {
            // §3.1: the registration stands if the answer is a 2.xx with Observe.
            self.observing = code.0 == 2 && option(&packet, OBSERVE).is_some();
            if let Some(value) = option(&packet, OBSERVE) {
                self.freshest = Some((uint(value), now));
            }
        }
        self.on_block2(packet, now, events);
    }

    /// A response or notification, or one block of it: hands it out whole,
    /// or asks for the next block (RFC 7959 §2.4).
    fn on_block2(&mut self, packet: Packet, now: Instant, events: &mut Vec<Event>) {
        let block2 = option(&packet, BLOCK2).and_then(Block::decode);
        let Some(block2) = block2.filter(|_| code_of(&packet).0 == 2) else {
            self.download = None;
            return self.deliver(packet, None, events);
        };
        let etag = option(&packet, ETAG).map(<[u8]>::to_vec);
        let observe = option(&packet, OBSERVE).map(<[u8]>::to_vec);
        let download = self.download.get_or_insert_with(|| Download {
            body: Vec::new(),
            etag: etag.clone(),
            total: None,
            observe,
        });
        if block2.offset() != download.body.len() {
            let received = download.body.len();
            self.download = None;
            return self.fail(
                protocol(&format!(
                    "block {} (offset {}) does not follow the {received} bytes received",
                    block2.num,
                    block2.offset(),
                )),
                events,
            );
        }
        if download.etag != etag {
            self.download = None;
            return self.fail(
                protocol("the representation changed between blocks (ETag)"),
                events,
            );
        }
        if let Some(size2) = option(&packet, SIZE2) {
            download.total = Some(uint(size2) as usize);
        }
        download.body.extend_from_slice(&packet.payload);
        let (done, total) = (download.body.len(), download.total);
        if done > self.request.max_body {
            let limit = self.request.max_body;
            self.download = None;
            return self.fail(
                protocol(&format!("the response is larger than {limit} bytes")),
                events,
            );
        }
        if !block2.more {
            let download = self.download.take();
            return self.deliver(packet, download, events);
        }
        events.push(Event::Progress { done, total });
        let next = Block::new(block2.num + 1, false, block2.size());
        let mut message = self.request_message(Some(next));
        if self.request.observe {
            // RFC 7959 §2.6: the later blocks of a registration's response or
            // a notification by plain GETs, with tokens of their own so as not
            // to touch the observation.
            message.clear_option(CoapOption::from(OBSERVE));
            message.header.code = MessageClass::Request(RequestType::Get);
            message.payload.clear();
            let token = random_token(&mut self.rng);
            self.transmit(message, token, Purpose::Blocks, now, events);
        } else {
            self.transmit(message, self.token, Purpose::Request, now, events);
        }
    }

    /// A notification that is not the registration's response.
    fn on_notification(&mut self, packet: Packet, now: Instant, events: &mut Vec<Event>) {
        let value = option(&packet, OBSERVE).map(uint);
        if let (Some(value), Some((freshest, at))) = (value, self.freshest)
            && !is_fresher(freshest, at, value, now)
        {
            return;
        }
        if let Some(value) = value {
            self.freshest = Some((value, now));
        }
        if code_of(&packet).0 != 2 || value.is_none() {
            // §3.2: an error, or a response without Observe, ends it.
            self.observing = false;
        }
        // A newer notification supersedes one whose blocks are being fetched.
        if self
            .pending
            .as_ref()
            .is_some_and(|p| p.purpose == Purpose::Blocks)
        {
            self.stop_pending();
        }
        self.download = None;
        self.on_block2(packet, now, events);
    }

    /// Hands out a whole response: the first is the request's answer, any
    /// later one a notification.
    fn deliver(&mut self, mut head: Packet, download: Option<Download>, events: &mut Vec<Event>) {
        let payload = match download {
            Some(download) => {
                if let Some(observe) = download.observe
                    && option(&head, OBSERVE).is_none()
                {
                    head.add_option(CoapOption::from(OBSERVE), observe);
                }
                download.body
            }
            None => head.payload.clone(),
        };
        let response = Response { head, payload };
        if self.answered {
            events.push(Event::Notification(response));
        } else {
            self.answered = true;
            events.push(Event::Response(response));
        }
        if !self.observing {
            self.finished = true;
        }
    }

    fn fail(&mut self, failure: Failure, events: &mut Vec<Event>) {
        self.stop_pending();
        self.observing = false;
        self.finished = true;
        events.push(Event::Failed(failure));
    }

    fn key(&self, message_id: u16) -> MessageKey {
        MessageKey {
            peer: self.peer,
            message_id,
        }
    }

    fn stop_pending(&mut self) {
        if let Some(pending) = self.pending.take() {
            self.retransmission.stop(&self.key(pending.message_id));
        }
    }

    /// A piggybacked answer with the message id of the request in flight
    /// but another token: the peer still remembers an earlier exchange under
    /// that id from this address and port (another client that had the
    /// port, or one of ours on a socket since closed, within
    /// EXCHANGE_LIFETIME: §4.4) and answered it again from its
    /// deduplication (§4.5). Retransmitting under the same id would only
    /// bring the same stale answer back: the request goes again, at once,
    /// under the next id.
    fn resend_under_new_id(&mut self, pending: Pending, now: Instant, events: &mut Vec<Event>) {
        self.stop_pending();
        let message_id = self.message_ids.next_id();
        let mut datagram = pending.datagram.to_vec();
        // The message id is the header's third and fourth bytes (§3).
        datagram[2..4].copy_from_slice(&message_id.to_be_bytes());
        let pending = Pending {
            message_id,
            datagram: Bytes::from(datagram),
            ..pending
        };
        self.send_pending(pending, true, now, events);
    }

    /// Sends `pending`'s datagram and keeps it as the message in flight,
    /// under the retransmission timer if it is a CON (§4.2).
    fn send_pending(
        &mut self,
        pending: Pending,
        confirmable: bool,
        now: Instant,
        events: &mut Vec<Event>,
    ) {
        if confirmable {
            let timeout = self.parameters.initial_timeout(self.rng.random());
            self.retransmission.start(
                self.key(pending.message_id),
                pending.datagram.clone(),
                timeout,
                self.parameters.max_retransmit,
                now,
            );
        }
        events.push(Event::Transmit(pending.datagram.clone()));
        self.pending = Some(pending);
    }

    /// Sends `message` as the one request in flight: a CON under the
    /// retransmission timer (§4.2), or a NON sent once (§4.3).
    fn transmit(
        &mut self,
        mut message: Packet,
        token: Token,
        purpose: Purpose,
        now: Instant,
        events: &mut Vec<Event>,
    ) {
        self.stop_pending();
        let message_id = self.message_ids.next_id();
        let confirmable = self.request.confirmable;
        message.header.set_version(1);
        message.header.set_type(if confirmable {
            MessageType::Confirmable
        } else {
            MessageType::NonConfirmable
        });
        message.header.message_id = message_id;
        message.set_token(token.as_bytes().to_vec());
        let datagram = match message.to_bytes_unlimited() {
            Ok(bytes) => Bytes::from(bytes),
            Err(error) => {
                return self.fail(
                    Failure::Protocol(format!("the request cannot be encoded: {error:?}")),
                    events,
                );
            }
        };
        let pending = Pending {
            message_id,
            token,
            purpose,
            datagram,
        };
        self.send_pending(pending, confirmable, now, events);
    }

    /// The request's next message: its options, the block of the upload
    /// being sent, and `block2` when asking for a block of the response.
    fn request_message(&self, block2: Option<Block>) -> Packet {
        let mut message = Packet::new();
        message.header.code = MessageClass::Request(self.request.method);
        for (number, value) in &self.request.options {
            message.add_option(CoapOption::from(*number), value.clone());
        }
        if self.request.observe {
            message.add_option(CoapOption::from(OBSERVE), Vec::new());
        }
        let repeats_payload = matches!(self.request.method, RequestType::Fetch);
        match (self.uploaded, block2) {
            (Some(offset), None) => {
                let size = self.upload_block.size();
                let end = (offset + size).min(self.request.payload.len());
                let more = end < self.request.payload.len();
                let block = Block::new((offset / size) as u32, more, size);
                message.add_option(CoapOption::from(BLOCK1), block.encode());
                if offset == 0 {
                    // §4: the whole size, so a server can refuse it at once.
                    message.add_option(
                        CoapOption::from(SIZE1),
                        encode_uint(self.request.payload.len() as u32),
                    );
                }
                message.payload = self.request.payload[offset..end].to_vec();
            }
            (_, Some(block2)) => {
                message.add_option(CoapOption::from(BLOCK2), block2.encode());
                if block2.num == 1 {
                    // §4: Size2 0 asks for the representation's size, for
                    // the progress of a download now known to be block-wise
                    // (a single-message exchange never pays for it).
                    message.add_option(CoapOption::from(SIZE2), Vec::new());
                }
                if repeats_payload {
                    message.payload = self.request.payload.clone();
                }
            }
            (None, None) => {
                if self.request.early_block2 {
                    let block = Block::new(0, false, self.request.block_size);
                    message.add_option(CoapOption::from(BLOCK2), block.encode());
                }
                message.payload = self.request.payload.clone();
            }
        }
        message
    }
}

/// Whether notification `value`, arriving at `now`, is newer than the
/// freshest one, `freshest` at `at` (RFC 7641 §3.4).
fn is_fresher(freshest: u32, at: Instant, value: u32, now: Instant) -> bool {
    const HALF: u32 = 1 << 23;
    (freshest < value && value - freshest < HALF)
        || (freshest > value && freshest - value > HALF)
        || now > at + Duration::from_secs(128)
}

fn random_token(rng: &mut SmallRng) -> Token {
    // 8 bytes: a notification for an older run of the client is not mistaken
    // for one of this run's (§5.3.1 asks for enough randomness).
    let bytes: [u8; 8] = rng.random();
    Token::new(&bytes).expect("8 bytes is a valid token")
}

fn option(packet: &Packet, number: u16) -> Option<&[u8]> {
    packet
        .get_first_option(CoapOption::from(number))
        .map(Vec::as_slice)
}

/// An option value in the uint format (§3.2).
fn uint(value: &[u8]) -> u32 {
    value
        .iter()
        .take(4)
        .fold(0u32, |acc, &b| (acc << 8) | u32::from(b))
}

fn encode_uint(value: u32) -> Vec<u8> {
    let bytes = value.to_be_bytes();
    let skip = bytes.iter().take_while(|&&b| b == 0).count();
    bytes[skip..].to_vec()
}

/// A response code as (class, detail).
pub fn code_of(packet: &Packet) -> (u8, u8) {
    let code = u8::from(packet.header.code);
    (code >> 5, code & 0x1f)
}

fn protocol(reason: &str) -> Failure {
    Failure::Protocol(reason.to_owned())
}

#[cfg(test)]
mod tests;
