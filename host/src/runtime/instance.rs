//! One instantiated plugin: a store and the component's exports in it.

use std::sync::Arc;

use wasmtime::Store;

use super::bindings::types::{PluginDescription, Request, Response};
use super::bindings::{Plugin as Exports, PluginPre};
use super::state::PluginState;

/// An instance, ready for calls. It is never shared: a call takes it out of
/// the pool, and a trap drops it instead of putting it back.
pub struct PluginInstance {
    store: Store<PluginState>,
    exports: Exports,
}

impl PluginInstance {
    /// Instantiates the plugin into a fresh store holding `state`.
    pub async fn new(pre: &PluginPre<PluginState>, state: PluginState) -> wasmtime::Result<Self> {
        let mut store = Store::new(pre.engine(), state);
        // Yield to the async runtime at every epoch tick rather than trap:
        // the call's deadline is a timeout around it.
        store.epoch_deadline_async_yield_and_update(1);
        let exports = pre.instantiate_async(&mut store).await?;
        Ok(PluginInstance { store, exports })
    }

    /// Calls `describe`.
    pub async fn describe(&mut self) -> wasmtime::Result<PluginDescription> {
        self.store.set_epoch_deadline(1);
        self.exports.call_describe(&mut self.store).await
    }

    /// Calls `handle`.
    pub async fn handle(&mut self, request: &Request) -> wasmtime::Result<Response> {
        self.store.set_epoch_deadline(1);
        self.exports.call_handle(&mut self.store, request).await
    }

    /// Calls `sample`.
    pub async fn sample(&mut self, path: &str) -> wasmtime::Result<bool> {
        self.store.set_epoch_deadline(1);
        self.exports.call_sample(&mut self.store, path).await
    }

    /// Gives the instance the plugin's identity once it has described itself.
    pub fn identify(
        &mut self,
        name: Arc<str>,
        namespace: crate::kv_store::Namespace,
        paths: Arc<[String]>,
    ) {
        let state = self.store.data_mut();
        state.name = name;
        state.namespace = Some(namespace);
        state.paths = paths;
    }
}
