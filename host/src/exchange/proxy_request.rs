//! Reading a forward-proxy request (RFC 7252 §5.7.2): its target, from
//! Proxy-Uri or from Proxy-Scheme and the Uri-* options (§5.10.2, §6.5),
//! and which of its options go on to the device, pure: a packet in, a
//! [`ProxyRequest`] or the error to answer out.
//!
//! Options, by what the proxy does with them:
//! - the target's: Proxy-Uri, Proxy-Scheme, Uri-Host, Uri-Port, Uri-Path,
//!   Uri-Query: consumed (the Uri-* ones rebuilt from the target);
//! - hop-by-hop, the proxy's own: Block1, Block2, Size1, Size2 (the proxy
//!   reassembles the client's upload and slices its own response, RFC 7959
//!   §2.4; the client core does the device's side) and Observe, which is
//!   not relayed (the answer carries none: no observation, RFC 7641 §3.1);
//! - end-to-end, sent on: If-Match, ETag, If-None-Match, Content-Format,
//!   Accept;
//! - unknown ones: Safe-to-Forward ones are sent on, an Unsafe one makes
//!   the answer 5.02 (§5.7.2; §5.4.2 on the Unsafe bit), and a request with
//!   an unknown option that is part of the cache key (§5.4.6) is not
//!   answered from the cache, whose key has only Accept besides the target.

use coap_lite::{MessageClass, Packet, RequestType};

use super::blockwise::Block;
use super::request::{option, uint};
use crate::client::uri::{CoapUri, Scheme};

const IF_MATCH: u16 = 1;
const IF_NONE_MATCH: u16 = 5;

/// A request for the proxy, read.
#[derive(Debug, Clone, PartialEq)]
pub struct ProxyRequest {
    /// Where it goes.
    pub target: CoapUri,
    /// The method, as is.
    pub method: RequestType,
    /// The end-to-end options to send on, in order.
    pub forwarded: Vec<(u16, Vec<u8>)>,
    /// Whether the cache may answer it (no unknown cache-key option).
    pub cacheable: bool,
    /// The Accept option, for the held response's key.
    pub accept: Option<u16>,
    /// Block1 of the client's upload to the proxy.
    pub block1: Option<Block>,
    /// Block2: the block of the proxy's response the client wants.
    pub block2: Option<Block>,
    /// Size1, the announced size of the upload.
    pub size1: Option<u32>,
    /// Whether the client asked for Size2.
    pub size2: bool,
}

/// Why the proxy answers a request itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProxyRequestError {
    /// An option the proxy knows, malformed (4.02, §5.4.3).
    BadOption(u16),
    /// The target URI is not one (4.00).
    BadRequest(String),
    /// An unknown Unsafe option (5.02, §5.7.2).
    UnsafeOption(u16),
    /// A scheme the proxy does not speak, or no host to go to (5.05,
    /// §5.10.2: unable or unwilling).
    Unwilling(String),
}

/// Whether `packet` asks this host to act as a forward-proxy.
pub fn is_proxy_request(packet: &Packet) -> bool {
    packet
        .options()
        .any(|(&number, _)| number == option::PROXY_URI || number == option::PROXY_SCHEME)
}

/// §5.4.6: the Unsafe bit.
fn is_unsafe(number: u16) -> bool {
    number & 2 != 0
}

/// §5.4.6: all three NoCacheKey bits set.
fn is_no_cache_key(number: u16) -> bool {
    number & 0x1e == 0x1c
}

/// Reads a request that [`is_proxy_request`].
pub fn parse(packet: &Packet) -> Result<ProxyRequest, ProxyRequestError> {
    let MessageClass::Request(method) = packet.header.code else {
        return Err(ProxyRequestError::BadRequest("not a request".to_owned()));
    };
    let text = |number: u16, value: &[u8]| {
        std::str::from_utf8(value)
            .map(str::to_owned)
            .map_err(|_| ProxyRequestError::BadRequest(format!("option {number} is not UTF-8")))
    };
    let mut proxy_uri = None;
    let mut proxy_scheme = None;
    let mut uri_host = None;
    let mut uri_port = None;
    let mut path = Vec::new();
    let mut query = Vec::new();
    let mut request = ProxyRequest {
        target: CoapUri {
            scheme: Scheme::Coap,
            host: String::new(),
            port: 0,
            path: Vec::new(),
            query: Vec::new(),
        },
        method,
        forwarded: Vec::new(),
        cacheable: true,
        accept: None,
        block1: None,
        block2: None,
        size1: None,
        size2: false,
    };
    for (&number, values) in packet.options() {
        let first = values.front().map_or(&[][..], |v| &v[..]);
        let single = |min: usize, max: usize| {
            if values.len() == 1 && (min..=max).contains(&first.len()) {
                Ok(first)
            } else {
                Err(ProxyRequestError::BadOption(number))
            }
        };
        match number {
            option::PROXY_URI => proxy_uri = Some(text(number, single(1, 1034)?)?),
            option::PROXY_SCHEME => proxy_scheme = Some(text(number, single(1, 255)?)?),
            option::URI_HOST => uri_host = Some(text(number, single(1, 255)?)?),
            option::URI_PORT => uri_port = Some(uint(single(0, 2)?) as u16),
            option::URI_PATH => {
                for segment in values {
                    path.push(text(number, segment)?);
                }
            }
            option::URI_QUERY => {
                for item in values {
                    query.push(text(number, item)?);
                }
            }
            option::BLOCK1 | option::BLOCK2 => {
                let block =
                    Block::decode(single(0, 3)?).ok_or(ProxyRequestError::BadOption(number))?;
                if number == option::BLOCK1 {
                    request.block1 = Some(block);
                } else {
                    request.block2 = Some(block);
                }
            }
            option::SIZE1 => request.size1 = Some(uint(single(0, 4)?)),
            option::SIZE2 => request.size2 = true,
            // Not relayed; see the module documentation.
            option::OBSERVE => {}
            option::ACCEPT => {
                let value = single(0, 2)?;
                request.accept = Some(uint(value) as u16);
                request.forwarded.push((number, value.to_vec()));
            }
            IF_MATCH | option::ETAG | IF_NONE_MATCH | option::CONTENT_FORMAT => {
                for value in values {
                    request.forwarded.push((number, value.clone()));
                }
            }
            number if is_unsafe(number) => return Err(ProxyRequestError::UnsafeOption(number)),
            number => {
                request.cacheable &= is_no_cache_key(number);
                for value in values {
                    request.forwarded.push((number, value.clone()));
                }
            }
        }
    }
    request.target = match (proxy_uri, proxy_scheme) {
        // §5.10.2: Proxy-Uri takes precedence over the Uri-* options.
        (Some(uri), _) => target_of(&uri)?,
        (None, Some(scheme)) => {
            let scheme = scheme_of(&scheme)?;
            // §6.5 would take the request's destination address: this host.
            let host = uri_host.ok_or_else(|| {
                ProxyRequestError::Unwilling(
                    "Proxy-Scheme without Uri-Host names this host, not a target".to_owned(),
                )
            })?;
            let host = host
                .strip_prefix('[')
                .and_then(|h| h.strip_suffix(']'))
                .map_or(host.clone(), str::to_owned);
            CoapUri {
                scheme,
                host,
                port: uri_port.unwrap_or(scheme.default_port()),
                path,
                query,
            }
        }
        (None, None) => return Err(ProxyRequestError::BadRequest("no target".to_owned())),
    };
    Ok(request)
}

fn scheme_of(scheme: &str) -> Result<Scheme, ProxyRequestError> {
    if scheme.eq_ignore_ascii_case("coap") {
        Ok(Scheme::Coap)
    } else if scheme.eq_ignore_ascii_case("coaps") {
        Ok(Scheme::Coaps)
    } else {
        Err(ProxyRequestError::Unwilling(format!(
            "the proxy does not speak {scheme}"
        )))
    }
}

/// The absolute URI of Proxy-Uri, taken apart as §6.4 says.
fn target_of(uri: &str) -> Result<CoapUri, ProxyRequestError> {
    if let Some((scheme, _)) = uri.split_once(':') {
        scheme_of(scheme)?;
    }
    CoapUri::parse(uri).map_err(|error| ProxyRequestError::BadRequest(format!("{error:#}")))
}

#[cfg(test)]
mod tests {
    use coap_lite::CoapOption;

    use super::*;

    fn get() -> Packet {
        let mut packet = Packet::new();
        packet.header.code = MessageClass::Request(RequestType::Get);
        packet
    }

    #[test]
    fn proxy_uri_is_decomposed() {
        let mut packet = get();
        packet.add_option(
            CoapOption::ProxyUri,
            b"coap://10.0.0.7:5699/a/b%2Fc?x=1&y".to_vec(),
        );
        packet.add_option(CoapOption::Accept, vec![50]);
        packet.add_option(CoapOption::Block2, vec![0x16]);
        let request = parse(&packet).unwrap();
        assert_eq!(request.target.host, "10.0.0.7");
        assert_eq!(request.target.port, 5699);
        assert_eq!(request.target.path, ["a", "b/c"]);
        assert_eq!(request.target.query, ["x=1", "y"]);
        assert_eq!(request.forwarded, [(17, vec![50])]);
        assert_eq!(request.accept, Some(50));
        assert_eq!(request.block2, Some(Block::new(1, false, 1024)));
        assert!(request.cacheable);
    }

    #[test]
    fn proxy_scheme_takes_the_uri_options() {
        let mut packet = get();
        packet.add_option(CoapOption::ProxyScheme, b"coap".to_vec());
        packet.add_option(CoapOption::UriHost, b"[::1]".to_vec());
        packet.add_option(CoapOption::UriPort, vec![0x16, 0x34]);
        packet.add_option(CoapOption::UriPath, b"led".to_vec());
        let request = parse(&packet).unwrap();
        assert_eq!(request.target.host, "::1");
        assert_eq!(request.target.port, 5684);
        assert_eq!(request.target.path, ["led"]);

        let mut packet = get();
        packet.add_option(CoapOption::ProxyScheme, b"coap".to_vec());
        assert!(matches!(
            parse(&packet),
            Err(ProxyRequestError::Unwilling(_))
        ));
    }

    #[test]
    fn other_schemes_are_unwilling() {
        let mut packet = get();
        packet.add_option(CoapOption::ProxyUri, b"http://10.0.0.7/".to_vec());
        assert!(matches!(
            parse(&packet),
            Err(ProxyRequestError::Unwilling(_))
        ));
        let mut packet = get();
        packet.add_option(CoapOption::ProxyUri, b"coap://h/#f".to_vec());
        assert!(matches!(
            parse(&packet),
            Err(ProxyRequestError::BadRequest(_))
        ));
    }

    /// §5.7.2: an unknown Unsafe option is 5.02; an unknown Safe-to-Forward
    /// one goes on, and keeps the answer out of the cache unless it is
    /// NoCacheKey.
    #[test]
    fn unknown_options_by_their_bits() {
        let with = |number: u16| {
            let mut packet = get();
            packet.add_option(CoapOption::ProxyUri, b"coap://h/".to_vec());
            packet.add_option(CoapOption::Unknown(number), vec![1]);
            parse(&packet)
        };
        // 2050 = 0b1000_0000_0010: Unsafe.
        assert_eq!(with(2050), Err(ProxyRequestError::UnsafeOption(2050)));
        // 2049: critical, Safe-to-Forward, part of the cache key.
        let request = with(2049).unwrap();
        assert_eq!(request.forwarded, [(2049, vec![1])]);
        assert!(!request.cacheable);
        // 252 (Echo's number, unknown here): NoCacheKey.
        assert!(with(252).unwrap().cacheable);
    }

    /// Conditional requests are the device's to decide (§5.10.8).
    #[test]
    fn conditions_and_formats_go_on() {
        let mut packet = get();
        packet.header.code = MessageClass::Request(RequestType::Put);
        packet.add_option(CoapOption::ProxyUri, b"coap://h/".to_vec());
        packet.add_option(CoapOption::IfMatch, vec![1, 2]);
        packet.add_option(CoapOption::IfNoneMatch, vec![]);
        packet.add_option(CoapOption::ContentFormat, vec![50]);
        let request = parse(&packet).unwrap();
        assert_eq!(request.method, RequestType::Put);
        assert_eq!(
            request.forwarded,
            [(1, vec![1, 2]), (5, vec![]), (12, vec![50])]
        );
    }

    #[test]
    fn observe_is_not_relayed() {
        let mut packet = get();
        packet.add_option(CoapOption::ProxyUri, b"coap://h/".to_vec());
        packet.add_option(CoapOption::Observe, vec![]);
        assert!(parse(&packet).unwrap().forwarded.is_empty());
    }
}
