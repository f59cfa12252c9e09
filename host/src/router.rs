//! The router: which plugin serves which path. A [`RoutingTable`] is immutable
//! once built; the [`Router`] swaps a whole new one in atomically, so that a
//! request sees either the old set of resources or the new one, never a mix.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::collection;
use crate::discovery::{Link, WELL_KNOWN_CORE};
use crate::runtime::Plugin;
use crate::runtime::bindings::types::ResourceDescription;

/// One served path.
pub struct Route {
    /// The plugin that serves it.
    pub plugin: Arc<Plugin>,
    /// What the plugin said about it.
    pub resource: ResourceDescription,
}

/// A plugin that could not be added to a table, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    /// The plugin's file.
    pub file: PathBuf,
    /// Why it was refused.
    pub reason: String,
}

/// Paths to routes, with the discovery links of the same resources.
#[derive(Default)]
pub struct RoutingTable {
    routes: HashMap<String, Route>,
    // Per collection's own path (`/sensors` for `/sensors/*`), the route of
    // its members: consulted only when no route has the exact path.
    collections: HashMap<String, Route>,
    // The plugins that describe collections, whose listed members discovery
    // shows.
    with_members: Vec<Arc<Plugin>>,
    // Sorted by path, so /.well-known/core and host-info list resources in a
    // stable order.
    links: Vec<Link>,
    // Set in the tables of the initial load: it travels with the routes, so
    // that a request never sees the load's end without the last plugin in.
    loading: bool,
}

impl RoutingTable {
    /// A table of `plugins`, taken in order: a plugin whose name or any of
    /// whose paths an earlier one has already taken is refused whole.
    pub fn build(plugins: impl IntoIterator<Item = Arc<Plugin>>) -> (RoutingTable, Vec<Refusal>) {
        let mut table = RoutingTable::default();
        let mut names: HashMap<String, PathBuf> = HashMap::new();
        let mut refusals = Vec::new();
        for plugin in plugins {
            let description = plugin.description();
            let refusal = |reason: String| Refusal {
                file: plugin.file().to_path_buf(),
                reason,
            };
            if let Some(other) = names.get(&description.name) {
                refusals.push(refusal(format!(
                    "plugin name {:?} is already taken by {}",
                    description.name,
                    other.display()
                )));
                continue;
            }
            let clash = description.resources.iter().find_map(|resource| {
                if resource.path == WELL_KNOWN_CORE {
                    return Some(format!("path {} is the host's own", resource.path));
                }
                let taken = match collection::prefix_of(&resource.path) {
                    Some(prefix) => table.collections.get(prefix),
                    None => table.routes.get(&resource.path),
                };
                taken.map(|route| {
                    format!(
                        "path {} is already served by plugin {:?} ({})",
                        resource.path,
                        route.plugin.name(),
                        route.plugin.file().display()
                    )
                })
            });
            if let Some(reason) = clash {
                refusals.push(refusal(reason));
                continue;
            }
            names.insert(description.name.clone(), plugin.file().to_path_buf());
            for resource in &description.resources {
                if let Some(prefix) = collection::prefix_of(&resource.path) {
                    table.collections.insert(
                        prefix.to_owned(),
                        Route {
                            plugin: plugin.clone(),
                            resource: resource.clone(),
                        },
                    );
                    if !table.with_members.iter().any(|p| Arc::ptr_eq(p, &plugin)) {
                        table.with_members.push(plugin.clone());
                    }
                    continue;
                }
                table.links.push(Link::for_resource(resource));
                table.routes.insert(
                    resource.path.clone(),
                    Route {
                        plugin: plugin.clone(),
                        resource: resource.clone(),
                    },
                );
            }
        }
        table.links.sort_by(|a, b| a.href().cmp(b.href()));
        (table, refusals)
    }

    /// This table, marked as one of the initial load: plugins still loading
    /// may serve paths it does not have (their paths are unknown until they
    /// describe themselves).
    pub fn while_loading(mut self) -> RoutingTable {
        self.loading = true;
        self
    }

    /// Whether plugins are still loading, so that a path missing from this
    /// table may yet be served.
    pub fn loading(&self) -> bool {
        self.loading
    }

    /// The route for a request's path: the resource with that path, or
    /// else the members of the nearest collection above it.
    pub fn route(&self, path: &str) -> Option<&Route> {
        self.routes.get(path).or_else(|| {
            if self.collections.is_empty() {
                return None;
            }
            collection::ancestors(path).find_map(|prefix| self.collections.get(prefix))
        })
    }

    /// The links of the collections' listed members, but for a path some
    /// resource has exactly (which is what a request for it reaches), sorted
    /// by path.
    pub fn member_links(&self) -> Vec<Arc<Link>> {
        let mut links: Vec<Arc<Link>> = Vec::new();
        for plugin in &self.with_members {
            let listed = plugin.member_links();
            links.extend(
                listed
                    .iter()
                    .filter(|link| {
                        self.route(link.href())
                            .is_some_and(|route| Arc::ptr_eq(&route.plugin, plugin))
                            && !self.routes.contains_key(link.href())
                    })
                    .cloned(),
            );
        }
        links.sort_by(|a, b| a.href().cmp(b.href()));
        links
    }

    /// Every route of a resource with a path of its own.
    pub fn routes(&self) -> impl Iterator<Item = (&String, &Route)> {
        self.routes.iter()
    }

    /// Every collection's members' route, by the collection's path.
    pub fn collections(&self) -> impl Iterator<Item = (&String, &Route)> {
        self.collections.iter()
    }

    /// The discovery links, sorted by path.
    pub fn links(&self) -> &[Link] {
        &self.links
    }

    /// Every served path, sorted; a collection's members as `/sensors/*`.
    pub fn paths(&self) -> Vec<String> {
        let mut paths: Vec<String> = self
            .routes
            .keys()
            .cloned()
            .chain(
                self.collections
                    .keys()
                    .map(|prefix| collection::members_path(prefix)),
            )
            .collect();
        paths.sort();
        paths
    }
}

/// The current routing table, replaced as a whole.
pub struct Router {
    table: ArcSwap<RoutingTable>,
    // Counts replacements, for those who follow the set of resources (the
    // Resource Directory registrant) without polling.
    replaced: tokio::sync::watch::Sender<u64>,
}

impl Router {
    /// A router serving `table`.
    pub fn new(table: RoutingTable) -> Self {
        Router {
            table: ArcSwap::from_pointee(table),
            replaced: tokio::sync::watch::Sender::new(0),
        }
    }

    /// A receiver that sees a change each time the table is replaced.
    pub fn replacements(&self) -> tokio::sync::watch::Receiver<u64> {
        self.replaced.subscribe()
    }

    /// The table in force now. Cheap: no lock, no copy.
    pub fn table(&self) -> arc_swap::Guard<Arc<RoutingTable>> {
        self.table.load()
    }

    /// Puts `table` in force for every request that starts from now on.
    pub fn replace(&self, table: RoutingTable) {
        self.table.store(Arc::new(table));
        self.replaced
            .send_modify(|count| *count = count.wrapping_add(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_tables_of_the_initial_load_are_loading() {
        assert!(!RoutingTable::default().loading());
        assert!(RoutingTable::default().while_loading().loading());
        let (built, _) = RoutingTable::build([]);
        assert!(!built.loading(), "hot reload builds final tables");
    }
}
