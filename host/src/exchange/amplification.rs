//! The amplification limit, RFC 7252 §11.3: a request whose source address
//! nobody has verified must not draw a response many times its own size, or a
//! spoofed request turns the host into an amplifier aimed at the address it
//! names. A response that would be too large is sent block-wise (RFC 7959)
//! instead, in the largest block that keeps the datagram within the limit;
//! the client fetches the rest block by block, each fetch a request of its own.
//!
//! The factor is 3 by default, the figure RFC 9175 §2.4 and QUIC (RFC 9000
//! §8) settle on for unverified addresses. CoAP requests are tiny, though (a
//! GET is 10 to 20 bytes), so blocks never go below 64 bytes: §11.3's own
//! example, a 10-byte request answered with a 64-byte block in an 80-byte
//! response, which it counts as "considerably reducing the amplification".
//! A representation of up to 64 bytes is therefore never sliced for this.

use coap_lite::{CoapOption, Packet};

use super::blockwise::Block;

/// The bytes a response may take: `factor` times the request's datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// The largest response datagram, header and token included.
    pub bytes: usize,
}

impl Budget {
    /// The budget of a response to a request datagram of `request_size`
    /// bytes, or none when `factor` is 0 (the limit is off).
    pub fn new(factor: usize, request_size: usize) -> Option<Budget> {
        (factor > 0).then(|| Budget {
            bytes: request_size.saturating_mul(factor),
        })
    }

    /// The largest block (a power of two from 16 to `max_block`) that keeps
    /// `response` within the budget once sliced, or `None` when it fits
    /// whole. `token_len` is the token the message layer adds; the options
    /// slicing adds (ETag, Block2, Size2) are counted at their largest. The
    /// block is never below [`MIN_BLOCK`], whatever the budget.
    pub fn block_for(
        &self,
        response: &Packet,
        token_len: usize,
        max_block: usize,
    ) -> Option<usize> {
        let header = 4 + token_len + options_len(response);
        let payload = response.payload.len();
        let whole = header + if payload > 0 { 1 + payload } else { 0 };
        if whole <= self.bytes {
            return None;
        }
        let added = if response.get_first_option(CoapOption::ETag).is_none() {
            ETAG_OPTION
        } else {
            0
        } + BLOCK2_OPTION
            + SIZE2_OPTION;
        let room = self.bytes.saturating_sub(header + added + 1);
        let floor = MIN_BLOCK.min(max_block);
        let mut block = max_block.max(Block::MIN_SIZE);
        while block > floor && block > room {
            block /= 2;
        }
        (block < payload).then_some(block)
    }
}

/// The smallest block the limit slices into (§11.3's example).
pub const MIN_BLOCK: usize = 64;

/// An ETag the host adds to a sliced response: 1 byte of option header
/// (the delta from any option before it fits), 8 of value.
const ETAG_OPTION: usize = 1 + 8;
/// Block2 at its largest: header, 1 byte of extended delta, 3 of value.
const BLOCK2_OPTION: usize = 1 + 1 + 3;
/// Size2 at its largest: header, 1 byte of extended delta, 4 of value.
const SIZE2_OPTION: usize = 1 + 1 + 4;

/// The encoded size of `packet`'s options (§3.1): each option's header with
/// its extended delta and length bytes, and its value.
fn options_len(packet: &Packet) -> usize {
    let mut previous = 0u16;
    let mut total = 0;
    for (number, values) in packet.options() {
        let number = *number;
        for value in values {
            let delta = number - previous;
            previous = number;
            total +=
                1 + extension_len(usize::from(delta)) + extension_len(value.len()) + value.len();
        }
    }
    total
}

/// Bytes of extended delta or length for `value` (§3.1: 13 and 14).
fn extension_len(value: usize) -> usize {
    match value {
        0..=12 => 0,
        13..=268 => 1,
        _ => 2,
    }
}

#[cfg(test)]
mod tests {
    use coap_lite::{MessageClass, ResponseType};

    use super::*;

    fn response(payload_len: usize) -> Packet {
        let mut packet = Packet::new();
        packet.header.code = MessageClass::Response(ResponseType::Content);
        packet.add_option(CoapOption::ContentFormat, vec![50]);
        packet.payload = vec![b'x'; payload_len];
        packet
    }

    #[test]
    fn off_when_the_factor_is_zero() {
        assert_eq!(Budget::new(0, 20), None);
        assert_eq!(Budget::new(3, 20), Some(Budget { bytes: 60 }));
    }

    #[test]
    fn a_response_within_the_budget_is_sent_whole() {
        let budget = Budget::new(3, 20).unwrap();
        // 4 header + 4 token + 2 Content-Format + 1 marker + 49 = 60.
        assert_eq!(budget.block_for(&response(49), 4, 1024), None);
    }

    #[test]
    fn a_larger_response_gets_the_largest_block_that_fits() {
        // 300 bytes: 4 + 4 + 2 + 9 (ETag) + 5 (Block2) + 6 (Size2) + 1 = 31
        // of overhead leaves 269, so 256-byte blocks.
        let budget = Budget::new(3, 100).unwrap();
        assert_eq!(budget.block_for(&response(500), 4, 1024), Some(256));
        assert_eq!(budget.block_for(&response(500), 4, 128), Some(128));
    }

    #[test]
    fn a_tiny_request_still_gets_64_byte_blocks() {
        let budget = Budget::new(3, 8).unwrap();
        assert_eq!(budget.block_for(&response(500), 8, 1024), Some(64));
        assert_eq!(budget.block_for(&response(500), 8, 32), Some(32));
        // 64 bytes or less: one block anyway.
        assert_eq!(budget.block_for(&response(64), 8, 1024), None);
    }

    #[test]
    fn options_are_counted_with_their_extensions() {
        let mut packet = Packet::new();
        packet.add_option(CoapOption::UriPath, b"a-path-longer-than-12".to_vec());
        packet.add_option(CoapOption::Size2, vec![1, 0]);
        // Uri-Path 11: 1 + 0 + 1 (length 21) + 21; Size2 28, delta 17: 1 + 1 + 0 + 2.
        assert_eq!(options_len(&packet), 23 + 4);
    }
}
