//! One plugin's view of the store: it can reach no other namespace, and its
//! writes are held to its quota.

use std::sync::{Arc, Mutex, MutexGuard};

use redb::{ReadableDatabase, ReadableTable};

use super::integer_text;
use super::quota::{Usage, Verdict, entry_bytes};
use super::{ENTRIES, KvError, KvStore, MAX_KEY_LEN, MAX_VALUE_LEN, storage};

/// What every handle on one namespace shares: its usage, counted on the
/// first write after the store was opened. Holding the lock for the whole
/// write transaction is what keeps two writes at once (from two instances,
/// or from an old and a new version of the plugin during a reload) from
/// passing the quota together.
pub(super) type SharedUsage = Arc<Mutex<Option<Usage>>>;

/// One plugin's namespace.
#[derive(Clone)]
pub struct Namespace {
    pub(super) store: Arc<KvStore>,
    pub(super) name: Arc<str>,
    pub(super) usage: SharedUsage,
    /// The most bytes of keys and values the namespace may hold.
    pub(super) quota: u64,
}

impl Namespace {
    /// The value under `key`.
    pub fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        let cache = &self.store.cache;
        if let Some(value) = cache.get(&self.name, key) {
            return Ok(value.map(|v| v.to_vec()));
        }
        let writes_before = cache.writes();
        let txn = self.store.db.begin_read().map_err(storage)?;
        let table = txn.open_table(ENTRIES).map_err(storage)?;
        let value = table.get((&*self.name, key)).map_err(storage)?;
        let value = value.map(|v| v.value().to_vec());
        cache.remember(
            &self.name,
            key,
            value.as_deref().map(Arc::from),
            writes_before,
        );
        Ok(value)
    }

    /// Stores `value` under `key`, durably, unless the key or value is over
    /// its limit or the namespace would grow past its quota.
    pub fn set(&self, key: &str, value: &[u8]) -> Result<(), KvError> {
        if key.len() > MAX_KEY_LEN || value.len() > MAX_VALUE_LEN {
            return Err(KvError::TooLarge);
        }
        let mut guard = self.lock_usage();
        let usage = self.counted(&mut guard)?;
        let txn = self.store.db.begin_write().map_err(storage)?;
        let verdict = {
            let mut table = txn.open_table(ENTRIES).map_err(storage)?;
            // The old value comes back from the insert itself: no second
            // lookup. A refused insert is rolled back with the transaction.
            let old = table
                .insert((&*self.name, key), value)
                .map_err(storage)?
                .map(|old| entry_bytes(key, old.value().len()));
            usage.check(self.quota, old, entry_bytes(key, value.len()))
        };
        match verdict {
            Verdict::Allowed { used } => {
                txn.commit().map_err(storage)?;
                usage.committed(self.quota, used);
                self.store.cache.written(&self.name, key);
                Ok(())
            }
            Verdict::Refused { used, log } => {
                txn.abort().map_err(storage)?;
                if log {
                    tracing::warn!(
                        plugin = &*self.name,
                        quota = self.quota,
                        used,
                        "key-value quota of {} bytes reached: writes that would grow \
                         the namespace get too-large",
                        self.quota
                    );
                }
                Err(KvError::OverQuota { quota: self.quota })
            }
        }
    }

    /// Adds `delta` to the integer under `key` (none counts as 0) in one
    /// write transaction, under the namespace's lock: atomic across every
    /// instance of the plugin. The sum.
    pub fn increment(&self, key: &str, delta: i64) -> Result<i64, KvError> {
        let mut sum = 0;
        self.update(key, |current| {
            let value = match current {
                None => 0,
                Some(text) => integer_text::parse(text).ok_or_else(|| {
                    KvError::NotAnInteger("the value is not a decimal integer".to_owned())
                })?,
            };
            sum = value.checked_add(delta).ok_or_else(|| {
                KvError::NotAnInteger("increment or decrement would overflow".to_owned())
            })?;
            Ok(Some(integer_text::format(sum)))
        })?;
        Ok(sum)
    }

    /// Stores `new` under `key` if its value is `old` now (none: no value);
    /// whether it did.
    pub fn compare_and_swap(
        &self,
        key: &str,
        old: Option<&[u8]>,
        new: &[u8],
    ) -> Result<bool, KvError> {
        if new.len() > MAX_VALUE_LEN {
            return Err(KvError::TooLarge);
        }
        self.update(key, |current| Ok((current == old).then(|| new.to_vec())))
    }

    /// Reads `key` and writes what `change` makes of its value, if anything,
    /// in one write transaction under the namespace's lock, held to the
    /// quota like `set`; whether it wrote.
    fn update(
        &self,
        key: &str,
        change: impl FnOnce(Option<&[u8]>) -> Result<Option<Vec<u8>>, KvError>,
    ) -> Result<bool, KvError> {
        if key.len() > MAX_KEY_LEN {
            return Err(KvError::TooLarge);
        }
        let mut guard = self.lock_usage();
        let usage = self.counted(&mut guard)?;
        let txn = self.store.db.begin_write().map_err(storage)?;
        let verdict = {
            let mut table = txn.open_table(ENTRIES).map_err(storage)?;
            let current = table
                .get((&*self.name, key))
                .map_err(storage)?
                .map(|v| v.value().to_vec());
            // A failed change drops the transaction, which aborts it.
            let Some(value) = change(current.as_deref())? else {
                return Ok(false);
            };
            if value.len() > MAX_VALUE_LEN {
                return Err(KvError::TooLarge);
            }
            table
                .insert((&*self.name, key), value.as_slice())
                .map_err(storage)?;
            let old = current.map(|old| entry_bytes(key, old.len()));
            usage.check(self.quota, old, entry_bytes(key, value.len()))
        };
        match verdict {
            Verdict::Allowed { used } => {
                txn.commit().map_err(storage)?;
                usage.committed(self.quota, used);
                self.store.cache.written(&self.name, key);
                Ok(true)
            }
            Verdict::Refused { used, log } => {
                txn.abort().map_err(storage)?;
                if log {
                    tracing::warn!(
                        plugin = &*self.name,
                        quota = self.quota,
                        used,
                        "key-value quota of {} bytes reached: writes that would grow \
                         the namespace get too-large",
                        self.quota
                    );
                }
                Err(KvError::OverQuota { quota: self.quota })
            }
        }
    }

    /// Removes `key`; true if it was there. Never refused for the quota.
    pub fn delete(&self, key: &str) -> Result<bool, KvError> {
        let mut guard = self.lock_usage();
        let usage = self.counted(&mut guard)?;
        let txn = self.store.db.begin_write().map_err(storage)?;
        let old = {
            let mut table = txn.open_table(ENTRIES).map_err(storage)?;
            table
                .remove((&*self.name, key))
                .map_err(storage)?
                .map(|old| entry_bytes(key, old.value().len()))
        };
        txn.commit().map_err(storage)?;
        usage.committed(self.quota, usage.after_delete(old));
        self.store.cache.written(&self.name, key);
        Ok(old.is_some())
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

    /// The bytes of keys and values the namespace holds.
    pub fn used_bytes(&self) -> Result<u64, KvError> {
        let mut guard = self.lock_usage();
        Ok(self.counted(&mut guard)?.used())
    }

    fn lock_usage(&self) -> MutexGuard<'_, Option<Usage>> {
        self.usage
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The usage, counted from the database the first time: the quota holds
    /// across restarts, whatever an earlier run (or an earlier host without
    /// quotas) stored.
    fn counted<'a>(&self, usage: &'a mut Option<Usage>) -> Result<&'a mut Usage, KvError> {
        if usage.is_none() {
            let txn = self.store.db.begin_read().map_err(storage)?;
            let table = txn.open_table(ENTRIES).map_err(storage)?;
            let mut used = 0;
            for entry in table.range((&*self.name, "")..).map_err(storage)? {
                let (key, value) = entry.map_err(storage)?;
                let (namespace, key) = key.value();
                if namespace != &*self.name {
                    break;
                }
                used += entry_bytes(key, value.value().len());
            }
            *usage = Some(Usage::counted(used));
        }
        Ok(usage.as_mut().expect("counted just above"))
    }
}
