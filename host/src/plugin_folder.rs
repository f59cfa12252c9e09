//! The plugins folder and the set of plugins loaded from it: every `*.wasm`
//! file is a plugin. A file that cannot be loaded is skipped with one log
//! line; a plugin that clashes with one already serving, or with one whose
//! file name sorts first at start-up, is refused.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use tokio::task::JoinSet;

use crate::router::{Refusal, RoutingTable};
use crate::runtime::{LoadError, Plugin, Runtime};

/// Whether `path` names a plugin file: `*.wasm`, not hidden. Editors and
/// copy tools write under other names (`.x.wasm.swp`, `x.wasm.part`) first.
pub fn is_component_file(path: &Path) -> bool {
    path.extension().is_some_and(|ext| ext == "wasm")
        && path
            .file_name()
            .is_some_and(|name| !name.to_string_lossy().starts_with('.'))
}

/// The plugin files in `folder`, each with its size in bytes.
pub fn component_files(folder: &Path) -> anyhow::Result<Vec<(PathBuf, u64)>> {
    let mut files = Vec::new();
    let entries = std::fs::read_dir(folder)
        .with_context(|| format!("cannot read plugins folder {}", folder.display()))?;
    for entry in entries {
        let path = entry?.path();
        if !is_component_file(&path) {
            continue;
        }
        // Following a symbolic link, as loading the file does.
        if let Ok(metadata) = std::fs::metadata(&path)
            && metadata.is_file()
        {
            files.push((path, metadata.len()));
        }
    }
    Ok(files)
}

/// The plugins serving now, by file. Every one of them is in the routing
/// table: the set never holds a plugin that was refused.
#[derive(Clone, Default)]
pub struct PluginSet {
    plugins: BTreeMap<PathBuf, Arc<Plugin>>,
}

impl PluginSet {
    /// The set of `plugins` taken in file-name order, as if each file were
    /// loaded after the ones whose names sort before it: a plugin that
    /// clashes with an earlier one is refused, whichever finished loading
    /// first. With its routing table and the refusals.
    pub fn in_name_order(
        plugins: impl IntoIterator<Item = Arc<Plugin>>,
    ) -> (PluginSet, RoutingTable, Vec<Refusal>) {
        let by_file: BTreeMap<PathBuf, Arc<Plugin>> = plugins
            .into_iter()
            .map(|plugin| (plugin.file().to_path_buf(), plugin))
            .collect();
        let (table, refusals) = RoutingTable::build(by_file.values().cloned());
        let mut plugins = by_file;
        for refusal in &refusals {
            plugins.remove(&refusal.file);
        }
        (PluginSet { plugins }, table, refusals)
    }

    /// This set with `plugin` added, or replacing the plugin of the same
    /// file, and its routing table; or why the plugin is refused. Plugins
    /// already serving win any clash: the newcomer goes last.
    pub fn with(&self, plugin: Arc<Plugin>) -> Result<(PluginSet, RoutingTable), String> {
        let file = plugin.file().to_path_buf();
        let others = self
            .plugins
            .iter()
            .filter(|(path, _)| **path != file)
            .map(|(_, p)| p.clone());
        let (table, refusals) = RoutingTable::build(others.chain([plugin.clone()]));
        if let Some(refusal) = refusals.into_iter().next() {
            return Err(refusal.reason);
        }
        let mut plugins = self.plugins.clone();
        plugins.insert(file, plugin);
        Ok((PluginSet { plugins }, table))
    }

    /// This set without the plugin of `file`, and its routing table.
    pub fn without(&self, file: &Path) -> (PluginSet, RoutingTable) {
        let mut plugins = self.plugins.clone();
        plugins.remove(file);
        let set = PluginSet { plugins };
        let table = set.table();
        (set, table)
    }

    /// The routing table of this set.
    pub fn table(&self) -> RoutingTable {
        let (table, refusals) = RoutingTable::build(self.plugins.values().cloned());
        debug_assert!(refusals.is_empty(), "a set holds no clashing plugins");
        table
    }

    /// The plugin loaded from `file`, if one serves.
    pub fn get(&self, file: &Path) -> Option<&Arc<Plugin>> {
        self.plugins.get(file)
    }

    /// The names of the plugins, sorted by file.
    pub fn names(&self) -> Vec<String> {
        self.plugins.values().map(|p| p.name().to_owned()).collect()
    }

    /// The plugins, sorted by file.
    pub fn plugins(&self) -> impl Iterator<Item = &Arc<Plugin>> {
        self.plugins.values()
    }
}

/// The order to load `files` (each with its size in bytes) in: smallest
/// first. Compiling takes time roughly in proportion to size (a Rust plugin
/// of 100 KB takes a fraction of a second, the 18 MB Python one seconds), so
/// the most resources serve soonest; which file wins a clash does not depend
/// on this order (see [`PluginSet::in_name_order`]).
pub fn load_order(mut files: Vec<(PathBuf, u64)>) -> Vec<PathBuf> {
    files.sort_by(|(a, a_size), (b, b_size)| a_size.cmp(b_size).then_with(|| a.cmp(b)));
    files.into_iter().map(|(file, _)| file).collect()
}

/// One file's load: the plugin, or why the file is no plugin.
pub struct Loaded {
    /// The file loaded.
    pub file: PathBuf,
    /// The plugin it holds.
    pub plugin: Result<Plugin, LoadError>,
    /// How long loading it took (compiling or reading the compile cache,
    /// instantiating, describing), not counting its wait for a turn.
    pub took: Duration,
}

/// Plugin files loading in parallel, a bounded number at once, in the order
/// given; each is reported as soon as it is done.
pub struct ParallelLoad {
    runtime: Arc<Runtime>,
    waiting: VecDeque<PathBuf>,
    running: JoinSet<Loaded>,
    // To name the file of a load that panicked.
    files: HashMap<tokio::task::Id, PathBuf>,
}

impl ParallelLoad {
    /// Starts loading `files`, `at_once` of them at a time. Cranelift
    /// already compiles one component's functions on every core, but
    /// parsing, translating, linking and describing a component are serial:
    /// as many loads as cores keep the cores busy without one load waiting
    /// for CPU the others hold (or the memory of more compilations at once).
    pub fn start(runtime: &Arc<Runtime>, files: Vec<PathBuf>, at_once: NonZeroUsize) -> Self {
        let mut load = ParallelLoad {
            runtime: runtime.clone(),
            waiting: files.into(),
            running: JoinSet::new(),
            files: HashMap::new(),
        };
        for _ in 0..at_once.get() {
            load.start_next();
        }
        load
    }

    /// Files not loaded yet, running or waiting.
    pub fn remaining(&self) -> usize {
        self.running.len() + self.waiting.len()
    }

    /// The next load to finish, in whatever order they finish; None when
    /// every file is done.
    pub async fn next(&mut self) -> Option<Loaded> {
        let finished = self.running.join_next_with_id().await?;
        self.start_next();
        Some(match finished {
            Ok((id, loaded)) => {
                self.files.remove(&id);
                loaded
            }
            Err(error) => Loaded {
                file: self.files.remove(&error.id()).unwrap_or_default(),
                plugin: Err(LoadError::Describe(format!("the load failed: {error}"))),
                took: Duration::ZERO,
            },
        })
    }

    fn start_next(&mut self) {
        let Some(file) = self.waiting.pop_front() else {
            return;
        };
        let runtime = self.runtime.clone();
        let task_file = file.clone();
        let handle = self.running.spawn(async move {
            let started = Instant::now();
            let plugin = runtime.load(&task_file).await;
            Loaded {
                file: task_file,
                plugin,
                took: started.elapsed(),
            }
        });
        self.files.insert(handle.id(), file);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_visible_wasm_files_are_plugins() {
        assert!(is_component_file(Path::new("/p/led.wasm")));
        assert!(!is_component_file(Path::new("/p/.led.wasm")));
        assert!(!is_component_file(Path::new("/p/led.wasm.part")));
        assert!(!is_component_file(Path::new("/p/led.wasm~")));
        assert!(!is_component_file(Path::new("/p/led")));
    }

    #[test]
    fn smallest_files_load_first_and_equal_sizes_in_name_order() {
        let files = vec![
            (PathBuf::from("/p/greeting.wasm"), 18_485_554),
            (PathBuf::from("/p/led.wasm"), 126_415),
            (PathBuf::from("/p/b.wasm"), 100),
            (PathBuf::from("/p/a.wasm"), 100),
        ];
        assert_eq!(
            load_order(files),
            ["/p/a.wasm", "/p/b.wasm", "/p/led.wasm", "/p/greeting.wasm"].map(PathBuf::from)
        );
    }
}
