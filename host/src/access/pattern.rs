//! The paths a rule of the access policy covers.

use std::fmt;
use std::str::FromStr;

use serde::Deserialize;

/// One entry of a rule's `paths`.
///
/// - `/led`: exactly that path.
/// - `/sensors/*`: the path `/sensors` itself and every path below it
///   (`/sensors/3`, `/sensors/3/history`), but not `/sensors-old`. The
///   collection's own path is included because it is where its members are
///   listed and created (`GET /sensors`, `POST /sensors`): a rule about a
///   collection is about both. A rule for the members only is not
///   expressible; name `/sensors` in another rule's methods instead.
/// - `/*`: every path, `/.well-known/core` included.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum PathPattern {
    /// Exactly this path.
    Exact(String),
    /// This path (empty for `/*`) and every path below it.
    Below(String),
}

impl PathPattern {
    /// Whether a request for `path` (as in `request.path`: `/` and the
    /// Uri-Path segments joined with `/`) is covered.
    pub fn matches(&self, path: &str) -> bool {
        match self {
            PathPattern::Exact(exact) => path == exact,
            PathPattern::Below(prefix) => {
                path == prefix
                    || path
                        .strip_prefix(prefix.as_str())
                        .is_some_and(|rest| rest.starts_with('/'))
            }
        }
    }
}

impl FromStr for PathPattern {
    type Err = String;

    fn from_str(text: &str) -> Result<PathPattern, String> {
        if !text.starts_with('/') {
            return Err(format!(
                "path {text:?} must start with '/' (such as \"/led\", \"/sensors/*\" or \"/*\")"
            ));
        }
        let (path, below) = match text.strip_suffix("/*") {
            Some(prefix) => (prefix, true),
            None => (text, false),
        };
        let segments = |path: &str| {
            path.strip_prefix('/')
                .is_some_and(|rest| rest.split('/').all(|s| !s.is_empty() && !s.contains('*')))
        };
        let valid = if below {
            path.is_empty() || segments(path)
        } else {
            path == "/" || segments(path)
        };
        if !valid {
            return Err(format!(
                "path {text:?}: segments must be non-empty, and '*' may only be the whole \
                 last segment (\"/sensors/*\": /sensors and everything below it)"
            ));
        }
        Ok(if below {
            PathPattern::Below(path.to_owned())
        } else {
            PathPattern::Exact(path.to_owned())
        })
    }
}

impl TryFrom<String> for PathPattern {
    type Error = String;

    fn try_from(text: String) -> Result<PathPattern, String> {
        text.parse()
    }
}

impl fmt::Display for PathPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathPattern::Exact(path) => f.write_str(path),
            PathPattern::Below(prefix) => write!(f, "{prefix}/*"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(text: &str) -> PathPattern {
        text.parse().unwrap()
    }

    #[test]
    fn an_exact_path_covers_itself_only() {
        let led = pattern("/led");
        assert!(led.matches("/led"));
        assert!(!led.matches("/led/x") && !led.matches("/le") && !led.matches("/leds"));
        assert!(pattern("/").matches("/") && !pattern("/").matches("/led"));
    }

    #[test]
    fn a_prefix_covers_the_collection_and_everything_below() {
        let sensors = pattern("/sensors/*");
        assert!(sensors.matches("/sensors"));
        assert!(sensors.matches("/sensors/3"));
        assert!(sensors.matches("/sensors/3/history"));
        assert!(!sensors.matches("/sensors-old"));
        assert!(!sensors.matches("/sensorsx/3"));
        assert!(!sensors.matches("/"));
    }

    #[test]
    fn slash_star_covers_everything() {
        let all = pattern("/*");
        for path in ["/", "/led", "/sensors/3", "/.well-known/core"] {
            assert!(all.matches(path), "{path}");
        }
    }

    #[test]
    fn bad_paths_are_refused() {
        for text in [
            "led", "", "*", "/a//b", "/a/", "/a*", "/a/*/b", "/*/*", "//*",
        ] {
            assert!(text.parse::<PathPattern>().is_err(), "{text}");
        }
        assert!(
            "led"
                .parse::<PathPattern>()
                .unwrap_err()
                .contains("start with '/'")
        );
    }

    #[test]
    fn patterns_print_as_written() {
        for text in ["/", "/led", "/sensors/*", "/*", "/a/b/*"] {
            assert_eq!(pattern(text).to_string(), text);
        }
    }
}
