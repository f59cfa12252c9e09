//! The shared backend against a real `redis-server` (Debian's package,
//! which examples/setup.sh installs) on a loopback port of its own: the
//! scripts' quota accounting, atomics and key layout, as Redis runs them.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::*;

struct Redis {
    child: Child,
    port: u16,
}

impl Redis {
    fn start() -> Redis {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--dir"])
            .arg(std::env::temp_dir())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server (bash examples/setup.sh installs it)");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) {
                let mut reply = [0u8; 16];
                stream.write_all(b"PING\r\n").unwrap();
                if matches!(stream.read(&mut reply), Ok(n) if reply[..n].starts_with(b"+PONG")) {
                    break;
                }
            }
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Redis { child, port }
    }

    fn store(&self) -> Arc<RedisStore> {
        let url = format!("redis://127.0.0.1:{}", self.port);
        Arc::new(RedisStore::connect(&url, Duration::from_secs(2)).unwrap())
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn run<T>(test: impl AsyncFnOnce() -> T) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(test())
}

#[test]
fn the_byte_count_follows_every_write_and_the_quota_holds() {
    let redis = Redis::start();
    run(async || {
        let store = redis.store();
        let n = store.namespace("hoarder", 20);
        n.set("a", b"1234").await.unwrap(); // 5
        n.set("bb", b"123456").await.unwrap(); // 8: 13
        assert_eq!(n.used_bytes().await.unwrap(), 13);
        n.set("a", b"12345678").await.unwrap(); // 9 for 5: 17
        assert_eq!(n.used_bytes().await.unwrap(), 17);
        // 4 bytes more would make 21 > 20: refused, nothing changed.
        assert!(matches!(
            n.set("c", b"123").await,
            Err(KvError::OverQuota { quota: 20 })
        ));
        assert_eq!(n.get("c").await.unwrap(), None);
        assert_eq!(n.used_bytes().await.unwrap(), 17);
        n.set("c", b"12").await.unwrap(); // exactly 20
        assert_eq!(n.used_bytes().await.unwrap(), 20);
        assert!(n.delete("bb").await.unwrap());
        assert!(!n.delete("bb").await.unwrap());
        assert_eq!(n.used_bytes().await.unwrap(), 12);
        assert_eq!(n.keys().await.unwrap(), ["a", "c"]);
        // A quota lowered below what is stored: nothing that does not
        // grow the namespace is refused.
        let lowered = store.namespace("hoarder", 5);
        lowered.set("a", b"1234567").await.unwrap();
        assert!(lowered.set("a", b"12345678").await.is_err());
        assert_eq!(lowered.used_bytes().await.unwrap(), 11);
    });
}

#[test]
fn atomics_as_on_redb() {
    let redis = Redis::start();
    run(async || {
        let store = redis.store();
        let n = store.namespace("counter", 1 << 20);
        assert_eq!(n.increment("count", 1).await.unwrap(), 1);
        assert_eq!(n.increment("count", 41).await.unwrap(), 42);
        assert_eq!(n.get("count").await.unwrap(), Some(b"42".to_vec()));
        assert_eq!(n.used_bytes().await.unwrap(), 7);
        n.set("text", b"on").await.unwrap();
        for (value, delta) in [(&b"on"[..], 1), (b"007", 1), (b"-0", 1), (b"+5", 1)] {
            n.set("text", value).await.unwrap();
            assert!(
                matches!(
                    n.increment("text", delta).await,
                    Err(KvError::NotAnInteger(_))
                ),
                "{value:?}"
            );
            assert_eq!(n.get("text").await.unwrap(), Some(value.to_vec()));
        }
        n.set("max", i64::MAX.to_string().as_bytes()).await.unwrap();
        assert!(matches!(
            n.increment("max", 1).await,
            Err(KvError::NotAnInteger(_))
        ));
        assert_eq!(n.increment("max", -1).await.unwrap(), i64::MAX - 1);

        assert!(n.compare_and_swap("led", None, b"off").await.unwrap());
        assert!(!n.compare_and_swap("led", None, b"on").await.unwrap());
        assert!(!n.compare_and_swap("led", Some(b"on"), b"x").await.unwrap());
        assert!(
            n.compare_and_swap("led", Some(b"off"), b"on")
                .await
                .unwrap()
        );
        assert_eq!(n.get("led").await.unwrap(), Some(b"on".to_vec()));

        // The quota holds for increments and swaps too.
        let small = store.namespace("small", 2);
        assert_eq!(small.increment("n", 9).await.unwrap(), 9);
        assert!(matches!(
            small.increment("n", 1).await,
            Err(KvError::OverQuota { .. })
        ));
        assert_eq!(small.get("n").await.unwrap(), Some(b"9".to_vec()));
        assert!(matches!(
            small.compare_and_swap("n", Some(b"9"), b"10").await,
            Err(KvError::OverQuota { .. })
        ));
        assert_eq!(small.used_bytes().await.unwrap(), 2);
    });
}

#[test]
fn keys_are_where_the_layout_says() {
    let redis = Redis::start();
    run(async || {
        let store = redis.store();
        store
            .namespace("led", 1 << 20)
            .set("state", b"on")
            .await
            .unwrap();
        let mut stream = TcpStream::connect(("127.0.0.1", redis.port)).unwrap();
        stream.write_all(b"KEYS coapwasm:*\r\n").unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        let mut reply = vec![0u8; 4096];
        let n = stream.read(&mut reply).unwrap();
        let reply = String::from_utf8_lossy(&reply[..n]);
        for key in [
            "coapwasm:{led}:state",
            "coapwasm:{led}#keys",
            "coapwasm:{led}#used",
        ] {
            assert!(reply.contains(key), "{key} not in {reply}");
        }
    });
}

#[test]
fn an_unreachable_redis_is_unavailable_within_the_timeout() {
    // A port nothing listens on.
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    run(async || {
        let url = format!("redis://127.0.0.1:{port}");
        let store = Arc::new(RedisStore::connect(&url, Duration::from_millis(300)).unwrap());
        let n = store.namespace("counter", 1 << 20);
        let started = Instant::now();
        assert!(matches!(n.get("count").await, Err(KvError::Unavailable)));
        assert!(matches!(
            n.increment("count", 1).await,
            Err(KvError::Unavailable)
        ));
        assert!(started.elapsed() < Duration::from_secs(2));
        assert!(store.is_down());
    });
}
