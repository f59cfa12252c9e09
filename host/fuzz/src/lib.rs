//! What a fuzz input means to the coapwasm fuzz targets: a few datagrams, as
//! if they came from a couple of clients one after another. A single CoAP
//! datagram is an input of its own, so a capture or a hand-made message is a
//! seed as it is; [`SEPARATOR`] splits an input into several.

use std::net::SocketAddr;
use std::time::Duration;

/// Splits an input into datagrams. Chosen so that it never starts a CoAP
/// header (version 0, not 1) and is unlikely in a small option value.
pub const SEPARATOR: &[u8] = b"\x00|next|\x00";

/// The most datagrams taken from one input: the rest is ignored, so that an
/// input's cost stays bounded.
pub const MAX_DATAGRAMS: usize = 16;

/// How far the clock moves between two datagrams: less than ACK_TIMEOUT, so
/// that a block-wise exchange or a retransmitted request fits before any
/// retransmission of ours, and more than nothing, so that timers advance.
pub const BETWEEN_DATAGRAMS: Duration = Duration::from_millis(300);

/// The datagrams of `input`, at most [`MAX_DATAGRAMS`].
pub fn datagrams(input: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(input);
    std::iter::from_fn(move || {
        let current = rest?;
        match find(current, SEPARATOR) {
            Some(at) => {
                rest = Some(&current[at + SEPARATOR.len()..]);
                Some(&current[..at])
            }
            None => {
                rest = None;
                Some(current)
            }
        }
    })
    .take(MAX_DATAGRAMS)
}

/// Joins datagrams into one input: the inverse of [`datagrams`].
pub fn join(datagrams: &[&[u8]]) -> Vec<u8> {
    datagrams.join(SEPARATOR)
}

/// Which client sent `datagram`: two endpoints of one host and one on
/// IPv6, so that per-endpoint state (deduplication, uploads, observations)
/// meets more than one peer. Byte 4 (the token's first byte, if any) picks
/// it, so that a mutation can move one message to another client.
pub fn peer(datagram: &[u8]) -> SocketAddr {
    match datagram.get(4).copied().unwrap_or(0) % 3 {
        0 => SocketAddr::from(([127, 0, 0, 1], 40000)),
        1 => SocketAddr::from(([127, 0, 0, 1], 40001)),
        _ => SocketAddr::from(([0, 0, 0, 0, 0, 0, 0, 1], 40000)),
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_datagram_without_separator() {
        let input = [0x40, 0x01, 0x12, 0x34];
        assert_eq!(datagrams(&input).collect::<Vec<_>>(), vec![&input[..]]);
    }

    #[test]
    fn join_and_split_agree() {
        let a: &[u8] = &[0x40, 0x01, 0, 1];
        let b: &[u8] = &[];
        let c: &[u8] = &[0x60, 0, 0, 2];
        let input = join(&[a, b, c]);
        assert_eq!(datagrams(&input).collect::<Vec<_>>(), vec![a, b, c]);
    }

    #[test]
    fn at_most_max_datagrams() {
        let one: &[u8] = &[0x40, 0, 0, 1];
        let input = join(&vec![one; MAX_DATAGRAMS * 2]);
        assert_eq!(datagrams(&input).count(), MAX_DATAGRAMS);
    }
}
