//! What each plugin instance's store holds: its WASI context (clocks,
//! randomness, stdout and stderr into the host's log) and its handles to the
//! host.

use std::sync::Arc;

use wasmtime::component::ResourceTable;
use wasmtime::{StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxView, WasiView};

use super::RuntimeLimits;
use super::announced_changes::AnnouncedChanges;
use super::host_context::HostContext;
use super::log_limiter::LogLimiter;
use super::manifest::Capabilities;
use super::member_listing::MemberListing;
use super::plugin_output::{PluginOutput, Stream};
use crate::identity::Requester;
use crate::kv_store::PluginNamespace;

/// Core instances one plugin instance may create. A Rust component has a
/// handful (its module, WASI shims, fix-ups); interpreters a few more. The
/// limit stops a component that would instantiate without end.
const MAX_CORE_INSTANCES: usize = 64;
/// Tables, across those core instances.
const MAX_TABLES: usize = 64;
/// Linear memories, across those core instances; each is bounded by
/// `max_memory` too.
const MAX_MEMORIES: usize = 16;

/// The data of one plugin instance's store.
pub struct PluginState {
    wasi: WasiCtx,
    table: ResourceTable,
    /// The plugin's name, tagging its log lines; the file name until the
    /// plugin has described itself.
    pub(crate) name: Arc<str>,
    /// The plugin's key-value namespace; none while it describes itself, as
    /// its name is not known before.
    pub(crate) namespace: Option<PluginNamespace>,
    /// Whether the current call needed the shared key-value store while it
    /// was unreachable: its answer is then 5.03 (see `instance.rs`).
    pub(crate) kv_unavailable: bool,
    /// The paths the plugin described: the only ones it may mark as changed.
    pub(crate) paths: Arc<[String]>,
    pub(crate) host: Arc<HostContext>,
    /// The plugin's log rate limit, shared by all its instances.
    pub(crate) log_limiter: Arc<LogLimiter>,
    /// The instance's stdout and stderr, written into the host's log.
    pub(crate) output: PluginOutput,
    /// Linear memory, tables and instances the instance may grow to.
    pub(crate) limits: StoreLimits,
    /// Epoch ticks the current call has run for, and how many it may.
    pub(crate) ticks_used: u64,
    pub(crate) tick_budget: u64,
    /// The changes the current call announced through `observe.changed`,
    /// one per path: published once the call returns.
    pub(crate) announced: AnnouncedChanges,
    /// The members of the plugin's collections that discovery lists; none
    /// if it describes no collection (or while it describes itself).
    pub(crate) members: Option<Arc<MemberListing>>,
    /// Who sent the request the current call answers; none outside a
    /// `handle` call for a request (`describe`, `sample`, a rendering for
    /// observers).
    pub(crate) requester: Option<Requester>,
}

impl PluginState {
    /// State for a new instance. The WASI context has no preopened
    /// directories, no environment, no arguments, no stdin and no network,
    /// but what the plugin's manifest grants (`capabilities`): beyond that, a
    /// plugin reaches only what the imports of the world give it. A denied
    /// access fails inside the plugin, as an error from WASI. Its stdout
    /// and stderr are lines in the host's log (see `plugin_output`): where
    /// a Python traceback or a Rust panic's message is printed.
    pub fn new(
        name: Arc<str>,
        namespace: Option<PluginNamespace>,
        paths: Arc<[String]>,
        host: Arc<HostContext>,
        log_limiter: Arc<LogLimiter>,
        limits: &RuntimeLimits,
        capabilities: &Capabilities,
    ) -> wasmtime::Result<Self> {
        let output = PluginOutput::new(name.clone(), log_limiter.clone());
        let mut wasi = WasiCtx::builder();
        wasi.stdout(output.stream(Stream::Stdout));
        wasi.stderr(output.stream(Stream::Stderr));
        for name in &capabilities.environment {
            if let Ok(value) = std::env::var(name) {
                wasi.env(name, value);
            }
        }
        for grant in &capabilities.directories {
            let perms = if grant.read_only {
                FsPerms::ReadOnly
            } else {
                FsPerms::ReadWrite
            };
            wasi.preopened_dir(&grant.host, &grant.guest, perms)?;
        }
        Ok(PluginState {
            wasi: wasi.build(),
            table: ResourceTable::new(),
            name,
            namespace,
            kv_unavailable: false,
            paths,
            host,
            log_limiter,
            output,
            // A failed memory.grow traps with a message that names it, rather
            // than leaving the guest's allocator to abort obscurely.
            limits: StoreLimitsBuilder::new()
                .memory_size(limits.max_memory)
                .table_elements(limits.max_table_elements)
                .instances(MAX_CORE_INSTANCES)
                .tables(MAX_TABLES)
                .memories(MAX_MEMORIES)
                .trap_on_grow_failure(true)
                .build(),
            ticks_used: 0,
            tick_budget: limits.cpu_ticks_per_call(),
            announced: AnnouncedChanges::default(),
            members: None,
            requester: None,
        })
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
