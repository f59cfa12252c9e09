//! The exchange log's tap, as the socket loop pays it per CoAP message:
//! with nobody watching (one atomic load), with a watcher (a clock
//! reading, a copy of the message, a broadcast send); and what one
//! watcher's task pays per record (parse, name the options, JSON).

mod support;

use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use coapwasm::exchange_log::record::Record;
use coapwasm::exchange_log::{Direction, ExchangeLog};
use criterion::{Criterion, criterion_group, criterion_main};

fn exchange_log(c: &mut Criterion) {
    let request = support::get_datagram(0x1234, "/led");
    let address = SocketAddr::from(([127, 0, 0, 1], 5683));
    let log = Arc::new(ExchangeLog::new(8));
    c.bench_function("exchange log/tap, nobody watching", |b| {
        b.iter(|| {
            log.tap(Direction::In, address, address, false, || {
                Bytes::copy_from_slice(black_box(&request))
            })
        })
    });
    let mut watcher = log.watch().expect("a watcher");
    c.bench_function("exchange log/tap, one watcher", |b| {
        b.iter_custom(|iters| {
            let start = std::time::Instant::now();
            for _ in 0..iters {
                log.tap(Direction::In, address, address, false, || {
                    Bytes::copy_from_slice(black_box(&request))
                });
            }
            let spent = start.elapsed();
            // Drained outside the timing: the watcher's task does that.
            drain(&mut watcher);
            spent
        })
    });
    log.tap(Direction::In, address, address, false, || {
        Bytes::copy_from_slice(&request)
    });
    let capture = watcher.receiver.try_recv().expect("a capture");
    c.bench_function("exchange log/record + JSON (watcher's task)", |b| {
        b.iter(|| serde_json::to_string(&Record::of(black_box(&capture), false)).expect("JSON"))
    });
}

fn drain(watcher: &mut coapwasm::exchange_log::Watcher) {
    use tokio::sync::broadcast::error::TryRecvError;
    loop {
        match watcher.receiver.try_recv() {
            Ok(_) | Err(TryRecvError::Lagged(_)) => {}
            Err(_) => return,
        }
    }
}

criterion_group!(benches, exchange_log);
criterion_main!(benches);
