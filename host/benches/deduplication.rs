//! Duplicate detection (RFC 7252 §4.5): the lookup every request makes, and
//! recording a new message in a full cache (taking the oldest slot of its
//! set), at the default capacity.

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use coapwasm::message::{DeduplicationCache, MessageKey, Seen, TransmissionParameters};
use criterion::{Criterion, criterion_group, criterion_main};

fn key(n: u32) -> MessageKey {
    MessageKey {
        peer: SocketAddr::from(([127, 0, 0, 1], 40000 + (n >> 16) as u16)),
        message_id: n as u16,
    }
}

fn deduplication(c: &mut Criterion) {
    let parameters = TransmissionParameters::default();
    let capacity = parameters.deduplication_capacity;
    let mut cache = DeduplicationCache::new(
        parameters.exchange_lifetime(),
        parameters.non_lifetime(),
        capacity,
    );
    let now = Instant::now();
    for n in 0..capacity as u32 {
        cache.insert(
            key(n),
            Seen::Handling {
                acknowledged: false,
            },
            now,
        );
    }
    c.bench_function("deduplication/get hit (65536 held)", |b| {
        let mut n = 0u32;
        b.iter(|| {
            n = (n + 7919) % capacity as u32;
            black_box(cache.get(&key(n), now).is_some())
        })
    });
    // Since the set-associative cache, a set of 8 holds only its 8 newest,
    // so about 86% of the last 65536 keys are still held here: the bench
    // above mixes hits with (mispredicted) misses; this one hits only.
    let held: Vec<u32> = (0..capacity as u32)
        .filter(|&n| cache.get(&key(n), now).is_some())
        .collect();
    println!("{} of {capacity} recorded keys held", held.len());
    c.bench_function("deduplication/get hit (held keys only)", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 7919) % held.len();
            black_box(cache.get(&key(held[i]), now).is_some())
        })
    });
    c.bench_function("deduplication/get miss (65536 held)", |b| {
        let mut n = capacity as u32;
        b.iter(|| {
            n += 1;
            black_box(cache.get(&key(n), now).is_some())
        })
    });
    // Before the set-associative cache this also called `expire(at)`, which
    // the message layer did on every datagram; there is no such step now.
    c.bench_function("deduplication/insert + update (full)", |b| {
        let mut n = capacity as u32;
        let mut at = now;
        b.iter(|| {
            n += 1;
            at += Duration::from_micros(3);
            cache.insert(
                key(n),
                Seen::Handling {
                    acknowledged: false,
                },
                at,
            );
            cache.update(&key(n), Seen::NonConfirmable);
        })
    });
}

criterion_group!(benches, deduplication);
criterion_main!(benches);
