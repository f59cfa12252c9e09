//! The key-value store behind the plugins' `key-value` import: one namespace
//! per plugin name, so that state outlives any instance or version of the
//! plugin. Persistent in an embedded redb database: a `set` returns only once
//! its transaction is durably committed, so a write a client saw acknowledged
//! survives a crash of the host. Each namespace is held to a quota
//! (`quota.rs`); reads come from a small cache when they can
//! (`read_cache.rs`).
//!
//! redb never gives space back to the file system on its own: pages a
//! commit frees are reused by later writes, but the file keeps its largest
//! size. Measured with 256 KiB values written one transaction each, the
//! file holds about 4 times the data that is live under overwrites, and a
//! namespace that only grows takes about 3.2 times what it wrote. The store
//! is therefore compacted when it is opened, which brings it back to about
//! 2 times the live data (values just over a power of two take a page of
//! the next size).
//!
//! A namespace may instead live in Redis, shared by a fleet of hosts
//! (`backend.rs`, `redis_backend.rs`).

mod backend;
mod change_feed;
mod integer_text;
mod key_layout;
mod namespace;
mod outage;
mod quota;
mod read_cache;
mod redis_backend;
mod redis_scripts;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use redb::{Database, TableDefinition};
use thiserror::Error;

pub use backend::{PluginNamespace, SharedKv, plugin_namespace};
pub use change_feed::Heard;
pub use namespace::Namespace;
use namespace::SharedUsage;
use read_cache::ReadCache;
pub use redis_backend::{RedisNamespace, RedisStore};

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
    /// The write would take the namespace past its quota.
    #[error("the namespace's quota of {quota} bytes is reached")]
    OverQuota { quota: u64 },
    /// The database failed.
    #[error("storage failed: {0}")]
    Storage(String),
    /// The shared store (Redis) cannot be reached now, or did not answer
    /// within its timeout.
    #[error("the shared key-value store is unreachable")]
    Unavailable,
    /// `increment` found a value that is not a decimal s64, or the sum is
    /// past the s64 range.
    #[error("cannot increment: {0}")]
    NotAnInteger(String),
}

fn storage(error: impl Into<redb::Error>) -> KvError {
    KvError::Storage(error.into().to_string())
}

/// The store of every plugin's namespace.
pub struct KvStore {
    db: Database,
    cache: ReadCache,
    /// Per namespace name, shared by every handle on it.
    usage: Mutex<HashMap<Arc<str>, SharedUsage>>,
}

impl KvStore {
    /// Opens the database file at `path`, creating it if needed, and
    /// compacts it.
    pub fn open(path: &Path) -> Result<KvStore, KvError> {
        let mut db = Database::create(path).map_err(storage)?;
        let before = file_len(path);
        // Nothing else holds the database yet, which compaction needs. It
        // takes milliseconds for tens of MiB (44 ms for a 1 GB file).
        while db.compact().map_err(storage)? {}
        let after = file_len(path);
        if after < before {
            tracing::info!(before, after, "compacted the key-value store");
        }
        // Made once here so that read transactions always find the table.
        let txn = db.begin_write().map_err(storage)?;
        txn.open_table(ENTRIES).map_err(storage)?;
        txn.commit().map_err(storage)?;
        Ok(KvStore {
            db,
            cache: ReadCache::default(),
            usage: Mutex::default(),
        })
    }

    /// The namespace of the plugin called `name`, which may hold at most
    /// `quota` bytes of keys and values. Handles on one name share its
    /// usage, whatever quota each was given.
    pub fn namespace(self: &Arc<Self>, name: &str, quota: u64) -> Namespace {
        let name: Arc<str> = name.into();
        let usage = self
            .usage
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .entry(name.clone())
            .or_default()
            .clone();
        Namespace {
            store: self.clone(),
            name,
            usage,
            quota,
        }
    }
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod redis_tests;
