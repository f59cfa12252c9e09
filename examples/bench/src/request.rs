//! The request datagram, encoded once (RFC 7252 §3): each send copies it and
//! patches only the Message ID and the token, so encoding costs nothing per
//! request.

use crate::target::Target;

/// Message types (RFC 7252 §3).
pub const CON: u8 = 0;
pub const NON: u8 = 1;
pub const ACK: u8 = 2;
pub const RST: u8 = 3;

/// Token length: 4 bytes, a slot number and its generation.
pub const TOKEN_LENGTH: usize = 4;

/// Option numbers (RFC 7252 §5.10).
const URI_PATH: u16 = 11;
const CONTENT_FORMAT: u16 = 12;
const URI_QUERY: u16 = 15;

/// A request method code (RFC 7252 §12.1.1).
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Method {
    Get,
    Post,
    Put,
    Delete,
}

impl Method {
    fn code(self) -> u8 {
        match self {
            Method::Get => 1,
            Method::Post => 2,
            Method::Put => 3,
            Method::Delete => 4,
        }
    }
}

/// The encoded request, with a zero Message ID and token to patch.
pub struct RequestTemplate {
    bytes: Vec<u8>,
}

impl RequestTemplate {
    pub fn new(
        target: &Target,
        method: Method,
        confirmable: bool,
        content_format: Option<u16>,
        payload: &[u8],
    ) -> RequestTemplate {
        let kind = if confirmable { CON } else { NON };
        let mut bytes = vec![0x40 | (kind << 4) | TOKEN_LENGTH as u8, method.code(), 0, 0];
        bytes.extend_from_slice(&[0; TOKEN_LENGTH]);
        let mut options: Vec<(u16, Vec<u8>)> = Vec::new();
        options.extend(
            target
                .path
                .iter()
                .map(|s| (URI_PATH, s.as_bytes().to_vec())),
        );
        if let Some(format) = content_format {
            options.push((CONTENT_FORMAT, uint(format)));
        }
        options.extend(
            target
                .query
                .iter()
                .map(|s| (URI_QUERY, s.as_bytes().to_vec())),
        );
        let mut previous = 0;
        for (number, value) in &options {
            put_option(&mut bytes, number - previous, value);
            previous = *number;
        }
        if !payload.is_empty() {
            bytes.push(0xFF);
            bytes.extend_from_slice(payload);
        }
        RequestTemplate { bytes }
    }

    /// The datagram with `message_id` and `token` in place.
    pub fn write(&self, buffer: &mut Vec<u8>, message_id: u16, token: u32) {
        buffer.clear();
        buffer.extend_from_slice(&self.bytes);
        buffer[2..4].copy_from_slice(&message_id.to_be_bytes());
        buffer[4..4 + TOKEN_LENGTH].copy_from_slice(&token.to_be_bytes());
    }
}

/// An empty ACK for a separate response's CON (RFC 7252 §5.2.2).
pub fn empty_ack(message_id: u16) -> [u8; 4] {
    let id = message_id.to_be_bytes();
    [0x40 | (ACK << 4), 0, id[0], id[1]]
}

/// A uint option value: the shortest big-endian form (§3.2).
fn uint(value: u16) -> Vec<u8> {
    let bytes = value.to_be_bytes();
    let skip = bytes.iter().take_while(|&&b| b == 0).count();
    bytes[skip..].to_vec()
}

/// One option with its delta and length nibbles and extensions (§3.1).
fn put_option(out: &mut Vec<u8>, delta: u16, value: &[u8]) {
    let (delta_nibble, delta_ext) = nibble(delta);
    let (length_nibble, length_ext) = nibble(value.len() as u16);
    out.push((delta_nibble << 4) | length_nibble);
    out.extend_from_slice(&delta_ext);
    out.extend_from_slice(&length_ext);
    out.extend_from_slice(value);
}

fn nibble(value: u16) -> (u8, Vec<u8>) {
    match value {
        0..13 => (value as u8, vec![]),
        13..269 => (13, vec![(value - 13) as u8]),
        _ => (14, (value - 269).to_be_bytes().to_vec()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_a_get_with_path_and_query() {
        let target = Target::parse("coap://127.0.0.1/led?x").unwrap();
        let template = RequestTemplate::new(&target, Method::Get, true, None, b"");
        let mut buffer = Vec::new();
        template.write(&mut buffer, 0x1234, 0xAABBCCDD);
        assert_eq!(
            buffer,
            [
                0x44, 1, 0x12, 0x34, 0xAA, 0xBB, 0xCC, 0xDD, 0xB3, b'l', b'e', b'd', 0x41, b'x'
            ]
        );
    }

    #[test]
    fn encodes_content_format_and_payload() {
        let target = Target::parse("coap://127.0.0.1/a").unwrap();
        let template = RequestTemplate::new(&target, Method::Put, false, Some(50), b"{}");
        let mut buffer = Vec::new();
        template.write(&mut buffer, 1, 2);
        assert_eq!(
            buffer,
            [
                0x54, 3, 0, 1, 0, 0, 0, 2, 0xB1, b'a', 0x11, 50, 0xFF, b'{', b'}'
            ]
        );
    }
}
