//! A `coap://` or `coaps://` URI taken apart into the request's options,
//! RFC 7252 §6.4 ("Decomposing URIs into Options"), and resolved to an
//! address.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

use anyhow::{Context, bail};

/// The scheme, which picks the transport (§6.1, §6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// CoAP over plain UDP, default port 5683.
    Coap,
    /// CoAP over DTLS, default port 5684.
    Coaps,
}

impl Scheme {
    /// The default port of the scheme (§12.6, §12.7).
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Coap => 5683,
            Scheme::Coaps => 5684,
        }
    }
}

/// A request target: where to send it and the options that name the resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoapUri {
    /// coap or coaps.
    pub scheme: Scheme,
    /// The host as written: a name, or an IP literal without brackets.
    pub host: String,
    /// The port, the scheme's default if none was written.
    pub port: u16,
    /// Uri-Path options, percent-decoded, one per segment (§6.4 step 8).
    pub path: Vec<String>,
    /// Uri-Query options, percent-decoded, one per `&`-separated item (step 9).
    pub query: Vec<String>,
}

impl CoapUri {
    /// Parses an absolute URI. A fragment is refused (§6.4 step 3), as are
    /// other schemes (step 2); the scheme is compared in lower case (step 2).
    pub fn parse(text: &str) -> anyhow::Result<CoapUri> {
        let (scheme, rest) = match text.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("coap") => (Scheme::Coap, rest),
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("coaps") => (Scheme::Coaps, rest),
            _ => bail!("{text:?} is not a coap:// or coaps:// URI"),
        };
        if rest.contains('#') {
            bail!("{text:?} has a fragment, which CoAP URIs do not allow (RFC 7252 §6.4)");
        }
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path_and_query) = rest.split_at(authority_end);
        let (host, port) =
            split_authority(authority).with_context(|| format!("{text:?}: bad host or port"))?;
        let port = port.unwrap_or(scheme.default_port());
        let (path, query) = match path_and_query.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (path_and_query, None),
        };
        // §6.4 step 8: "/" alone is no Uri-Path; every other segment is one,
        // empty ones included, once "." and ".." are resolved (step 1's
        // reference resolution, RFC 3986 §5.2.4).
        let path = match path.strip_prefix('/') {
            None | Some("") => Vec::new(),
            Some(path) => match remove_dot_segments(path.split('/')).as_slice() {
                [] | [""] => Vec::new(),
                segments => segments
                    .iter()
                    .map(|segment| percent_decode(segment))
                    .collect::<anyhow::Result<_>>()?,
            },
        };
        let query = match query {
            None => Vec::new(),
            Some(query) => query
                .split('&')
                .map(percent_decode)
                .collect::<anyhow::Result<_>>()?,
        };
        Ok(CoapUri {
            scheme,
            host,
            port,
            path,
            query,
        })
    }

    /// The Uri-Host option to send: only a registered name, since the
    /// destination address already says an IP literal (§6.4 step 5).
    pub fn uri_host(&self) -> Option<&str> {
        match self.host.parse::<IpAddr>() {
            Ok(_) => None,
            Err(_) => Some(&self.host),
        }
    }

    /// The peer's address: the literal, or the first address the name
    /// resolves to.
    pub fn resolve(&self) -> anyhow::Result<SocketAddr> {
        Ok(self.resolve_all()?[0])
    }

    /// Every address of the host, in the resolver's order (never empty).
    pub fn resolve_all(&self) -> anyhow::Result<Vec<SocketAddr>> {
        if let Ok(ip) = self.host.parse::<IpAddr>() {
            return Ok(vec![SocketAddr::new(ip, self.port)]);
        }
        let addresses: Vec<SocketAddr> = (self.host.as_str(), self.port)
            .to_socket_addrs()
            .with_context(|| format!("cannot resolve {}", self.host))?
            .collect();
        if addresses.is_empty() {
            bail!("{} has no address", self.host);
        }
        Ok(addresses)
    }

    /// The same authority with another path and query: the URI of
    /// `/.well-known/core` for `discover`, or a link's target.
    pub fn with_path(&self, path: &str) -> anyhow::Result<CoapUri> {
        let scheme = match self.scheme {
            Scheme::Coap => "coap",
            Scheme::Coaps => "coaps",
        };
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        CoapUri::parse(&format!("{scheme}://{host}:{}{path}", self.port))
    }
}

fn split_authority(authority: &str) -> anyhow::Result<(String, Option<u16>)> {
    // User information is not part of a CoAP URI's authority (§6.1).
    if authority.contains('@') {
        bail!("user information is not allowed");
    }
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']').context("no closing ]")?;
        host.parse::<std::net::Ipv6Addr>()
            .with_context(|| format!("{host:?} is no IPv6 address"))?;
        let port = match after {
            "" => None,
            after => Some(after.strip_prefix(':').context("junk after ]")?),
        };
        (host.to_owned(), port)
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host.to_owned(), Some(port)),
            None => (authority.to_owned(), None),
        }
    };
    if host.is_empty() {
        bail!("no host");
    }
    let port = match port {
        None | Some("") => None,
        Some(port) => Some(port.parse::<u16>().context("the port is not a number")?),
    };
    // §6.4 step 5: a host name is case-insensitive, and sent lower-case.
    Ok((host.to_ascii_lowercase(), port))
}

/// The path's segments without "." and "..", each ".." taking the segment
/// before it (RFC 3986 §5.2.4); one of them last leaves an empty segment,
/// as "/a/b/.." is "/a/".
fn remove_dot_segments<'a>(segments: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut segments = segments.peekable();
    while let Some(segment) = segments.next() {
        let last = segments.peek().is_none();
        match segment {
            "." => {}
            ".." => {
                out.pop();
            }
            segment => {
                out.push(segment);
                continue;
            }
        }
        if last {
            out.push("");
        }
    }
    out
}

/// Percent-decoding (RFC 3986 §2.1); the result must be UTF-8, as option
/// values of the string format are (RFC 7252 §3.2).
fn percent_decode(text: &str) -> anyhow::Result<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text
                .get(i + 1..i + 3)
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                .with_context(|| format!("bad percent-encoding in {text:?}"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).with_context(|| format!("{text:?} is not UTF-8 once decoded"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_apart_path_and_query() {
        let uri = CoapUri::parse("coap://127.0.0.1:5799/sensors/temp%20a?unit=c&x").unwrap();
        assert_eq!(uri.scheme, Scheme::Coap);
        assert_eq!(uri.port, 5799);
        assert_eq!(uri.path, ["sensors", "temp a"]);
        assert_eq!(uri.query, ["unit=c", "x"]);
        assert_eq!(uri.uri_host(), None);
    }

    #[test]
    fn default_ports_and_root() {
        let uri = CoapUri::parse("coaps://Example.org").unwrap();
        assert_eq!((uri.port, uri.host.as_str()), (5684, "example.org"));
        assert!(uri.path.is_empty());
        assert_eq!(uri.uri_host(), Some("example.org"));
        assert!(CoapUri::parse("coap://h/").unwrap().path.is_empty());
        // A trailing slash is an empty segment (§6.4 step 8).
        assert_eq!(CoapUri::parse("coap://h/a/").unwrap().path, ["a", ""]);
    }

    #[test]
    fn scheme_in_any_case_and_dot_segments_resolved() {
        let uri = CoapUri::parse("COAPS://h/x").unwrap();
        assert_eq!(uri.scheme, Scheme::Coaps);
        assert_eq!(CoapUri::parse("Coap://h/x").unwrap().scheme, Scheme::Coap);
        for (text, path) in [
            ("coap://h/./time", &["time"][..]),
            ("coap://h/a/../time", &["time"]),
            ("coap://h/a/b/..", &["a", ""]),
            ("coap://h/a/.", &["a", ""]),
            ("coap://h/a//..", &["a", ""]),
            ("coap://h/..", &[]),
            ("coap://h/a/..", &[]),
            ("coap://h/../../a?x", &["a"]),
            ("coap://h/%2E%2E/a", &["..", "a"]),
        ] {
            assert_eq!(CoapUri::parse(text).unwrap().path, path, "{text}");
        }
    }

    #[test]
    fn ipv6_literals() {
        let uri = CoapUri::parse("coap://[::1]:7000/led").unwrap();
        assert_eq!(uri.resolve().unwrap(), "[::1]:7000".parse().unwrap());
        assert_eq!(
            uri.with_path("/.well-known/core").unwrap().path,
            [".well-known", "core"]
        );
        assert!(CoapUri::parse("coap://[::1/led").is_err());
    }

    #[test]
    fn refuses_what_is_not_a_coap_uri() {
        for bad in [
            "http://h/x",
            "coap://h/x#frag",
            "coap://:80/x",
            "coap://h:port/x",
            "coap://h/%zz",
            "coap://u@h/",
        ] {
            assert!(CoapUri::parse(bad).is_err(), "{bad}");
        }
    }
}
