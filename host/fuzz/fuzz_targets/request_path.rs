//! The whole request path, datagrams in and datagrams out, through the real
//! layers and a real plugin: the message layer, the exchange layer (options,
//! discovery, block-wise transfer, the decision to call), the testkit
//! component in the wasmtime runtime, responses, Observe registrations and
//! the notifications a change causes. The wiring is that of `socket.rs`,
//! without the socket: each plugin call is awaited where the socket loop
//! would spawn it, so an input runs start to end on one thread.
//!
//! The host is set up once per process: a current-thread tokio runtime, the
//! key-value store in a temporary folder (unlinked once open), and the
//! testkit plugin from `target/wasm32-wasip2/plugin/testkit.wasm` (built by
//! `examples/setup.sh`; `COAPWASM_TESTKIT` names another file). Each input
//! gets a fresh message layer, uploads, held responses and observations; the
//! plugin's key-value state carries over between inputs.
#![no_main]

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use coap_lite::{CoapOption, Packet};
use coapwasm::config::Config;
use coapwasm::exchange::observe::{Observations, ObserverKey, clock_sequence};
use coapwasm::exchange::{
    Dispatch, ExchangeLayer, ObserveIntent, PluginCall, Transfers, request, response,
};
use coapwasm::kv_store::KvStore;
use coapwasm::message::{Action, Exchange, MessageLayer};
use coapwasm::router::{Router, RoutingTable};
use coapwasm::runtime::{HostContext, ResourceEvent, Runtime, RuntimeLimits};
use coapwasm_fuzz::{BETWEEN_DATAGRAMS, datagrams, peer};
use libfuzzer_sys::fuzz_target;
use tokio::sync::broadcast;

/// Testkit resources that sleep, spin or allocate until a limit stops them:
/// correct, but each costs from 100 ms to seconds, which would cut the
/// fuzzer's throughput a hundredfold. Their requests go to /test/echo; the
/// end-to-end tests cover the limits.
const SLOW: &[&str] = &["/test/slow", "/test/spin", "/test/hog"];

/// Enough timer turns for every retransmission of every message to run out.
const MAX_TIMER_TURNS: usize = 1000;

/// The host, set up once per process.
struct Host {
    tokio: tokio::runtime::Runtime,
    exchanges: Arc<ExchangeLayer>,
    context: Arc<HostContext>,
    config: Config,
    // Kept alive: plugins hold their engine, but not every piece of it.
    _runtime: Arc<Runtime>,
}

static HOST: LazyLock<Host> = LazyLock::new(Host::start);

/// `COAPWASM_FUZZ_TRACE=1` prints what goes in and out, to read a reproducer.
static TRACE: LazyLock<bool> = LazyLock::new(|| std::env::var_os("COAPWASM_FUZZ_TRACE").is_some());

impl Host {
    fn start() -> Host {
        let config = Config::default();
        let tokio = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        // Memory-backed when possible: a key-value write is an fsync.
        let shm = PathBuf::from("/dev/shm");
        let parent = if shm.is_dir() {
            shm
        } else {
            std::env::temp_dir()
        };
        let data = tempfile::Builder::new()
            .prefix("coapwasm-fuzz-")
            .tempdir_in(parent)
            .expect("temporary data folder");
        let testkit = std::env::var_os("COAPWASM_TESTKIT").map_or_else(
            || {
                PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                    .join("../../target/wasm32-wasip2/plugin/testkit.wasm")
            },
            PathBuf::from,
        );
        let (exchanges, context, runtime) = tokio.block_on(async {
            let kv = KvStore::open(&data.path().join("kv.redb")).expect("key-value store");
            let context = Arc::new(HostContext::new("fuzz".to_owned(), Arc::new(kv)));
            let runtime = Runtime::new(
                context.clone(),
                RuntimeLimits {
                    max_instances: 2,
                    // Bounds for the unexpected: no testkit resource left in
                    // reach takes this long.
                    call_timeout: Duration::from_secs(5),
                    max_cpu_per_call: Duration::from_millis(500),
                    max_memory: config.runtime.max_memory_bytes,
                    max_table_elements: config.runtime.max_table_elements,
                    max_response_bytes: config.runtime.max_response_bytes,
                },
                &data.path().join("cache"),
            )
            .expect("plugin runtime");
            let plugin = runtime.load(&testkit).await.unwrap_or_else(|error| {
                panic!(
                    "cannot load {} (run examples/setup.sh first): {error}",
                    testkit.display()
                )
            });
            let (table, refusals) = RoutingTable::build([Arc::new(plugin)]);
            assert!(refusals.is_empty(), "{refusals:?}");
            context.set_resources(table.paths());
            let exchanges = Arc::new(ExchangeLayer::new(
                Arc::new(Router::new(table)),
                config.blockwise_limits(),
                config.access_policy(),
            ));
            (exchanges, context, runtime)
        });
        // The store's file stays open; nothing is left behind at exit.
        data.close().expect("remove the temporary data folder");
        Host {
            tokio,
            exchanges,
            context,
            config,
            _runtime: runtime,
        }
    }
}

/// One socket's state for one input, as `socket.rs` keeps it.
struct Endpoint {
    host: &'static Host,
    layer: MessageLayer,
    transfers: Transfers,
    observations: Observations,
    events: broadcast::Receiver<ResourceEvent>,
    queue: VecDeque<Action>,
    actions: Vec<Action>,
    now: Instant,
}

fuzz_target!(|input: &[u8]| {
    let host = &*HOST;
    let limits = host.config.upload_limits();
    let mut endpoint = Endpoint {
        host,
        layer: MessageLayer::new(host.config.transmission_parameters(), 0),
        transfers: host.exchanges.transfers(limits),
        observations: Observations::new(host.config.observe_policy()),
        events: host.context.subscribe(),
        queue: VecDeque::new(),
        actions: Vec::new(),
        now: Instant::now(),
    };
    for datagram in datagrams(input) {
        let now = endpoint.now;
        if *TRACE {
            eprintln!("in  {:02x?}", datagram);
        }
        endpoint
            .layer
            .on_datagram(peer(datagram), datagram, now, &mut endpoint.actions);
        endpoint.run_actions();
        endpoint.now += BETWEEN_DATAGRAMS;
        endpoint.timeout();
    }
    // No client acknowledges anything: every CON must give up.
    let mut turns = 0;
    while let Some(due) = endpoint.layer.next_deadline() {
        turns += 1;
        assert!(
            turns <= MAX_TIMER_TURNS,
            "the message layer's timer never settles"
        );
        endpoint.now = endpoint.now.max(due);
        endpoint.timeout();
    }
    assert_eq!(
        endpoint.layer.outstanding(),
        0,
        "a CON outlived MAX_TRANSMIT_SPAN"
    );
    assert!(endpoint.observations.len() <= datagrams(input).count());
    let expire = endpoint.now + limits.timeout + Duration::from_secs(1);
    endpoint.transfers.uploads.expire(expire);
    endpoint.transfers.responses.expire(expire);
    assert_eq!(
        endpoint.transfers.uploads.held(),
        0,
        "an upload outlived its timeout"
    );
    assert_eq!(
        endpoint.transfers.representations.memory().used(),
        0,
        "block-wise memory outlived the transfers that held it"
    );
});

impl Endpoint {
    fn timeout(&mut self) {
        self.layer.on_timeout(self.now, &mut self.actions);
        self.run_actions();
    }

    /// `Endpoint::run_actions` of `socket.rs`, with sends checked instead of
    /// sent and resource events taken as they come.
    fn run_actions(&mut self) {
        self.queue.extend(self.actions.drain(..));
        while let Some(action) = self.queue.pop_front() {
            match action {
                Action::Send { datagram, .. } => {
                    let packet = match Packet::from_bytes(&datagram) {
                        Ok(packet) => packet,
                        Err(error) => panic!(
                            "the host sent a datagram that is not CoAP ({error:?}): {datagram:02x?}"
                        ),
                    };
                    if *TRACE {
                        let payload = String::from_utf8_lossy(&packet.payload);
                        eprintln!(
                            "out {:?} {:?} {payload:?}",
                            packet.header.get_type(),
                            packet.header.code
                        );
                    }
                }
                Action::Deliver { exchange, request } => self.on_request(exchange, request),
                // A notification's ACK: the newest state would follow, if any.
                Action::Acknowledged(key) => {
                    let _ = self.observations.acknowledged(key.peer, key.message_id);
                }
                Action::Reset(key) | Action::GaveUp(key) => {
                    let _ = self.observations.failed(key.peer, key.message_id);
                }
            }
            self.take_events();
            self.queue.extend(self.actions.drain(..));
        }
    }

    fn on_request(&mut self, exchange: Exchange, mut request: Packet) {
        avoid_slow_resources(&mut request);
        let dispatch = self.host.exchanges.dispatch(
            request,
            exchange.key.peer,
            &coapwasm::identity::Requester::anonymous(),
            exchange.confirmable,
            usize::from(exchange.size),
            &mut self.transfers,
            self.now,
        );
        match dispatch {
            Dispatch::Respond(response) => {
                self.layer
                    .on_response(exchange, response, self.now, &mut self.actions)
            }
            Dispatch::Reject => self.layer.on_reject(exchange, &mut self.actions),
            // The layer here has no proxy: Proxy-Uri gets 5.05.
            Dispatch::Proxy(_) => unreachable!("no proxy is configured"),
            Dispatch::Call(call) => {
                let observe = call.observe.clone();
                let answer = self.host.tokio.block_on(call.run());
                let mut response = answer.response;
                if let Some(whole) = answer.held
                    && let Err(refusal) = self.transfers.hold(exchange.key.peer, whole, self.now)
                {
                    response = refusal;
                }
                self.observe_outcome(&exchange, observe, &mut response);
                self.layer
                    .on_response(exchange, response, self.now, &mut self.actions);
            }
        }
    }

    /// `Endpoint::observe_outcome` of `socket.rs`, without the store.
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
                let sequence = clock_sequence(0);
                if self
                    .observations
                    .register(key, &path, accept, sequence, self.now)
                    .is_ok()
                {
                    response.add_option(CoapOption::Observe, response::uint(sequence));
                }
            }
            ObserveIntent::Register { .. } | ObserveIntent::Deregister => {
                self.observations.deregister(&key);
            }
            ObserveIntent::Change { path } => {
                if success {
                    self.host.context.publish(ResourceEvent::Changed {
                        path,
                        important: false,
                    });
                }
            }
        }
    }

    /// Resource events (a change by request, or the plugin's own
    /// `observe.changed`) notify the observers, as `socket.rs` does.
    fn take_events(&mut self) {
        loop {
            match self.events.try_recv() {
                Ok(ResourceEvent::Changed { path, important }) => self.refresh(&path, important),
                Ok(ResourceEvent::Removed { .. }) => {}
                Err(broadcast::error::TryRecvError::Lagged(_)) => {}
                Err(_) => return,
            }
        }
    }

    fn refresh(&mut self, path: &str, important: bool) {
        let mut formats: Vec<Option<u16>> = self
            .observations
            .observers_of(path)
            .iter()
            .filter_map(|key| self.observations.get(key).map(|o| o.accept))
            .collect();
        formats.sort_unstable();
        formats.dedup();
        for accept in formats {
            let Some(call): Option<PluginCall> = self.host.exchanges.representation(path, accept)
            else {
                continue;
            };
            let response = self.host.tokio.block_on(call.run()).response;
            for key in self.observations.observers_of(path) {
                if self
                    .observations
                    .get(&key)
                    .is_some_and(|o| o.accept == accept)
                {
                    self.notify(key, &response, important);
                }
            }
        }
    }

    fn notify(&mut self, key: ObserverKey, response: &Packet, important: bool) {
        let success = response::is_success(response);
        let Some(plan) =
            self.observations
                .plan(&key, important || !success, clock_sequence(0), self.now)
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
            self.now,
            &mut self.actions,
        );
        if success {
            self.observations.sent(&key, message_id, plan.confirmable);
        } else {
            self.observations.deregister(&key);
        }
    }
}

/// Points a request for one of [`SLOW`] at /test/echo instead, judging the
/// path as the exchange layer does.
fn avoid_slow_resources(request: &mut Packet) {
    let Ok(options) = request::parse(request) else {
        return;
    };
    if SLOW.contains(&options.path.as_str()) {
        request.clear_option(CoapOption::UriPath);
        request.add_option(CoapOption::UriPath, b"test".to_vec());
        request.add_option(CoapOption::UriPath, b"echo".to_vec());
    }
}
