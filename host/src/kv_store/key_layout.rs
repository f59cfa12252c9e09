//! Where a shared namespace's data lives in Redis. Every name carries the
//! namespace as a hash tag (`{counter}`), so a namespace is one Redis
//! Cluster slot: its scripts, which touch several of these keys at once,
//! run on one node, and a cluster still spreads the namespaces.
//!
//! - `coapwasm:{NS}:KEY`: the value of the plugin's KEY (a string);
//! - `coapwasm:{NS}#keys`: every KEY of the namespace, a sorted set with
//!   all scores 0, which Redis orders bytewise as redb orders its keys;
//! - `coapwasm:{NS}#used`: the bytes the namespace holds, its quota's count.
//!
//! A value's name has `:` right after the tag and the two others `#`, so no
//! plugin key, whatever its bytes, names either. Plugin names are lowercase
//! letters, digits and `-` (checked when a plugin is loaded), so a namespace
//! never holds the `}` that would end its tag early.

/// The prefix of every key the host writes.
const PREFIX: &str = "coapwasm:";

/// The names of one namespace's keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct KeyLayout {
    /// `coapwasm:{NS}`, everything but the suffix.
    tagged: String,
}

impl KeyLayout {
    pub(super) fn new(namespace: &str) -> KeyLayout {
        debug_assert!(
            !namespace.contains(['{', '}']),
            "a namespace with braces would break its hash tag: {namespace}"
        );
        KeyLayout {
            tagged: format!("{PREFIX}{{{namespace}}}"),
        }
    }

    /// The Redis key holding the plugin's `key`.
    pub(super) fn value(&self, key: &str) -> String {
        format!("{}:{key}", self.tagged)
    }

    /// The sorted set of the namespace's keys.
    pub(super) fn index(&self) -> String {
        format!("{}#keys", self.tagged)
    }

    /// The namespace's byte count.
    pub(super) fn used(&self) -> String {
        format!("{}#used", self.tagged)
    }
}

/// The part of a Redis key that picks its Cluster slot (the Redis Cluster
/// specification's rule): the bytes between the first `{` and the next `}`,
/// when there are any; else the whole key.
#[cfg(test)]
fn hash_tag(key: &str) -> &str {
    if let Some(open) = key.find('{')
        && let Some(length) = key[open + 1..].find('}')
        && length > 0
    {
        return &key[open + 1..open + 1 + length];
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_namespace_is_one_cluster_slot() {
        let layout = KeyLayout::new("counter");
        for key in [
            layout.value("count"),
            layout.value(""),
            layout.value("{other}"),
            layout.value("a}b{c"),
            layout.index(),
            layout.used(),
        ] {
            assert_eq!(hash_tag(&key), "counter", "{key}");
        }
    }

    #[test]
    fn the_documented_names() {
        let layout = KeyLayout::new("led");
        assert_eq!(layout.value("state"), "coapwasm:{led}:state");
        assert_eq!(layout.index(), "coapwasm:{led}#keys");
        assert_eq!(layout.used(), "coapwasm:{led}#used");
    }

    #[test]
    fn no_plugin_key_names_the_index_or_the_count() {
        let layout = KeyLayout::new("led");
        for key in ["", "#keys", "#used", ":", "keys"] {
            let value = layout.value(key);
            assert_ne!(value, layout.index());
            assert_ne!(value, layout.used());
        }
    }

    #[test]
    fn namespaces_do_not_overlap() {
        // "led" and "led-2", or a key that looks like a namespace: distinct.
        assert_ne!(
            KeyLayout::new("led").value("-2}:x"),
            KeyLayout::new("led-2").value("x")
        );
        assert!(
            !KeyLayout::new("led-2")
                .value("x")
                .starts_with(&KeyLayout::new("led").value(""))
        );
    }
}
