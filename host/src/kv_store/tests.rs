//! The store against a real redb file in a temporary folder.

use std::path::PathBuf;
use std::sync::Arc;

use super::read_cache::{CACHED_VALUE_LEN, CACHED_VALUES};
use super::*;

/// Ample for every test but the quota's own.
const QUOTA: u64 = 1 << 30;

fn store() -> (Arc<KvStore>, PathBuf) {
    let dir = std::env::temp_dir().join(format!(
        "coapwasm-kv-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("kv.redb");
    let _ = std::fs::remove_file(&path);
    (Arc::new(KvStore::open(&path).unwrap()), path)
}

#[test]
fn reads_through_the_cache_see_every_write() {
    let (store, _) = store();
    let led = store.namespace("led", QUOTA);
    assert_eq!(led.get("state").unwrap(), None);
    led.set("state", b"on").unwrap();
    assert_eq!(led.get("state").unwrap(), Some(b"on".to_vec()));
    assert_eq!(led.get("state").unwrap(), Some(b"on".to_vec()));
    led.set("state", b"off").unwrap();
    assert_eq!(led.get("state").unwrap(), Some(b"off".to_vec()));
    // Another handle on the namespace shares the cache.
    assert!(store.namespace("led", QUOTA).delete("state").unwrap());
    assert_eq!(led.get("state").unwrap(), None);
    let large = vec![7u8; CACHED_VALUE_LEN + 1];
    led.set("large", &large).unwrap();
    assert_eq!(led.get("large").unwrap(), Some(large.clone()));
    assert_eq!(store.namespace("info", QUOTA).get("state").unwrap(), None);
    // Past the cache's size it starts again, and still answers right.
    for i in 0..CACHED_VALUES + 10 {
        assert_eq!(led.get(&format!("k{i}")).unwrap(), None);
    }
    assert_eq!(led.get("large").unwrap(), Some(large));
}

#[test]
fn namespaces_are_separate_and_shared_by_name() {
    let (store, _) = store();
    let led = store.namespace("led", QUOTA);
    led.set("state", b"on").unwrap();
    store.namespace("lee", QUOTA).set("z", b"1").unwrap();
    assert_eq!(
        store.namespace("temperature", QUOTA).get("state").unwrap(),
        None
    );
    assert_eq!(
        store.namespace("led", QUOTA).get("state").unwrap(),
        Some(b"on".to_vec())
    );
    assert_eq!(led.keys().unwrap(), vec!["state"]);
    assert!(led.delete("state").unwrap());
    assert!(!led.delete("state").unwrap());
    assert!(led.keys().unwrap().is_empty());
}

#[test]
fn survives_reopening() {
    let (store, path) = store();
    store.namespace("led", QUOTA).set("state", b"on").unwrap();
    drop(store);
    let store = Arc::new(KvStore::open(&path).unwrap());
    assert_eq!(
        store.namespace("led", QUOTA).get("state").unwrap(),
        Some(b"on".to_vec())
    );
}

#[test]
fn refuses_oversized_values() {
    let (store, _) = store();
    let result = store
        .namespace("x", QUOTA)
        .set("k", &vec![0; MAX_VALUE_LEN + 1]);
    assert!(matches!(result, Err(KvError::TooLarge)));
}

#[test]
fn past_the_quota_growth_is_refused_and_nothing_stored_is_lost() {
    let (store, path) = store();
    let hoarder = store.namespace("hoarder", 1000);
    hoarder.set("a", &[1; 599]).unwrap(); // 600 bytes with its key
    hoarder.set("b", &[2; 399]).unwrap(); // 1000: exactly the quota
    assert!(matches!(
        hoarder.set("c", b""),
        Err(KvError::OverQuota { quota: 1000 })
    ));
    assert!(matches!(
        hoarder.set("a", &[1; 600]),
        Err(KvError::OverQuota { .. })
    ));
    assert_eq!(hoarder.get("a").unwrap(), Some(vec![1; 599]));
    assert_eq!(hoarder.keys().unwrap(), vec!["a", "b"]);
    // The same size, a smaller value and a delete always succeed.
    hoarder.set("a", &[3; 599]).unwrap();
    hoarder.set("b", &[4; 99]).unwrap();
    assert_eq!(hoarder.used_bytes().unwrap(), 700);
    hoarder.set("c", &[5; 299]).unwrap();
    assert!(hoarder.delete("c").unwrap());
    // Other namespaces have quotas of their own.
    store.namespace("led", 1000).set("state", b"on").unwrap();

    // Counted again from the file after a restart, even under a lower quota.
    drop((hoarder, store));
    let store = Arc::new(KvStore::open(&path).unwrap());
    let hoarder = store.namespace("hoarder", 500);
    assert_eq!(hoarder.used_bytes().unwrap(), 700);
    assert!(hoarder.set("d", b"").is_err());
    assert_eq!(hoarder.get("a").unwrap(), Some(vec![3; 599]));
    assert_eq!(hoarder.get("b").unwrap(), Some(vec![4; 99]));
    assert!(hoarder.delete("a").unwrap());
    hoarder.set("d", b"").unwrap();
}

#[test]
fn writers_at_once_never_pass_the_quota_together() {
    let (store, path) = store();
    const QUOTA: u64 = 64 * 1024;
    let threads: Vec<_> = (0..8)
        .map(|t| {
            // Each thread its own handle, as each plugin instance has.
            let namespace = store.namespace("hoarder", QUOTA);
            std::thread::spawn(move || {
                (0..40)
                    .filter(|i| namespace.set(&format!("{t}-{i}"), &[0; 1020]).is_ok())
                    .count()
            })
        })
        .collect();
    let stored: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    let namespace = store.namespace("hoarder", QUOTA);
    let used = namespace.used_bytes().unwrap();
    assert!(used <= QUOTA, "{used} bytes stored past a quota of {QUOTA}");
    assert_eq!(namespace.keys().unwrap().len(), stored);
    // The bookkeeping matches what is in the file.
    drop((namespace, store));
    let store = Arc::new(KvStore::open(&path).unwrap());
    assert_eq!(
        store.namespace("hoarder", QUOTA).used_bytes().unwrap(),
        used
    );
}

#[test]
fn opening_compacts_the_file() {
    let (store, path) = store();
    let namespace = store.namespace("hoarder", QUOTA);
    for i in 0..64 {
        namespace.set(&format!("{i}"), &[7; 64 * 1024]).unwrap();
    }
    for i in 0..64 {
        namespace.delete(&format!("{i}")).unwrap();
    }
    let before = std::fs::metadata(&path).unwrap().len();
    drop((namespace, store));
    let store = KvStore::open(&path).unwrap();
    let after = std::fs::metadata(&path).unwrap().len();
    assert!(
        after < before / 4,
        "{before} bytes before opening, {after} after"
    );
    drop(store);
}

#[test]
fn increment_counts_from_nothing_and_from_decimal_text() {
    let (store, _) = store();
    let counter = store.namespace("counter", QUOTA);
    assert_eq!(counter.increment("count", 1).unwrap(), 1);
    assert_eq!(counter.increment("count", 41).unwrap(), 42);
    assert_eq!(counter.get("count").unwrap(), Some(b"42".to_vec()));
    // What a plugin stored with set before it moved to increment.
    counter.set("old", b"-7").unwrap();
    assert_eq!(counter.increment("old", 2).unwrap(), -5);
    assert_eq!(counter.keys().unwrap(), ["count", "old"]);
    assert_eq!(counter.used_bytes().unwrap(), (5 + 2 + 3 + 2) as u64);
}

#[test]
fn increment_refuses_what_is_no_integer_and_overflow_and_changes_nothing() {
    let (store, _) = store();
    let counter = store.namespace("counter", QUOTA);
    counter.set("text", b"on").unwrap();
    assert!(matches!(
        counter.increment("text", 1),
        Err(KvError::NotAnInteger(_))
    ));
    assert_eq!(counter.get("text").unwrap(), Some(b"on".to_vec()));
    counter.set("max", i64::MAX.to_string().as_bytes()).unwrap();
    assert!(matches!(
        counter.increment("max", 1),
        Err(KvError::NotAnInteger(_))
    ));
    assert_eq!(counter.increment("max", -1).unwrap(), i64::MAX - 1);
}

#[test]
fn increment_is_held_to_the_quota() {
    let (store, _) = store();
    // "n" and "9": 2 bytes; "n" and "10": 3.
    let counter = store.namespace("counter", 2);
    assert_eq!(counter.increment("n", 9).unwrap(), 9);
    assert!(matches!(
        counter.increment("n", 1),
        Err(KvError::OverQuota { .. })
    ));
    assert_eq!(counter.get("n").unwrap(), Some(b"9".to_vec()));
    assert_eq!(counter.increment("n", -1).unwrap(), 8);
}

#[test]
fn increments_from_many_threads_add_up() {
    let (store, _) = store();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let counter = store.namespace("counter", QUOTA);
            std::thread::spawn(move || {
                for _ in 0..100 {
                    counter.increment("count", 1).unwrap();
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    assert_eq!(
        store.namespace("counter", QUOTA).get("count").unwrap(),
        Some(b"400".to_vec())
    );
}

#[test]
fn compare_and_swap_writes_only_over_the_expected_value() {
    let (store, _) = store();
    let led = store.namespace("led", QUOTA);
    // None: only if there is no value.
    assert!(led.compare_and_swap("state", None, b"off").unwrap());
    assert!(!led.compare_and_swap("state", None, b"on").unwrap());
    assert!(!led.compare_and_swap("state", Some(b"on"), b"off").unwrap());
    assert_eq!(led.get("state").unwrap(), Some(b"off".to_vec()));
    assert!(led.compare_and_swap("state", Some(b"off"), b"on").unwrap());
    assert_eq!(led.get("state").unwrap(), Some(b"on".to_vec()));
    // An empty value is a value.
    led.set("empty", b"").unwrap();
    assert!(!led.compare_and_swap("empty", None, b"x").unwrap());
    assert!(led.compare_and_swap("empty", Some(b""), b"x").unwrap());
    // Held to the quota like set.
    let small = store.namespace("small", 6);
    assert!(small.compare_and_swap("k", None, b"12345").unwrap());
    assert!(matches!(
        small.compare_and_swap("k", Some(b"12345"), b"123456"),
        Err(KvError::OverQuota { .. })
    ));
    assert_eq!(small.get("k").unwrap(), Some(b"12345".to_vec()));
}
