//! Hot reload: the plugins folder is watched, and a plugin file that was
//! added, replaced or deleted is loaded or dropped without a restart. A new
//! version is compiled, instantiated and described before it is swapped in,
//! so a half-written or broken file never serves; requests already inside the
//! old version finish there, as they hold it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use notify::event::{AccessKind, AccessMode, EventKind};
use notify::{RecommendedWatcher, RecursiveMode, Watcher as _};
use tokio::sync::mpsc;

use crate::allocator;
use crate::plugin_folder::{PluginSet, is_component_file};
use crate::router::{Router, RoutingTable};
use crate::runtime::manifest::Manifest;
use crate::runtime::{ResourceEvent, Runtime, content_hash};

/// Changes seen in the plugins folder, as the paths that changed.
pub struct FolderEvents {
    // Dropping the watcher stops the events.
    _watcher: RecommendedWatcher,
    // Each path with the moment its event arrived from the OS.
    paths: mpsc::UnboundedReceiver<(PathBuf, Instant)>,
}

/// Starts watching `folder`. Events are queued from now on, so a change made
/// while the initial load runs is not missed.
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

/// Applies folder changes to the routing table, one file at a time.
pub struct Reloader {
    runtime: Arc<Runtime>,
    router: Arc<Router>,
    set: PluginSet,
    debounce: Duration,
}

impl Reloader {
    /// A reloader that starts from the plugins of `set`, which `router` serves.
    pub fn new(
        runtime: Arc<Runtime>,
        router: Arc<Router>,
        set: PluginSet,
        debounce: Duration,
    ) -> Self {
        Reloader {
            runtime,
            router,
            set,
            debounce,
        }
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
                    self.install(set, table, &[]);
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
                let paths: Vec<String> = match current {
                    Some(_) => plugin
                        .description()
                        .resources
                        .iter()
                        .map(|r| r.path.clone())
                        .collect(),
                    None => Vec::new(),
                };
                self.install(set, table, &paths);
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
    /// removed; the paths of `changed` (an upgraded plugin) may answer
    /// differently now, so their observers get the new version's state.
    fn install(&mut self, set: PluginSet, table: RoutingTable, changed: &[String]) {
        let before = self.router.table().paths();
        let after = table.paths();
        self.runtime.host().set_resources(after.clone());
        self.router.replace(table);
        self.set = set;
        let host = self.runtime.host();
        for path in before.iter().filter(|p| after.binary_search(p).is_err()) {
            host.publish(ResourceEvent::Removed { path: path.clone() });
        }
        for path in changed.iter().filter(|p| after.binary_search(p).is_ok()) {
            host.publish(ResourceEvent::Changed {
                path: path.clone(),
                important: false,
            });
        }
    }

    fn failed(&self, file: &Path, serving: bool, reason: &str) {
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
