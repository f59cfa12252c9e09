//! The plugins folder and the set of plugins loaded from it: every `*.wasm`
//! file is a plugin. A file that cannot be loaded is skipped with one log
//! line; a plugin that clashes with one already serving is refused.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;

use crate::router::RoutingTable;
use crate::runtime::{Plugin, Runtime};

/// Whether `path` names a plugin file: `*.wasm`, not hidden. Editors and
/// copy tools write under other names (`.x.wasm.swp`, `x.wasm.part`) first.
pub fn is_component_file(path: &Path) -> bool {
    path.extension().is_some_and(|ext| ext == "wasm")
        && path
            .file_name()
            .is_some_and(|name| !name.to_string_lossy().starts_with('.'))
}

/// The plugin files in `folder`, sorted by name so that which of two
/// clashing plugins wins does not depend on the file system's order.
pub fn component_files(folder: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let entries = std::fs::read_dir(folder)
        .with_context(|| format!("cannot read plugins folder {}", folder.display()))?;
    for entry in entries {
        let path = entry?.path();
        if is_component_file(&path) && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// The plugins serving now, by file. Every one of them is in the routing
/// table: the set never holds a plugin that was refused.
#[derive(Clone, Default)]
pub struct PluginSet {
    plugins: BTreeMap<PathBuf, Arc<Plugin>>,
}

impl PluginSet {
    /// Loads every plugin file in `folder`, in name order, keeping those that
    /// load and do not clash with an earlier one.
    pub async fn load(runtime: &Arc<Runtime>, folder: &Path) -> anyhow::Result<PluginSet> {
        let mut set = PluginSet::default();
        for file in component_files(folder)? {
            let started = std::time::Instant::now();
            let plugin = match runtime.load(&file).await {
                Ok(plugin) => Arc::new(plugin),
                Err(error) => {
                    tracing::warn!("skipping plugin file {}: {error}", file.display());
                    continue;
                }
            };
            match set.with(plugin.clone()) {
                Ok((bigger, _)) => {
                    tracing::info!(
                        file = %file.display(),
                        plugin = plugin.name(),
                        version = plugin.description().version,
                        cached = plugin.from_cache(),
                        ms = started.elapsed().as_millis() as u64,
                        "loaded plugin"
                    );
                    set = bigger;
                }
                Err(reason) => {
                    tracing::warn!("plugin file {} refused: {reason}", file.display());
                }
            }
        }
        Ok(set)
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
}
