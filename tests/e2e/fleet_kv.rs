//! Issue 18: hosts that share plugin state through Redis. A real
//! `redis-server` on a loopback port and three real hosts on 127.0.0.2,
//! 127.0.0.3 and 127.0.0.4, spoken to over UDP: a write through one host is
//! read through another; increments through all three at once add up
//! exactly; the quota holds across hosts; with Redis gone, a request that
//! needs it gets 5.03 with Max-Age at once (one log line per outage) while
//! local namespaces serve on, and the hosts find Redis again by themselves;
//! what a host acknowledged survives a crash of a Redis that persists.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use coapwasm_tests::redis_server::{Persistence, RedisServer};
use coapwasm_tests::{Code, Message, Peer, Server, option};

const ADDRESSES: [&str; 3] = ["127.0.0.2", "127.0.0.3", "127.0.0.4"];

/// The Max-Age the hosts answer 5.03 with (`[kv] retry_after_s`).
const RETRY_AFTER: u32 = 7;
/// `[kv] timeout_ms`: the longest a Redis operation may take.
const REDIS_TIMEOUT_MS: u64 = 500;

/// Three hosts on their own loopback addresses, each with its own data
/// folder, sharing the namespaces `shared` names (a TOML value) in `redis`.
fn fleet(redis: &RedisServer, plugins: &[&str], shared: &str) -> Vec<Server> {
    ADDRESSES
        .iter()
        .enumerate()
        .map(|(index, address)| host(redis, plugins, shared, address, index))
        .collect()
}

fn host(
    redis: &RedisServer,
    plugins: &[&str],
    shared: &str,
    address: &str,
    index: usize,
) -> Server {
    let mut server = Server::builder()
        .binds(&[&format!("{address}:0")])
        .plugins(plugins)
        .config(&format!(
            "[kv]\nredis = \"{}\"\nshared = {shared}\ntimeout_ms = {REDIS_TIMEOUT_MS}\n\
             retry_after_s = {RETRY_AFTER}\n",
            redis.url()
        ))
        .arg("--host-id")
        .arg(format!("host-{index}"))
        .start();
    server.wait_plugins_loaded();
    server
}

fn count_of(response: &Message) -> u64 {
    response
        .payload_text()
        .parse()
        .unwrap_or_else(|_| panic!("no count in {response}"))
}

/// A PUT through one host is what a GET through every other reads; a
/// namespace left local is each host's own.
#[test]
fn a_write_through_one_host_is_read_through_another() {
    let redis = RedisServer::start(Persistence::None);
    let hosts = fleet(&redis, &["led", "counter"], "[\"led\"]");

    let mut a = hosts[0].peer();
    let put = a
        .con(Code::PUT, "/led")
        .uint_option(option::CONTENT_FORMAT, 50)
        .payload(br#"{"state":"on"}"#);
    assert_eq!(a.exchange(&put).code, Code::CHANGED);
    for host in &hosts[1..] {
        let response = host.peer().get("/led");
        assert_eq!(response.code, Code::CONTENT, "{response}");
        assert_eq!(
            response.payload_json()["state"],
            "on",
            "{} read {response}",
            host.addr()
        );
    }
    // The value is where the documented layout says: one cluster slot.
    let stored = redis.command(&["GET", "coapwasm:{led}:state"]);
    assert!(stored.contains("on"), "{stored}");

    // counter is not shared: a POST through A is not seen by B.
    assert_eq!(count_of(&a.call(Code::POST, "/counter")), 1);
    assert_eq!(count_of(&hosts[1].peer().get("/counter")), 0);
    assert_eq!(
        redis.command(&["EXISTS", "coapwasm:{counter}:count"]),
        ":0\r\n"
    );
}

/// 3 x 500 POSTs to the Go counter at once, 5 clients per host: the count
/// ends at exactly 1500, and every POST got a count of its own (the
/// increment is one step in Redis, not a read then a write).
#[test]
fn concurrent_increments_through_three_hosts_add_up() {
    const CLIENTS_PER_HOST: usize = 5;
    const POSTS_PER_CLIENT: usize = 100;
    const WITHIN: Duration = Duration::from_secs(120);
    let redis = RedisServer::start(Persistence::None);
    // --kv: every namespace in Redis.
    let hosts: Vec<Server> = ADDRESSES
        .iter()
        .enumerate()
        .map(|(index, address)| {
            let mut server = Server::builder()
                .binds(&[&format!("{address}:0")])
                .plugins(&["counter"])
                .arg("--kv")
                .arg(redis.url())
                .arg("--host-id")
                .arg(format!("host-{index}"))
                .start();
            server.wait_plugins_loaded();
            server
        })
        .collect();

    let started = Instant::now();
    let counts = Arc::new(Mutex::new(Vec::new()));
    let mut clients = Vec::new();
    for host in &hosts {
        for _ in 0..CLIENTS_PER_HOST {
            let address = host.addr();
            let counts = counts.clone();
            clients.push(thread::spawn(move || {
                let mut peer = Peer::new(address);
                for _ in 0..POSTS_PER_CLIENT {
                    assert!(started.elapsed() < WITHIN, "the POSTs took over {WITHIN:?}");
                    let response = peer.call(Code::POST, "/counter");
                    assert_eq!(response.code, Code::CHANGED, "{address}: {response}");
                    counts.lock().unwrap().push(count_of(&response));
                }
            }));
        }
    }
    for client in clients {
        client.join().expect("a client failed");
    }
    let total = (ADDRESSES.len() * CLIENTS_PER_HOST * POSTS_PER_CLIENT) as u64;
    for host in &hosts {
        assert_eq!(
            count_of(&host.peer().get("/counter")),
            total,
            "{}",
            host.addr()
        );
    }
    let counts: BTreeSet<u64> = counts.lock().unwrap().iter().copied().collect();
    assert_eq!(
        counts,
        (1..=total).collect::<BTreeSet<u64>>(),
        "two POSTs got the same count"
    );
    eprintln!("{total} POSTs through 3 hosts in {:?}", started.elapsed());
}

/// `max_storage_bytes` holds for a shared namespace, counted in Redis for
/// every host: what host A filled, host B cannot grow, and the count Redis
/// keeps is what the namespace holds.
#[test]
fn the_quota_holds_across_hosts() {
    const QUOTA: u64 = 16 * 1024 * 1024;
    let redis = RedisServer::start(Persistence::None);
    let hosts = fleet(&redis, &["hoarder"], "\"*\"");
    let hoard = |host: &Server, round: usize| {
        let response = host
            .peer()
            .call(Code::POST, &format!("/hoard?round={round}"));
        assert_eq!(response.code, Code::CHANGED, "{response}");
        response.payload_text().to_owned()
    };
    let first = hoard(&hosts[0], 0);
    assert!(
        first.starts_with("stored 63 refused 1 error too-large"),
        "{first}"
    );
    assert_eq!(hoard(&hosts[1], 1), "stored 0 refused 64 error too-large");
    assert_eq!(hoard(&hosts[2], 2), "stored 0 refused 64 error too-large");

    let used: u64 = redis
        .command(&["GET", "coapwasm:{hoarder}#used"])
        .lines()
        .nth(1)
        .and_then(|l| l.parse().ok())
        .expect("a byte count");
    assert!(
        used <= QUOTA,
        "{used} bytes counted, over the {QUOTA}-byte quota"
    );
    assert!(used > QUOTA - 256 * 1024 - 64, "{used} bytes counted");
    // The count is what is there: 63 entries of 256 KiB and their keys.
    let keys = redis.command(&["ZCARD", "coapwasm:{hoarder}#keys"]);
    assert_eq!(keys, ":63\r\n");
    // The host logged the refusal once, not per write.
    let lines = hosts[0].log_lines(|l| l.contains("quota") && l.contains("reached"));
    assert_eq!(lines.len(), 1, "{lines:?}");
}

/// How a request went while Redis came and went.
#[derive(Debug, Default)]
struct Tally {
    changed: usize,
    unavailable: usize,
}

/// Redis killed under load: every POST to the shared counter is 5.03 with
/// Max-Age, answered within the Redis timeout (no hang, no 5.00), while the
/// local LED serves 2.05; each host logs the outage once, however many
/// requests failed, and once that it is over. A plugin that panics when
/// its store fails (testkit's /test/strict) gets 5.03 too, not 5.00. Redis
/// started again: the hosts serve the counter again within seconds, by
/// themselves.
#[test]
fn a_redis_outage_is_5_03_with_max_age_and_ends_by_itself() {
    const LOAD_CLIENTS: usize = 2;
    const BACK_WITHIN: Duration = Duration::from_secs(15);
    let mut redis = RedisServer::start(Persistence::None);
    let hosts = fleet(
        &redis,
        &["counter", "led", "testkit"],
        "[\"counter\", \"testkit\"]",
    );
    for host in &hosts {
        assert_eq!(host.peer().call(Code::POST, "/counter").code, Code::CHANGED);
    }

    // Load: POSTs through every host until told to stop (bounded too).
    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let mut load = Vec::new();
    for host in &hosts {
        for _ in 0..LOAD_CLIENTS {
            let (address, stop, tally) = (host.addr(), stop.clone(), tally.clone());
            load.push(thread::spawn(move || {
                let mut peer = Peer::new(address);
                let deadline = Instant::now() + Duration::from_secs(60);
                while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                    let sent = Instant::now();
                    let response = peer.call(Code::POST, "/counter");
                    let mut tally = tally.lock().unwrap();
                    match response.code {
                        Code::CHANGED => tally.changed += 1,
                        Code::SERVICE_UNAVAILABLE => {
                            assert_eq!(
                                response.uint_option_value(option::MAX_AGE),
                                Some(RETRY_AFTER),
                                "{response}"
                            );
                            // Bounded by the Redis timeout, with room for a
                            // busy machine.
                            assert!(
                                sent.elapsed() < Duration::from_millis(REDIS_TIMEOUT_MS * 4),
                                "a 5.03 took {:?}",
                                sent.elapsed()
                            );
                            tally.unavailable += 1;
                        }
                        _ => panic!("{address}: neither 2.04 nor 5.03: {response}"),
                    }
                    drop(tally);
                    thread::sleep(Duration::from_millis(10));
                }
            }));
        }
    }
    thread::sleep(Duration::from_millis(500));
    redis.kill();
    let killed = Instant::now();

    // While Redis is down: 5.03 for the shared counter, 2.05 for the LED.
    thread::sleep(Duration::from_secs(2));
    for host in &hosts {
        let mut peer = host.peer();
        let response = peer.call(Code::POST, "/counter");
        assert_eq!(response.code, Code::SERVICE_UNAVAILABLE, "{response}");
        assert_eq!(
            response.uint_option_value(option::MAX_AGE),
            Some(RETRY_AFTER)
        );
        let led = peer.get("/led");
        assert_eq!(led.code, Code::CONTENT, "{led}");
        let strict = peer.get("/test/strict");
        assert_eq!(strict.code, Code::SERVICE_UNAVAILABLE, "{strict}");
        assert_eq!(strict.uint_option_value(option::MAX_AGE), Some(RETRY_AFTER));
    }
    let during = tally.lock().unwrap().unavailable;
    assert!(during >= 20, "only {during} requests saw the outage");

    redis.start_again();
    let restarted = Instant::now();
    for host in &hosts {
        let mut peer = host.peer();
        let mut tries = 0;
        loop {
            let response = peer.call(Code::POST, "/counter");
            if response.code == Code::CHANGED {
                break;
            }
            tries += 1;
            assert!(
                restarted.elapsed() < BACK_WITHIN,
                "{} still answers {response} {BACK_WITHIN:?} after Redis came back ({tries} tries)",
                host.addr()
            );
            thread::sleep(Duration::from_millis(100));
        }
    }
    eprintln!(
        "down {:?}; every host serving again {:?} after the restart",
        restarted - killed,
        restarted.elapsed()
    );
    thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    for client in load {
        client.join().expect("a load client failed");
    }

    // The host's own lines (the plugin's, about its failed increments, are
    // the plugin's business, held by its log rate limit).
    for host in &hosts {
        let down = host.log_lines(|l| {
            l.contains("coapwasm::kv_store") && l.contains("shared key-value store is unreachable")
        });
        assert_eq!(down.len(), 1, "{}: {down:#?}", host.addr());
        let back = host
            .log_count(Duration::from_secs(2), 1, |l| {
                l.contains("shared key-value store is reachable again")
            })
            .unwrap_or_default();
        assert_eq!(back.len(), 1, "{}: {back:#?}", host.addr());
        // The panic the outage caused is not logged as the plugin's trap.
        let traps = host.log_lines(|l| l.contains("trapped"));
        assert!(traps.is_empty(), "{}: {traps:#?}", host.addr());
    }
    eprintln!("{:?}", tally.lock().unwrap());
}

/// A stalled Redis (SIGSTOP: connections open, nothing answered) does not
/// hang a request: the POST gets 5.03 with Max-Age once `kv.timeout_ms`
/// has passed, the LED serves on meanwhile, and once Redis goes on the
/// hosts serve the counter again.
#[test]
fn a_stalled_redis_costs_a_request_its_timeout_at_most() {
    let redis = RedisServer::start(Persistence::None);
    let hosts = fleet(&redis, &["counter", "led"], "[\"counter\"]");
    for host in &hosts {
        assert_eq!(host.peer().call(Code::POST, "/counter").code, Code::CHANGED);
    }
    redis.pause();
    for host in &hosts {
        let mut peer = host.peer();
        for _ in 0..3 {
            let sent = Instant::now();
            let response = peer.call(Code::POST, "/counter");
            let took = sent.elapsed();
            assert_eq!(response.code, Code::SERVICE_UNAVAILABLE, "{response}");
            assert_eq!(
                response.uint_option_value(option::MAX_AGE),
                Some(RETRY_AFTER)
            );
            assert!(
                took >= Duration::from_millis(REDIS_TIMEOUT_MS / 2)
                    && took < Duration::from_millis(REDIS_TIMEOUT_MS * 4),
                "a POST with Redis stalled took {took:?}"
            );
            assert_eq!(peer.get("/led").code, Code::CONTENT);
        }
    }
    redis.resume();
    let deadline = Instant::now() + Duration::from_secs(15);
    for host in &hosts {
        let mut peer = host.peer();
        while peer.call(Code::POST, "/counter").code != Code::CHANGED {
            assert!(
                Instant::now() < deadline,
                "{} not serving again",
                host.addr()
            );
            thread::sleep(Duration::from_millis(100));
        }
        let down = host.log_lines(|l| {
            l.contains("coapwasm::kv_store") && l.contains("shared key-value store is unreachable")
        });
        assert_eq!(down.len(), 1, "{}: {down:#?}", host.addr());
    }
}

/// A Redis with `appendonly yes` (`appendfsync always`) killed with
/// SIGKILL in the middle of a stream of POSTs: after it restarts, the count
/// is at least every count a client saw acknowledged (2.04) before.
#[test]
fn no_acknowledged_write_is_lost_across_a_redis_crash() {
    let mut redis = RedisServer::start(Persistence::AppendOnly);
    let hosts = fleet(&redis, &["counter"], "\"*\"");
    let stop = Arc::new(AtomicBool::new(false));
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let mut load = Vec::new();
    for host in &hosts {
        let (address, stop, acknowledged) = (host.addr(), stop.clone(), acknowledged.clone());
        load.push(thread::spawn(move || {
            let mut peer = Peer::new(address);
            let deadline = Instant::now() + Duration::from_secs(60);
            while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                let response = peer.call(Code::POST, "/counter");
                match response.code {
                    Code::CHANGED => acknowledged.lock().unwrap().push(count_of(&response)),
                    Code::SERVICE_UNAVAILABLE => thread::sleep(Duration::from_millis(20)),
                    _ => panic!("{address}: neither 2.04 nor 5.03: {response}"),
                }
            }
        }));
    }
    // Until a few hundred writes are acknowledged, then the crash.
    let deadline = Instant::now() + Duration::from_secs(30);
    while acknowledged.lock().unwrap().len() < 300 {
        assert!(Instant::now() < deadline, "too few POSTs acknowledged");
        thread::sleep(Duration::from_millis(20));
    }
    redis.kill();
    let before = acknowledged.lock().unwrap().iter().copied().max().unwrap();
    stop.store(true, Ordering::Relaxed);
    for client in load {
        client.join().expect("a load client failed");
    }
    redis.start_again();

    let deadline = Instant::now() + Duration::from_secs(15);
    let after = loop {
        let response = hosts[1].peer().get("/counter");
        if response.code == Code::CONTENT {
            break count_of(&response);
        }
        assert!(Instant::now() < deadline, "not serving again: {response}");
        thread::sleep(Duration::from_millis(100));
    };
    assert!(
        after >= before,
        "Redis came back with {after}, but {before} was acknowledged before it crashed"
    );
    eprintln!("acknowledged up to {before} before the crash; {after} after the restart");
}
