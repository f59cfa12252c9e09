//! Duplicate detection, RFC 7252 §4.5: a message is a duplicate when its source
//! endpoint and message id are those of one seen within EXCHANGE_LIFETIME (CON)
//! or NON_LIFETIME (NON).
//!
//! Every request looks itself up and, when new, is recorded; at 100 k requests
//! a second the cache is always full. So it is set-associative, like a CPU
//! cache: a key belongs to one set of [`WAYS`] slots, whose tags share one
//! cache line. A miss reads that line only; a record writes it and one entry.

use std::hash::BuildHasher;
use std::mem::MaybeUninit;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use foldhash::fast::RandomState;

/// A request's identity at the message layer: who sent it and its message id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MessageKey {
    /// The endpoint the message came from.
    pub peer: SocketAddr,
    /// The message id it carried.
    pub message_id: u16,
}

/// What the host has done so far with a message it received.
#[derive(Debug, Clone)]
pub enum Seen {
    /// A CON request is being handled; `acknowledged` once the empty ACK of a
    /// separate response went out (§5.2.2).
    Handling { acknowledged: bool },
    /// A CON was answered with this datagram (a piggybacked response, or a
    /// Reset); a duplicate gets it again (§4.5).
    Answered(Bytes),
    /// A NON request: handled or being handled. Duplicates are ignored (§4.5).
    NonConfirmable,
}

/// Slots per set: eight tags fit one cache line, and eight candidates make
/// forgetting a message early (capacity) rare until the cache is nearly full.
const WAYS: usize = 8;

/// Tag deadlines count ticks of 2^20 ns (about 1 ms): 32 bits then span 52
/// days, compared with wrapping arithmetic.
const TICK_SHIFT: u32 = 20;

/// The (endpoint, message id) pairs seen lately (§4.5), in a fixed number of
/// slots: `capacity` rounded up to whole sets of [`WAYS`] slots (a capacity of
/// at most [`WAYS`] is one set of exactly that many). Recording a message in a
/// full set forgets the set's oldest early, which at worst lets one late
/// duplicate be processed twice instead of letting a peer grow the table.
/// With a single set that is exactly the oldest of all.
///
/// Nothing is removed when its lifetime ends: a lookup ignores an expired
/// entry, and a record takes an expired slot before a live one. So an
/// answered entry's datagram lives until its slot is taken again, possibly
/// long after its lifetime when traffic is light; memory stays bounded by the
/// slots, each holding at most one datagram, which is the bound a busy peer
/// reaches anyway. Freeing on expiry would need a sweep or an expiry queue,
/// the very per-request cost this layout avoids.
pub struct DeduplicationCache {
    // Keyed foldhash, seeded per process: a peer cannot aim its keys at one
    // set to push others' entries out.
    hasher: RandomState,
    tags: Box<[SetTags]>,
    // `tags.len() * ways` entries, set by set. A way's entry is initialised
    // exactly when its fingerprint is non-zero: left uninitialised, the
    // slots of an idle host are never written, so their pages (6.5 MiB at
    // the default capacity) do not become resident until used.
    entries: Box<[MaybeUninit<Entry>]>,
    ways: usize,
    // Tag deadlines count ticks since `epoch`.
    epoch: Instant,
    exchange_lifetime: Duration,
    non_lifetime: Duration,
}

impl Drop for DeduplicationCache {
    fn drop(&mut self) {
        for (set, tags) in self.tags.iter().enumerate() {
            for way in 0..self.ways {
                if tags.fingerprints[way] != 0 {
                    // SAFETY: a non-zero fingerprint marks an initialised entry.
                    unsafe { self.entries[set * self.ways + way].assume_init_drop() };
                }
            }
        }
    }
}

/// What a lookup touches for a whole set: one cache line.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct SetTags {
    /// Per way: 16 bits of the key's hash, never 0; 0 marks a way never used.
    /// A lookup reads an entry only where this matches.
    fingerprints: [u16; WAYS],
    /// Per way: the tick its message's lifetime ends, rounded up so it never
    /// passes before the exact end. Only to choose a slot to take.
    deadlines: [u32; WAYS],
    order: InsertionOrder,
}

/// The ways of a set from the least to the most recently recorded, one
/// nibble each (lowest first): the oldest is exact even when many messages
/// share one instant, which a timestamp could not tell apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct InsertionOrder(u32);

struct Entry {
    key: MessageKey,
    // Exact, as §4.5 counts; a lookup compares it without arithmetic.
    expires: Instant,
    seen: Seen,
}

impl DeduplicationCache {
    /// An empty cache of at least `capacity` slots (rounded up to whole sets).
    pub fn new(exchange_lifetime: Duration, non_lifetime: Duration, capacity: usize) -> Self {
        let capacity = capacity.max(1);
        let ways = capacity.min(WAYS);
        let sets = capacity.div_ceil(ways);
        DeduplicationCache {
            hasher: RandomState::default(),
            tags: vec![SetTags::new(ways); sets].into_boxed_slice(),
            entries: Box::new_uninit_slice(sets * ways),
            ways,
            epoch: Instant::now(),
            exchange_lifetime,
            non_lifetime,
        }
    }

    /// What was done with this message, if it is a duplicate at `now`: seen
    /// within its lifetime (§4.5).
    pub fn get(&self, key: &MessageKey, now: Instant) -> Option<&Seen> {
        let (set, fingerprint) = self.locate(key);
        let slot = self.find(set, fingerprint, key)?;
        let entry = self.entry(slot);
        (entry.expires > now).then_some(&entry.seen)
    }

    /// Records a message seen for the first time at `now`, in the slot it
    /// held before if any, else its set's first empty or expired slot, else
    /// in place of the set's oldest.
    pub fn insert(&mut self, key: MessageKey, seen: Seen, now: Instant) {
        let (set, fingerprint) = self.locate(&key);
        let lifetime = match seen {
            Seen::NonConfirmable => self.non_lifetime,
            Seen::Handling { .. } | Seen::Answered(_) => self.exchange_lifetime,
        };
        let expires = now + lifetime;
        let now = self.since_epoch(now);
        // A key holds at most one slot, so a lookup can stop at the first.
        let position = match self.find(set, fingerprint, &key) {
            Some(slot) => self.tags[set].order.position_of(slot % self.ways),
            None => self.tags[set].victim(self.ways, tick(now)),
        };
        let tags = &mut self.tags[set];
        let way = tags.order.way_at(position);
        let slot = &mut self.entries[set * self.ways + way];
        if tags.fingerprints[way] != 0 {
            // SAFETY: a non-zero fingerprint marks an initialised entry.
            unsafe { slot.assume_init_drop() };
        }
        slot.write(Entry { key, expires, seen });
        tags.fingerprints[way] = fingerprint;
        tags.deadlines[way] = tick_rounded_up(now.saturating_add(nanos(lifetime)));
        tags.order = tags.order.move_to_newest(position, self.ways);
    }

    /// Updates what was done with a message still remembered. Its lifetime
    /// is unchanged: an expired entry stays expired.
    pub fn update(&mut self, key: &MessageKey, seen: Seen) {
        let (set, fingerprint) = self.locate(key);
        if let Some(slot) = self.find(set, fingerprint, key) {
            // SAFETY: `find` returns only slots with a non-zero fingerprint.
            unsafe { self.entries[slot].assume_init_mut() }.seen = seen;
        }
    }

    /// The key's set (from the hash's high bits, any number of sets) and
    /// fingerprint (its low bits, so independent of the set). An IPv4 key is
    /// hashed as one integer: one multiplication, where the derived `Hash`
    /// makes a call per field. Equal keys hash equally, which is all a lookup
    /// needs (an IPv6 hash leaves out flow info and scope).
    fn locate(&self, key: &MessageKey) -> (usize, u16) {
        let hash = match key.peer {
            SocketAddr::V4(peer) => self.hasher.hash_one(
                u64::from(peer.ip().to_bits()) << 32
                    | u64::from(peer.port()) << 16
                    | u64::from(key.message_id),
            ),
            SocketAddr::V6(peer) => {
                self.hasher
                    .hash_one((peer.ip().to_bits(), peer.port(), key.message_id))
            }
        };
        let sets = self.tags.len() as u128;
        let set = ((u128::from(hash) * sets) >> 64) as usize;
        (set, (hash as u16).max(1))
    }

    /// The entry of a slot whose way's fingerprint is non-zero.
    fn entry(&self, slot: usize) -> &Entry {
        debug_assert_ne!(
            self.tags[slot / self.ways].fingerprints[slot % self.ways],
            0
        );
        // SAFETY: callers pass only slots whose fingerprint matched one
        // computed by `locate`, which is never 0: initialised entries.
        unsafe { self.entries[slot].assume_init_ref() }
    }

    /// The slot holding `key` in `set`, expired or not.
    fn find(&self, set: usize, fingerprint: u16, key: &MessageKey) -> Option<usize> {
        let mut matches = self.tags[set].matching(fingerprint);
        while matches != 0 {
            let slot = set * self.ways + matches.trailing_zeros() as usize;
            if self.entry(slot).key == *key {
                return Some(slot);
            }
            matches &= matches - 1;
        }
        None
    }

    fn since_epoch(&self, at: Instant) -> i64 {
        match at.checked_duration_since(self.epoch) {
            Some(after) => nanos(after),
            None => -nanos(self.epoch.duration_since(at)),
        }
    }
}

impl SetTags {
    fn new(ways: usize) -> Self {
        SetTags {
            fingerprints: [0; WAYS],
            deadlines: [0; WAYS],
            order: InsertionOrder::new(ways),
        }
    }

    /// A bit per way whose fingerprint is this one; a loop without early exit
    /// so that it compiles to a few vector instructions.
    fn matching(&self, fingerprint: u16) -> u32 {
        self.fingerprints
            .iter()
            .enumerate()
            .fold(0, |mask, (way, &f)| {
                mask | (u32::from(f == fingerprint) << way)
            })
    }

    /// The position in insertion order of the slot to take at tick `now`:
    /// the oldest empty or expired one, else the oldest. Empty ways are never
    /// recorded, so they come first.
    fn victim(&self, ways: usize, now: u32) -> usize {
        (0..ways)
            .find(|&position| {
                let way = self.order.way_at(position);
                self.fingerprints[way] == 0 || now.wrapping_sub(self.deadlines[way]) as i32 >= 0
            })
            .unwrap_or(0)
    }
}

impl InsertionOrder {
    /// Ways 0, 1, … `ways - 1`, all unused.
    fn new(ways: usize) -> Self {
        InsertionOrder((0..ways).fold(0, |order, way| order | (way as u32) << (4 * way)))
    }

    fn way_at(self, position: usize) -> usize {
        (self.0 >> (4 * position)) as usize & 0xF
    }

    fn position_of(self, way: usize) -> usize {
        (0..WAYS)
            .find(|&position| self.way_at(position) == way)
            .unwrap_or(0)
    }

    /// The way at `position` moved last, the others keeping their order.
    fn move_to_newest(self, position: usize, ways: usize) -> Self {
        let order = u64::from(self.0);
        let way = (order >> (4 * position)) & 0xF;
        let below = order & ((1 << (4 * position)) - 1);
        let above = (order >> (4 * (position + 1))) << (4 * position);
        let others = (below | above) & ((1 << (4 * (ways - 1))) - 1);
        InsertionOrder((others | way << (4 * (ways - 1))) as u32)
    }
}

fn nanos(duration: Duration) -> i64 {
    i64::try_from(duration.as_nanos()).unwrap_or(i64::MAX)
}

fn tick(nanos: i64) -> u32 {
    (nanos >> TICK_SHIFT) as u32
}

fn tick_rounded_up(nanos: i64) -> u32 {
    tick(nanos.saturating_add((1 << TICK_SHIFT) - 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(message_id: u16) -> MessageKey {
        MessageKey {
            peer: "127.0.0.1:5000".parse().unwrap(),
            message_id,
        }
    }

    fn cache(capacity: usize) -> DeduplicationCache {
        DeduplicationCache::new(Duration::from_secs(247), Duration::from_secs(145), capacity)
    }

    const HANDLING: Seen = Seen::Handling {
        acknowledged: false,
    };

    fn held(cache: &DeduplicationCache, message_id: u16, now: Instant) -> bool {
        cache.get(&key(message_id), now).is_some()
    }

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn remembers_until_the_lifetime_passes() {
        let mut cache = cache(10);
        let t0 = Instant::now();
        cache.insert(key(1), HANDLING, t0);
        cache.insert(key(2), Seen::NonConfirmable, t0);
        assert!(held(&cache, 2, t0 + secs(145) - Duration::from_nanos(1)));
        assert!(!held(&cache, 2, t0 + secs(145)));
        assert!(held(&cache, 1, t0 + secs(146)));
        assert!(held(&cache, 1, t0 + secs(247) - Duration::from_nanos(1)));
        assert!(!held(&cache, 1, t0 + secs(247)));
    }

    #[test]
    fn same_id_from_another_endpoint_is_not_a_duplicate() {
        let mut cache = cache(10);
        let now = Instant::now();
        cache.insert(key(1), Seen::NonConfirmable, now);
        let other = MessageKey {
            peer: "127.0.0.1:5001".parse().unwrap(),
            message_id: 1,
        };
        assert!(cache.get(&other, now).is_none());
    }

    #[test]
    fn capacity_evicts_the_oldest() {
        let mut cache = cache(2);
        let t0 = Instant::now();
        cache.insert(key(1), Seen::NonConfirmable, t0);
        cache.insert(key(2), HANDLING, t0 + secs(1));
        cache.insert(key(3), Seen::NonConfirmable, t0 + secs(2));
        assert_eq!(cache.entries.len(), 2);
        assert!(!held(&cache, 1, t0 + secs(2)));
        assert!(held(&cache, 2, t0 + secs(2)));
        assert!(held(&cache, 3, t0 + secs(2)));
    }

    /// bounds.rs relies on this: with capacity 4, a message is forgotten
    /// after exactly four newer ones, even when they all share one instant.
    #[test]
    fn a_small_cache_forgets_exactly_the_oldest() {
        let mut cache = cache(4);
        let now = Instant::now();
        for id in 1..=4 {
            cache.insert(key(id), HANDLING, now);
        }
        // A lookup or an update does not make an entry younger.
        assert!(held(&cache, 1, now));
        cache.update(&key(1), Seen::Answered(Bytes::from_static(b"ack")));
        cache.insert(key(5), HANDLING, now);
        assert!(!held(&cache, 1, now));
        assert!((2..=5).all(|id| held(&cache, id, now)));
        cache.insert(key(6), HANDLING, now);
        assert!(!held(&cache, 2, now));
        assert!((3..=6).all(|id| held(&cache, id, now)));
    }

    #[test]
    fn update_changes_what_a_duplicate_gets() {
        let mut cache = cache(4);
        let now = Instant::now();
        cache.insert(key(1), HANDLING, now);
        cache.update(&key(1), Seen::Answered(Bytes::from_static(b"ack")));
        assert!(matches!(cache.get(&key(1), now), Some(Seen::Answered(b)) if b == "ack"));
        // An update of a message never recorded records nothing.
        cache.update(&key(2), Seen::NonConfirmable);
        assert!(!held(&cache, 2, now));
    }

    #[test]
    fn an_expired_slot_is_taken_before_the_oldest_live_one() {
        let mut cache = cache(2);
        let t0 = Instant::now();
        cache.insert(key(1), HANDLING, t0);
        cache.insert(key(2), Seen::NonConfirmable, t0 + secs(1));
        // At 200 s the NON (145 s) has expired, the older CON (247 s) has not.
        cache.insert(key(3), HANDLING, t0 + secs(200));
        assert!(held(&cache, 1, t0 + secs(200)));
        assert!(held(&cache, 3, t0 + secs(200)));
    }

    #[test]
    fn eviction_stays_within_a_set() {
        let mut cache = cache(2 * WAYS);
        let now = Instant::now();
        let (mut first, mut second) = (Vec::new(), Vec::new());
        for id in 0..=u16::MAX {
            let set = if cache.locate(&key(id)).0 == 0 {
                &mut first
            } else {
                &mut second
            };
            set.push(id);
        }
        cache.insert(key(second[0]), HANDLING, now);
        for &id in &first[..=WAYS] {
            cache.insert(key(id), HANDLING, now);
        }
        assert!(!held(&cache, first[0], now), "oldest of the full set");
        assert!(first[1..=WAYS].iter().all(|&id| held(&cache, id, now)));
        assert!(held(&cache, second[0], now), "the other set is untouched");
    }

    #[test]
    fn a_reused_key_outlives_its_first_expiry() {
        let mut cache = cache(2);
        let t0 = Instant::now();
        cache.insert(key(1), Seen::NonConfirmable, t0);
        cache.insert(key(2), Seen::NonConfirmable, t0);
        assert!(!held(&cache, 1, t0 + secs(200)));
        cache.insert(key(1), Seen::NonConfirmable, t0 + secs(200));
        assert!(held(&cache, 1, t0 + secs(300)));
        assert!(!held(&cache, 1, t0 + secs(345)));
        // It took its old slot back: the other still holds key 2 (expired).
        cache.insert(key(3), HANDLING, t0 + secs(300));
        assert!(held(&cache, 1, t0 + secs(300)));
        assert!(held(&cache, 3, t0 + secs(300)));
    }

    #[test]
    fn the_slots_stay_within_capacity_under_ten_times_as_many_messages() {
        let capacity = 100;
        let mut cache = cache(capacity);
        let now = Instant::now();
        let slots = capacity.div_ceil(WAYS) * WAYS;
        for id in 0..(10 * capacity) as u16 {
            cache.insert(key(id), HANDLING, now);
            assert!(held(&cache, id, now));
        }
        assert_eq!(cache.entries.len(), slots);
        let held_now = (0..(10 * capacity) as u16)
            .filter(|&id| held(&cache, id, now))
            .count();
        assert!(held_now <= slots, "{held_now} held in {slots} slots");
        assert!(held_now > capacity / 2, "only {held_now} held");
    }

    #[test]
    fn insertion_order_moves_one_way_last() {
        let order = InsertionOrder::new(WAYS);
        assert_eq!(order, InsertionOrder(0x7654_3210));
        assert_eq!(order.move_to_newest(0, WAYS), InsertionOrder(0x0765_4321));
        assert_eq!(order.move_to_newest(3, WAYS), InsertionOrder(0x3765_4210));
        assert_eq!(order.move_to_newest(7, WAYS), order);
        let small = InsertionOrder::new(3);
        assert_eq!(small.move_to_newest(1, 3), InsertionOrder(0x120));
        assert_eq!(small.move_to_newest(1, 3).position_of(1), 2);
    }

    #[test]
    fn memory_per_slot() {
        // Reported in the commit; a guard against an entry growing unnoticed.
        let per_slot = size_of::<MaybeUninit<Entry>>() + size_of::<SetTags>() / WAYS;
        assert!(per_slot <= 104, "{per_slot} bytes per slot");
    }
}
