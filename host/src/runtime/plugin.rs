//! A loaded plugin: compiled, linked, described, validated, and serving
//! requests from a pool of instances.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;

use super::bindings::PluginPre;
use super::bindings::types::{PluginDescription, Request, Response};
use super::busy_time;
use super::call_placement::CallPlacement;
use super::compile_cache::content_hash;
use super::core_module;
use super::instance::PluginInstance;
use super::instance_pool::InstancePool;
use super::log_limiter::{Admission, LogLimiter};
use super::manifest::Manifest;
use super::member_listing::MemberListing;
use super::state::PluginState;
use super::{Runtime, RuntimeLimits};
use crate::identity::Requester;
use crate::kv_store::PluginNamespace;

/// Why a file could not become a plugin. Each names the step that failed.
#[derive(Debug, Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read the file: {0}")]
    Read(#[from] std::io::Error),
    /// Not a WebAssembly component, or one wasmtime cannot compile.
    #[error("not a valid WebAssembly component: {0}")]
    Compile(String),
    /// A component that does not implement the `coapwasm:plugin` world, or
    /// that imports something the host does not provide.
    #[error("does not implement the coapwasm:plugin@0.2 world: {0}")]
    Link(String),
    /// Instantiation or `describe` failed; the reason says so if the plugin
    /// wrote to stderr meanwhile (a Python traceback, a Rust panic).
    #[error("describe failed: {0}")]
    Describe(String),
    /// The manifest beside the component is unreadable or invalid.
    #[error("{0}")]
    Manifest(String),
    /// The description breaks a rule of the world.
    #[error("invalid description: {0}")]
    Invalid(String),
}

/// Why a call into a plugin produced no response.
#[derive(Debug, Error)]
pub enum CallError {
    /// The plugin trapped (a panic, an out-of-bounds access, ...).
    /// `printed`: it wrote to stderr during the call, most likely why (a
    /// Python traceback, a Rust panic's message), and the client is told
    /// where that is. The pointer is all: what a plugin prints may hold
    /// what the peer should not read.
    #[error("plugin {plugin} trapped: {reason}{}", diagnostic_pointer(*.printed, plugin))]
    Trap {
        plugin: Arc<str>,
        reason: String,
        printed: bool,
    },
    /// The call trapped after the shared key-value store (Redis) failed it
    /// as unreachable: most likely why (a plugin that unwraps the store's
    /// result), and not the plugin's fault. The client gets 5.03 with
    /// Max-Age `retry_after`; the outage is logged once, by the store.
    #[error("plugin {plugin} needed the shared key-value store, which is unreachable")]
    StoreUnavailable { plugin: Arc<str>, retry_after: u32 },
    /// The plugin ran past its CPU time for one call.
    #[error("plugin {plugin} ran past its CPU time of {} ms", limit.as_millis())]
    CpuTime { plugin: Arc<str>, limit: Duration },
    /// The plugin did not return within the call timeout.
    #[error("plugin {plugin} did not answer within {} ms", timeout.as_millis())]
    Timeout { plugin: Arc<str>, timeout: Duration },
    /// A new instance could not be made.
    #[error("plugin {plugin} could not be instantiated: {reason}")]
    Instantiate { plugin: Arc<str>, reason: String },
}

/// A plugin the host can route requests to.
pub struct Plugin {
    file: PathBuf,
    content_hash: String,
    cached: bool,
    name: Arc<str>,
    description: PluginDescription,
    pre: PluginPre<PluginState>,
    namespace: PluginNamespace,
    paths: Arc<[String]>,
    members: Option<Arc<MemberListing>>,
    pool: InstancePool,
    log_limiter: Arc<LogLimiter>,
    // The host's own lines about the plugin's failed calls: a peer that
    // requests a trapping resource in a loop must not flood the log either.
    failure_log: LogLimiter,
    limits: RuntimeLimits,
    manifest: Manifest,
    runtime: Arc<Runtime>,
    placement: CallPlacement,
}

impl Plugin {
    pub(super) async fn load(
        runtime: &Arc<Runtime>,
        file: &Path,
        bytes: Vec<u8>,
    ) -> Result<Plugin, LoadError> {
        let manifest = Manifest::for_component(file).map_err(LoadError::Manifest)?;
        let limits = runtime.limits.with(&manifest.limits);
        if let Some(advice) = core_module::advice(&bytes) {
            return Err(LoadError::Compile(advice.to_owned()));
        }
        let content_hash = content_hash(&bytes);
        let task_runtime = runtime.clone();
        let hash = content_hash.clone();
        // Compiling takes Cranelift tens to hundreds of milliseconds: not on
        // an async worker.
        let (component, cached) = tokio::task::spawn_blocking(move || {
            task_runtime
                .cache
                .component(&task_runtime.engine, &hash, &bytes)
        })
        .await
        .map_err(|e| LoadError::Compile(e.to_string()))?
        .map_err(|e| LoadError::Compile(root_cause(&e)))?;
        let pre = runtime
            .linker
            .instantiate_pre(&component)
            .and_then(PluginPre::new)
            .map_err(|e| LoadError::Link(whole_chain(&e)))?;

        let file_name = file_name_of(file);
        let log_limiter = Arc::new(LogLimiter::new(
            limits.log_burst,
            limits.log_lines_per_second,
        ));
        let state = PluginState::new(
            file_name,
            None,
            Arc::from(Vec::new()),
            runtime.host.clone(),
            log_limiter.clone(),
            &limits,
            &manifest.capabilities,
        )
        .map_err(|e| {
            LoadError::Manifest(format!("cannot grant a capability: {}", root_cause(&e)))
        })?;
        let mut instance = PluginInstance::new(&pre, state)
            .await
            .map_err(|e| LoadError::Describe(root_cause(&e)))?;
        let described = tokio::time::timeout(limits.call_timeout, instance.describe()).await;
        let printed = instance.end_output();
        let description = described
            .map_err(|_| LoadError::Describe("timed out".to_owned()))?
            .map_err(|e| {
                let reason = trap_reason(&e);
                let name = file_name_of(file);
                LoadError::Describe(format!("{reason}{}", log_pointer(printed, &name)))
            })?;
        validate(&description).map_err(LoadError::Invalid)?;

        let name: Arc<str> = description.name.as_str().into();
        let namespace = runtime
            .host
            .plugin_namespace(&name, limits.max_storage_bytes);
        let paths: Arc<[String]> = description
            .resources
            .iter()
            .map(|r| r.path.clone())
            .collect();
        let members = MemberListing::open(&description, &runtime.host.kv).map(Arc::new);
        // Not kept: an instance is megabytes, and a plugin may get no
        // request for a long time. The first call makes one.
        drop(instance);
        Ok(Plugin {
            file: file.to_path_buf(),
            content_hash,
            cached,
            name,
            description,
            pre,
            namespace,
            paths,
            members,
            pool: InstancePool::new(limits.max_instances),
            log_limiter,
            failure_log: LogLimiter::new(limits.log_burst, limits.log_lines_per_second),
            limits,
            manifest,
            runtime: runtime.clone(),
            placement: CallPlacement::default(),
        })
    }

    /// The plugin's name, from its description.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The plugin's name, shared (a metric's label).
    pub fn shared_name(&self) -> &Arc<str> {
        &self.name
    }

    /// The file it was loaded from.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// The SHA-256 of the component file it was loaded from.
    pub fn content_hash(&self) -> &str {
        &self.content_hash
    }

    /// Whether its compiled code came from the compile cache.
    pub fn from_cache(&self) -> bool {
        self.cached
    }

    /// The manifest it was loaded with (the default if it has none).
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// What it said about itself.
    pub fn description(&self) -> &PluginDescription {
        &self.description
    }

    /// The links of the members of its collections that discovery lists,
    /// sorted by path; empty if it describes no collection.
    pub fn member_links(&self) -> Arc<Vec<Arc<crate::discovery::Link>>> {
        self.members
            .as_ref()
            .map_or_else(Arc::default, |m| m.links())
    }

    /// The largest payload one of its responses may have: the host's
    /// `runtime.max_response_bytes` or its manifest's.
    pub fn max_response_bytes(&self) -> usize {
        self.limits.max_response_bytes
    }

    /// Whether its calls are quick enough to run on the socket's task.
    pub fn placement(&self) -> &CallPlacement {
        &self.placement
    }

    /// Drops the instances that stayed idle since the last call (see
    /// [`InstancePool::release_unneeded`]), and tells how many.
    pub fn release_unneeded_instances(&self) -> usize {
        self.pool.release_unneeded()
    }

    /// Calls `handle` in an idle instance, or a new one if none is idle, for
    /// a request from `requester` (which the plugin's `requester` import
    /// reports). A trapped or timed-out instance is dropped; the next call
    /// makes another.
    pub async fn handle(
        &self,
        request: &Request,
        requester: &Requester,
    ) -> Result<Response, CallError> {
        self.call(&request.path, async |instance| {
            instance.handle(request, Some(requester)).await
        })
        .await
    }

    /// Calls `handle` for a GET that renders the resource for its observers
    /// (RFC 7641 §4.2): as [`Plugin::handle`], except that the call cannot
    /// announce a change of the path it renders, which would start the next
    /// rendering and so on without end, and it has no requester.
    pub async fn render(&self, request: &Request) -> Result<Response, CallError> {
        self.call(&request.path, async |instance| {
            instance.handle(request, None).await
        })
        .await
    }

    /// Calls `sample` for `path`, as [`Plugin::handle`] calls `handle`.
    pub async fn sample(&self, path: &str) -> Result<bool, CallError> {
        self.call(path, async |instance| instance.sample(path).await)
            .await
    }

    async fn call<T>(
        &self,
        path: &str,
        call: impl AsyncFnOnce(&mut PluginInstance) -> wasmtime::Result<T>,
    ) -> Result<T, CallError> {
        let _permit = self.pool.permit().await;
        let mut instance = match self.pool.take() {
            Some(instance) => instance,
            None => self.instantiate().await?,
        };
        let timeout = self.limits.call_timeout;
        let mut busy = Duration::ZERO;
        let outcome =
            tokio::time::timeout(timeout, busy_time::timed(call(&mut instance), &mut busy)).await;
        self.runtime.host.metrics.plugin_running(&self.name, busy);
        instance.publish_announced();
        let printed = instance.end_output();
        match outcome {
            Ok(Ok(value)) => {
                self.pool.put_back(instance);
                Ok(value)
            }
            Ok(Err(error))
                if matches!(
                    error.downcast_ref::<wasmtime::Trap>(),
                    Some(wasmtime::Trap::Interrupt)
                ) =>
            {
                self.warn_failure(path, "ran past its CPU time");
                Err(CallError::CpuTime {
                    plugin: self.name.clone(),
                    limit: self.limits.max_cpu_per_call,
                })
            }
            Ok(Err(_)) if instance.needed_unreachable_store() => Err(CallError::StoreUnavailable {
                plugin: self.name.clone(),
                retry_after: self.runtime.host.kv_retry_after,
            }),
            Ok(Err(error)) => {
                let reason = trap_reason(&error);
                let pointer = log_pointer(printed, &self.name);
                self.warn_failure(path, &format!("trapped: {reason}{pointer}"));
                tracing::debug!(plugin = &*self.name, "trap in detail: {error:?}");
                Err(CallError::Trap {
                    plugin: self.name.clone(),
                    reason,
                    printed,
                })
            }
            Err(_) => {
                self.warn_failure(path, "call timed out");
                Err(CallError::Timeout {
                    plugin: self.name.clone(),
                    timeout,
                })
            }
        }
    }

    /// Logs that a call for `path` failed, within the plugin's log rate
    /// (`runtime.log_burst`, `runtime.log_lines_per_second`), with a count
    /// of the lines dropped in between.
    pub fn warn_failure(&self, path: &str, what: &str) {
        let plugin = &*self.name;
        match self.failure_log.admit() {
            Admission::Write { dropped: 0 } => tracing::warn!(plugin, path, "{what}"),
            Admission::Write { dropped } => {
                tracing::warn!(
                    plugin,
                    path,
                    dropped,
                    "{what} (and {dropped} failures not logged)"
                )
            }
            Admission::Drop { notice: true } => tracing::warn!(
                plugin,
                "failing often: further failures of plugin {plugin} are logged at most {} a second",
                self.failure_log.per_second()
            ),
            Admission::Drop { notice: false } => {}
        }
    }

    async fn instantiate(&self) -> Result<PluginInstance, CallError> {
        let mut state = PluginState::new(
            self.name.clone(),
            Some(self.namespace.clone()),
            self.paths.clone(),
            self.runtime.host.clone(),
            self.log_limiter.clone(),
            &self.limits,
            &self.manifest.capabilities,
        )
        .map_err(|e| CallError::Instantiate {
            plugin: self.name.clone(),
            reason: root_cause(&e),
        })?;
        state.members = self.members.clone();
        PluginInstance::new(&self.pre, state)
            .await
            .map_err(|e| CallError::Instantiate {
                plugin: self.name.clone(),
                reason: root_cause(&e),
            })
    }
}

/// The name a plugin's lines carry until it has described itself: its
/// file's.
fn file_name_of(file: &Path) -> Arc<str> {
    file.file_name()
        .map(|n| n.to_string_lossy().into())
        .unwrap_or_else(|| "plugin".into())
}

/// For the host's line about a trap: where the plugin's own account of it
/// is, if it printed one on stderr during the call (the lines just before,
/// unless the rate limit dropped them).
fn log_pointer(printed: bool, plugin: &str) -> String {
    if printed {
        format!(" (what it printed on stderr is in the log above, plugin={plugin})")
    } else {
        String::new()
    }
}

/// For a trap's 5.00 diagnostic (RFC 7252 §5.5.2): the same pointer, for a
/// client that is the plugin's author; a few dozen bytes.
fn diagnostic_pointer(printed: bool, plugin: &str) -> String {
    if printed {
        format!(" (its stderr is in the host's log, plugin={plugin})")
    } else {
        String::new()
    }
}

/// The rules `wit/plugin.wit` states for a description.
fn validate(description: &PluginDescription) -> Result<(), String> {
    let name = &description.name;
    if name.is_empty()
        || name.len() > 64
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(format!(
            "name {name:?} must be 1 to 64 lowercase letters, digits and '-'"
        ));
    }
    if description.resources.is_empty() {
        return Err("no resources".to_owned());
    }
    let mut seen = std::collections::HashSet::new();
    for resource in &description.resources {
        let path = &resource.path;
        let Some(rest) = path.strip_prefix('/') else {
            return Err(format!("path {path:?} must start with '/'"));
        };
        if path != "/" && rest.split('/').any(|s| s.is_empty() || s.len() > 255) {
            return Err(format!("path {path:?} has an empty or overlong segment"));
        }
        if path == "/*" {
            return Err(
                "path \"/*\" names no collection: members need a collection's path before /*"
                    .to_owned(),
            );
        }
        if !seen.insert(path.as_str()) {
            return Err(format!("path {path} is listed twice"));
        }
    }
    Ok(())
}

/// The innermost cause, which is what a person needs to read, on one line:
/// wasmparser's messages can span several, and a log line should not.
fn root_cause(error: &wasmtime::Error) -> String {
    error
        .root_cause()
        .to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Every cause, outermost first, on one line: for a link error the outer
/// ones name the import that did not match (`component imports instance
/// ...`), the innermost only what was wrong with it.
fn whole_chain(error: &wasmtime::Error) -> String {
    error
        .chain()
        .map(|cause| {
            cause
                .to_string()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join(": ")
}

/// A short reason for a trap: the trap code, without the wasm backtrace.
fn trap_reason(error: &wasmtime::Error) -> String {
    match error.downcast_ref::<wasmtime::Trap>() {
        Some(trap) => trap.to_string(),
        None => root_cause(error),
    }
}
