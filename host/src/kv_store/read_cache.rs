//! Recently read values (or their absence), so that a plugin such as the LED,
//! which reads its state on every GET, does not pay a redb read transaction
//! per request (about 6% of the request path). Every write goes through the
//! store, which forgets the key it wrote, so the cache is never stale.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Values the read cache holds at most, across namespaces; past it the
/// cache starts again empty.
pub(super) const CACHED_VALUES: usize = 4096;
/// The largest value the read cache holds; larger ones are read each time.
pub(super) const CACHED_VALUE_LEN: usize = 4096;

/// Per namespace, per key.
type Entries = HashMap<Arc<str>, HashMap<String, Option<Arc<[u8]>>>>;

#[derive(Default)]
pub(super) struct ReadCache {
    entries: Mutex<Entries>,
    cached: AtomicU64,
    // Bumped by every write, so that a read that raced a write does not put
    // what it read before the write into the cache.
    writes: AtomicU64,
}

impl ReadCache {
    pub(super) fn get(&self, namespace: &str, key: &str) -> Option<Option<Arc<[u8]>>> {
        let entries = self
            .entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        entries.get(namespace)?.get(key).cloned()
    }

    /// The write count to pass to [`ReadCache::remember`], taken before the
    /// database is read.
    pub(super) fn writes(&self) -> u64 {
        self.writes.load(Ordering::Acquire)
    }

    pub(super) fn remember(
        &self,
        namespace: &Arc<str>,
        key: &str,
        value: Option<Arc<[u8]>>,
        writes_before: u64,
    ) {
        if value.as_ref().is_some_and(|v| v.len() > CACHED_VALUE_LEN) {
            return;
        }
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if self.writes.load(Ordering::Acquire) != writes_before {
            return;
        }
        if self.cached.fetch_add(1, Ordering::Relaxed) >= CACHED_VALUES as u64 {
            entries.clear();
            self.cached.store(1, Ordering::Relaxed);
        }
        entries
            .entry(namespace.clone())
            .or_default()
            .insert(key.to_owned(), value);
    }

    /// After a committed write of `key`: the next read goes to the database.
    /// Forgetting rather than storing the new value keeps two writes that
    /// finish in the other order from leaving the older value behind.
    pub(super) fn written(&self, namespace: &str, key: &str) {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        self.writes.fetch_add(1, Ordering::AcqRel);
        if let Some(keys) = entries.get_mut(namespace) {
            keys.remove(key);
        }
    }
}
