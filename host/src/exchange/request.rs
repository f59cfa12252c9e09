//! Reading a request's options, RFC 7252 §5.4 (option processing) and §5.10
//! (option definitions): which the host recognises, and what makes a request
//! unprocessable.

use coap_lite::{MessageClass, Packet, RequestType};

use super::blockwise::Block;
use crate::runtime::bindings::types::Method;

/// Option numbers, RFC 7252 §5.10 and §12.2.
pub mod option {
    pub const URI_HOST: u16 = 3;
    pub const ETAG: u16 = 4;
    pub const OBSERVE: u16 = 6;
    pub const URI_PORT: u16 = 7;
    pub const URI_PATH: u16 = 11;
    pub const CONTENT_FORMAT: u16 = 12;
    pub const MAX_AGE: u16 = 14;
    pub const URI_QUERY: u16 = 15;
    pub const ACCEPT: u16 = 17;
    pub const BLOCK2: u16 = 23;
    pub const BLOCK1: u16 = 27;
    pub const LOCATION_PATH: u16 = 8;
    pub const LOCATION_QUERY: u16 = 20;
    pub const SIZE2: u16 = 28;
    pub const PROXY_URI: u16 = 35;
    pub const PROXY_SCHEME: u16 = 39;
    pub const SIZE1: u16 = 60;

    /// §5.4.6: the low bit of the number marks a critical option.
    pub fn is_critical(number: u16) -> bool {
        number & 1 == 1
    }
}

/// A request as the exchange layer needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestOptions {
    /// The method.
    pub method: Method,
    /// `/` and the Uri-Path segments joined with `/`.
    pub path: String,
    /// The Uri-Query items.
    pub query: Vec<String>,
    /// The Content-Format of the payload.
    pub content_format: Option<u16>,
    /// The Accept option.
    pub accept: Option<u16>,
    /// The ETags of representations the client has (§5.10.6.2).
    pub etags: Vec<Vec<u8>>,
    /// The Observe option (RFC 7641 §2): 0 registers, 1 deregisters.
    pub observe: Option<u32>,
    /// Block1 (RFC 7959 §2.3): this request's payload is one block of a body.
    pub block1: Option<Block>,
    /// Block2 (RFC 7959 §2.4): the block of the response the client wants.
    pub block2: Option<Block>,
    /// Size1 (RFC 7959 §4): the announced size of the whole request body.
    pub size1: Option<u32>,
    /// Size2 (RFC 7959 §4): present (as 0) when the client wants to learn the
    /// size of the whole representation.
    pub size2: Option<u32>,
}

/// Why a request cannot be handed to a resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestError {
    /// An unrecognised critical option, or a recognised one whose value length
    /// is out of range or that repeats where it may not (§5.4.1, §5.4.3,
    /// §5.4.5): 4.02 for a CON; a NON is rejected.
    BadOption(u16),
    /// A method code the host does not know (§5.8): 4.05.
    UnknownMethod(u8),
    /// Proxy-Uri or Proxy-Scheme while this host is no proxy over CoAP (no
    /// targets allowed, or `[http.proxy] coap = "off"`; §5.10.2): 5.05. A
    /// proxy reads them in [`super::proxy_request`] instead.
    ProxyingNotSupported,
    /// Uri-Path or Uri-Query is not UTF-8 (§5.10.1 gives them string format): 4.00.
    NotUtf8(u16),
}

/// Reads the request's method and options.
pub fn parse(packet: &Packet) -> Result<RequestOptions, RequestError> {
    let method = match packet.header.code {
        MessageClass::Request(RequestType::Get) => Method::Get,
        MessageClass::Request(RequestType::Post) => Method::Post,
        MessageClass::Request(RequestType::Put) => Method::Put,
        MessageClass::Request(RequestType::Delete) => Method::Delete,
        MessageClass::Request(RequestType::Fetch) => Method::Fetch,
        MessageClass::Request(RequestType::Patch) => Method::Patch,
        MessageClass::Request(RequestType::IPatch) => Method::Ipatch,
        other => return Err(RequestError::UnknownMethod(u8::from(other))),
    };
    let mut request = RequestOptions {
        method,
        path: String::new(),
        query: Vec::new(),
        content_format: None,
        accept: None,
        etags: Vec::new(),
        observe: None,
        block1: None,
        block2: None,
        size1: None,
        size2: None,
    };
    let mut has_path = false;
    for (&number, values) in packet.options() {
        match number {
            option::URI_PATH => {
                for segment in values {
                    check_length(number, segment, 0, 255)?;
                    let segment =
                        std::str::from_utf8(segment).map_err(|_| RequestError::NotUtf8(number))?;
                    request.path.push('/');
                    push_segment(&mut request.path, segment);
                    has_path = true;
                }
            }
            option::URI_QUERY => {
                for item in values {
                    check_length(number, item, 0, 255)?;
                    let item =
                        std::str::from_utf8(item).map_err(|_| RequestError::NotUtf8(number))?;
                    request.query.push(item.to_owned());
                }
            }
            option::URI_HOST => {
                // The host serves the same resources under any name.
                single(number, values.len())?;
                check_length(number, values.front().map_or(&[][..], |v| v), 1, 255)?;
            }
            option::URI_PORT => {
                single(number, values.len())?;
                check_length(number, values.front().map_or(&[][..], |v| v), 0, 2)?;
            }
            option::ACCEPT => {
                single(number, values.len())?;
                let value = values.front().map_or(&[][..], |v| v);
                check_length(number, value, 0, 2)?;
                request.accept = Some(uint(value) as u16);
            }
            // Elective: a value of the wrong length is ignored (§5.4.3), and
            // only the first occurrence counts (§5.4.5).
            option::CONTENT_FORMAT => {
                request.content_format = values
                    .front()
                    .filter(|value| value.len() <= 2)
                    .map(|value| uint(value) as u16);
            }
            option::ETAG => {
                request.etags = values
                    .iter()
                    .filter(|etag| (1..=8).contains(&etag.len()))
                    .cloned()
                    .collect();
            }
            // Elective (RFC 7641 §2): an overlong value is ignored.
            option::OBSERVE => {
                request.observe = values
                    .front()
                    .filter(|value| value.len() <= 3)
                    .map(|value| uint(value));
            }
            option::BLOCK1 | option::BLOCK2 => {
                single(number, values.len())?;
                let block = values
                    .front()
                    .and_then(|value| Block::decode(value))
                    .ok_or(RequestError::BadOption(number))?;
                if number == option::BLOCK1 {
                    request.block1 = Some(block);
                } else {
                    request.block2 = Some(block);
                }
            }
            option::SIZE1 | option::SIZE2 => {
                let size = values
                    .front()
                    .filter(|value| value.len() <= 4)
                    .map(|value| uint(value));
                if number == option::SIZE1 {
                    request.size1 = size;
                } else {
                    request.size2 = size;
                }
            }
            option::PROXY_URI | option::PROXY_SCHEME => {
                return Err(RequestError::ProxyingNotSupported);
            }
            number if option::is_critical(number) => return Err(RequestError::BadOption(number)),
            // Every unknown elective option: ignored
            // until the layer that owns them exists (§5.4.1).
            _ => {}
        }
    }
    if !has_path {
        request.path.push('/');
    }
    Ok(request)
}

fn check_length(number: u16, value: &[u8], min: usize, max: usize) -> Result<(), RequestError> {
    if (min..=max).contains(&value.len()) {
        Ok(())
    } else {
        Err(RequestError::BadOption(number))
    }
}

fn single(number: u16, occurrences: usize) -> Result<(), RequestError> {
    if occurrences == 1 {
        Ok(())
    } else {
        Err(RequestError::BadOption(number))
    }
}

/// §3.2 uint format: big-endian, leading zero bytes may be left out.
pub fn uint(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0, |acc, &b| (acc << 8) | u32::from(b))
}

/// Appends a Uri-Path segment as it appears in a path (RFC 7252 §6.5): a
/// `/` in it is percent-encoded, and so is `%`, so that no two option lists
/// name one path and a segment cannot smuggle in a separator.
fn push_segment(path: &mut String, segment: &str) {
    for character in segment.chars() {
        match character {
            '/' => path.push_str("%2F"),
            '%' => path.push_str("%25"),
            other => path.push(other),
        }
    }
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
    fn path_query_and_formats() {
        let mut packet = get();
        packet.add_option(CoapOption::UriPath, b"firmware".to_vec());
        packet.add_option(CoapOption::UriPath, b"image".to_vec());
        packet.add_option(CoapOption::UriQuery, b"v=1".to_vec());
        packet.add_option(CoapOption::Accept, vec![50]);
        packet.add_option(CoapOption::ContentFormat, vec![]);
        let request = parse(&packet).unwrap();
        assert_eq!(request.path, "/firmware/image");
        assert_eq!(request.query, vec!["v=1"]);
        assert_eq!(request.accept, Some(50));
        assert_eq!(request.content_format, Some(0));
    }

    /// §6.5: a `/` inside a segment is data, not a separator, so
    /// `/test%2Fecho` is not `/test/echo`.
    #[test]
    fn slash_and_percent_inside_a_segment_are_escaped() {
        let mut packet = get();
        packet.add_option(CoapOption::UriPath, b"test/echo".to_vec());
        assert_eq!(parse(&packet).unwrap().path, "/test%2Fecho");
        let mut packet = get();
        packet.add_option(CoapOption::UriPath, b"100%".to_vec());
        packet.add_option(CoapOption::UriPath, b"..".to_vec());
        assert_eq!(parse(&packet).unwrap().path, "/100%25/..");
    }

    #[test]
    fn no_path_is_the_root() {
        assert_eq!(parse(&get()).unwrap().path, "/");
    }

    #[test]
    fn unknown_critical_option_is_bad_and_elective_is_ignored() {
        let mut packet = get();
        packet.add_option(CoapOption::Unknown(2050), vec![1]);
        assert!(parse(&packet).is_ok());
        packet.add_option(CoapOption::Unknown(2049), vec![1]);
        assert_eq!(parse(&packet), Err(RequestError::BadOption(2049)));
    }

    #[test]
    fn repeated_accept_is_bad() {
        let mut packet = get();
        packet.add_option(CoapOption::Accept, vec![50]);
        packet.add_option(CoapOption::Accept, vec![0]);
        assert_eq!(parse(&packet), Err(RequestError::BadOption(option::ACCEPT)));
    }

    #[test]
    fn proxy_uri_is_not_supported() {
        let mut packet = get();
        packet.add_option(CoapOption::ProxyUri, b"coap://x/".to_vec());
        assert_eq!(parse(&packet), Err(RequestError::ProxyingNotSupported));
    }

    #[test]
    fn unknown_method_code() {
        let mut packet = Packet::new();
        packet.header.code = MessageClass::from(0x08);
        assert_eq!(parse(&packet), Err(RequestError::UnknownMethod(8)));
    }

    #[test]
    fn block_options_are_read_and_szx_7_is_bad() {
        let mut packet = get();
        packet.add_option(CoapOption::Block2, vec![0x12]);
        assert_eq!(
            parse(&packet).unwrap().block2,
            Some(Block::new(1, false, 64))
        );
        let mut packet = get();
        packet.add_option(CoapOption::Block1, vec![0x07]);
        assert_eq!(parse(&packet), Err(RequestError::BadOption(27)));
    }
}
