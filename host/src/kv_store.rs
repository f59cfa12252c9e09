//! The key-value store behind the plugins' `key-value` import: one namespace
//! per plugin name, so that state outlives any instance or version of the
//! plugin. Persistent in an embedded redb database: a `set` returns only once
//! its transaction is durably committed, so a write a client saw acknowledged
//! survives a crash of the host.
//!
//! Reads come from a small in-memory cache when they can: a plugin such as
//! the LED reads its state on every GET, and a redb read transaction per
//! request cost about 6% of the request path. Every write goes through this
//! store, so the cache is never stale.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use redb::{Database, ReadableDatabase, TableDefinition};
use thiserror::Error;

/// The longest key, in bytes.
pub const MAX_KEY_LEN: usize = 1024;
/// The largest value, in bytes.
pub const MAX_VALUE_LEN: usize = 1024 * 1024;

/// Every namespace in one table, keyed by (namespace, key): a namespace's
/// keys are one contiguous, sorted range.
const ENTRIES: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("entries");

/// Why a store operation failed.
#[derive(Debug, Error)]
pub enum KvError {
    /// The key or the value is over its limit.
    #[error("key or value too large")]
    TooLarge,
    /// The database failed.
    #[error("storage failed: {0}")]
    Storage(String),
}

fn storage(error: impl Into<redb::Error>) -> KvError {
    KvError::Storage(error.into().to_string())
}

/// Values the read cache holds at most, across namespaces; past it the
/// cache starts again empty.
const CACHED_VALUES: usize = 4096;
/// The largest value the read cache holds; larger ones are read each time.
const CACHED_VALUE_LEN: usize = 4096;

/// Recently read values (or their absence), per namespace and key.
type ReadCache = HashMap<Arc<str>, HashMap<String, Option<Arc<[u8]>>>>;

/// The store of every plugin's namespace.
pub struct KvStore {
    db: Database,
    cache: Mutex<ReadCache>,
    cached: AtomicU64,
    // Bumped by every write, so that a read that raced a write does not put
    // what it read before the write into the cache.
    writes: AtomicU64,
}

impl KvStore {
    /// Opens the database file at `path`, creating it if needed.
    pub fn open(path: &Path) -> Result<KvStore, KvError> {
        let db = Database::create(path).map_err(storage)?;
        // Made once here so that read transactions always find the table.
        let txn = db.begin_write().map_err(storage)?;
        txn.open_table(ENTRIES).map_err(storage)?;
        txn.commit().map_err(storage)?;
        Ok(KvStore {
            db,
            cache: Mutex::default(),
            cached: AtomicU64::new(0),
            writes: AtomicU64::new(0),
        })
    }

    fn cached(&self, namespace: &str, key: &str) -> Option<Option<Arc<[u8]>>> {
        let cache = self
            .cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        cache.get(namespace)?.get(key).cloned()
    }

    fn remember(
        &self,
        namespace: &Arc<str>,
        key: &str,
        value: Option<Arc<[u8]>>,
        writes_before: u64,
    ) {
        if value.as_ref().is_some_and(|v| v.len() > CACHED_VALUE_LEN) {
            return;
        }
        let mut cache = self
            .cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if self.writes.load(Ordering::Acquire) != writes_before {
            return;
        }
        if self.cached.fetch_add(1, Ordering::Relaxed) >= CACHED_VALUES as u64 {
            cache.clear();
            self.cached.store(1, Ordering::Relaxed);
        }
        cache
            .entry(namespace.clone())
            .or_default()
            .insert(key.to_owned(), value);
    }

    /// After a committed write of `key`: the next read goes to the database.
    /// Forgetting rather than storing the new value keeps two writes that
    /// finish in the other order from leaving the older value behind.
    fn written(&self, namespace: &str, key: &str) {
        let mut cache = self
            .cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        self.writes.fetch_add(1, Ordering::AcqRel);
        if let Some(entries) = cache.get_mut(namespace) {
            entries.remove(key);
        }
    }

    /// The namespace of the plugin called `name`.
    pub fn namespace(self: &Arc<Self>, name: &str) -> Namespace {
        Namespace {
            store: self.clone(),
            name: name.into(),
        }
    }
}

/// One plugin's view of the store: it can reach no other namespace.
#[derive(Clone)]
pub struct Namespace {
    store: Arc<KvStore>,
    name: Arc<str>,
}

impl Namespace {
    /// The value under `key`.
    pub fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        if let Some(value) = self.store.cached(&self.name, key) {
            return Ok(value.map(|v| v.to_vec()));
        }
        let writes_before = self.store.writes.load(Ordering::Acquire);
        let txn = self.store.db.begin_read().map_err(storage)?;
        let table = txn.open_table(ENTRIES).map_err(storage)?;
        let value = table.get((&*self.name, key)).map_err(storage)?;
        let value = value.map(|v| v.value().to_vec());
        self.store.remember(
            &self.name,
            key,
            value.as_deref().map(Arc::from),
            writes_before,
        );
        Ok(value)
    }

    /// Stores `value` under `key`, durably.
    pub fn set(&self, key: &str, value: &[u8]) -> Result<(), KvError> {
        if key.len() > MAX_KEY_LEN || value.len() > MAX_VALUE_LEN {
            return Err(KvError::TooLarge);
        }
        let txn = self.store.db.begin_write().map_err(storage)?;
        {
            let mut table = txn.open_table(ENTRIES).map_err(storage)?;
            table.insert((&*self.name, key), value).map_err(storage)?;
        }
        txn.commit().map_err(storage)?;
        self.store.written(&self.name, key);
        Ok(())
    }

    /// Removes `key`; true if it was there.
    pub fn delete(&self, key: &str) -> Result<bool, KvError> {
        let txn = self.store.db.begin_write().map_err(storage)?;
        let existed = {
            let mut table = txn.open_table(ENTRIES).map_err(storage)?;
            table.remove((&*self.name, key)).map_err(storage)?.is_some()
        };
        txn.commit().map_err(storage)?;
        self.store.written(&self.name, key);
        Ok(existed)
    }

    /// Every key, sorted.
    pub fn keys(&self) -> Result<Vec<String>, KvError> {
        let txn = self.store.db.begin_read().map_err(storage)?;
        let table = txn.open_table(ENTRIES).map_err(storage)?;
        let mut keys = Vec::new();
        for entry in table.range((&*self.name, "")..).map_err(storage)? {
            let (key, _) = entry.map_err(storage)?;
            let (namespace, key) = key.value();
            if namespace != &*self.name {
                break;
            }
            keys.push(key.to_owned());
        }
        Ok(keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    use std::path::PathBuf;

    #[test]
    fn reads_through_the_cache_see_every_write() {
        let (store, _) = store();
        let led = store.namespace("led");
        assert_eq!(led.get("state").unwrap(), None);
        led.set("state", b"on").unwrap();
        assert_eq!(led.get("state").unwrap(), Some(b"on".to_vec()));
        assert_eq!(led.get("state").unwrap(), Some(b"on".to_vec()));
        led.set("state", b"off").unwrap();
        assert_eq!(led.get("state").unwrap(), Some(b"off".to_vec()));
        // Another handle on the namespace shares the cache.
        assert!(store.namespace("led").delete("state").unwrap());
        assert_eq!(led.get("state").unwrap(), None);
        let large = vec![7u8; CACHED_VALUE_LEN + 1];
        led.set("large", &large).unwrap();
        assert_eq!(led.get("large").unwrap(), Some(large.clone()));
        assert_eq!(store.namespace("info").get("state").unwrap(), None);
        // Past the cache's size it starts again, and still answers right.
        for i in 0..CACHED_VALUES + 10 {
            assert_eq!(led.get(&format!("k{i}")).unwrap(), None);
        }
        assert_eq!(led.get("large").unwrap(), Some(large));
    }

    #[test]
    fn namespaces_are_separate_and_shared_by_name() {
        let (store, _) = store();
        let led = store.namespace("led");
        led.set("state", b"on").unwrap();
        store.namespace("lee").set("z", b"1").unwrap();
        assert_eq!(store.namespace("temperature").get("state").unwrap(), None);
        assert_eq!(
            store.namespace("led").get("state").unwrap(),
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
        store.namespace("led").set("state", b"on").unwrap();
        drop(store);
        let store = Arc::new(KvStore::open(&path).unwrap());
        assert_eq!(
            store.namespace("led").get("state").unwrap(),
            Some(b"on".to_vec())
        );
    }

    #[test]
    fn refuses_oversized_values() {
        let (store, _) = store();
        let result = store.namespace("x").set("k", &vec![0; MAX_VALUE_LEN + 1]);
        assert!(matches!(result, Err(KvError::TooLarge)));
    }
}
