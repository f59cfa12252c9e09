//! The ClientHello as far as the cookie exchange needs it, and the
//! HelloVerifyRequest answering it, both without an `SSL` (RFC 6347 §4.2.1):
//! a hello without a valid cookie costs a parse, an HMAC and one datagram.

use super::record::{self, HANDSHAKE};

/// `HandshakeType.client_hello`.
const CLIENT_HELLO: u8 = 1;
/// `HandshakeType.hello_verify_request`.
const HELLO_VERIFY_REQUEST: u8 = 3;
/// The DTLS handshake header: type, length, message_seq, fragment offset
/// and length (RFC 6347 §4.2.2).
const HANDSHAKE_HEADER_LEN: usize = 12;
/// DTLS 1.0's version, which RFC 6347 §4.2.1 says a HelloVerifyRequest
/// SHOULD carry whatever version is negotiated later.
const DTLS_1_0: [u8; 2] = [0xfe, 0xff];

/// The fields of an unfragmented ClientHello the cookie covers.
pub(crate) struct ClientHello<'a> {
    /// The record's sequence number, echoed in the HelloVerifyRequest.
    pub(crate) record_sequence: [u8; 6],
    pub(crate) client_version: [u8; 2],
    pub(crate) random: &'a [u8],
    pub(crate) session_id: &'a [u8],
    /// Empty in a first hello.
    pub(crate) cookie: &'a [u8],
}

/// The ClientHello heading a datagram: the first record an epoch-0
/// handshake record holding a whole `client_hello`. None for anything else,
/// including fragmented hellos, which this server does not accept.
pub(crate) fn parse(datagram: &[u8]) -> Option<ClientHello<'_>> {
    let record = record::records(datagram).next()?;
    if record.content_type != HANDSHAKE || record.epoch != 0 {
        return None;
    }
    let message = record.body;
    if message.len() < HANDSHAKE_HEADER_LEN || message[0] != CLIENT_HELLO {
        return None;
    }
    let length = u24(&message[1..4]);
    let fragment_offset = u24(&message[6..9]);
    let fragment_length = u24(&message[9..12]);
    if fragment_offset != 0 || fragment_length != length {
        return None;
    }
    let body = message.get(HANDSHAKE_HEADER_LEN..HANDSHAKE_HEADER_LEN + length)?;
    let client_version: [u8; 2] = body.get(..2)?.try_into().ok()?;
    let random = body.get(2..34)?;
    let (session_id, rest) = length_prefixed(body.get(34..)?)?;
    let (cookie, _) = length_prefixed(rest)?;
    if session_id.len() > 32 {
        return None;
    }
    Some(ClientHello {
        record_sequence: record.sequence,
        client_version,
        random,
        session_id,
        cookie,
    })
}

/// The HelloVerifyRequest carrying `cookie`, in one record whose sequence
/// number is the ClientHello's (RFC 6347 §4.2.1).
pub(crate) fn hello_verify_request(hello: &ClientHello<'_>, cookie: &[u8]) -> Vec<u8> {
    let body_len = 2 + 1 + cookie.len();
    let message_len = HANDSHAKE_HEADER_LEN + body_len;
    let mut datagram = Vec::with_capacity(record::HEADER_LEN + message_len);
    datagram.push(HANDSHAKE);
    datagram.extend_from_slice(&DTLS_1_0);
    datagram.extend_from_slice(&[0, 0]); // epoch
    datagram.extend_from_slice(&hello.record_sequence);
    datagram.extend_from_slice(&(message_len as u16).to_be_bytes());
    datagram.push(HELLO_VERIFY_REQUEST);
    datagram.extend_from_slice(&be24(body_len));
    datagram.extend_from_slice(&[0, 0]); // message_seq
    datagram.extend_from_slice(&be24(0)); // fragment_offset
    datagram.extend_from_slice(&be24(body_len)); // fragment_length
    datagram.extend_from_slice(&DTLS_1_0); // server_version
    datagram.push(cookie.len() as u8);
    datagram.extend_from_slice(cookie);
    datagram
}

/// Whether a datagram carries a record of a later epoch than 0: the peer
/// has switched to the negotiated keys (sent its Finished or data).
pub(crate) fn has_encrypted_record(datagram: &[u8]) -> bool {
    record::records(datagram).any(|record| record.epoch > 0)
}

fn u24(bytes: &[u8]) -> usize {
    usize::from(bytes[0]) << 16 | usize::from(bytes[1]) << 8 | usize::from(bytes[2])
}

fn be24(value: usize) -> [u8; 3] {
    [(value >> 16) as u8, (value >> 8) as u8, value as u8]
}

/// A one-byte length, that many bytes, and what follows.
fn length_prefixed(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let (&length, rest) = bytes.split_first()?;
    let length = usize::from(length);
    (rest.len() >= length).then(|| rest.split_at(length))
}
