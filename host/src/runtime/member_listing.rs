//! The members of a plugin's collections that /.well-known/core lists
//! (RFC 6690 §4), as the plugin lists and unlists them through the
//! `collection` import. Kept in a namespace of the host's store beside the
//! plugin's own (`<plugin>/members`: no plugin name has a `/`), so that the
//! list outlives restarts and upgrades like the members it names; held in
//! memory too, since discovery reads it on the socket's task: from a
//! snapshot, so that it never waits for a plugin's write to the store.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;

use crate::collection;
use crate::discovery::Link;
use crate::kv_store::{KvStore, Namespace};
use crate::runtime::bindings::types::{LinkAttribute, PluginDescription, ResourceDescription};

/// Members one plugin may list, across its collections: discovery's
/// document stays bounded whatever a plugin does.
pub const MAX_LISTED_MEMBERS: usize = 1024;
/// Bytes of attribute names and values one member may be listed with.
pub const MAX_ATTRIBUTE_BYTES: usize = 4096;
/// The listing's store may hold every member at its largest.
const STORE_QUOTA: u64 = (MAX_LISTED_MEMBERS * (MAX_ATTRIBUTE_BYTES + 2048)) as u64;

/// Why a member was not listed; the WIT's `listing-error`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListingError {
    NotAMember,
    TooMany,
    TooLarge,
    Storage(String),
}

/// One plugin's listed members.
pub struct MemberListing {
    // Per collection, its own path and the description of its members,
    // longest path first so that the longer prefix wins.
    collections: Vec<(String, ResourceDescription)>,
    store: Namespace,
    listed: Mutex<BTreeMap<String, Arc<Link>>>,
    // What `listed` holds, for discovery; replaced after every change.
    snapshot: ArcSwap<Vec<Arc<Link>>>,
}

impl MemberListing {
    /// The listing of the plugin `description` describes, read back from
    /// `kv`; none if it describes no collection.
    pub fn open(description: &PluginDescription, kv: &Arc<KvStore>) -> Option<MemberListing> {
        let mut collections: Vec<(String, ResourceDescription)> = description
            .resources
            .iter()
            .filter_map(|r| collection::prefix_of(&r.path).map(|p| (p.to_owned(), r.clone())))
            .collect();
        if collections.is_empty() {
            return None;
        }
        collections.sort_by_key(|(prefix, _)| std::cmp::Reverse(prefix.len()));
        let store = kv.namespace(&format!("{}/members", description.name), STORE_QUOTA);
        let listing = MemberListing {
            collections,
            store,
            listed: Mutex::default(),
            snapshot: ArcSwap::default(),
        };
        listing.read_back();
        Some(listing)
    }

    fn read_back(&self) {
        let keys = match self.store.keys() {
            Ok(keys) => keys,
            Err(error) => {
                tracing::warn!("cannot read the listed members back: {error}");
                return;
            }
        };
        let mut listed = self.lock();
        for path in keys {
            // A member of a collection the plugin no longer describes stays
            // stored, unlisted, in case a later version describes it again.
            let Some(members) = self.members_of(&path) else {
                continue;
            };
            if listed.len() >= MAX_LISTED_MEMBERS {
                break;
            }
            if let Ok(Some(bytes)) = self.store.get(&path) {
                let link = Link::for_member(&path, members, &decode(&bytes));
                listed.insert(path, Arc::new(link));
            }
        }
        self.publish(&listed);
    }

    fn publish(&self, listed: &BTreeMap<String, Arc<Link>>) {
        self.snapshot
            .store(Arc::new(listed.values().cloned().collect()));
    }

    /// The member description of the collection `path` is below, if any.
    pub fn members_of(&self, path: &str) -> Option<&ResourceDescription> {
        self.collections
            .iter()
            .find(|(prefix, _)| collection::is_member(prefix, path))
            .map(|(_, members)| members)
    }

    /// Lists `path` with `attributes`, replacing its earlier listing.
    pub fn list(&self, path: &str, attributes: Vec<LinkAttribute>) -> Result<(), ListingError> {
        let members = self.members_of(path).ok_or(ListingError::NotAMember)?;
        if path
            .split('/')
            .skip(1)
            .any(|s| s.is_empty() || s.len() > 255)
            || path.len() > crate::kv_store::MAX_KEY_LEN
        {
            return Err(ListingError::NotAMember);
        }
        let encoded = encode(&attributes).ok_or(ListingError::TooLarge)?;
        let mut listed = self.lock();
        if listed.len() >= MAX_LISTED_MEMBERS && !listed.contains_key(path) {
            return Err(ListingError::TooMany);
        }
        self.store
            .set(path, &encoded)
            .map_err(|error| ListingError::Storage(error.to_string()))?;
        let link = Link::for_member(path, members, &attributes);
        listed.insert(path.to_owned(), Arc::new(link));
        self.publish(&listed);
        Ok(())
    }

    /// Stops listing `path`; whether it was listed.
    pub fn unlist(&self, path: &str) -> bool {
        let mut listed = self.lock();
        let was = listed.remove(path).is_some();
        self.publish(&listed);
        if let Err(error) = self.store.delete(path) {
            tracing::warn!(path, "cannot unlist the member in the store: {error}");
        }
        was
    }

    /// The listed paths, sorted.
    pub fn listed(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
    }

    /// The listed members' links, sorted by path, as of the last change.
    pub fn links(&self) -> Arc<Vec<Arc<Link>>> {
        self.snapshot.load_full()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Arc<Link>>> {
        self.listed
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Attributes as stored: `name` or `name=value`, one a line. A name is a
/// link-format token and a value has no control character, so neither holds
/// a line break; none when they break those rules or are too large.
fn encode(attributes: &[LinkAttribute]) -> Option<Vec<u8>> {
    let mut out = String::new();
    for attribute in attributes {
        let name_ok = !attribute.name.is_empty()
            && attribute
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b));
        let value_ok = attribute
            .value
            .as_deref()
            .is_none_or(|v| !v.chars().any(char::is_control));
        if !name_ok || !value_ok {
            return None;
        }
        out.push_str(&attribute.name);
        if let Some(value) = &attribute.value {
            out.push('=');
            out.push_str(value);
        }
        out.push('\n');
    }
    (out.len() <= MAX_ATTRIBUTE_BYTES).then(|| out.into_bytes())
}

fn decode(bytes: &[u8]) -> Vec<LinkAttribute> {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(|line| match line.split_once('=') {
            Some((name, value)) => LinkAttribute {
                name: name.to_owned(),
                value: Some(value.to_owned()),
            },
            None => LinkAttribute {
                name: line.to_owned(),
                value: None,
            },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::bindings::types::Methods;

    fn attribute(name: &str, value: Option<&str>) -> LinkAttribute {
        LinkAttribute {
            name: name.to_owned(),
            value: value.map(str::to_owned),
        }
    }

    fn description() -> PluginDescription {
        let resource = |path: &str| ResourceDescription {
            path: path.to_owned(),
            methods: Methods::GET,
            observable: true,
            content_formats: vec![50],
            attributes: vec![attribute("rt", Some("sensor"))],
            sample_interval_ms: None,
        };
        PluginDescription {
            name: "sensors".to_owned(),
            version: "1".to_owned(),
            resources: vec![resource("/sensors"), resource("/sensors/*")],
        }
    }

    fn store(test: &str) -> Arc<KvStore> {
        let dir =
            std::env::temp_dir().join(format!("coapwasm-members-{}-{test}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("kv.redb");
        let _ = std::fs::remove_file(&path);
        Arc::new(KvStore::open(&path).unwrap())
    }

    #[test]
    fn attributes_round_trip_and_bad_ones_are_refused() {
        let attributes = vec![
            attribute("rt", Some("temperature sensor")),
            attribute("x", None),
            attribute("title", Some("")),
        ];
        let pairs = |list: &[LinkAttribute]| -> Vec<(String, Option<String>)> {
            list.iter()
                .map(|a| (a.name.clone(), a.value.clone()))
                .collect()
        };
        assert_eq!(
            pairs(&decode(&encode(&attributes).unwrap())),
            pairs(&attributes)
        );
        assert!(encode(&[attribute("rt", Some("a\nb"))]).is_none());
        assert!(encode(&[attribute("r t", None)]).is_none());
        assert!(encode(&[attribute("", None)]).is_none());
        assert!(encode(&[attribute("title", Some(&"x".repeat(MAX_ATTRIBUTE_BYTES)))]).is_none());
    }

    #[test]
    fn lists_members_only_below_a_collection_and_reads_them_back() {
        let kv = store("list");
        let listing = MemberListing::open(&description(), &kv).unwrap();
        assert_eq!(listing.list("/led", vec![]), Err(ListingError::NotAMember));
        assert_eq!(
            listing.list("/sensors", vec![]),
            Err(ListingError::NotAMember)
        );
        assert_eq!(
            listing.list("/sensors//x", vec![]),
            Err(ListingError::NotAMember)
        );
        listing
            .list("/sensors/2", vec![attribute("rt", Some("humidity"))])
            .unwrap();
        listing.list("/sensors/1", vec![]).unwrap();
        assert_eq!(listing.listed(), ["/sensors/1", "/sensors/2"]);
        assert_eq!(
            listing.links()[1].as_str(),
            r#"</sensors/2>;ct=50;rt="sensor humidity";obs"#
        );
        let again = MemberListing::open(&description(), &kv).unwrap();
        assert_eq!(again.listed(), ["/sensors/1", "/sensors/2"]);
        assert!(again.unlist("/sensors/1"));
        assert!(!again.unlist("/sensors/1"));
        assert_eq!(
            MemberListing::open(&description(), &kv).unwrap().listed(),
            ["/sensors/2"]
        );
    }

    #[test]
    fn the_number_of_members_is_bounded() {
        let listing = MemberListing::open(&description(), &store("bound")).unwrap();
        for i in 0..MAX_LISTED_MEMBERS {
            listing.list(&format!("/sensors/{i}"), vec![]).unwrap();
        }
        assert_eq!(
            listing.list("/sensors/more", vec![]),
            Err(ListingError::TooMany)
        );
        // Listing one again replaces it; it takes no new room.
        listing
            .list("/sensors/7", vec![attribute("x", None)])
            .unwrap();
        assert_eq!(listing.links().len(), MAX_LISTED_MEMBERS);
    }
}
