//! The socket layer: binding UDP sockets, and the loop that feeds one socket's
//! datagrams through its transport ([`DatagramTransport`]: plain UDP or DTLS)
//! to its message layer, sends what it asks, runs plugin calls
//! (quick ones on its own task, the others on tasks of their own, so that a
//! slow plugin delays only its own requests) and sends the notifications of
//! the socket's observations (RFC 7641).

use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use coap_lite::{CoapOption, Packet, ResponseType};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

mod receive_batch;
mod request_budget;
mod send_batch;
pub mod steering;

use receive_batch::ReceiveBuffers;
pub use request_budget::RequestBudget;

use crate::exchange::blockwise::UploadLimits;
use crate::exchange::notification_pacing::NotificationPacing;
use crate::exchange::observe::{Observations, ObservePolicy, ObserverKey, clock_sequence};
use crate::exchange::{
    Answer, Dispatch, ExchangeLayer, ObserveIntent, PluginCall, Transfers, response,
};
use crate::exchange_log::{Direction, ExchangeLog};
use crate::message::{Action, Exchange, MessageKey, MessageLayer};
use crate::metrics::{Code, Transport, coap_method};
use crate::observation_store::ObservationStore;
use crate::runtime::{HostContext, INLINE_BUDGET, ResourceEvent};
use crate::transport::DatagramTransport;

/// The receive buffer asked of the kernel.
const RECEIVE_BUFFER: usize = 4 * 1024 * 1024;

/// The largest datagram read: the UDP maximum, so nothing is cut silently.
const MAX_DATAGRAM: usize = 65_535;

/// Binds a UDP socket for each of `loops` socket loops on `address`. An
/// unspecified IPv6 address (`[::]`) also accepts IPv4 (dual stack), so one
/// socket serves both families. With more than one loop the sockets share
/// the address (`SO_REUSEPORT`) and a program steers each peer to one of
/// them ([`steering`]); where it cannot be attached the address gets one loop.
pub fn bind(address: SocketAddr, loops: usize) -> io::Result<Vec<std::net::UdpSocket>> {
    if loops <= 1 {
        return Ok(vec![bind_one(address, false)?.into()]);
    }
    // A port in use must still fail at once: sockets that all set
    // SO_REUSEPORT would join another process's group (a second host of
    // the same user) instead. A plain socket tells, and is closed at once.
    let probe = bind_one(address, false)?;
    let address = probe.local_addr()?.as_socket().unwrap_or(address);
    drop(probe);
    let first = bind_one(address, true)?;
    if let Err(error) = steering::attach(&first, loops) {
        tracing::warn!(
            %address,
            "cannot steer peers to socket loops ({error}): serving {address} with one loop"
        );
        drop(first);
        return Ok(vec![bind_one(address, false)?.into()]);
    }
    let mut sockets = vec![first.into()];
    for _ in 1..loops {
        sockets.push(bind_one(address, true)?.into());
    }
    Ok(sockets)
}

fn bind_one(address: SocketAddr, reuse_port: bool) -> io::Result<Socket> {
    let socket = Socket::new(
        Domain::for_address(address),
        Type::DGRAM,
        Some(Protocol::UDP),
    )?;
    if address.is_ipv6() && address.ip().is_unspecified() {
        socket.set_only_v6(false)?;
    }
    // A burst of requests (a thousand clients at once) overflows the
    // default receive buffer; the kernel caps this at net.core.rmem_max.
    let _ = socket.set_recv_buffer_size(RECEIVE_BUFFER);
    socket.set_nonblocking(true)?;
    #[cfg(unix)]
    if reuse_port {
        socket.set_reuse_port(true)?;
    }
    socket.bind(&address.into())?;
    Ok(socket)
}

/// Where a loop stands among its address's loops.
#[derive(Debug, Clone)]
pub struct LoopPlace {
    /// This loop's index, the order its socket was bound in.
    pub index: usize,
    /// The address's loops.
    pub count: usize,
    /// The observations of all the address's loops, which
    /// `observe.max_total` bounds together.
    pub observations: Arc<std::sync::atomic::AtomicUsize>,
    /// The address's requests in plugins, `runtime.max_pending_requests`.
    pub pending: RequestBudget,
}

/// Runs [`serve`] for `socket` on a thread of its own with a current-thread
/// runtime, so that each loop has a core's worth of CPU and no scheduler's
/// work stealing between its turns; calls that run long go to the host's
/// shared runtime (`shared.spawner`). `ended` is sent once the loop stops
/// (a panic included), which stops the host.
pub fn start_loop(
    socket: std::net::UdpSocket,
    transport: DatagramTransport,
    layer: MessageLayer,
    shared: Shared,
    limits: EndpointLimits,
    place: LoopPlace,
    ended: mpsc::UnboundedSender<io::Error>,
) -> io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name(format!("coap-loop-{}", place.index))
        .spawn(move || {
            struct Ended(mpsc::UnboundedSender<io::Error>);
            impl Drop for Ended {
                fn drop(&mut self) {
                    let _ = self.0.send(io::Error::other("a socket loop stopped"));
                }
            }
            let _ended = Ended(ended);
            runtime.block_on(async move {
                match UdpSocket::from_std(socket) {
                    Ok(socket) => serve(socket, transport, layer, shared, limits, place).await,
                    Err(error) => tracing::error!(%error, "cannot serve the socket"),
                }
            });
        })?;
    Ok(())
}

/// Limits of one socket's loop.
#[derive(Debug, Clone, Copy)]
pub struct EndpointLimits {
    /// Observation limits and notification policy.
    pub observe: ObservePolicy,
    /// Renderings of one observed path start at least this far apart.
    pub notification_interval: Duration,
    /// Block-wise upload limits.
    pub uploads: UploadLimits,
}

/// What the loop shares with the rest of the host.
#[derive(Clone)]
pub struct Shared {
    /// Routing requests to resources.
    pub exchanges: Arc<ExchangeLayer>,
    /// Resource events and the plugins' host context.
    pub host: Arc<HostContext>,
    /// Where observations outlive the process.
    pub observation_store: Arc<ObservationStore>,
    /// The tap for the log of CoAP exchanges (nothing unless watched).
    pub exchange_log: Arc<ExchangeLog>,
    /// The host's multi-thread runtime, where calls that run long (and
    /// proxied requests, and renderings) go, off the socket loop.
    pub spawner: tokio::runtime::Handle,
}

/// Work that ran off the loop, coming back to it.
// Nearly every completion is a Response: boxing it to shrink the rarer
// variant would only add an allocation per spawned call.
#[allow(clippy::large_enum_variant)]
enum Completion {
    /// A plugin's answer to a request.
    Response {
        exchange: Exchange,
        observe: ObserveIntent,
        answer: Answer,
        tally: Tally,
    },
    /// A representation fetched for the observers of `path` in `accept`.
    Representation {
        path: String,
        accept: Option<u16>,
        important: bool,
        response: Packet,
    },
}

/// What a request's count in the metrics needs until it is answered.
struct Tally {
    method: &'static str,
    /// None for a proxied request.
    plugin: Option<Arc<str>>,
    arrived: Instant,
}

/// One socket and everything that belongs to it.
struct Endpoint {
    socket: UdpSocket,
    transport: DatagramTransport,
    local: SocketAddr,
    layer: MessageLayer,
    observations: Observations,
    pacing: NotificationPacing,
    transfers: Transfers,
    shared: Shared,
    completed: mpsc::UnboundedSender<Completion>,
    // The newest representation per observed (path, accept): what a slow
    // client gets once its last CON notification is acknowledged (§4.5.2).
    latest: HashMap<(String, Option<u16>), Packet>,
    actions: Vec<Action>,
    // Kept between loop turns so that its allocation is reused.
    queue: VecDeque<Action>,
    // Messages to send at the end of the loop's turn: a burst of responses
    // wakes each client once, not once per response.
    outbox: Vec<(SocketAddr, Bytes)>,
    // The datagrams they, and the transport's own, became.
    wire: Vec<(SocketAddr, Bytes)>,
    // The observations and DTLS sessions last added to the host's gauges.
    counted_observers: usize,
    counted_sessions: usize,
    place: LoopPlace,
}

/// Serves one socket until the task is dropped.
pub async fn serve(
    socket: UdpSocket,
    transport: DatagramTransport,
    layer: MessageLayer,
    shared: Shared,
    limits: EndpointLimits,
    place: LoopPlace,
) {
    let (completed, mut completions) = mpsc::unbounded_channel();
    let local = socket
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    let events = shared.host.subscribe();
    let mut endpoint = Endpoint {
        socket,
        transport,
        local,
        layer,
        observations: Observations::sharing(limits.observe, place.observations.clone()),
        pacing: NotificationPacing::new(limits.notification_interval),
        transfers: shared.exchanges.transfers(limits.uploads),
        shared,
        completed,
        latest: HashMap::new(),
        actions: Vec::new(),
        queue: VecDeque::new(),
        outbox: Vec::new(),
        wire: Vec::new(),
        counted_observers: 0,
        counted_sessions: 0,
        place,
    };
    endpoint.restore_observations();

    let mut buffers = ReceiveBuffers::new(MAX_DATAGRAM);
    let idle = Duration::from_secs(3600);
    let timer = tokio::time::sleep(idle);
    tokio::pin!(timer);
    // When the timer will fire; None once it has fired.
    let mut armed_for: Option<Instant> = None;
    // Abandoned uploads are dropped even when no other block comes.
    let mut upload_sweep =
        tokio::time::interval(limits.uploads.timeout.max(Duration::from_secs(1)) / 2);

    loop {
        tokio::select! {
            // Finish work before taking more.
            biased;
            Some(completion) = completions.recv() => endpoint.on_completion(completion),
            batch = events.next() => {
                let now = Instant::now();
                for event in batch {
                    endpoint.on_resource_event(event, now);
                }
            }
            readable = endpoint.socket.readable() => match readable {
                Ok(()) => endpoint.receive(&mut buffers),
                Err(error) => tracing::debug!(%error, "socket not readable"),
            },
            () = &mut timer => {
                armed_for = None;
                let now = Instant::now();
                endpoint.transport.on_timeout(now, &mut endpoint.wire);
                endpoint.layer.on_timeout(now, &mut endpoint.actions);
                endpoint.render_due(now);
            }
            _ = upload_sweep.tick(), if !endpoint.transfers.uploads.is_empty() || !endpoint.transfers.responses.is_empty() => {
                let now = Instant::now();
                let transfers = &mut endpoint.transfers;
                let held = transfers.uploads.held();
                transfers.uploads.expire(now);
                transfers.responses.expire(now);
                let freed = held - transfers.uploads.held();
                if freed > 0 {
                    tracing::debug!(freed, "dropped abandoned uploads");
                }
            }
        }
        endpoint.run_actions(Instant::now());
        endpoint.flush().await;
        endpoint.update_gauges();

        // A timer that fired stays ready: it must be armed again, even when
        // nothing is due, or the loop would spin on it.
        let due = [
            endpoint.layer.next_deadline(),
            endpoint.pacing.next_deadline(),
            endpoint.transport.next_deadline(),
        ]
        .into_iter()
        .flatten()
        .min();
        let rearm = match (armed_for, due) {
            (None, _) => true,
            (Some(armed), Some(due)) => armed != due,
            (Some(_), None) => false,
        };
        if rearm {
            let at = due.unwrap_or_else(|| Instant::now() + idle);
            timer.as_mut().reset(at.into());
            armed_for = Some(at);
        }
    }
}

impl Endpoint {
    /// Reads and handles the datagrams waiting, up to a batch: enough to
    /// answer a burst in one turn, few enough that timers and completions
    /// are not kept waiting. More waiting are read in the next turn.
    fn receive(&mut self, buffers: &mut ReceiveBuffers) {
        match receive_batch::receive_some(&self.socket, buffers) {
            Ok(()) => {
                for i in 0..buffers.len() {
                    let (datagram, from) = buffers.datagram(i);
                    // One clock reading serves the datagram's whole way in.
                    let now = Instant::now();
                    let Endpoint {
                        transport,
                        layer,
                        actions,
                        wire,
                        shared,
                        local,
                        ..
                    } = self;
                    let secure = matches!(transport, DatagramTransport::Dtls(..));
                    transport.on_datagram(from, datagram, now, wire, |peer, message| {
                        // After decryption: the log shows CoAP, not DTLS.
                        shared
                            .exchange_log
                            .tap(Direction::In, *local, peer, secure, || {
                                Bytes::copy_from_slice(message)
                            });
                        layer.on_datagram(peer, message, now, actions);
                    });
                    self.run_actions(now);
                }
            }
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
            Err(error) => tracing::debug!(%error, "receive failed"),
        }
    }

    /// Sends what the turn produced, through the transport.
    async fn flush(&mut self) {
        let log = &self.shared.exchange_log;
        if log.watched() {
            // Before encryption: the log shows CoAP, not DTLS.
            let secure = matches!(self.transport, DatagramTransport::Dtls(..));
            for (peer, message) in &self.outbox {
                log.tap(Direction::Out, self.local, *peer, secure, || {
                    message.clone()
                });
            }
        }
        self.transport.seal(&mut self.outbox, &mut self.wire);
        let mut sent = 0;
        while sent < self.wire.len() {
            let result = match send_batch::send_some(&self.socket, &self.wire[sent..]) {
                Ok(count) => {
                    sent += count;
                    continue;
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    let (to, datagram) = &self.wire[sent];
                    self.socket.send_to(datagram, *to).await.map(|_| ())
                }
                Err(error) => Err(error),
            };
            // One datagram the kernel refused is dropped, as a network would.
            if let Err(error) = result {
                tracing::debug!(to = %self.wire[sent].0, %error, "send failed");
            }
            sent += 1;
        }
        self.wire.clear();
    }

    /// Carries out what the message layer asked, including what that leads
    /// to; `now` is when the work that asked began.
    fn run_actions(&mut self, now: Instant) {
        let mut queue = std::mem::take(&mut self.queue);
        queue.extend(self.actions.drain(..));
        while let Some(action) = queue.pop_front() {
            match action {
                Action::Send { to, datagram } => self.outbox.push((to, datagram)),
                Action::Deliver { exchange, request } => self.on_request(exchange, request, now),
                Action::Acknowledged(key) => {
                    if let Some(observer) = self.observations.acknowledged(key.peer, key.message_id)
                    {
                        self.notify_latest(observer);
                    }
                }
                Action::Reset(key) | Action::GaveUp(key) => self.on_notification_failed(key),
            }
            queue.extend(self.actions.drain(..));
        }
        self.queue = queue;
    }

    /// The transport's label in the metrics.
    fn transport_label(&self) -> Transport {
        match self.transport {
            DatagramTransport::Udp => Transport::Coap,
            DatagramTransport::Dtls(..) => Transport::Coaps,
        }
    }

    /// Counts a request answered with `response`.
    fn count(
        &self,
        method: &'static str,
        plugin: Option<&Arc<str>>,
        response: &Packet,
        arrived: Instant,
    ) {
        self.shared.exchanges.metrics().request(
            self.transport_label(),
            plugin,
            method,
            Code::Coap(u8::from(response.header.code)),
            arrived.elapsed(),
        );
    }

    /// Brings the host's gauges of observations and DTLS sessions up to
    /// this socket's counts, once a loop turn (nothing when unchanged).
    fn update_gauges(&mut self) {
        let observers = self.observations.len();
        if observers != self.counted_observers {
            let delta = observers as i64 - self.counted_observers as i64;
            self.shared
                .exchanges
                .metrics()
                .observers_changed(self.transport_label(), delta);
            self.counted_observers = observers;
        }
        let sessions = self.transport.sessions();
        if sessions != self.counted_sessions {
            let delta = sessions as i64 - self.counted_sessions as i64;
            self.shared.exchanges.metrics().dtls_sessions_changed(delta);
            self.counted_sessions = sessions;
        }
    }

    fn on_request(&mut self, exchange: Exchange, request: Packet, now: Instant) {
        let method = coap_method(u8::from(request.header.code));
        // A place is taken before the call exists, so that loops racing
        // for the last one cannot both have it; an answer without a call
        // gives it back.
        let dispatch = if !self.place.pending.try_take() {
            return self.on_response_without_call(exchange, method, overloaded(), now);
        } else {
            // Who sent it is the transport's to say: anonymous on plain UDP,
            // the session's authenticated identity over DTLS.
            let requester = self.transport.requester(exchange.key.peer);
            self.shared.exchanges.dispatch(
                request,
                exchange.key.peer,
                &requester,
                exchange.confirmable,
                usize::from(exchange.size),
                &mut self.transfers,
                now,
            )
        };
        match dispatch {
            Dispatch::Respond(response) => {
                self.place.pending.give_back();
                self.on_response_without_call(exchange, method, response, now);
            }
            Dispatch::Reject => {
                self.place.pending.give_back();
                self.layer.on_reject(exchange, &mut self.actions);
            }
            // RFC 7252 §5.7.2: on a task of its own, as a slow plugin call,
            // counted among the pending requests; the message layer sends
            // the empty ACK if it takes long (§5.2.2).
            Dispatch::Proxy(call) => {
                let tally = Tally {
                    method,
                    plugin: None,
                    arrived: now,
                };
                let completed = self.completed.clone();
                self.shared.spawner.spawn(async move {
                    let answer = call.run().await;
                    let _ = completed.send(Completion::Response {
                        exchange,
                        observe: ObserveIntent::None,
                        answer,
                        tally,
                    });
                });
            }
            Dispatch::Call(call) => {
                let observe = call.observe.clone();
                let tally = Tally {
                    method,
                    plugin: Some(call.plugin_name().clone()),
                    arrived: now,
                };
                let inline = call.inline();
                // The call's future (wasmtime's included) is kilobytes;
                // boxed once, it is not copied again by every move of the
                // task that may await it.
                // Out of tokio's cooperative budget: the call's CPU is bounded
                // by its epoch deadline, and an inline call that yielded only
                // because the socket's task had used its budget would be
                // taken for a slow one.
                let mut answer = Box::pin(tokio::task::coop::unconstrained(call.run()));
                if let Some(plugin) = inline {
                    // Its first poll runs the call up to its first yield (an
                    // epoch tick) or to its end. Pending, the future goes on
                    // in a task, which polls it again with a real waker.
                    let mut noop = Context::from_waker(Waker::noop());
                    let mut polled = answer.as_mut().poll(&mut noop);
                    let mut finished = Instant::now();
                    // An epoch tick that lands in a quick call makes it yield
                    // without its having run long: it goes on here, as a
                    // task and a wake-up on the shared runtime (for it and
                    // the plugin's next 1,000 calls) would cost more than
                    // the call. Up to the next tick at most, once.
                    if polled.is_pending() && finished - now < INLINE_BUDGET {
                        polled = answer.as_mut().poll(&mut noop);
                        finished = Instant::now();
                    }
                    if polled.is_pending() || finished - now > INLINE_BUDGET {
                        plugin.placement().ran_long();
                    }
                    if let Poll::Ready(answer) = polled {
                        self.on_answer(exchange, observe, answer, tally, finished);
                        return;
                    }
                }
                let completed = self.completed.clone();
                self.shared.spawner.spawn(async move {
                    let answer = answer.await;
                    let _ = completed.send(Completion::Response {
                        exchange,
                        observe,
                        answer,
                        tally,
                    });
                });
            }
        }
    }

    fn on_response_without_call(
        &mut self,
        exchange: Exchange,
        method: &'static str,
        response: Packet,
        now: Instant,
    ) {
        self.count(method, None, &response, now);
        self.layer
            .on_response(exchange, response, now, &mut self.actions);
    }

    /// Sends a plugin's answer, holding the whole of a sliced response for
    /// the later blocks' requests.
    fn on_answer(
        &mut self,
        exchange: Exchange,
        observe: ObserveIntent,
        answer: Answer,
        tally: Tally,
        now: Instant,
    ) {
        self.place.pending.give_back();
        let mut response = answer.response;
        if let Some(whole) = answer.held
            && let Err(refusal) = self.transfers.hold(exchange.key.peer, whole, now)
        {
            response = refusal;
        }
        self.observe_outcome(&exchange, observe, &mut response);
        self.count(
            tally.method,
            tally.plugin.as_ref(),
            &response,
            tally.arrived,
        );
        self.layer
            .on_response(exchange, response, now, &mut self.actions);
    }

    fn on_completion(&mut self, completion: Completion) {
        match completion {
            Completion::Response {
                exchange,
                observe,
                answer,
                tally,
            } => {
                self.on_answer(exchange, observe, answer, tally, Instant::now());
            }
            Completion::Representation {
                path,
                accept,
                important,
                response,
            } => {
                self.pacing.rendered(&path);
                self.notify(&path, accept, important, response);
            }
        }
    }

    /// RFC 7641 §3.1, §3.6, §4.2: what a finished request means for the
    /// observations.
    fn observe_outcome(
        &mut self,
        exchange: &Exchange,
        observe: ObserveIntent,
        response: &mut Packet,
    ) {
        let key = ObserverKey {
            peer: exchange.key.peer,
            token: exchange.token,
        };
        let success = response::is_success(response);
        match observe {
            ObserveIntent::None => {}
            ObserveIntent::Register { path, accept } if success => {
                let sequence = now_sequence();
                match self
                    .observations
                    .register(key, &path, accept, sequence, Instant::now())
                {
                    Ok(()) => {
                        response.add_option(CoapOption::Observe, response::uint(sequence));
                        self.shared
                            .observation_store
                            .put(self.local, key, &path, accept);
                    }
                    // §4.1: past the limits, a plain response.
                    Err(refused) => tracing::debug!(?refused, %path, "observation refused"),
                }
            }
            ObserveIntent::Register { .. } | ObserveIntent::Deregister => {
                if self.observations.deregister(&key).is_some() {
                    tracing::debug!(peer = %key.peer, "observation deregistered");
                    self.shared.observation_store.delete(self.local, key);
                }
            }
            ObserveIntent::Change { path } => {
                if success {
                    self.shared.host.publish(ResourceEvent::Changed {
                        path,
                        important: false,
                    });
                }
            }
        }
    }

    fn on_resource_event(&mut self, event: ResourceEvent, now: Instant) {
        let path = match &event {
            ResourceEvent::Changed { path, .. } | ResourceEvent::Removed { path } => path,
        };
        // An event of a collection's members (a reload of its plugin) is
        // one of each member observed here.
        if let Some(prefix) = crate::collection::prefix_of(path) {
            let members = self
                .observations
                .paths()
                .into_iter()
                .filter(|observed| crate::collection::is_member(prefix, observed));
            for member in members.collect::<Vec<_>>() {
                let event = match &event {
                    ResourceEvent::Changed { important, .. } => ResourceEvent::Changed {
                        path: member,
                        important: *important,
                    },
                    ResourceEvent::Removed { .. } => ResourceEvent::Removed { path: member },
                };
                self.on_resource_event(event, now);
            }
            return;
        }
        match event {
            ResourceEvent::Changed { path, important } => {
                if let Some(important) = self.pacing.changed(&path, important, now) {
                    self.refresh(&path, important, now);
                }
            }
            ResourceEvent::Removed { path } => {
                self.pacing.forget(&path);
                let gone = self.observations.remove_path(&path);
                let response = response::diagnostic(ResponseType::NotFound, "resource removed");
                for (key, _) in gone {
                    // A final notification without Observe ends the
                    // observation at the client too (§3.2, §4.2).
                    self.layer.send_message(
                        key.peer,
                        key.token,
                        response.clone(),
                        true,
                        Instant::now(),
                        &mut self.actions,
                    );
                    self.shared.observation_store.delete(self.local, key);
                }
                self.latest.retain(|(p, _), _| *p != path);
            }
        }
    }

    /// Renders the paths whose paced changes are due (RFC 7641 §4.5.2).
    fn render_due(&mut self, now: Instant) {
        for (path, important) in self.pacing.due(now) {
            self.refresh(&path, important, now);
        }
    }

    /// Fetches the current representation of `path`, once per format its
    /// observers asked for, to notify them.
    fn refresh(&mut self, path: &str, important: bool, now: Instant) {
        let mut formats: Vec<Option<u16>> = self
            .observations
            .observers_of(path)
            .iter()
            .filter_map(|key| self.observations.get(key).map(|o| o.accept))
            .collect();
        formats.sort_unstable();
        formats.dedup();
        let mut renderings = 0;
        for accept in formats {
            let Some(call) = self.shared.exchanges.representation(path, accept) else {
                continue;
            };
            self.spawn_representation(call, path.to_owned(), accept, important);
            renderings += 1;
        }
        self.pacing.started(path, renderings, now);
    }

    fn spawn_representation(
        &self,
        call: PluginCall,
        path: String,
        accept: Option<u16>,
        important: bool,
    ) {
        let completed = self.completed.clone();
        self.shared.spawner.spawn(async move {
            let response = call.run().await.response;
            let _ = completed.send(Completion::Representation {
                path,
                accept,
                important,
                response,
            });
        });
    }

    /// Sends `response` to every observer of `path` in `accept` (§4.2).
    fn notify(&mut self, path: &str, accept: Option<u16>, important: bool, response: Packet) {
        for key in self.observations.observers_of(path) {
            if self
                .observations
                .get(&key)
                .is_some_and(|o| o.accept == accept)
            {
                self.send_notification(key, &response, important);
            }
        }
        self.latest.insert((path.to_owned(), accept), response);
    }

    fn notify_latest(&mut self, key: ObserverKey) {
        let Some(observer) = self.observations.get(&key) else {
            return;
        };
        let latest = (observer.path.clone(), observer.accept);
        if let Some(response) = self.latest.get(&latest).cloned() {
            self.send_notification(key, &response, false);
        }
    }

    fn send_notification(&mut self, key: ObserverKey, response: &Packet, important: bool) {
        let success = response::is_success(response);
        let Some(plan) =
            self.observations
                .plan(&key, important || !success, now_sequence(), Instant::now())
        else {
            return;
        };
        let mut packet = response.clone();
        if success {
            packet.add_option(CoapOption::Observe, response::uint(plan.sequence));
        }
        let message_id = self.layer.send_message(
            key.peer,
            key.token,
            packet,
            plan.confirmable,
            Instant::now(),
            &mut self.actions,
        );
        if success {
            self.observations.sent(&key, message_id, plan.confirmable);
        } else if self.observations.deregister(&key).is_some() {
            // §4.2: a notification with an error code ends the observation.
            self.shared.observation_store.delete(self.local, key);
        }
    }

    fn on_notification_failed(&mut self, key: MessageKey) {
        if let Some((observer, observation)) = self.observations.failed(key.peer, key.message_id) {
            tracing::debug!(peer = %observer.peer, path = observation.path, "observer gone");
            self.shared.observation_store.delete(self.local, observer);
        }
    }

    fn restore_observations(&mut self) {
        // The loop's own: those of the peers steered to it.
        let place = &self.place;
        let ours = |peer| steering::loop_of(peer, place.count) == place.index;
        let stored = match self.shared.observation_store.load(self.local, ours) {
            Ok(stored) => stored,
            Err(error) => {
                tracing::warn!("cannot read stored observations: {error}");
                return;
            }
        };
        let count = stored.len();
        let mut dropped = 0;
        for observation in stored {
            // A DTLS session does not outlive the process: its observers
            // register again once they have a new one. A plain-coap observer
            // must still be allowed by the policy, which may have changed.
            let allowed = !matches!(self.transport, DatagramTransport::Dtls(..))
                && self.shared.exchanges.may_observe(
                    &self.transport.requester(observation.key.peer),
                    &observation.path,
                );
            if !allowed {
                self.shared
                    .observation_store
                    .delete(self.local, observation.key);
                dropped += 1;
                continue;
            }
            let _ = self.observations.register(
                observation.key,
                &observation.path,
                observation.accept,
                now_sequence(),
                Instant::now(),
            );
        }
        if count > 0 {
            tracing::info!(local = %self.local, count = count - dropped, dropped, "observations restored");
        }
    }
}

/// The Observe sequence number for now (RFC 7641 §4.4), from the wall clock.
fn now_sequence() -> u32 {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    clock_sequence(millis)
}

/// §5.9.3.4: 5.03 with Max-Age telling the client when to try again.
fn overloaded() -> Packet {
    let mut packet = response::diagnostic(
        ResponseType::ServiceUnavailable,
        "too many requests in progress",
    );
    packet.add_option(CoapOption::MaxAge, response::uint(1));
    packet
}
