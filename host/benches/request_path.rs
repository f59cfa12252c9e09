//! The whole request path of one CON GET without the socket: the message
//! layer (parse, deduplication), the exchange layer (options, routing), the
//! plugin call, and the piggybacked response (encode, recorded for
//! duplicates), as the socket loop drives them (RFC 7252 §4, §5.2.1).
//! The difference between this and the server's CPU per request measured by
//! examples/bench.sh is the socket, the tokio task hop and the syscalls.

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use coapwasm::config::Config;
use coapwasm::exchange::{Dispatch, ExchangeLayer};
use coapwasm::identity::Requester;
use coapwasm::message::{Action, MessageLayer};
use coapwasm::router::{Router, RoutingTable};
use criterion::{Criterion, criterion_group, criterion_main};

fn request_path(c: &mut Criterion) {
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let runtime = support::runtime();
    let plugins = tokio.block_on(support::plugins(&runtime));
    let (table, _) = RoutingTable::build(plugins);
    let config = Config::default();
    let exchanges = ExchangeLayer::new(
        Arc::new(Router::new(table)),
        config.blockwise_limits(),
        config.access_policy(),
    );
    let mut transfers = exchanges.transfers(config.upload_limits());
    let mut layer = MessageLayer::new(config.transmission_parameters(), 1);
    for path in ["/led", "/info"] {
        let mut datagram = support::get_datagram(0, path);
        let mut actions = Vec::new();
        let mut n: u32 = 0;
        c.bench_function(&format!("request path/CON GET {path} (no socket)"), |b| {
            b.iter_custom(|iters| {
                tokio.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        n = n.wrapping_add(1);
                        // 16 client endpoints, as examples/bench.sh uses.
                        let peer = SocketAddr::from(([127, 0, 0, 1], 40000 + (n % 16) as u16));
                        datagram[2..4].copy_from_slice(&((n / 16) as u16).to_be_bytes());
                        let now = Instant::now();
                        actions.clear();
                        layer.on_datagram(peer, &datagram, now, &mut actions);
                        let Some(Action::Deliver { exchange, request }) = actions.pop() else {
                            panic!("the request was not delivered: {actions:?}");
                        };
                        let response = match exchanges.dispatch(
                            request,
                            peer,
                            &Requester::anonymous(),
                            true,
                            usize::from(exchange.size),
                            &mut transfers,
                            now,
                        ) {
                            Dispatch::Call(call) => call.run().await.response,
                            Dispatch::Respond(response) => response,
                            Dispatch::Reject => panic!("rejected"),
                            Dispatch::Proxy(_) => panic!("no proxy is configured"),
                        };
                        layer.on_response(exchange, response, Instant::now(), &mut actions);
                        assert!(matches!(actions.last(), Some(Action::Send { .. })));
                    }
                    start.elapsed()
                })
            })
        });
    }
}

criterion_group!(benches, request_path);
criterion_main!(benches);
