//! `key-value`: the plugin's own namespace of the host's store.

use crate::kv_store::{KvError, Namespace};
use crate::runtime::bindings::key_value::{Error, Host};
use crate::runtime::state::PluginState;

impl PluginState {
    fn namespace(&self) -> Result<&Namespace, Error> {
        self.namespace.as_ref().ok_or_else(|| {
            Error::Storage("the key-value store is not available during describe".to_owned())
        })
    }
}

/// The WIT's `error` has no variant of its own for a full namespace (and
/// must not get one: deployed plugins match on it), so a write past the
/// quota is `too-large`, as its doc comment says.
fn convert(error: KvError) -> Error {
    match error {
        KvError::TooLarge | KvError::OverQuota { .. } => Error::TooLarge,
        KvError::Storage(reason) => Error::Storage(reason),
    }
}

impl Host for PluginState {
    fn get(&mut self, key: String) -> Result<Option<Vec<u8>>, Error> {
        self.namespace()?.get(&key).map_err(convert)
    }

    fn set(&mut self, key: String, value: Vec<u8>) -> Result<(), Error> {
        self.namespace()?.set(&key, &value).map_err(convert)
    }

    fn delete(&mut self, key: String) -> Result<bool, Error> {
        self.namespace()?.delete(&key).map_err(convert)
    }

    fn keys(&mut self) -> Result<Vec<String>, Error> {
        self.namespace()?.keys().map_err(convert)
    }
}
