//! `key-value`: the plugin's own namespace, in the host's redb file or, when
//! configured, in Redis shared with other hosts.

use crate::kv_store::{KvError, PluginNamespace};
use crate::runtime::bindings::key_value::{Error, Host};
use crate::runtime::state::PluginState;

impl PluginState {
    /// The plugin's namespace: a clone, so that the state is free while an
    /// operation waits for Redis.
    pub(super) fn kv_namespace(&self) -> Result<PluginNamespace, Error> {
        self.namespace.clone().ok_or_else(|| {
            Error::Storage("the key-value store is not available during describe".to_owned())
        })
    }

    /// A failed operation as the WIT's `error`. An unreachable shared store
    /// is remembered, so that the request's answer is 5.03 (`instance.rs`).
    pub(super) fn kv_error(&mut self, error: KvError) -> Error {
        if matches!(error, KvError::Unavailable) {
            self.kv_unavailable = true;
        }
        convert(error)
    }
}

/// The WIT's `error` has no variant of its own for a full namespace (and
/// must not get one: deployed plugins match on it), so a write past the
/// quota is `too-large`, as its doc comment says. Nor for an unreachable
/// shared store, which is `storage` with a text that says so.
fn convert(error: KvError) -> Error {
    match error {
        KvError::TooLarge | KvError::OverQuota { .. } => Error::TooLarge,
        other @ (KvError::Storage(_) | KvError::Unavailable | KvError::NotAnInteger(_)) => {
            Error::Storage(other.to_string())
        }
    }
}

impl Host for PluginState {
    async fn get(&mut self, key: String) -> Result<Option<Vec<u8>>, Error> {
        let outcome = self.kv_namespace()?.get(&key).await;
        outcome.map_err(|e| self.kv_error(e))
    }

    async fn set(&mut self, key: String, value: Vec<u8>) -> Result<(), Error> {
        let outcome = self.kv_namespace()?.set(&key, &value).await;
        outcome.map_err(|e| self.kv_error(e))
    }

    async fn delete(&mut self, key: String) -> Result<bool, Error> {
        let outcome = self.kv_namespace()?.delete(&key).await;
        outcome.map_err(|e| self.kv_error(e))
    }

    async fn keys(&mut self) -> Result<Vec<String>, Error> {
        let outcome = self.kv_namespace()?.keys().await;
        outcome.map_err(|e| self.kv_error(e))
    }
}
