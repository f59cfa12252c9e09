//! Which store holds a plugin's namespace: the host's own redb file (the
//! default: nothing to install, nothing shared) or Redis, which the hosts of
//! a fleet share (`[kv] redis` and `shared`, or `--kv`). The plugin sees no
//! difference but in failures: a shared namespace can be unreachable.

use std::sync::Arc;

use super::redis_backend::{RedisNamespace, RedisStore};
use super::{KvError, KvStore, Namespace};
use crate::config::SharedNamespaces;

/// The shared store and the namespaces it holds.
pub struct SharedKv {
    store: Arc<RedisStore>,
    namespaces: SharedNamespaces,
}

impl SharedKv {
    pub fn new(store: RedisStore, namespaces: SharedNamespaces) -> SharedKv {
        SharedKv {
            store: Arc::new(store),
            namespaces,
        }
    }

    /// The Redis store.
    pub fn store(&self) -> &Arc<RedisStore> {
        &self.store
    }

    /// Whether the namespace of the plugin called `name` is in Redis.
    pub fn shares(&self, name: &str) -> bool {
        self.namespaces.contains(name)
    }
}

/// The namespace of the plugin called `name`, holding at most `quota`
/// bytes: in `shared` if it names the plugin, else in `local`.
pub fn plugin_namespace(
    local: &Arc<KvStore>,
    shared: Option<&SharedKv>,
    name: &str,
    quota: u64,
) -> PluginNamespace {
    match shared {
        Some(shared) if shared.namespaces.contains(name) => {
            PluginNamespace::Shared(shared.store.namespace(name, quota))
        }
        _ => PluginNamespace::Local(local.namespace(name, quota)),
    }
}

/// A plugin's namespace, wherever it is.
#[derive(Clone)]
pub enum PluginNamespace {
    /// In this host's redb file.
    Local(Namespace),
    /// In Redis, shared with every host configured alike.
    Shared(RedisNamespace),
}

impl PluginNamespace {
    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        match self {
            PluginNamespace::Local(n) => n.get(key),
            PluginNamespace::Shared(n) => n.get(key).await,
        }
    }

    pub async fn set(&self, key: &str, value: &[u8]) -> Result<(), KvError> {
        match self {
            PluginNamespace::Local(n) => n.set(key, value),
            PluginNamespace::Shared(n) => n.set(key, value).await,
        }
    }

    pub async fn delete(&self, key: &str) -> Result<bool, KvError> {
        match self {
            PluginNamespace::Local(n) => n.delete(key),
            PluginNamespace::Shared(n) => n.delete(key).await,
        }
    }

    pub async fn keys(&self) -> Result<Vec<String>, KvError> {
        match self {
            PluginNamespace::Local(n) => n.keys(),
            PluginNamespace::Shared(n) => n.keys().await,
        }
    }

    pub async fn increment(&self, key: &str, delta: i64) -> Result<i64, KvError> {
        match self {
            PluginNamespace::Local(n) => n.increment(key, delta),
            PluginNamespace::Shared(n) => n.increment(key, delta).await,
        }
    }

    pub async fn compare_and_swap(
        &self,
        key: &str,
        old: Option<&[u8]>,
        new: &[u8],
    ) -> Result<bool, KvError> {
        match self {
            PluginNamespace::Local(n) => n.compare_and_swap(key, old, new),
            PluginNamespace::Shared(n) => n.compare_and_swap(key, old, new).await,
        }
    }
}
