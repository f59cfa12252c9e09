//! The plugin runtime: wasmtime, the component model, and the host side of
//! the `coapwasm:plugin` world.

mod announced_changes;
pub mod bindings;
mod busy_time;
mod call_placement;
mod compile_cache;
mod core_module;
mod engine;
mod host_context;
mod imports;
mod instance;
mod instance_pool;
mod log_limiter;
pub mod manifest;
mod member_listing;
mod plugin;
mod plugin_output;
mod resource_events;
mod state;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use wasmtime::Engine;

use compile_cache::CompileCache;
use wasmtime::component::{HasSelf, Linker};

pub use call_placement::{CallPlacement, INLINE_BUDGET};
pub use compile_cache::content_hash;
pub use host_context::HostContext;
pub use log_limiter::LogLimiter;
pub use plugin::{CallError, LoadError, Plugin};
pub use resource_events::{ResourceEvent, Subscription};
pub use state::PluginState;

/// Limits on every plugin.
#[derive(Debug, Clone, Copy)]
pub struct RuntimeLimits {
    /// Instances of one plugin that may run at once.
    pub max_instances: usize,
    /// The longest one call may take, in wall-clock time.
    pub call_timeout: Duration,
    /// The CPU time one call may run for, counted in epoch ticks.
    pub max_cpu_per_call: Duration,
    /// The largest linear memory of an instance, in bytes.
    pub max_memory: usize,
    /// The most elements any one table of an instance may hold.
    pub max_table_elements: usize,
    /// The largest payload of one response; a larger one is answered 5.00.
    pub max_response_bytes: usize,
    /// The most bytes of keys and values the plugin's namespace may hold.
    pub max_storage_bytes: u64,
    /// Log lines a plugin may write at once, and then per second.
    pub log_burst: u32,
    pub log_lines_per_second: u32,
}

impl RuntimeLimits {
    /// These limits with a manifest's overrides.
    pub fn with(&self, overrides: &manifest::LimitOverrides) -> RuntimeLimits {
        RuntimeLimits {
            max_instances: overrides.max_instances.unwrap_or(self.max_instances),
            call_timeout: self.call_timeout,
            max_cpu_per_call: overrides
                .max_cpu_ms_per_call
                .map_or(self.max_cpu_per_call, Duration::from_millis),
            max_memory: overrides.max_memory_bytes.unwrap_or(self.max_memory),
            max_table_elements: overrides
                .max_table_elements
                .unwrap_or(self.max_table_elements),
            max_response_bytes: overrides
                .max_response_bytes
                .unwrap_or(self.max_response_bytes),
            max_storage_bytes: overrides
                .max_storage_bytes
                .unwrap_or(self.max_storage_bytes),
            log_burst: self.log_burst,
            log_lines_per_second: self.log_lines_per_second,
        }
    }

    /// `max_cpu_per_call` in epoch ticks, at least one.
    pub fn cpu_ticks_per_call(&self) -> u64 {
        (self.max_cpu_per_call.as_millis() / engine::EPOCH_TICK.as_millis()).max(1) as u64
    }
}

/// The engine, the linker with the host's imports, and what plugins share.
pub struct Runtime {
    engine: Engine,
    cache: CompileCache,
    linker: Linker<PluginState>,
    host: Arc<HostContext>,
    limits: RuntimeLimits,
}

impl Runtime {
    /// A runtime whose plugins share `host`, caching compiled components in
    /// `cache_dir`.
    pub fn new(
        host: Arc<HostContext>,
        limits: RuntimeLimits,
        cache_dir: &Path,
    ) -> anyhow::Result<Arc<Runtime>> {
        let engine = engine::new_engine()?;
        let cache = CompileCache::new(cache_dir, &engine).with_context(|| {
            format!("cannot create the compile cache in {}", cache_dir.display())
        })?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        bindings::Plugin::add_to_linker::<_, HasSelf<PluginState>>(&mut linker, |state| state)?;
        Ok(Arc::new(Runtime {
            engine,
            cache,
            linker,
            host,
            limits,
        }))
    }

    /// Loads the component in `file` as a plugin.
    pub async fn load(self: &Arc<Self>, file: &Path) -> Result<Plugin, LoadError> {
        let bytes = tokio::fs::read(file).await?;
        Plugin::load(self, file, bytes).await
    }

    /// Loads `bytes`, read from `file`, as a plugin.
    pub async fn load_bytes(
        self: &Arc<Self>,
        file: &Path,
        bytes: Vec<u8>,
    ) -> Result<Plugin, LoadError> {
        Plugin::load(self, file, bytes).await
    }

    /// What the plugins share.
    pub fn host(&self) -> &Arc<HostContext> {
        &self.host
    }
}
