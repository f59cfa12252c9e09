//! Block-wise transfer, RFC 7959: the host slices large representations into
//! Block2 blocks and reassembles Block1 uploads, so that plugins only ever see
//! whole bodies. Pure state and functions; the socket loop applies them.

use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasher;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use foldhash::fast::RandomState;

use super::representations::HeldResponse;
use super::transfer_memory::{Reservation, TransferMemory};

/// A Block1 or Block2 option value (§2.2): block number, whether more blocks
/// follow, and the size exponent. SZX 7 (BERT, RFC 8323) is not valid over
/// UDP, so a `Block` always has a size from 16 to 1024 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block {
    /// NUM: the block's position, in blocks of this size.
    pub num: u32,
    /// M: more blocks follow.
    pub more: bool,
    szx: u8,
}

impl Block {
    /// The largest block: SZX 6.
    pub const MAX_SIZE: usize = 1024;
    /// The smallest block: SZX 0.
    pub const MIN_SIZE: usize = 16;

    /// A block of the largest exponent whose size is at most `size` (at
    /// least 16 bytes).
    pub fn new(num: u32, more: bool, size: usize) -> Block {
        let mut szx = 0;
        while szx < 6 && (32usize << szx) <= size {
            szx += 1;
        }
        Block { num, more, szx }
    }

    /// Reads an option value: 0 to 3 bytes, NUM of up to 20 bits (§2.2).
    pub fn decode(value: &[u8]) -> Option<Block> {
        if value.len() > 3 {
            return None;
        }
        let raw = value.iter().fold(0u32, |acc, &b| (acc << 8) | u32::from(b));
        let szx = (raw & 0x7) as u8;
        if szx == 7 {
            return None;
        }
        Some(Block {
            num: raw >> 4,
            more: raw & 0x8 != 0,
            szx,
        })
    }

    /// The option value, in its shortest form.
    pub fn encode(&self) -> Vec<u8> {
        let raw = (self.num << 4) | (u32::from(self.more) << 3) | u32::from(self.szx);
        let bytes = raw.to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        bytes[skip..].to_vec()
    }

    /// The block size in bytes.
    pub fn size(&self) -> usize {
        16 << self.szx
    }

    /// Where the block starts in the body.
    pub fn offset(&self) -> usize {
        self.num as usize * self.size()
    }
}

/// A request for a block that starts past the end of the representation:
/// answered 4.02 (§2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PastTheEnd;

/// The part of a representation one response carries (§2.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slice {
    /// The byte range of the payload.
    pub range: std::ops::Range<usize>,
    /// The Block2 option to send.
    pub block: Block,
}

/// Which block of a `len`-byte representation to send, for a request that
/// asked for `requested` (or nothing) with the host's largest block
/// `max_size`. None when the representation fits one message and nothing was
/// asked.
pub fn slice(
    len: usize,
    requested: Option<Block>,
    max_size: usize,
) -> Result<Option<Slice>, PastTheEnd> {
    let limit = Block::new(0, false, max_size.min(Block::MAX_SIZE));
    let Some(asked) = requested else {
        if len <= limit.size() {
            return Ok(None);
        }
        let block = Block {
            more: true,
            ..limit
        };
        return Ok(Some(Slice {
            range: 0..block.size(),
            block,
        }));
    };
    // Late negotiation (§2.5): a client asking for blocks larger than ours
    // gets ours, numbered so that the offset it asked for is kept.
    let size = asked.size().min(limit.size());
    let block = Block::new(asked.offset() as u32 / size as u32, false, size);
    let start = block.offset();
    if start >= len && !(start == 0 && len == 0) {
        return Err(PastTheEnd);
    }
    let end = (start + size).min(len);
    Ok(Some(Slice {
        range: start..end,
        block: Block {
            more: end < len,
            ..block
        },
    }))
}

/// An ETag for a sliced representation the plugin gave none for, so that a
/// client notices when the blocks it fetched come from different versions.
pub fn etag_of(payload: &[u8]) -> Vec<u8> {
    // A fixed seed: the same representation gets the same ETag from every
    // run of the host, so a client's validation survives a restart.
    foldhash::quality::FixedState::with_seed(ETAG_SEED)
        .hash_one(payload)
        .to_be_bytes()
        .to_vec()
}

/// Any constant does; changing it changes every ETag the host makes.
const ETAG_SEED: u64 = 0x636f_6170_7761_736d;

/// What to do with one block of an upload.
#[derive(Debug, PartialEq, Eq)]
pub enum UploadStep {
    /// An intermediate block was stored: answer 2.31 Continue with this
    /// Block1 option (§2.3).
    Continue(Block),
    /// The last block arrived: hand this body to the resource, and echo this
    /// Block1 option in its response.
    Complete { body: Vec<u8>, block: Block },
    /// The block is refused, and the partial upload dropped.
    Refused(Refusal),
}

/// Why an upload block is refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// A block that does not follow the ones received: 4.08 (§2.9.2).
    Incomplete,
    /// The body would exceed the limit: 4.13 with Size1 (§2.9.3).
    TooLarge { limit: usize },
    /// A non-final block whose payload is not the block size: 4.00.
    BadBlock,
    /// The host's block-wise memory is spent ([`TransferMemory`]): 5.03.
    Busy,
}

struct Upload {
    body: Vec<u8>,
    // The body's share of the host's block-wise memory.
    reservation: Reservation,
    last_block: Instant,
}

/// Whole responses that went out block-wise, kept so that the later blocks
/// a client asks for come from the same representation:
/// - for a request that is not safe to repeat (POST, PUT, ...), so that it
///   is not processed again (§3.3, Figure 8);
/// - for a GET, so that a representation that changes on every call (a
///   random number, a clock) is still fetched whole, and the plugin is called
///   once per transfer rather than once per block (§2.4 lets a server keep
///   such state; a client that starts again from block 0 gets a fresh one).
///
/// Keyed by endpoint and [`request_key`]; bounded in number and age, oldest
/// first, and in bytes by the [`TransferMemory`] their payloads draw on
/// (shared with every endpoint holding the same representation).
pub struct HeldResponses {
    // Each with when it was held and the number of that hold.
    // foldhash, seeded per process: a peer cannot aim keys at one bucket.
    entries: HashMap<(SocketAddr, String), (HeldResponse, Instant, u64), RandomState>,
    // Holds in order, which is also age order; a key held again leaves a
    // stale entry here (its number no longer matches), skipped when it
    // comes up.
    order: VecDeque<(Instant, u64, (SocketAddr, String))>,
    holds: u64,
    lifetime: Duration,
    capacity: usize,
}

/// What tells two requests' representations apart: path, query and Accept.
pub fn request_key(path: &str, query: &[String], accept: Option<u16>) -> String {
    let mut key = String::with_capacity(path.len() + 8);
    key.push_str(path);
    for (i, item) in query.iter().enumerate() {
        key.push(if i == 0 { '?' } else { '&' });
        key.push_str(item);
    }
    if let Some(accept) = accept {
        key.push_str(&format!("#{accept}"));
    }
    key
}

impl HeldResponses {
    /// None held yet.
    pub fn new(lifetime: Duration, capacity: usize) -> Self {
        HeldResponses {
            entries: HashMap::default(),
            order: VecDeque::new(),
            holds: 0,
            lifetime,
            capacity,
        }
    }

    /// Keeps `response` for later blocks of `peer`'s request `key`.
    pub fn hold(&mut self, peer: SocketAddr, key: String, response: HeldResponse, now: Instant) {
        self.expire(now);
        while self.entries.len() >= self.capacity && self.evict_oldest() {}
        if self.order.len() >= 2 * self.capacity {
            // Keys held again and again leave stale entries: drop them.
            let entries = &self.entries;
            self.order
                .retain(|(_, hold, key)| entries.get(key).is_some_and(|(_, _, h)| h == hold));
        }
        self.holds += 1;
        self.order.push_back((now, self.holds, (peer, key.clone())));
        self.entries
            .insert((peer, key), (response, now, self.holds));
    }

    /// The response held for `peer`'s request `key`, if still there.
    pub fn get(&mut self, peer: SocketAddr, key: &str, now: Instant) -> Option<&HeldResponse> {
        self.expire(now);
        self.entries
            .get(&(peer, key.to_owned()))
            .map(|(response, _, _)| response)
    }

    /// Forgets every response held for a request to `path`, whatever its
    /// query or Accept: the resource is changing, so a transfer under way
    /// must not finish with blocks of the old representation.
    pub fn forget_path(&mut self, path: &str) {
        self.entries.retain(|(_, key), _| {
            let rest = key.strip_prefix(path);
            !rest.is_some_and(|rest| rest.is_empty() || rest.starts_with(['?', '#']))
        });
    }

    /// How many responses are held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether none is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Forgets responses older than the lifetime.
    pub fn expire(&mut self, now: Instant) {
        while let Some((at, _, _)) = self.order.front() {
            if now.duration_since(*at) < self.lifetime {
                break;
            }
            self.evict_oldest();
        }
    }

    /// Drops the oldest entry; false when there was none.
    fn evict_oldest(&mut self) -> bool {
        let Some((_, hold, key)) = self.order.pop_front() else {
            return false;
        };
        // Only if not held again since.
        if self.entries.get(&key).is_some_and(|(_, _, h)| *h == hold) {
            self.entries.remove(&key);
        }
        true
    }
}

/// Limits of upload reassembly.
#[derive(Debug, Clone, Copy)]
pub struct UploadLimits {
    /// The largest body.
    pub max_body: usize,
    /// The largest block the host accepts; larger ones are negotiated down.
    pub max_block: usize,
    /// An upload with no block for this long is dropped.
    pub timeout: Duration,
}

/// Partial Block1 uploads of one socket, each keyed by endpoint and path so
/// that uploads from different clients, or to different resources, never mix
/// (§2.3; Request-Tag, RFC 9175, is not supported). Their bodies draw on the
/// host's [`TransferMemory`].
pub struct Uploads {
    partial: HashMap<(SocketAddr, String), Upload>,
    held: usize,
    limits: UploadLimits,
    memory: TransferMemory,
}

impl Uploads {
    /// No uploads yet; their bodies draw on `memory`.
    pub fn new(limits: UploadLimits, memory: TransferMemory) -> Self {
        Uploads {
            partial: HashMap::new(),
            held: 0,
            limits,
            memory,
        }
    }

    /// Bytes held by partial uploads.
    pub fn held(&self) -> usize {
        self.held
    }

    /// Partial uploads in progress.
    pub fn len(&self) -> usize {
        self.partial.len()
    }

    /// Whether no upload is in progress.
    pub fn is_empty(&self) -> bool {
        self.partial.is_empty()
    }

    /// Takes one block of the body of a request from `peer` to `path`.
    /// `size1` is the Size1 option, the announced size of the whole body.
    pub fn receive(
        &mut self,
        peer: SocketAddr,
        path: &str,
        block: Block,
        size1: Option<u32>,
        payload: &[u8],
        now: Instant,
    ) -> UploadStep {
        self.expire(now);
        let key = (peer, path.to_owned());
        if size1.is_some_and(|size| size as usize > self.limits.max_body) {
            self.drop_upload(&key);
            return UploadStep::Refused(Refusal::TooLarge {
                limit: self.limits.max_body,
            });
        }
        if block.more && payload.len() != block.size() {
            self.drop_upload(&key);
            return UploadStep::Refused(Refusal::BadBlock);
        }
        if block.num == 0 {
            self.drop_upload(&key);
        } else if self
            .partial
            .get(&key)
            .is_none_or(|upload| upload.body.len() != block.offset())
        {
            self.drop_upload(&key);
            return UploadStep::Refused(Refusal::Incomplete);
        }
        let held_before = self.partial.get(&key).map_or(0, |u| u.body.len());
        if held_before + payload.len() > self.limits.max_body {
            self.drop_upload(&key);
            return UploadStep::Refused(Refusal::TooLarge {
                limit: self.limits.max_body,
            });
        }
        let memory = &self.memory;
        let upload = match self.partial.entry(key.clone()) {
            std::collections::hash_map::Entry::Occupied(upload) => upload.into_mut(),
            std::collections::hash_map::Entry::Vacant(vacant) => vacant.insert(Upload {
                body: Vec::new(),
                reservation: memory.reservation(),
                last_block: now,
            }),
        };
        // The last block is handed on at once: only a body still being
        // received is held.
        if block.more && !upload.reservation.grow(payload.len()) {
            self.drop_upload(&key);
            return UploadStep::Refused(Refusal::Busy);
        }
        upload.body.extend_from_slice(payload);
        upload.last_block = now;
        self.held += payload.len();
        if block.more {
            // The echo repeats the block's NUM; a smaller SZX than the
            // client's asks for that size from now on (§2.5, Figure 6), and
            // the client numbers its next block in it.
            let size = block.size().min(self.limits.max_block);
            return UploadStep::Continue(Block::new(block.num, true, size));
        }
        let body = self
            .partial
            .remove(&key)
            .map(|upload| upload.body)
            .unwrap_or_default();
        self.held -= body.len();
        UploadStep::Complete { body, block }
    }

    /// Drops uploads that have seen no block for the timeout, freeing their
    /// memory.
    pub fn expire(&mut self, now: Instant) {
        let timeout = self.limits.timeout;
        let mut freed = 0;
        self.partial.retain(|_, upload| {
            let keep = now.duration_since(upload.last_block) < timeout;
            if !keep {
                freed += upload.body.len();
            }
            keep
        });
        self.held -= freed;
    }

    fn drop_upload(&mut self, key: &(SocketAddr, String)) {
        if let Some(upload) = self.partial.remove(key) {
            self.held -= upload.body.len();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::representations::Representations;
    use super::*;

    fn peer(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    fn limits() -> UploadLimits {
        UploadLimits {
            max_body: 100,
            max_block: 32,
            timeout: Duration::from_secs(60),
        }
    }

    #[test]
    fn option_values_round_trip() {
        for (num, more, size) in [(0, false, 16), (1, true, 1024), (0xFFFFF, true, 64)] {
            let block = Block::new(num, more, size);
            assert_eq!(block.size(), size);
            assert_eq!(Block::decode(&block.encode()), Some(block));
        }
        assert_eq!(Block::decode(&[]), Some(Block::new(0, false, 16)));
        assert_eq!(Block::decode(&[0x07]), None, "SZX 7 is BERT, not UDP");
        assert_eq!(Block::decode(&[0, 0, 0, 0]), None);
    }

    #[test]
    fn large_representation_without_block2_gets_the_first_block() {
        let first = slice(3000, None, 1024).unwrap().unwrap();
        assert_eq!(first.range, 0..1024);
        assert_eq!(first.block, Block::new(0, true, 1024));
        assert_eq!(slice(1024, None, 1024), Ok(None));
    }

    #[test]
    fn random_access_and_the_last_block() {
        let last = slice(3000, Some(Block::new(2, false, 1024)), 1024)
            .unwrap()
            .unwrap();
        assert_eq!(last.range, 2048..3000);
        assert!(!last.block.more);
        assert!(slice(3000, Some(Block::new(3, false, 1024)), 1024).is_err());
        // Early negotiation: the client's smaller size wins.
        let small = slice(3000, Some(Block::new(5, false, 16)), 1024)
            .unwrap()
            .unwrap();
        assert_eq!(small.range, 80..96);
        assert!(small.block.more);
    }

    #[test]
    fn larger_block_than_the_hosts_is_renumbered() {
        // Block 1 of 1024 bytes is byte 1024: block 4 of 256.
        let renumbered = slice(3000, Some(Block::new(1, false, 1024)), 256)
            .unwrap()
            .unwrap();
        assert_eq!(renumbered.block, Block::new(4, true, 256));
        assert_eq!(renumbered.range, 1024..1280);
    }

    #[test]
    fn upload_reassembles_in_order() {
        let mut uploads = Uploads::new(limits(), TransferMemory::new(1000));
        let now = Instant::now();
        let step = uploads.receive(peer(1), "/fw", Block::new(0, true, 16), None, &[1; 16], now);
        assert_eq!(step, UploadStep::Continue(Block::new(0, true, 16)));
        let step = uploads.receive(peer(1), "/fw", Block::new(1, true, 16), None, &[2; 16], now);
        assert_eq!(step, UploadStep::Continue(Block::new(1, true, 16)));
        let step = uploads.receive(peer(1), "/fw", Block::new(2, false, 16), None, &[3; 5], now);
        let mut expected = vec![1; 16];
        expected.extend([2; 16]);
        expected.extend([3; 5]);
        assert_eq!(
            step,
            UploadStep::Complete {
                body: expected,
                block: Block::new(2, false, 16)
            }
        );
        assert_eq!(uploads.held(), 0);
        assert!(uploads.is_empty());
    }

    #[test]
    fn missing_or_repeated_block_is_incomplete() {
        let mut uploads = Uploads::new(limits(), TransferMemory::new(1000));
        let now = Instant::now();
        uploads.receive(peer(1), "/fw", Block::new(0, true, 16), None, &[0; 16], now);
        let step = uploads.receive(peer(1), "/fw", Block::new(2, true, 16), None, &[0; 16], now);
        assert_eq!(step, UploadStep::Refused(Refusal::Incomplete));
        assert_eq!(uploads.held(), 0);
        let step = uploads.receive(peer(1), "/fw", Block::new(1, false, 16), None, &[0; 3], now);
        assert_eq!(
            step,
            UploadStep::Refused(Refusal::Incomplete),
            "the upload was dropped"
        );
    }

    #[test]
    fn uploads_from_different_endpoints_never_mix() {
        let mut uploads = Uploads::new(limits(), TransferMemory::new(1000));
        let now = Instant::now();
        uploads.receive(peer(1), "/fw", Block::new(0, true, 16), None, &[1; 16], now);
        uploads.receive(peer(2), "/fw", Block::new(0, true, 16), None, &[2; 16], now);
        let one = uploads.receive(peer(1), "/fw", Block::new(1, false, 16), None, &[1], now);
        let two = uploads.receive(peer(2), "/fw", Block::new(1, false, 16), None, &[2], now);
        assert!(matches!(one, UploadStep::Complete { body, .. } if body.iter().all(|&b| b == 1)));
        assert!(matches!(two, UploadStep::Complete { body, .. } if body.iter().all(|&b| b == 2)));
    }

    #[test]
    fn too_large_up_front_or_on_the_way() {
        let mut uploads = Uploads::new(limits(), TransferMemory::new(1000));
        let now = Instant::now();
        let step = uploads.receive(
            peer(1),
            "/fw",
            Block::new(0, true, 16),
            Some(101),
            &[0; 16],
            now,
        );
        assert_eq!(step, UploadStep::Refused(Refusal::TooLarge { limit: 100 }));
        for num in 0..6 {
            uploads.receive(
                peer(1),
                "/fw",
                Block::new(num, true, 16),
                None,
                &[0; 16],
                now,
            );
        }
        let step = uploads.receive(peer(1), "/fw", Block::new(6, true, 16), None, &[0; 16], now);
        assert_eq!(step, UploadStep::Refused(Refusal::TooLarge { limit: 100 }));
        assert_eq!(uploads.held(), 0);
    }

    #[test]
    fn abandoned_upload_is_dropped_after_the_timeout() {
        let mut uploads = Uploads::new(limits(), TransferMemory::new(1000));
        let now = Instant::now();
        uploads.receive(peer(1), "/fw", Block::new(0, true, 16), None, &[0; 16], now);
        assert_eq!(uploads.held(), 16);
        uploads.expire(now + Duration::from_secs(61));
        assert_eq!(uploads.held(), 0);
        assert!(uploads.is_empty());
    }

    #[test]
    fn uploads_of_every_socket_share_one_budget() {
        let memory = TransferMemory::new(48);
        let mut one = Uploads::new(limits(), memory.clone());
        let mut two = Uploads::new(limits(), memory.clone());
        let now = Instant::now();
        let step = one.receive(peer(1), "/fw", Block::new(0, true, 32), None, &[0; 32], now);
        assert_eq!(step, UploadStep::Continue(Block::new(0, true, 32)));
        let step = two.receive(peer(2), "/fw", Block::new(0, true, 32), None, &[0; 32], now);
        assert_eq!(step, UploadStep::Refused(Refusal::Busy));
        // A last block is handed on, not held: it needs no room.
        let step = two.receive(
            peer(2),
            "/fw",
            Block::new(0, false, 32),
            None,
            &[0; 30],
            now,
        );
        assert!(matches!(step, UploadStep::Complete { .. }));
        assert_eq!(memory.used(), 32);
        one.expire(now + Duration::from_secs(61));
        assert_eq!(memory.used(), 0);
    }

    #[test]
    fn larger_client_blocks_are_negotiated_down() {
        let mut uploads = Uploads::new(limits(), TransferMemory::new(1000));
        let now = Instant::now();
        // 64-byte first block with a 32-byte host limit: accepted, and the
        // answer echoes NUM 0 with SZX for 32 bytes; the client goes on from
        // byte 64 in 32-byte blocks: NUM 2.
        let step = uploads.receive(peer(1), "/fw", Block::new(0, true, 64), None, &[0; 64], now);
        assert_eq!(step, UploadStep::Continue(Block::new(0, true, 32)));
        let step = uploads.receive(peer(1), "/fw", Block::new(2, false, 32), None, &[1; 4], now);
        assert!(matches!(step, UploadStep::Complete { body, .. } if body.len() == 68));
    }

    fn held_packet(payload: &[u8]) -> HeldResponse {
        let representations = Representations::new(TransferMemory::new(1000));
        HeldResponse {
            head: coap_lite::Packet::new(),
            representation: representations.hold(payload.to_vec()).unwrap(),
        }
    }

    #[test]
    fn request_key_tells_query_and_accept_apart() {
        let query = ["count=50".to_owned(), "x".to_owned()];
        assert_eq!(request_key("/dice", &[], None), "/dice");
        assert_eq!(
            request_key("/dice", &query, Some(50)),
            "/dice?count=50&x#50"
        );
    }

    #[test]
    fn held_responses_are_per_peer_and_key_and_forgotten_by_path() {
        let now = Instant::now();
        let mut held = HeldResponses::new(Duration::from_secs(60), 8);
        held.hold(peer(1), "/a?x".to_owned(), held_packet(b"1"), now);
        held.hold(peer(1), "/ab".to_owned(), held_packet(b"2"), now);
        assert!(held.get(peer(2), "/a?x", now).is_none());
        assert_eq!(
            held.get(peer(1), "/a?x", now)
                .unwrap()
                .representation
                .payload(),
            b"1"
        );
        held.forget_path("/a");
        assert!(held.get(peer(1), "/a?x", now).is_none());
        assert_eq!(
            held.get(peer(1), "/ab", now)
                .unwrap()
                .representation
                .payload(),
            b"2"
        );
    }

    #[test]
    fn held_responses_go_oldest_first_and_with_age() {
        let start = Instant::now();
        let mut held = HeldResponses::new(Duration::from_secs(60), 2);
        held.hold(peer(1), "/a".to_owned(), held_packet(b"a"), start);
        held.hold(
            peer(1),
            "/b".to_owned(),
            held_packet(b"b"),
            start + Duration::from_secs(1),
        );
        // Held again: its first entry in the age order is stale, not evicted.
        held.hold(
            peer(1),
            "/a".to_owned(),
            held_packet(b"a2"),
            start + Duration::from_secs(2),
        );
        held.hold(
            peer(1),
            "/c".to_owned(),
            held_packet(b"c"),
            start + Duration::from_secs(3),
        );
        let now = start + Duration::from_secs(3);
        assert!(held.get(peer(1), "/b", now).is_none(), "the oldest went");
        assert_eq!(
            held.get(peer(1), "/a", now)
                .unwrap()
                .representation
                .payload(),
            b"a2"
        );
        assert_eq!(held.len(), 2);
        let later = start + Duration::from_secs(62);
        assert!(held.get(peer(1), "/a", later).is_none());
        assert!(held.get(peer(1), "/c", later).is_some());
        for i in 0..100 {
            held.hold(peer(1), "/c".to_owned(), held_packet(b"c"), later);
            assert!(
                held.order.len() <= 5,
                "after {i} holds: {}",
                held.order.len()
            );
        }
    }
}
