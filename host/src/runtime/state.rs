//! What each plugin instance's store holds: its WASI context (clocks and
//! randomness only) and its handles to the host.

use std::sync::Arc;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::host_context::HostContext;
use crate::kv_store::Namespace;

/// The data of one plugin instance's store.
pub struct PluginState {
    wasi: WasiCtx,
    table: ResourceTable,
    /// The plugin's name, tagging its log lines; the file name until the
    /// plugin has described itself.
    pub(crate) name: Arc<str>,
    /// The plugin's key-value namespace; none while it describes itself, as
    /// its name is not known before.
    pub(crate) namespace: Option<Namespace>,
    /// The paths the plugin described: the only ones it may mark as changed.
    pub(crate) paths: Arc<[String]>,
    pub(crate) host: Arc<HostContext>,
}

impl PluginState {
    /// State for a new instance. The WASI context has no preopened
    /// directories, no environment, no arguments, no stdio and no network:
    /// what a plugin may reach is what the imports of the world give it.
    pub fn new(
        name: Arc<str>,
        namespace: Option<Namespace>,
        paths: Arc<[String]>,
        host: Arc<HostContext>,
    ) -> Self {
        PluginState {
            wasi: WasiCtx::builder().build(),
            table: ResourceTable::new(),
            name,
            namespace,
            paths,
            host,
        }
    }
}

impl WasiView for PluginState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}
