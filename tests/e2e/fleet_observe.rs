//! Issue 18: observers across a fleet. A real `redis-server` on a loopback
//! port and hosts on 127.0.0.2, 127.0.0.3 and 127.0.0.4 sharing the `led`
//! namespace: a PUT through B reaches the observers registered with A, from
//! A's own address and port (RFC 7641 §3.3, §4.1), and B's own observers
//! once; a host without observers renders nothing; a flood of writes on B
//! is paced at A; a host killed and started again with its host id, on a
//! fresh data folder, still notifies the observers registered before; with
//! Redis gone local observers are served, and once it is back a PUT on B
//! reaches A again; an observer registered through an nginx UDP balancer
//! hears PUTs made through either host (nginx from examples/setup.sh).
//!
//! Every observer is a `Peer`, a UDP socket connected to the host it
//! registered with: the kernel hands it only datagrams from that address
//! and port, so a notification from anywhere else never arrives.

use std::thread;
use std::time::{Duration, Instant};

use coapwasm_tests::curl::curl;
use coapwasm_tests::redis_server::{Persistence, RedisServer};
use coapwasm_tests::server::free_fixed_port;
use coapwasm_tests::{Code, Message, Peer, Server, Type, option};
use serde_json::json;

/// How long a cross-host notification may take, far beyond a working one.
const NOTIFIED_WITHIN: Duration = Duration::from_secs(5);

/// A host on `bind` named `host_id`, serving `plugins`, with `led` shared
/// in `redis`; `extra` is more TOML.
fn host(redis: &RedisServer, bind: &str, host_id: &str, plugins: &[&str], extra: &str) -> Server {
    let mut server = Server::builder()
        .binds(&[bind])
        .plugins(plugins)
        .config(&format!(
            "[kv]\nredis = \"{}\"\nshared = [\"led\"]\ntimeout_ms = 500\nretry_after_s = 3\n{extra}",
            redis.url()
        ))
        .arg("--host-id")
        .arg(host_id)
        .arg("--http")
        .arg("127.0.0.1:0")
        .start();
    server.wait_plugins_loaded();
    server
}

/// Registers an observation of `path` (§3.1); the token.
fn observe(peer: &mut Peer, path: &str) -> Vec<u8> {
    let request = peer.con(Code::GET, path).uint_option(option::OBSERVE, 0);
    let response = peer.exchange(&request);
    assert_eq!(response.code, Code::CONTENT, "registration: {response}");
    assert!(
        response.option_value(option::OBSERVE).is_some(),
        "{response}"
    );
    request.token
}

fn put(peer: &mut Peer, path: &str, state: &str) -> Message {
    let request = peer
        .con(Code::PUT, path)
        .uint_option(option::CONTENT_FORMAT, 50)
        .payload(json!({ "state": state }).to_string().as_bytes());
    peer.exchange(&request)
}

/// The next notification for `token` on `peer` within `within`, acknowledged
/// if it is a CON; None if none came.
fn notification(peer: &Peer, token: &[u8], within: Duration) -> Option<Message> {
    let deadline = Instant::now() + within;
    for _ in 0..1000 {
        let left = deadline.saturating_duration_since(Instant::now());
        let message = peer.recv(left)?;
        if message.mtype == Type::Con {
            peer.send(&Message::new(Type::Ack, Code::EMPTY, message.mid));
        }
        if message.token == token && message.option_value(option::OBSERVE).is_some() {
            assert_eq!(message.code, Code::CONTENT, "{message}");
            return Some(message);
        }
    }
    None
}

/// Every notification for `token` during `window`.
fn notifications_during(peer: &Peer, token: &[u8], window: Duration) -> Vec<Message> {
    let deadline = Instant::now() + window;
    let mut got = Vec::new();
    while got.len() < 10_000 {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        match notification(peer, token, left) {
            Some(message) => got.push(message),
            None => break,
        }
    }
    got
}

fn state(message: &Message) -> String {
    message.payload_json()["state"]
        .as_str()
        .unwrap_or_else(|| panic!("no state in {message}"))
        .to_owned()
}

/// `coapwasm_plugin_calls_total` of `plugin`, every outcome, from /metrics.
fn plugin_calls(server: &Server, plugin: &str) -> f64 {
    let text = curl(&[], &server.http_url("/metrics")).text();
    text.lines()
        .filter(|line| {
            line.starts_with("coapwasm_plugin_calls_total{")
                && line.contains(&format!("plugin=\"{plugin}\""))
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Observe on A, PUT on B: A's observer hears it from A, B's observer hears
/// it once (its host ignores its own message on the feed), and C, which has
/// no observers, renders nothing.
#[test]
fn a_put_through_b_reaches_observers_on_a_and_once_on_b() {
    let redis = RedisServer::start(Persistence::None);
    let a = host(&redis, "127.0.0.2:0", "host-a", &["led"], "");
    let b = host(&redis, "127.0.0.3:0", "host-b", &["led"], "");
    let c = host(&redis, "127.0.0.4:0", "host-c", &["led"], "");

    let mut on_a = a.peer();
    let token_a = observe(&mut on_a, "/led");
    let mut on_b = b.peer();
    let token_b = observe(&mut on_b, "/led");
    // Past the notifications of the hosts' first subscription to the feed.
    thread::sleep(Duration::from_millis(500));
    notifications_during(&on_a, &token_a, Duration::from_millis(200));
    notifications_during(&on_b, &token_b, Duration::from_millis(200));
    let calls_on_c = plugin_calls(&c, "led");

    let started = Instant::now();
    assert_eq!(put(&mut b.peer(), "/led", "on").code, Code::CHANGED);
    let heard = notification(&on_a, &token_a, NOTIFIED_WITHIN)
        .unwrap_or_else(|| panic!("no notification at A's observer; A:\n{}", a.stderr()));
    assert_eq!(state(&heard), "on", "{heard}");
    eprintln!("PUT on B to notification on A: {:?}", started.elapsed());

    let on_b_heard = notifications_during(&on_b, &token_b, Duration::from_millis(1500));
    assert_eq!(
        on_b_heard.len(),
        1,
        "B's observer is notified once of B's own PUT: {on_b_heard:?}"
    );
    assert!(
        plugin_calls(&a, "led") > 0.0,
        "the metric counts A's renderings"
    );
    assert_eq!(
        plugin_calls(&c, "led"),
        calls_on_c,
        "C has no observers of /led: it renders nothing"
    );
}

/// A flood of PUTs through B costs A's observer at most one notification per
/// `min_notification_interval_ms`, the last of them the newest state, and A
/// keeps answering meanwhile.
#[test]
fn a_flood_of_writes_through_b_is_paced_at_a() {
    const INTERVAL_MS: u64 = 250;
    const FLOOD: Duration = Duration::from_secs(2);
    let redis = RedisServer::start(Persistence::None);
    let paced = format!("[observe]\nmin_notification_interval_ms = {INTERVAL_MS}\n");
    let a = host(&redis, "127.0.0.2:0", "host-a", &["led"], &paced);
    let b = host(&redis, "127.0.0.3:0", "host-b", &["led"], &paced);
    let mut on_a = a.peer();
    let token = observe(&mut on_a, "/led");
    thread::sleep(Duration::from_millis(500));
    notifications_during(&on_a, &token, Duration::from_millis(200));

    let b_addr = b.addr();
    let flood = thread::spawn(move || {
        let mut writer = Peer::new(b_addr);
        let started = Instant::now();
        let mut puts = 0u32;
        while started.elapsed() < FLOOD {
            let state = if puts.is_multiple_of(2) { "on" } else { "off" };
            assert_eq!(put(&mut writer, "/led", state).code, Code::CHANGED);
            puts += 1;
        }
        assert_eq!(put(&mut writer, "/led", "on").code, Code::CHANGED);
        puts + 1
    });
    // A answers while B floods.
    thread::sleep(Duration::from_millis(500));
    let asked = Instant::now();
    assert_eq!(a.peer().get("/led").code, Code::CONTENT);
    let answered_in = asked.elapsed();
    let window = FLOOD + Duration::from_millis(1500);
    let heard = notifications_during(&on_a, &token, window - Duration::from_millis(500));
    let puts = flood.join().expect("the flood");
    // Whatever came after the flood's last PUT.
    let mut heard = heard;
    heard.extend(notifications_during(&on_a, &token, Duration::from_secs(1)));

    let bound = (window.as_millis() as u64 + 1000) / INTERVAL_MS + 2;
    eprintln!(
        "{puts} PUTs on B, {} notifications at A, a GET on A answered in {answered_in:?}",
        heard.len()
    );
    assert!(puts > 20, "the flood was no flood: {puts} PUTs");
    assert!(
        !heard.is_empty() && heard.len() as u64 <= bound,
        "{} notifications for {puts} PUTs, at most {bound} expected",
        heard.len()
    );
    assert_eq!(state(heard.last().unwrap()), "on", "the newest state last");
    assert!(
        answered_in < Duration::from_secs(1),
        "A took {answered_in:?} to answer a GET during the flood"
    );
}

/// A host killed with SIGKILL and started again with the same host id, on
/// the same address but a fresh data folder, still notifies the observer
/// registered before the kill of a PUT through B.
#[test]
fn a_host_restarted_with_its_host_id_notifies_its_observers_again() {
    let redis = RedisServer::start(Persistence::None);
    let bind = format!("127.0.0.2:{}", free_fixed_port());
    let mut a = host(&redis, &bind, "host-a", &["led"], "");
    let b = host(&redis, "127.0.0.3:0", "host-b", &["led"], "");
    let mut on_a = a.peer();
    let token = observe(&mut on_a, "/led");
    // The record is written within a batch window; a kill before it loses
    // the registration, as it would a redb file's.
    let deadline = Instant::now() + Duration::from_secs(5);
    while redis.command(&["HLEN", "coapwasm:host:{host-a}:observations"]) != ":1\r\n" {
        assert!(
            Instant::now() < deadline,
            "the observation never reached Redis"
        );
        thread::sleep(Duration::from_millis(20));
    }
    a.kill();
    drop(a);

    let a = host(&redis, &bind, "host-a", &["led"], "");
    assert_eq!(a.addr(), on_a.server(), "the same address and port");
    notifications_during(&on_a, &token, Duration::from_millis(700));
    assert_eq!(put(&mut b.peer(), "/led", "on").code, Code::CHANGED);
    let mut heard = None;
    for _ in 0..10 {
        match notification(&on_a, &token, NOTIFIED_WITHIN) {
            Some(message) if state(&message) == "on" => {
                heard = Some(message);
                break;
            }
            Some(_) => continue,
            None => break,
        }
    }
    assert!(
        heard.is_some(),
        "the observer registered before the kill heard nothing of the PUT; A:\n{}",
        a.stderr()
    );
}

/// With Redis killed, a local namespace's observers are notified as ever;
/// once Redis is back, a PUT through B reaches A's observer of `/led`.
#[test]
fn with_redis_down_local_observers_are_served_and_the_feed_comes_back() {
    let mut redis = RedisServer::start(Persistence::None);
    let a = host(&redis, "127.0.0.2:0", "host-a", &["led", "light"], "");
    let b = host(&redis, "127.0.0.3:0", "host-b", &["led", "light"], "");
    let mut on_a = a.peer();
    let led = observe(&mut on_a, "/led");
    let light = observe(&mut on_a, "/actuators/light");
    thread::sleep(Duration::from_millis(500));
    notifications_during(&on_a, &led, Duration::from_millis(200));

    redis.kill();
    assert_eq!(
        put(&mut a.peer(), "/actuators/light", "on").code,
        Code::CHANGED
    );
    let heard =
        notification(&on_a, &light, NOTIFIED_WITHIN).expect("a notification of /actuators/light");
    assert_eq!(state(&heard), "on");
    assert_eq!(
        put(&mut b.peer(), "/led", "on").code,
        Code::SERVICE_UNAVAILABLE
    );

    redis.start_again();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut writer = b.peer();
    while put(&mut writer, "/led", "on").code != Code::CHANGED {
        assert!(Instant::now() < deadline, "B never wrote to Redis again");
        thread::sleep(Duration::from_millis(100));
    }
    let mut heard_on = false;
    for _ in 0..10 {
        match notification(&on_a, &led, NOTIFIED_WITHIN) {
            Some(message) if state(&message) == "on" => {
                heard_on = true;
                break;
            }
            Some(_) => continue,
            None => break,
        }
    }
    assert!(
        heard_on,
        "A's observer of /led heard nothing of B's PUT after Redis came back; A:\n{}",
        a.stderr()
    );
}

/// nginx killed when the test ends, whatever happens.
struct Nginx(std::process::Child);

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Through an nginx `stream` balancer with source-address affinity (as
/// `examples/nginx-coap-udp.conf`, no `proxy_responses`): an observer
/// registered through it hears PUTs made directly through either host, every
/// notification from the balancer's address. nginx (Debian's nginx-core
/// and libnginx-mod-stream) comes from examples/setup.sh.
#[test]
fn through_an_nginx_balancer_an_observer_hears_every_host() {
    let found = std::process::Command::new("nginx")
        .arg("-v")
        .output()
        .expect("nginx is not installed: run examples/setup.sh (nginx-core, libnginx-mod-stream)");
    assert!(found.status.success());
    let redis = RedisServer::start(Persistence::None);
    let a = host(&redis, "127.0.0.2:0", "host-a", &["led"], "");
    let b = host(&redis, "127.0.0.3:0", "host-b", &["led"], "");
    let dir = coapwasm_tests::temp_dir::TempDir::new();
    let port = free_fixed_port();
    let module = "/usr/lib/nginx/modules/ngx_stream_module.so";
    let load = if std::path::Path::new(module).exists() {
        format!("load_module {module};\n")
    } else {
        String::new()
    };
    let config = format!(
        "{load}daemon off;\nmaster_process off;\npid {dir}/nginx.pid;\nerror_log {dir}/error.log;\n\
         events {{ worker_connections 64; }}\n\
         stream {{\n  upstream fleet {{ hash $remote_addr consistent; server {a}; server {b}; }}\n\
           server {{ listen 127.0.0.1:{port} udp; proxy_pass fleet; proxy_timeout 60s; }}\n}}\n",
        dir = dir.path().display(),
        a = a.addr(),
        b = b.addr(),
    );
    let config_path = dir.path().join("nginx.conf");
    std::fs::write(&config_path, config).unwrap();
    let _nginx = Nginx(
        std::process::Command::new("nginx")
            .arg("-c")
            .arg(&config_path)
            .arg("-p")
            .arg(dir.path())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start nginx"),
    );
    let balancer = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    // Until nginx listens, a CoAP ping (an empty CON, answered with a Reset
    // by the host behind it) is refused or unanswered: a bounded number.
    let probe = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    probe.connect(balancer).unwrap();
    probe
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let listening = (0..50).any(|_| {
        let _ = probe.send(&Message::new(Type::Con, Code::EMPTY, 7).encode());
        let mut buffer = [0u8; 64];
        let answered = probe.recv(&mut buffer).is_ok();
        if !answered {
            thread::sleep(Duration::from_millis(50));
        }
        answered
    });
    assert!(
        listening,
        "nginx never answered: {}",
        std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default()
    );
    let mut on_balancer = Peer::new(balancer);
    let request = on_balancer
        .con(Code::GET, "/led")
        .uint_option(option::OBSERVE, 0);
    let registered = on_balancer.exchange(&request);
    assert_eq!(registered.code, Code::CONTENT, "{registered}");
    thread::sleep(Duration::from_millis(500));
    notifications_during(&on_balancer, &request.token, Duration::from_millis(200));

    for (through, state_put) in [(&a, "on"), (&b, "off"), (&a, "on"), (&b, "off")] {
        assert_eq!(
            put(&mut through.peer(), "/led", state_put).code,
            Code::CHANGED
        );
        let mut heard = false;
        for _ in 0..10 {
            match notification(&on_balancer, &request.token, NOTIFIED_WITHIN) {
                Some(message) if state(&message) == state_put => {
                    heard = true;
                    break;
                }
                Some(_) => continue,
                None => break,
            }
        }
        assert!(
            heard,
            "no notification of {state_put} (PUT through {}) through nginx",
            through.addr()
        );
    }
}
