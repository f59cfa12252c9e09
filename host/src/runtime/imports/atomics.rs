//! `atomics` (since 0.2.3): increment and compare-and-swap on the plugin's
//! namespace, atomic across its instances and, for a shared namespace,
//! across every host (one Lua script in Redis, one write transaction in
//! redb).

use crate::runtime::bindings::atomics::{Error, Host};
use crate::runtime::state::PluginState;

impl Host for PluginState {
    async fn increment(&mut self, key: String, delta: i64) -> Result<i64, Error> {
        let outcome = self.kv_namespace()?.increment(&key, delta).await;
        outcome.map_err(|e| self.kv_error(e))
    }

    async fn compare_and_swap(
        &mut self,
        key: String,
        old: Option<Vec<u8>>,
        new: Vec<u8>,
    ) -> Result<bool, Error> {
        let outcome = self
            .kv_namespace()?
            .compare_and_swap(&key, old.as_deref(), &new)
            .await;
        outcome.map_err(|e| self.kv_error(e))
    }
}
