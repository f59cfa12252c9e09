//! The plugins folder at start-up and after: every file is loaded, in
//! parallel, each plugin serving as soon as it is ready; then the folder is
//! watched (hot reload), and a plugin file that was added, replaced or
//! deleted is loaded or dropped without a restart. A new version is
//! compiled, instantiated and described before it is swapped in, so a
//! half-written or broken file never serves; requests already inside the old
//! version finish there, as they hold it.

use std::collections::{HashMap, HashSet};
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use notify::event::{AccessKind, AccessMode, EventKind};
use notify::{RecommendedWatcher, RecursiveMode, Watcher as _};
use tokio::sync::mpsc;

use crate::allocator;
use crate::metrics::Metrics;
use crate::plugin_folder::{ParallelLoad, PluginSet, is_component_file, load_order};
use crate::router::{Router, RoutingTable};
use crate::runtime::manifest::Manifest;
use crate::runtime::{Plugin, ResourceEvent, Runtime, content_hash};

/// Changes seen in the plugins folder, as the paths that changed.
pub struct FolderEvents {
    // Dropping the watcher stops the events.
    _watcher: RecommendedWatcher,
    // Each path with the moment its event arrived from the OS.
    paths: mpsc::UnboundedReceiver<(PathBuf, Instant)>,
}

/// Starts watching `folder`. Events are queued from now on, so a change made
/// while the initial load runs is not missed: [`Reloader::run`] applies it
/// once the load is done.
pub fn watch(folder: &Path) -> anyhow::Result<FolderEvents> {
    let (sender, paths) = mpsc::unbounded_channel();
    let mut watcher =
        notify::recommended_watcher(move |event: notify::Result<notify::Event>| match event {
            Ok(event) if is_change(&event.kind) => {
                let now = Instant::now();
                for path in event.paths.into_iter().filter_map(plugin_file_of) {
                    let _ = sender.send((path, now));
                }
            }
            Ok(_) => {}
            Err(error) => tracing::warn!("watching the plugins folder: {error}"),
        })?;
    watcher.watch(folder, RecursiveMode::NonRecursive)?;
    Ok(FolderEvents {
        _watcher: watcher,
        paths,
    })
}

/// The plugin file a changed path belongs to: itself for a component, the
/// component beside it for a manifest (`X.toml` → `X.wasm`).
fn plugin_file_of(path: PathBuf) -> Option<PathBuf> {
    if is_component_file(&path) {
        return Some(path);
    }
    let component = path.with_extension("wasm");
    (path.extension().is_some_and(|ext| ext == "toml") && is_component_file(&component))
        .then_some(component)
}

fn is_change(kind: &EventKind) -> bool {
    matches!(
        kind,
        EventKind::Create(_)
            | EventKind::Modify(_)
            | EventKind::Remove(_)
            | EventKind::Access(AccessKind::Close(AccessMode::Write))
    )
}

/// Loads the plugins folder at start-up, then applies its changes to the
/// routing table, one file at a time.
pub struct Reloader {
    runtime: Arc<Runtime>,
    router: Arc<Router>,
    set: PluginSet,
    debounce: Duration,
    metrics: Arc<Metrics>,
}

/// What the initial load ended with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitialLoad {
    /// The plugins serving.
    pub serving: usize,
    /// Files that are no plugin (skipped) or clash with another (refused).
    pub not_serving: usize,
    /// From the start of the load to its end.
    pub took: Duration,
}

impl Reloader {
    /// A reloader for `router`, whose table must be empty: it serves what
    /// [`Reloader::load_initial`] loads.
    pub fn new(runtime: Arc<Runtime>, router: Arc<Router>, debounce: Duration) -> Self {
        Reloader {
            runtime,
            router,
            set: PluginSet::default(),
            debounce,
            metrics: Arc::new(Metrics::new()),
        }
    }

    /// The reloader, counting the changes it applies in `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// Loads the plugin `files`, `at_once` at a time, and puts each plugin in
    /// the routing table as soon as it is ready, so that small plugins serve
    /// while large ones compile. Of two clashing plugins the one whose file
    /// name sorts first wins, as if they were loaded one after another in
    /// name order: a later file that is ready first serves until the earlier
    /// one is ready, then is refused. Until the last file is done the tables
    /// are marked [`RoutingTable::loading`].
    pub async fn load_initial(
        &mut self,
        files: Vec<(PathBuf, u64)>,
        at_once: NonZeroUsize,
    ) -> InitialLoad {
        let started = Instant::now();
        let total = files.len();
        let mut loads = ParallelLoad::start(&self.runtime, load_order(files), at_once);
        let mut ready: Vec<Arc<Plugin>> = Vec::new();
        let mut took: HashMap<PathBuf, Duration> = HashMap::new();
        let mut announced: HashSet<PathBuf> = HashSet::new();
        while let Some(loaded) = loads.next().await {
            let plugin = match loaded.plugin {
                Ok(plugin) => Arc::new(plugin),
                Err(error) => {
                    tracing::warn!("skipping plugin file {}: {error}", loaded.file.display());
                    continue;
                }
            };
            took.insert(loaded.file, loaded.took);
            ready.push(plugin);
            let (set, table, _) = PluginSet::in_name_order(ready.iter().cloned());
            let table = if loads.remaining() > 0 {
                table.while_loading()
            } else {
                table
            };
            self.install(set, table);
            // A plugin refused now may serve later, when an earlier file
            // that pushed it out is itself pushed out: announced once it serves.
            for plugin in self.set.plugins() {
                if announced.insert(plugin.file().to_path_buf()) {
                    tracing::info!(
                        file = %plugin.file().display(),
                        plugin = plugin.name(),
                        version = plugin.description().version,
                        cached = plugin.from_cache(),
                        ms = took.get(plugin.file()).map_or(0, |t| t.as_millis() as u64),
                        "loaded plugin"
                    );
                }
            }
        }
        // The last file may have been skipped, or there were none: the table
        // in force may still say loading.
        let (set, table, refusals) = PluginSet::in_name_order(ready);
        self.install(set, table);
        for refusal in &refusals {
            tracing::warn!(
                "plugin file {} refused: {}",
                refusal.file.display(),
                refusal.reason
            );
        }
        allocator::release_unused();
        let summary = InitialLoad {
            serving: self.set.plugins().count(),
            not_serving: total - self.set.plugins().count(),
            took: started.elapsed(),
        };
        tracing::info!(
            plugins = ?self.set.names(),
            not_serving = summary.not_serving,
            ms = summary.took.as_millis() as u64,
            "initial load done: {} of {total} plugin files serving",
            summary.serving
        );
        summary
    }

    /// Runs until the events end. A file is loaded once it has had no event
    /// for the debounce time: a copy in several writes, or an editor's burst
    /// of events, makes one reload.
    pub async fn run(mut self, mut events: FolderEvents) {
        let mut last_change: HashMap<PathBuf, Instant> = HashMap::new();
        loop {
            let next_due = last_change.values().min().map(|&t| t + self.debounce);
            tokio::select! {
                event = events.paths.recv() => match event {
                    Some((path, at)) => {
                        let latest = last_change.entry(path).or_insert(at);
                        *latest = (*latest).max(at);
                    }
                    None => return,
                },
                () = sleep_until(next_due), if next_due.is_some() => {
                    let now = Instant::now();
                    let due: Vec<(PathBuf, Instant)> = last_change
                        .iter()
                        .filter(|(_, changed)| now >= **changed + self.debounce)
                        .map(|(path, changed)| (path.clone(), *changed))
                        .collect();
                    for (path, changed) in due {
                        last_change.remove(&path);
                        self.apply(&path, changed).await;
                    }
                }
            }
        }
    }

    async fn apply(&mut self, file: &Path, changed: Instant) {
        let current = self.set.get(file).cloned();
        let bytes = match std::fs::read(file) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                if let Some(old) = current {
                    let (set, table) = self.set.without(file);
                    self.install(set, table);
                    tracing::info!(
                        file = %file.display(),
                        plugin = old.name(),
                        ms = changed.elapsed().as_millis() as u64,
                        "removed plugin"
                    );
                }
                return;
            }
            Err(error) => return self.failed(file, current.is_some(), &error.to_string()),
        };
        let manifest = Manifest::for_component(file);
        if current.as_ref().is_some_and(|plugin| {
            plugin.content_hash() == content_hash(&bytes)
                && manifest.as_ref().is_ok_and(|m| m == plugin.manifest())
        }) {
            tracing::debug!(file = %file.display(), "unchanged");
            return;
        }

        let started = Instant::now();
        let plugin = match self.runtime.load_bytes(file, bytes).await {
            Ok(plugin) => Arc::new(plugin),
            Err(error) => return self.failed(file, current.is_some(), &error.to_string()),
        };
        match self.set.with(plugin.clone()) {
            Ok((set, table)) => {
                self.install(set, table);
                self.metrics.reload(true);
                allocator::release_unused();
                let verb = if current.is_some() {
                    "upgraded plugin"
                } else {
                    "added plugin"
                };
                tracing::info!(
                    file = %file.display(),
                    plugin = plugin.name(),
                    version = plugin.description().version,
                    cached = plugin.from_cache(),
                    load_ms = started.elapsed().as_millis() as u64,
                    ms = changed.elapsed().as_millis() as u64,
                    "{verb}"
                );
            }
            Err(reason) => self.failed(file, current.is_some(), &reason),
        }
    }

    /// Puts `table` in force and tells observers: paths that are gone are
    /// removed; a path now served by another plugin (an upgrade, or at
    /// start-up the winner of a clash) may answer differently, so its
    /// observers get the new plugin's state.
    fn install(&mut self, set: PluginSet, table: RoutingTable) {
        let mut removed = Vec::new();
        let mut changed = Vec::new();
        for (path, before) in self.router.table().routes() {
            match table.route(path) {
                None => removed.push(path.clone()),
                Some(after) if !Arc::ptr_eq(&after.plugin, &before.plugin) => {
                    changed.push(path.clone());
                }
                Some(_) => {}
            }
        }
        // A collection's observers observe its members, each by its own path:
        // the socket loops expand `/sensors/*` to the observed members.
        for (prefix, before) in self.router.table().collections() {
            let members = crate::collection::members_path(prefix);
            match table.collections().find(|(p, _)| *p == prefix) {
                None => removed.push(members),
                Some((_, after)) if !Arc::ptr_eq(&after.plugin, &before.plugin) => {
                    changed.push(members);
                }
                Some(_) => {}
            }
        }
        self.runtime.host().set_resources(table.paths());
        self.router.replace(table);
        self.set = set;
        let host = self.runtime.host();
        for path in removed {
            host.publish(ResourceEvent::Removed { path });
        }
        for path in changed {
            host.publish(ResourceEvent::Changed {
                path,
                important: false,
            });
        }
    }

    fn failed(&self, file: &Path, serving: bool, reason: &str) {
        self.metrics.reload(false);
        let consequence = if serving {
            "the previous version keeps serving"
        } else {
            "not served"
        };
        tracing::warn!(file = %file.display(), "reload failed, {consequence}: {reason}");
    }
}

async fn sleep_until(due: Option<Instant>) {
    if let Some(due) = due {
        tokio::time::sleep_until(due.into()).await;
    }
}
