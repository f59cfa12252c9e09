//! The methods a rule of the access policy allows.

use std::fmt;

use serde::Deserialize;

use crate::runtime::bindings::types::{Method, Methods};

/// Every method, in code order (RFC 7252 §12.1.1, RFC 8132 §6).
pub const ALL: [Method; 7] = [
    Method::Get,
    Method::Post,
    Method::Put,
    Method::Delete,
    Method::Fetch,
    Method::Patch,
    Method::Ipatch,
];

/// A rule's `methods`: names such as `GET` and `iPATCH` (case does not
/// matter), or `*` for every method. GET covers Observe registrations and
/// deregistrations (RFC 7641 §3.1), which are GETs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "Vec<String>")]
pub struct MethodSet(Methods);

impl MethodSet {
    /// Every method.
    pub fn all() -> MethodSet {
        MethodSet(Methods::all())
    }

    /// Only the safe ones (RFC 7252 §5.1, RFC 8132 §2): GET and FETCH.
    pub fn safe() -> MethodSet {
        MethodSet(Methods::GET | Methods::FETCH)
    }

    /// Whether `method` is in the set.
    pub fn contains(self, method: Method) -> bool {
        self.0.contains(flag(method))
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == Methods::empty()
    }

    /// The methods of both sets.
    pub fn intersection(self, other: MethodSet) -> MethodSet {
        MethodSet(self.0 & other.0)
    }

    /// The methods of either set.
    pub fn union(self, other: MethodSet) -> MethodSet {
        MethodSet(self.0 | other.0)
    }

    /// The set of a resource's description.
    pub fn of(methods: Methods) -> MethodSet {
        MethodSet(methods)
    }

    /// The methods in the set, in code order.
    pub fn iter(self) -> impl Iterator<Item = Method> {
        ALL.into_iter().filter(move |&m| self.contains(m))
    }
}

/// A method's flag in [`Methods`].
pub fn flag(method: Method) -> Methods {
    match method {
        Method::Get => Methods::GET,
        Method::Post => Methods::POST,
        Method::Put => Methods::PUT,
        Method::Delete => Methods::DELETE,
        Method::Fetch => Methods::FETCH,
        Method::Patch => Methods::PATCH,
        Method::Ipatch => Methods::IPATCH,
    }
}

/// A method's name as RFC 7252 and RFC 8132 write it.
pub fn name(method: Method) -> &'static str {
    match method {
        Method::Get => "GET",
        Method::Post => "POST",
        Method::Put => "PUT",
        Method::Delete => "DELETE",
        Method::Fetch => "FETCH",
        Method::Patch => "PATCH",
        Method::Ipatch => "iPATCH",
    }
}

/// A method as a person reads it in a diagnostic or a log line: `POST`,
/// not the binding's `Method::Post`.
impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(name(*self))
    }
}

impl TryFrom<Vec<String>> for MethodSet {
    type Error = String;

    fn try_from(names: Vec<String>) -> Result<MethodSet, String> {
        let mut set = Methods::empty();
        for text in &names {
            if text == "*" {
                set |= Methods::all();
                continue;
            }
            let method = ALL
                .into_iter()
                .find(|&m| name(m).eq_ignore_ascii_case(text))
                .ok_or_else(|| {
                    format!(
                        "unknown method {text:?}: expected GET, POST, PUT, DELETE, FETCH, \
                         PATCH, iPATCH or \"*\""
                    )
                })?;
            set |= flag(method);
        }
        Ok(MethodSet(set))
    }
}

impl fmt::Display for MethodSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == Methods::all() {
            return f.write_str("*");
        }
        let names: Vec<&str> = self.iter().map(name).collect();
        f.write_str(&names.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(names: &[&str]) -> Result<MethodSet, String> {
        MethodSet::try_from(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn methods_display_as_coap_names_them() {
        assert_eq!(Method::Post.to_string(), "POST");
        assert_eq!(Method::Ipatch.to_string(), "iPATCH");
        assert_eq!(
            MethodSet::of(Methods::GET | Methods::PUT).to_string(),
            "GET,PUT"
        );
    }

    #[test]
    fn names_and_star_parse() {
        let get = set(&["GET"]).unwrap();
        assert!(get.contains(Method::Get) && !get.contains(Method::Fetch));
        assert_eq!(set(&["*"]).unwrap(), MethodSet::all());
        assert_eq!(set(&["get", "fetch"]).unwrap(), MethodSet::safe());
        assert!(set(&["iPATCH"]).unwrap().contains(Method::Ipatch));
        assert!(set(&["IPATCH"]).unwrap().contains(Method::Ipatch));
        assert!(set(&[]).unwrap().is_empty());
        assert_eq!(set(&["PUT", "GET"]).unwrap().to_string(), "GET,PUT");
    }

    #[test]
    fn unknown_methods_are_refused_by_name() {
        let error = set(&["GET", "OBSERVE"]).unwrap_err();
        assert!(error.contains("\"OBSERVE\""), "{error}");
    }
}
