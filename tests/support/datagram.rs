//! A small CoAP message codec (RFC 7252 §3), written apart from the host's so
//! that the tests check the wire format against the RFC, not against the host's
//! own understanding of it.
//!
//! `decode` is strict on purpose: a server that sends a malformed datagram must
//! make a test fail, not be tolerated.

use std::fmt;

/// The message type (RFC 7252 §3, §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Type {
    Con = 0,
    Non = 1,
    Ack = 2,
    Rst = 3,
}

impl Type {
    fn from_bits(bits: u8) -> Type {
        match bits & 0b11 {
            0 => Type::Con,
            1 => Type::Non,
            2 => Type::Ack,
            _ => Type::Rst,
        }
    }
}

/// A request or response code, `class.detail` (RFC 7252 §3, §12.1).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Code(pub u8);

impl Code {
    pub const fn new(class: u8, detail: u8) -> Code {
        Code((class << 5) | detail)
    }

    pub const EMPTY: Code = Code::new(0, 0);
    pub const GET: Code = Code::new(0, 1);
    pub const POST: Code = Code::new(0, 2);
    pub const PUT: Code = Code::new(0, 3);
    pub const DELETE: Code = Code::new(0, 4);
    pub const CREATED: Code = Code::new(2, 1);
    pub const VALID: Code = Code::new(2, 3);
    pub const CHANGED: Code = Code::new(2, 4);
    pub const CONTENT: Code = Code::new(2, 5);
    pub const BAD_REQUEST: Code = Code::new(4, 0);
    pub const BAD_OPTION: Code = Code::new(4, 2);
    pub const FORBIDDEN: Code = Code::new(4, 3);
    pub const NOT_FOUND: Code = Code::new(4, 4);
    pub const METHOD_NOT_ALLOWED: Code = Code::new(4, 5);
    pub const NOT_ACCEPTABLE: Code = Code::new(4, 6);
    pub const INTERNAL_SERVER_ERROR: Code = Code::new(5, 0);
    pub const SERVICE_UNAVAILABLE: Code = Code::new(5, 3);

    pub fn class(self) -> u8 {
        self.0 >> 5
    }

    pub fn detail(self) -> u8 {
        self.0 & 0x1f
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.class(), self.detail())
    }
}

impl fmt::Debug for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Option numbers (RFC 7252 §5.10, RFC 7641, RFC 7959).
pub mod option {
    pub const IF_MATCH: u16 = 1;
    pub const URI_HOST: u16 = 3;
    pub const ETAG: u16 = 4;
    pub const OBSERVE: u16 = 6;
    pub const URI_PORT: u16 = 7;
    pub const LOCATION_PATH: u16 = 8;
    pub const URI_PATH: u16 = 11;
    pub const CONTENT_FORMAT: u16 = 12;
    pub const MAX_AGE: u16 = 14;
    pub const URI_QUERY: u16 = 15;
    pub const ACCEPT: u16 = 17;
    pub const LOCATION_QUERY: u16 = 20;
    pub const BLOCK2: u16 = 23;
    pub const SIZE2: u16 = 28;
}

/// One CoAP message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub mtype: Type,
    pub code: Code,
    pub mid: u16,
    pub token: Vec<u8>,
    /// In the order they are encoded; `encode` sorts them stably by number.
    pub options: Vec<(u16, Vec<u8>)>,
    pub payload: Vec<u8>,
}

impl Message {
    pub fn new(mtype: Type, code: Code, mid: u16) -> Message {
        Message {
            mtype,
            code,
            mid,
            token: Vec::new(),
            options: Vec::new(),
            payload: Vec::new(),
        }
    }

    /// A request for `target`, a path with an optional `?a=1&b=2` query, which
    /// becomes Uri-Path and Uri-Query options (RFC 7252 §6.4).
    pub fn request(mtype: Type, code: Code, mid: u16, token: &[u8], target: &str) -> Message {
        let (path, query) = match target.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (target, None),
        };
        let mut message = Message::new(mtype, code, mid).token(token);
        for segment in path.split('/').filter(|s| !s.is_empty()) {
            message = message.option(option::URI_PATH, segment.as_bytes());
        }
        for item in query.into_iter().flat_map(|q| q.split('&')) {
            message = message.option(option::URI_QUERY, item.as_bytes());
        }
        message
    }

    pub fn token(mut self, token: &[u8]) -> Message {
        self.token = token.to_vec();
        self
    }

    pub fn option(mut self, number: u16, value: &[u8]) -> Message {
        self.options.push((number, value.to_vec()));
        self
    }

    pub fn uint_option(self, number: u16, value: u32) -> Message {
        self.option(number, &encode_uint(value))
    }

    pub fn payload(mut self, payload: &[u8]) -> Message {
        self.payload = payload.to_vec();
        self
    }

    /// The values of every option `number`, in order.
    pub fn options_of(&self, number: u16) -> Vec<&[u8]> {
        self.options
            .iter()
            .filter(|(n, _)| *n == number)
            .map(|(_, v)| v.as_slice())
            .collect()
    }

    /// The value of option `number`; panics if it occurs more than once.
    pub fn option_value(&self, number: u16) -> Option<&[u8]> {
        let values = self.options_of(number);
        assert!(
            values.len() <= 1,
            "option {number} occurs {} times in {self}",
            values.len()
        );
        values.first().copied()
    }

    pub fn uint_option_value(&self, number: u16) -> Option<u32> {
        self.option_value(number).map(decode_uint)
    }

    /// The values of a repeatable string option such as Location-Path.
    pub fn string_options(&self, number: u16) -> Vec<String> {
        self.options_of(number)
            .into_iter()
            .map(|v| String::from_utf8(v.to_vec()).expect("string option is not UTF-8"))
            .collect()
    }

    pub fn content_format(&self) -> Option<u32> {
        self.uint_option_value(option::CONTENT_FORMAT)
    }

    /// The payload as text; panics, naming the message, if it is not UTF-8.
    pub fn payload_text(&self) -> &str {
        std::str::from_utf8(&self.payload)
            .unwrap_or_else(|_| panic!("payload is not UTF-8 in {self}"))
    }

    /// The payload parsed as JSON; panics, naming the message, if it is not.
    pub fn payload_json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.payload)
            .unwrap_or_else(|e| panic!("payload is not JSON ({e}) in {self}"))
    }

    pub fn encode(&self) -> Vec<u8> {
        assert!(self.token.len() <= 8, "token longer than 8 bytes");
        let mut out = vec![
            0x40 | ((self.mtype as u8) << 4) | self.token.len() as u8,
            self.code.0,
        ];
        out.extend_from_slice(&self.mid.to_be_bytes());
        out.extend_from_slice(&self.token);
        let mut options: Vec<&(u16, Vec<u8>)> = self.options.iter().collect();
        options.sort_by_key(|(number, _)| *number);
        let mut previous = 0u16;
        for (number, value) in options {
            let (delta_nibble, delta_ext) = nibble(u32::from(number - previous));
            let (length_nibble, length_ext) = nibble(value.len() as u32);
            out.push((delta_nibble << 4) | length_nibble);
            out.extend_from_slice(&delta_ext);
            out.extend_from_slice(&length_ext);
            out.extend_from_slice(value);
            previous = *number;
        }
        if !self.payload.is_empty() {
            out.push(0xff);
            out.extend_from_slice(&self.payload);
        }
        out
    }

    /// Parses a datagram, rejecting everything RFC 7252 §3 and §4.1 call a
    /// message format error.
    pub fn decode(bytes: &[u8]) -> Result<Message, String> {
        if bytes.len() < 4 {
            return Err(format!("{} bytes is shorter than a header", bytes.len()));
        }
        let version = bytes[0] >> 6;
        if version != 1 {
            return Err(format!("version {version}"));
        }
        let token_length = usize::from(bytes[0] & 0x0f);
        if token_length > 8 {
            return Err(format!("token length {token_length}"));
        }
        let mut message = Message::new(
            Type::from_bits(bytes[0] >> 4),
            Code(bytes[1]),
            u16::from_be_bytes([bytes[2], bytes[3]]),
        );
        let mut rest = &bytes[4..];
        message.token = take(&mut rest, token_length, "token")?.to_vec();
        let mut number = 0u32;
        while let Some(&first) = rest.first() {
            rest = &rest[1..];
            if first == 0xff {
                if rest.is_empty() {
                    return Err("payload marker without payload".into());
                }
                message.payload = rest.to_vec();
                rest = &[];
                break;
            }
            number += extended(first >> 4, &mut rest, "option delta")?;
            let length = extended(first & 0x0f, &mut rest, "option length")?;
            let value = take(&mut rest, length as usize, "option value")?;
            let number = u16::try_from(number).map_err(|_| "option number above 65535")?;
            message.options.push((number, value.to_vec()));
        }
        debug_assert!(rest.is_empty());
        if message.code == Code::EMPTY && bytes.len() != 4 {
            return Err("empty message with bytes after the header".into());
        }
        Ok(message)
    }
}

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} {} mid={:#06x} token={}",
            self.mtype,
            self.code,
            self.mid,
            hex(&self.token)
        )?;
        for (number, value) in &self.options {
            write!(f, " opt{number}={}", hex(value))?;
        }
        if !self.payload.is_empty() {
            write!(f, " payload={:?}", String::from_utf8_lossy(&self.payload))?;
        }
        Ok(())
    }
}

/// Splits a delta or length into its 4-bit nibble and extended bytes (§3.1).
fn nibble(value: u32) -> (u8, Vec<u8>) {
    match value {
        0..=12 => (value as u8, Vec::new()),
        13..=268 => (13, vec![(value - 13) as u8]),
        _ => (14, ((value - 269) as u16).to_be_bytes().to_vec()),
    }
}

fn extended(nibble: u8, rest: &mut &[u8], what: &str) -> Result<u32, String> {
    match nibble {
        0..=12 => Ok(u32::from(nibble)),
        13 => Ok(u32::from(take(rest, 1, what)?[0]) + 13),
        14 => {
            let b = take(rest, 2, what)?;
            Ok(u32::from(u16::from_be_bytes([b[0], b[1]])) + 269)
        }
        _ => Err(format!("{what} nibble 15 outside a payload marker")),
    }
}

fn take<'a>(rest: &mut &'a [u8], n: usize, what: &str) -> Result<&'a [u8], String> {
    if rest.len() < n {
        return Err(format!("truncated {what}: {} of {n} bytes", rest.len()));
    }
    let (taken, left) = rest.split_at(n);
    *rest = left;
    Ok(taken)
}

/// The shortest big-endian form of an unsigned integer option (RFC 7252 §3.2).
pub fn encode_uint(value: u32) -> Vec<u8> {
    let bytes = value.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    bytes[skip..].to_vec()
}

/// Reads an unsigned integer option; zero-length is 0 (RFC 7252 §3.2).
pub fn decode_uint(bytes: &[u8]) -> u32 {
    assert!(bytes.len() <= 4, "uint option of {} bytes", bytes.len());
    bytes.iter().fold(0, |acc, b| (acc << 8) | u32::from(*b))
}

/// Lowercase hex, for messages in assertions.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_extended_options_and_payload() {
        let message = Message::request(Type::Con, Code::GET, 0x1234, &[1, 2], "/a/b?x=1")
            .option(2050, &[7; 300])
            .option(option::ACCEPT, &[])
            .payload(b"hi");
        let decoded = Message::decode(&message.encode()).unwrap();
        let mut sorted = message.clone();
        sorted.options.sort_by_key(|(n, _)| *n);
        assert_eq!(decoded, sorted);
    }

    #[test]
    fn encodes_the_rfc_example_header() {
        // RFC 7252 Appendix A style: CON GET, MID 0x7d34, Uri-Path "temperature".
        let bytes = Message::request(Type::Con, Code::GET, 0x7d34, &[], "/temperature").encode();
        assert_eq!(&bytes[..5], &[0x40, 0x01, 0x7d, 0x34, 0xbb]);
        assert_eq!(&bytes[5..], b"temperature");
    }

    #[test]
    fn rejects_format_errors() {
        for bad in [
            &[0x40, 0x01, 0x00][..],
            &[0x80, 0x01, 0x00, 0x01],
            &[0x49, 0x01, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            &[0x40, 0x01, 0x00, 0x01, 0xf1, 0x00],
            &[0x40, 0x01, 0x00, 0x01, 0xff],
            &[0x40, 0x01, 0x00, 0x01, 0xb5, b'a'],
            &[0x41, 0x00, 0x00, 0x01, 0xaa],
        ] {
            assert!(Message::decode(bad).is_err(), "accepted {}", hex(bad));
        }
    }

    #[test]
    fn uint_options_are_minimal() {
        assert_eq!(encode_uint(0), Vec::<u8>::new());
        assert_eq!(encode_uint(50), vec![50]);
        assert_eq!(encode_uint(0x1234), vec![0x12, 0x34]);
        assert_eq!(decode_uint(&[0x12, 0x34]), 0x1234);
    }
}
