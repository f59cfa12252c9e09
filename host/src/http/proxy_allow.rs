//! The cross-proxy's allow-list of targets: addresses, networks and host
//! names, each with an optional port. Nothing is allowed by default, and a
//! multicast or broadcast target never is: one HTTP request must not become
//! a storm of CoAP ones (RFC 8075 §10.2 on the proxy as an amplifier).

use std::net::{IpAddr, SocketAddr};

use anyhow::{Context as _, bail, ensure};

#[derive(Debug, Clone)]
enum Host {
    /// A host name, lower case, compared with the target URI's.
    Name(String),
    /// An address and prefix length: a network, or one address.
    Net(IpAddr, u8),
}

#[derive(Debug, Clone)]
struct Entry {
    host: Host,
    port: Option<u16>,
}

/// The targets the proxy may reach.
#[derive(Debug, Clone, Default)]
pub struct AllowList {
    entries: Vec<Entry>,
}

impl AllowList {
    /// Parses `127.0.0.1`, `10.0.0.0/8`, `[::1]:5683`, `sensor.local:5683`...
    pub fn parse(entries: &[String]) -> anyhow::Result<AllowList> {
        let entries = entries
            .iter()
            .map(|e| entry(e.trim()).with_context(|| format!("allow entry {e:?}")))
            .collect::<anyhow::Result<_>>()?;
        Ok(AllowList { entries })
    }

    /// Whether a target written with host `name`, at `address`, is allowed.
    pub fn allows(&self, name: &str, address: SocketAddr) -> bool {
        let ip = address.ip().to_canonical();
        self.entries.iter().any(|entry| {
            entry.port.is_none_or(|p| p == address.port())
                && match &entry.host {
                    Host::Name(allowed) => allowed.eq_ignore_ascii_case(name),
                    Host::Net(net, prefix) => contains(*net, *prefix, ip),
                }
        })
    }
}

/// An address a datagram to which reaches many devices, or none in
/// particular: never a proxy target.
pub fn is_group(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.is_multicast() || v4.is_broadcast() || v4.is_unspecified(),
        IpAddr::V6(v6) => v6.is_multicast() || v6.is_unspecified(),
    }
}

fn entry(text: &str) -> anyhow::Result<Entry> {
    ensure!(!text.is_empty(), "empty");
    if let Some((address, prefix)) = text.split_once('/') {
        let address: IpAddr = address.parse().context("not an IP network")?;
        let prefix: u8 = prefix.parse().context("bad prefix length")?;
        let bits = if address.is_ipv4() { 32 } else { 128 };
        ensure!(prefix <= bits, "a prefix of {prefix} bits is too long");
        return Ok(Entry {
            host: Host::Net(address.to_canonical(), prefix),
            port: None,
        });
    }
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Ok(Entry {
            host: single(ip),
            port: None,
        });
    }
    if let Ok(address) = text.parse::<SocketAddr>() {
        return Ok(Entry {
            host: single(address.ip()),
            port: Some(address.port()),
        });
    }
    let (name, port) = match text.rsplit_once(':') {
        Some((name, port)) => (name, Some(port.parse::<u16>().context("bad port")?)),
        None => (text, None),
    };
    if name
        .chars()
        .any(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')))
    {
        bail!("not an address, a network or a host name");
    }
    Ok(Entry {
        host: Host::Name(name.to_ascii_lowercase()),
        port,
    })
}

fn single(ip: IpAddr) -> Host {
    let ip = ip.to_canonical();
    Host::Net(ip, if ip.is_ipv4() { 32 } else { 128 })
}

fn contains(net: IpAddr, prefix: u8, ip: IpAddr) -> bool {
    match (net, ip) {
        (IpAddr::V4(net), IpAddr::V4(ip)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            u32::from(net) & mask == u32::from(ip) & mask
        }
        (IpAddr::V6(net), IpAddr::V6(ip)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            u128::from(net) & mask == u128::from(ip) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(entries: &[&str]) -> AllowList {
        AllowList::parse(&entries.iter().map(|e| e.to_string()).collect::<Vec<_>>()).unwrap()
    }

    fn at(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    #[test]
    fn nothing_by_default() {
        assert!(!list(&[]).allows("127.0.0.1", at("127.0.0.1:5683")));
    }

    #[test]
    fn addresses_networks_names_ports() {
        let allow = list(&[
            "127.0.0.1",
            "10.0.0.0/8",
            "[::1]:5683",
            "sensor.local:5683",
            "0.0.0.0/0",
        ]);
        assert!(allow.allows("127.0.0.1", at("127.0.0.1:9")));
        assert!(allow.allows("10.1.2.3", at("10.1.2.3:5683")));
        assert!(allow.allows("::1", at("[::1]:5683")));
        assert!(!allow.allows("::1", at("[::1]:5684")));
        assert!(allow.allows("SENSOR.local", at("[fe80::1]:5683")));
        assert!(!allow.allows("sensor.local", at("[fe80::1]:5684")));
        // v4-mapped IPv6 is the IPv4 address.
        assert!(allow.allows("x", at("[::ffff:10.0.0.1]:1")));
        let narrow = list(&["10.0.0.0/8"]);
        assert!(!narrow.allows("11.0.0.1", at("11.0.0.1:5683")));
    }

    #[test]
    fn groups_and_bad_entries() {
        assert!(is_group("224.0.1.187".parse().unwrap()));
        assert!(is_group("ff02::fd".parse().unwrap()));
        assert!(is_group("255.255.255.255".parse().unwrap()));
        assert!(!is_group("127.0.0.1".parse().unwrap()));
        for bad in ["", "10.0.0.0/33", "a b", "host:99999", "1.2.3.4/x"] {
            assert!(AllowList::parse(&[bad.to_owned()]).is_err(), "{bad}");
        }
    }
}
