//! The name and the resource path a new plugin starts with, checked before
//! anything is written: they go into source files as string literals, and
//! the host refuses a description that breaks `wit/plugin.wit`'s rules.

/// The path a plugin must not claim: the host answers it itself.
const HOST_PATH: &str = "/.well-known/core";

/// Checks `name`: what the host accepts as a plugin name (1 to 64 lowercase
/// letters, digits and `-`), beginning with a letter, since it also names
/// the Cargo package and the project's folder.
pub fn check_name(name: &str) -> Result<(), String> {
    let valid = (1..=64).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if valid {
        Ok(())
    } else {
        Err(format!(
            "invalid plugin name {name:?}: use 1 to 64 lowercase letters, digits and '-', \
             beginning with a letter and not ending with '-' (for example my-sensor)"
        ))
    }
}

/// Checks `path`: `/` and segments of URI unreserved characters (RFC 3986
/// §2.3), none of them empty, `.` or `..`, and not the host's own path.
pub fn check_path(path: &str) -> Result<(), String> {
    let invalid = |why: &str| Err(format!("invalid resource path {path:?}: {why}"));
    let Some(rest) = path.strip_prefix('/') else {
        return invalid("it must start with '/' (for example /my-sensor)");
    };
    if path == HOST_PATH {
        return invalid("the host serves it itself");
    }
    for segment in rest.split('/') {
        if segment.is_empty() || segment == "." || segment == ".." || segment.len() > 255 {
            return invalid("a segment is empty, '.', '..' or longer than 255 characters");
        }
        if !segment
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
        {
            return invalid("use letters, digits, '-', '.', '_' and '~' between the '/'s");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_host_accepts_and_a_package_can_have() {
        for good in ["hello", "my-sensor", "a1", &"x".repeat(64)] {
            assert_eq!(check_name(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "Hello",
            "1st",
            "-x",
            "x-",
            "my_sensor",
            "a b",
            &"x".repeat(65),
        ] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn paths_that_fit_in_a_string_literal_and_the_host_accepts() {
        for good in ["/hello", "/sensors/kitchen", "/a.b/c~d_e-f"] {
            assert_eq!(check_path(good), Ok(()), "{good}");
        }
        for bad in [
            "hello",
            "/",
            "/a//b",
            "/a/",
            "/../x",
            "/.well-known/core",
            "/a\"b",
            "/sensors/*",
            "/a b",
        ] {
            assert!(check_path(bad).is_err(), "{bad}");
        }
    }
}
