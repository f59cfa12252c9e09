//! What the metrics add to a request (metrics.rs): counting one CoAP
//! request (counter and latency histogram) and one plugin call, once their
//! label sets exist, as on every request after the first.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use coapwasm::metrics::{CallOutcome, Code, Metrics, Transport, coap_method};
use criterion::{Criterion, criterion_group, criterion_main};

fn metrics(c: &mut Criterion) {
    let metrics = Metrics::new();
    let plugin: Arc<str> = "led".into();
    c.bench_function("metrics/count a request", |b| {
        b.iter(|| {
            metrics.request(
                Transport::Coap,
                Some(black_box(&plugin)),
                coap_method(black_box(1)),
                Code::Coap(black_box(0x45)),
                Duration::from_micros(40),
            )
        })
    });
    c.bench_function("metrics/count a plugin call", |b| {
        b.iter(|| {
            metrics.plugin_call(
                black_box(&plugin),
                CallOutcome::Ok,
                Duration::from_micros(30),
            )
        })
    });
}

criterion_group!(benches, metrics);
criterion_main!(benches);
