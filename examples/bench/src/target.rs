//! The request's target: a `coap://` or `coaps://` URI (RFC 7252 §6.4,
//! §6.2) split into the server's address and the Uri-Path and Uri-Query
//! options.

use std::net::{SocketAddr, ToSocketAddrs};

use anyhow::{Context, bail};

/// The default port of the `coap` scheme (RFC 7252 §6.1).
const DEFAULT_PORT: u16 = 5683;
/// The default port of the `coaps` scheme (RFC 7252 §6.2).
const DEFAULT_SECURE_PORT: u16 = 5684;

/// Where requests go and which resource they name.
#[derive(Debug, Clone)]
pub struct Target {
    pub server: SocketAddr,
    /// `coaps`: over DTLS.
    pub secure: bool,
    /// Uri-Path option values, one per segment.
    pub path: Vec<String>,
    /// Uri-Query option values, one per `&`-separated argument.
    pub query: Vec<String>,
}

impl Target {
    /// Parses `coap[s]://HOST[:PORT]/PATH[?QUERY]`. Percent-encoding is not
    /// decoded: a benchmark names plain paths.
    pub fn parse(uri: &str) -> anyhow::Result<Target> {
        let (secure, default_port, rest) = if let Some(rest) = uri.strip_prefix("coap://") {
            (false, DEFAULT_PORT, rest)
        } else if let Some(rest) = uri.strip_prefix("coaps://") {
            (true, DEFAULT_SECURE_PORT, rest)
        } else {
            bail!("{uri}: only coap:// and coaps:// URIs are supported");
        };
        let (authority, rest) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
        let (path, query) = match rest.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (rest, None),
        };
        let with_port = if authority.ends_with(']') || !authority.contains(':') {
            format!("{authority}:{default_port}")
        } else if authority.matches(':').count() > 1 && !authority.starts_with('[') {
            bail!("{uri}: an IPv6 address must be in brackets");
        } else {
            authority.to_owned()
        };
        let server = with_port
            .to_socket_addrs()
            .with_context(|| format!("{uri}: cannot resolve {authority}"))?
            .next()
            .with_context(|| format!("{uri}: {authority} has no address"))?;
        Ok(Target {
            server,
            secure,
            path: path
                .split('/')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            query: query
                .into_iter()
                .flat_map(|q| q.split('&'))
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_path_and_query() {
        let target = Target::parse("coap://127.0.0.1:7000/a/b?x=1&y").unwrap();
        assert_eq!(target.server, "127.0.0.1:7000".parse().unwrap());
        assert_eq!(target.path, ["a", "b"]);
        assert_eq!(target.query, ["x=1", "y"]);
    }

    #[test]
    fn default_port_and_ipv6() {
        assert_eq!(
            Target::parse("coap://[::1]/led").unwrap().server.port(),
            5683
        );
        assert!(Target::parse("http://x/").is_err());
        let secure = Target::parse("coaps://127.0.0.1/temperature").unwrap();
        assert!(secure.secure);
        assert_eq!(secure.server.port(), 5684);
        assert!(!Target::parse("coap://127.0.0.1/").unwrap().secure);
    }
}
