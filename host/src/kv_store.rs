//! The key-value store behind the plugins' `key-value` import: one namespace
//! per plugin name, so that state outlives any instance of the plugin. Held in
//! memory for now; persistence comes with hot reload.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use thiserror::Error;

/// The longest key, in bytes.
pub const MAX_KEY_LEN: usize = 1024;
/// The largest value, in bytes.
pub const MAX_VALUE_LEN: usize = 1024 * 1024;

/// Why a store operation failed.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum KvError {
    /// The key or the value is over its limit.
    #[error("key or value too large")]
    TooLarge,
}

type Space = BTreeMap<String, Vec<u8>>;

/// Every plugin's namespace.
#[derive(Default)]
pub struct KvStore {
    spaces: RwLock<HashMap<String, Arc<RwLock<Space>>>>,
}

impl KvStore {
    /// The namespace of the plugin called `name`, made on first use.
    pub fn namespace(self: &Arc<Self>, name: &str) -> Namespace {
        let mut spaces = self.spaces.write().unwrap_or_else(|p| p.into_inner());
        let space = spaces.entry(name.to_owned()).or_default().clone();
        Namespace { space }
    }
}

/// One plugin's view of the store: it can reach no other namespace.
#[derive(Clone)]
pub struct Namespace {
    space: Arc<RwLock<Space>>,
}

impl Namespace {
    /// The value under `key`.
    pub fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        Ok(self.read().get(key).cloned())
    }

    /// Stores `value` under `key`.
    pub fn set(&self, key: String, value: Vec<u8>) -> Result<(), KvError> {
        if key.len() > MAX_KEY_LEN || value.len() > MAX_VALUE_LEN {
            return Err(KvError::TooLarge);
        }
        self.write().insert(key, value);
        Ok(())
    }

    /// Removes `key`; true if it was there.
    pub fn delete(&self, key: &str) -> Result<bool, KvError> {
        Ok(self.write().remove(key).is_some())
    }

    /// Every key, sorted.
    pub fn keys(&self) -> Result<Vec<String>, KvError> {
        Ok(self.read().keys().cloned().collect())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Space> {
        self.space.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Space> {
        self.space.write().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_are_separate_and_shared_by_name() {
        let store = Arc::new(KvStore::default());
        let led = store.namespace("led");
        led.set("state".into(), b"on".to_vec()).unwrap();
        assert_eq!(store.namespace("temperature").get("state").unwrap(), None);
        assert_eq!(
            store.namespace("led").get("state").unwrap(),
            Some(b"on".to_vec())
        );
        assert!(led.delete("state").unwrap());
        assert!(led.keys().unwrap().is_empty());
    }

    #[test]
    fn refuses_oversized_values() {
        let store = Arc::new(KvStore::default());
        let ns = store.namespace("x");
        assert_eq!(
            ns.set("k".into(), vec![0; MAX_VALUE_LEN + 1]),
            Err(KvError::TooLarge)
        );
    }
}
