//! The DTLS record header (RFC 6347 §4.1): enough of it to tell a
//! ClientHello from the rest without any `SSL`.

/// The record header's length: type, version, epoch, sequence, length.
pub(crate) const HEADER_LEN: usize = 13;
/// `ContentType.handshake`.
pub(crate) const HANDSHAKE: u8 = 22;

/// One record's header and body, borrowed from a datagram.
pub(crate) struct Record<'a> {
    pub(crate) content_type: u8,
    pub(crate) epoch: u16,
    /// The 48-bit sequence number, as on the wire.
    pub(crate) sequence: [u8; 6],
    pub(crate) body: &'a [u8],
}

/// The records of a datagram, in order; stops at the first malformed one.
pub(crate) fn records(datagram: &[u8]) -> impl Iterator<Item = Record<'_>> {
    let mut rest = datagram;
    std::iter::from_fn(move || {
        if rest.len() < HEADER_LEN {
            return None;
        }
        let length = usize::from(u16::from_be_bytes([rest[11], rest[12]]));
        let body = rest.get(HEADER_LEN..HEADER_LEN + length)?;
        let record = Record {
            content_type: rest[0],
            epoch: u16::from_be_bytes([rest[3], rest[4]]),
            sequence: rest[5..11].try_into().expect("six bytes"),
            body,
        };
        rest = &rest[HEADER_LEN + length..];
        Some(record)
    })
}
