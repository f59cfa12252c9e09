//! Collections (`wit/plugin.wit`, since 0.2.1): a resource path ending in
//! `/*` describes the members of a collection, every path below its prefix.
//! A member is created and removed by the plugin itself, usually by `POST`
//! to the collection answered 2.01 with Location-Path (RFC 7252 §5.8.2) and
//! by `DELETE` of the member (§5.8.4); the host only routes to it.
//!
//! Pure functions on paths, shared by the router, the validation of a
//! description and the plugin runtime.

/// The suffix that marks a member description: `/sensors/*`.
pub const MEMBERS_SUFFIX: &str = "/*";

/// The collection's own path for a member description's path: `/sensors`
/// for `/sensors/*`; none for any other path. `/*` alone is no collection:
/// a collection has a path of its own.
pub fn prefix_of(path: &str) -> Option<&str> {
    path.strip_suffix(MEMBERS_SUFFIX)
        .filter(|prefix| prefix.len() > 1 && prefix.starts_with('/'))
}

/// The path of the member description of the collection at `prefix`.
pub fn members_path(prefix: &str) -> String {
    format!("{prefix}{MEMBERS_SUFFIX}")
}

/// Whether `path` is below the collection at `prefix`: `/sensors/3` and
/// `/sensors/3/unit` are, `/sensors` and `/sensorsx` are not.
pub fn is_member(prefix: &str, path: &str) -> bool {
    path.strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('/'))
        .is_some_and(|rest| !rest.is_empty())
}

/// The paths above `path`, longest first: `/a/b/c` gives `/a/b`, `/a`. The
/// router tries them in this order, so the longer prefix wins.
pub fn ancestors(path: &str) -> impl Iterator<Item = &str> {
    let mut rest = path;
    std::iter::from_fn(move || {
        let cut = rest.rfind('/').filter(|&cut| cut > 0)?;
        rest = &rest[..cut];
        Some(rest)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_descriptions_name_their_collection() {
        assert_eq!(prefix_of("/sensors/*"), Some("/sensors"));
        assert_eq!(prefix_of("/a/b/*"), Some("/a/b"));
        assert_eq!(prefix_of("/*"), None);
        assert_eq!(prefix_of("/sensors"), None);
        assert_eq!(prefix_of("/sensors/*/x"), None);
        assert_eq!(members_path("/sensors"), "/sensors/*");
    }

    #[test]
    fn members_are_strictly_below() {
        assert!(is_member("/sensors", "/sensors/3"));
        assert!(is_member("/sensors", "/sensors/3/unit"));
        assert!(!is_member("/sensors", "/sensors"));
        assert!(!is_member("/sensors", "/sensors/"));
        assert!(!is_member("/sensors", "/sensorsx/3"));
        assert!(!is_member("/sensors", "/led"));
    }

    #[test]
    fn ancestors_run_from_longest_to_shortest() {
        assert_eq!(ancestors("/a/b/c").collect::<Vec<_>>(), ["/a/b", "/a"]);
        assert_eq!(ancestors("/a").count(), 0);
        assert_eq!(ancestors("/").count(), 0);
    }
}
