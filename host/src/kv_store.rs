//! The key-value store behind the plugins' `key-value` import: one namespace
//! per plugin name, so that state outlives any instance or version of the
//! plugin. Persistent in an embedded redb database: a `set` returns only once
//! its transaction is durably committed, so a write a client saw acknowledged
//! survives a crash of the host.

use std::path::Path;
use std::sync::Arc;

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

/// The store of every plugin's namespace.
pub struct KvStore {
    db: Database,
}

impl KvStore {
    /// Opens the database file at `path`, creating it if needed.
    pub fn open(path: &Path) -> Result<KvStore, KvError> {
        let db = Database::create(path).map_err(storage)?;
        // Made once here so that read transactions always find the table.
        let txn = db.begin_write().map_err(storage)?;
        txn.open_table(ENTRIES).map_err(storage)?;
        txn.commit().map_err(storage)?;
        Ok(KvStore { db })
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
        let txn = self.store.db.begin_read().map_err(storage)?;
        let table = txn.open_table(ENTRIES).map_err(storage)?;
        let value = table.get((&*self.name, key)).map_err(storage)?;
        Ok(value.map(|v| v.value().to_vec()))
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
        txn.commit().map_err(storage)
    }

    /// Removes `key`; true if it was there.
    pub fn delete(&self, key: &str) -> Result<bool, KvError> {
        let txn = self.store.db.begin_write().map_err(storage)?;
        let existed = {
            let mut table = txn.open_table(ENTRIES).map_err(storage)?;
            table.remove((&*self.name, key)).map_err(storage)?.is_some()
        };
        txn.commit().map_err(storage)?;
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
