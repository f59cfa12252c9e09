//! Routing: from a request's path to the plugin serving it, through the
//! router's current table, with the example plugins loaded.

mod support;

use std::hint::black_box;

use coapwasm::router::{Router, RoutingTable};
use criterion::{Criterion, criterion_group, criterion_main};

fn routing(c: &mut Criterion) {
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let runtime = support::runtime();
    let plugins = tokio.block_on(support::plugins(&runtime));
    let (table, refusals) = RoutingTable::build(plugins);
    assert!(refusals.is_empty());
    let router = Router::new(table);
    c.bench_function("routing/route /led", |b| {
        b.iter(|| router.table().route(black_box("/led")).is_some())
    });
    c.bench_function("routing/route /firmware/image", |b| {
        b.iter(|| router.table().route(black_box("/firmware/image")).is_some())
    });
    c.bench_function("routing/route unknown", |b| {
        b.iter(|| router.table().route(black_box("/nothing/here")).is_some())
    });
}

criterion_group!(benches, routing);
criterion_main!(benches);
