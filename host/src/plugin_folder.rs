//! The plugins folder: every `*.wasm` file in it is a plugin. A file that
//! cannot be loaded is skipped with one log line; the rest serve.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;

use crate::router::RoutingTable;
use crate::runtime::{Plugin, Runtime};

/// The `*.wasm` files in `folder`, sorted by name so that which of two
/// clashing plugins wins does not depend on the file system's order.
pub fn component_files(folder: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let entries = std::fs::read_dir(folder)
        .with_context(|| format!("cannot read plugins folder {}", folder.display()))?;
    for entry in entries {
        let path = entry?.path();
        if path.extension().is_some_and(|ext| ext == "wasm") && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Loads every plugin in `folder` and builds the routing table from those
/// that loaded and do not clash with an earlier one.
pub async fn load(runtime: &Arc<Runtime>, folder: &Path) -> anyhow::Result<RoutingTable> {
    let mut plugins = Vec::new();
    for file in component_files(folder)? {
        let started = std::time::Instant::now();
        match runtime.load(&file).await {
            Ok(plugin) => {
                tracing::info!(
                    file = %file.display(),
                    plugin = plugin.name(),
                    version = plugin.description().version,
                    ms = started.elapsed().as_millis() as u64,
                    "loaded plugin"
                );
                plugins.push(Arc::new(plugin));
            }
            Err(error) => {
                tracing::warn!("skipping plugin file {}: {error}", file.display());
            }
        }
    }
    let (table, refusals) = RoutingTable::build(plugins.iter().cloned());
    for refusal in refusals {
        tracing::warn!(
            "plugin file {} refused: {}",
            refusal.file.display(),
            refusal.reason
        );
    }
    Ok(table)
}

/// The names of the plugins that made it into `table`, for the start-up line.
pub fn served_plugins(table: &RoutingTable) -> Vec<String> {
    let mut names: Vec<String> = table
        .paths()
        .iter()
        .filter_map(|path| table.route(path))
        .map(|route| Plugin::name(&route.plugin).to_owned())
        .collect();
    names.sort();
    names.dedup();
    names
}
