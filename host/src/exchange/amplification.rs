//! The amplification limit, RFC 7252 §11.3: a request whose source address
//! nobody has verified must not draw a large response, or a spoofed request
//! turns the host into an amplifier aimed at the address it names. A
//! response that would be too large is sent block-wise (RFC 7959) instead,
//! in the largest block that keeps the datagram within the limit; the client
//! fetches the rest block by block, each fetch a request of its own.
//!
//! The budget of a response datagram is the larger of two figures:
//! - `factor` times the request's datagram: 3 by default, the figure RFC
//!   9175 §2.4 and QUIC (RFC 9000 §8) settle on for unverified addresses;
//! - an absolute `allowance`, 512 bytes by default. CoAP requests are tiny
//!   (a GET is 10 to 25 bytes), so a factor alone would slice even a 67-byte
//!   sensor reading: every client would pay two round trips, and an observer
//!   an extra GET per notification. §11.3's concern is large answers to tiny
//!   requests (its example is a 1000-byte resource). Measured with the
//!   example plugins, their answers are 1 to 191 bytes of payload
//!   (`/temperature` 66, `/info` 191, the largest), all within 512, while
//!   `/.well-known/core` for the eight of them (625 bytes) and any firmware
//!   image still go block-wise. 512 bytes is also the classic DNS answer
//!   limit (RFC 1035 §4.2.1).
//!
//! So one unverified request draws at most 512 bytes (or 3 times its own
//! size if larger): 51 times a 10-byte GET, a fixed and small amount per
//! spoofed datagram, where the whole representation would be up to 1 MiB.
//! Blocks never go below 64 bytes, §11.3's own example (a 10-byte request
//! answered with a 64-byte block), should the allowance be set lower.

use coap_lite::{CoapOption, Packet};

use super::blockwise::Block;

/// The bytes a response may take: `factor` times the request's datagram, or
/// the allowance if that is more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// The largest response datagram, header and token included.
    pub bytes: usize,
}

impl Budget {
    /// The budget of a response to a request datagram of `request_size`
    /// bytes, or none when `factor` is 0 (the limit is off).
    pub fn new(factor: usize, allowance: usize, request_size: usize) -> Option<Budget> {
        (factor > 0).then(|| Budget {
            bytes: request_size.saturating_mul(factor).max(allowance),
        })
    }

    /// The largest block (a power of two from 16 to `max_block`) that keeps
    /// `response`, with a payload of `payload_len` bytes, within the budget
    /// once sliced, or `None` when it fits whole. `token_len` is the token the message layer adds; the options
    /// slicing adds (ETag, Block2, Size2) are counted at their largest. The
    /// block is never below [`MIN_BLOCK`], whatever the budget.
    pub fn block_for(
        &self,
        response: &Packet,
        payload_len: usize,
        token_len: usize,
        max_block: usize,
    ) -> Option<usize> {
        let header = 4 + token_len + options_len(response);
        let payload = payload_len;
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
        assert_eq!(Budget::new(0, 512, 20), None);
        assert_eq!(Budget::new(3, 0, 20), Some(Budget { bytes: 60 }));
        assert_eq!(Budget::new(3, 512, 20), Some(Budget { bytes: 512 }));
        assert_eq!(Budget::new(3, 512, 200), Some(Budget { bytes: 600 }));
    }

    #[test]
    fn a_response_within_the_budget_is_sent_whole() {
        let budget = Budget::new(3, 0, 20).unwrap();
        // 4 header + 4 token + 2 Content-Format + 1 marker + 49 = 60.
        assert_eq!(budget.block_for(&response(49), 49, 4, 1024), None);
    }

    #[test]
    fn a_larger_response_gets_the_largest_block_that_fits() {
        // 300 bytes: 4 + 4 + 2 + 9 (ETag) + 5 (Block2) + 6 (Size2) + 1 = 31
        // of overhead leaves 269, so 256-byte blocks.
        let budget = Budget::new(3, 0, 100).unwrap();
        assert_eq!(budget.block_for(&response(500), 500, 4, 1024), Some(256));
        assert_eq!(budget.block_for(&response(500), 500, 4, 128), Some(128));
    }

    #[test]
    fn a_tiny_request_still_gets_64_byte_blocks() {
        let budget = Budget::new(3, 0, 8).unwrap();
        assert_eq!(budget.block_for(&response(500), 500, 8, 1024), Some(64));
        assert_eq!(budget.block_for(&response(500), 500, 8, 32), Some(32));
        // 64 bytes or less: one block anyway.
        assert_eq!(budget.block_for(&response(64), 64, 8, 1024), None);
    }

    #[test]
    fn the_allowance_sends_small_representations_whole() {
        // A 10-byte GET (4 header, 2 token, 4 Uri-Path) for a 191-byte
        // representation like /info: whole with the default allowance,
        // where 3 times the request alone would slice it.
        let budget = Budget::new(3, 512, 10).unwrap();
        assert_eq!(budget.block_for(&response(191), 191, 2, 1024), None);
        assert_eq!(
            Budget::new(3, 0, 10)
                .unwrap()
                .block_for(&response(191), 191, 2, 1024),
            Some(64)
        );
        // 625 bytes (discovery of the example plugins): 512 - 4 - 2 - 2 - 20
        // - 1 leaves 483, so 256-byte blocks.
        assert_eq!(budget.block_for(&response(625), 625, 2, 1024), Some(256));
        // 480 bytes of payload fit: 4 + 2 + 2 + 1 + 480 = 489.
        assert_eq!(budget.block_for(&response(480), 480, 2, 1024), None);
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
