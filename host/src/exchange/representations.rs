//! The representations held for block-wise transfers (RFC 7959 §2.4): the
//! whole payload of a response that went out in blocks, kept for the
//! client's requests of the later blocks. One copy per distinct content,
//! shared by every peer and socket that fetches it, so that 300 peers
//! fetching one firmware image hold it once; each copy is counted once
//! against the host's [`TransferMemory`] budget, for as long as any peer's
//! transfer still holds it.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex, Weak};

use coap_lite::Packet;
use foldhash::fast::RandomState;

use super::transfer_memory::{Reservation, TransferMemory};

/// One held payload, with its share of the budget.
#[derive(Debug)]
pub struct Representation {
    payload: Box<[u8]>,
    // Given back when the last transfer holding this is done.
    _reservation: Reservation,
}

impl Representation {
    /// The whole payload.
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }
}

/// A response held for later blocks: its code and options, and its payload,
/// which may be shared with other held responses.
#[derive(Debug, Clone)]
pub struct HeldResponse {
    /// The response without its payload (with the ETag the blocks carry).
    pub head: Packet,
    /// The whole payload.
    pub representation: Arc<Representation>,
}

/// Every representation held by the host, by content.
#[derive(Debug, Clone)]
pub struct Representations {
    memory: TransferMemory,
    inner: Arc<Mutex<Interned>>,
}

#[derive(Debug)]
struct Interned {
    // By (hash, length); a bucket of more than one is a hash collision,
    // told apart by comparing the bytes. Entries of representations no
    // longer held are swept when the map has doubled since the last sweep.
    by_content: HashMap<(u64, usize), Vec<Weak<Representation>>, RandomState>,
    sweep_at: usize,
    // Seeded per process: a peer cannot aim payloads at one bucket.
    hasher: RandomState,
}

/// Below this many entries the map is not swept.
const MIN_SWEEP: usize = 64;

impl Representations {
    /// None held yet; held ones draw on `memory`.
    pub fn new(memory: TransferMemory) -> Self {
        Representations {
            memory,
            inner: Arc::new(Mutex::new(Interned {
                by_content: HashMap::default(),
                sweep_at: MIN_SWEEP,
                hasher: RandomState::default(),
            })),
        }
    }

    /// The budget the held representations draw on.
    pub fn memory(&self) -> &TransferMemory {
        &self.memory
    }

    /// The held copy of `payload`: the one already held if the same bytes
    /// are, else a new one, counted against the budget; none when the
    /// budget cannot take it.
    pub fn hold(&self, payload: Vec<u8>) -> Option<Arc<Representation>> {
        let mut interned = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let key = (interned.hasher.hash_one(&payload[..]), payload.len());
        if let Some(bucket) = interned.by_content.get_mut(&key) {
            bucket.retain(|weak| weak.strong_count() > 0);
            if let Some(held) = bucket
                .iter()
                .filter_map(Weak::upgrade)
                .find(|held| *held.payload == payload[..])
            {
                return Some(held);
            }
        }
        let reservation = self.memory.reserve(payload.len())?;
        let held = Arc::new(Representation {
            payload: payload.into_boxed_slice(),
            _reservation: reservation,
        });
        interned
            .by_content
            .entry(key)
            .or_default()
            .push(Arc::downgrade(&held));
        if interned.by_content.len() >= interned.sweep_at {
            interned.by_content.retain(|_, bucket| {
                bucket.retain(|weak| weak.strong_count() > 0);
                !bucket.is_empty()
            });
            interned.sweep_at = (2 * interned.by_content.len()).max(MIN_SWEEP);
        }
        Some(held)
    }

    /// How many distinct representations are held.
    pub fn len(&self) -> usize {
        let interned = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        interned
            .by_content
            .values()
            .flatten()
            .filter(|weak| weak.strong_count() > 0)
            .count()
    }

    /// Whether none is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_bytes_are_held_once_and_counted_once() {
        let representations = Representations::new(TransferMemory::new(1000));
        let one = representations.hold(vec![7; 400]).unwrap();
        let two = representations.hold(vec![7; 400]).unwrap();
        assert!(Arc::ptr_eq(&one, &two));
        assert_eq!(representations.memory().used(), 400);
        let other = representations.hold(vec![8; 400]).unwrap();
        assert!(!Arc::ptr_eq(&one, &other));
        assert_eq!(representations.memory().used(), 800);
        assert_eq!(representations.len(), 2);
    }

    #[test]
    fn past_the_budget_nothing_new_is_held_until_a_copy_is_let_go() {
        let representations = Representations::new(TransferMemory::new(1000));
        let first = representations.hold(vec![1; 600]).unwrap();
        assert!(representations.hold(vec![2; 600]).is_none());
        // What is held already is still shared.
        assert!(representations.hold(vec![1; 600]).is_some());
        drop(first);
        assert_eq!(representations.memory().used(), 0);
        assert!(representations.hold(vec![2; 600]).is_some());
    }

    #[test]
    fn entries_of_released_representations_are_swept() {
        let representations = Representations::new(TransferMemory::new(usize::MAX));
        for i in 0..10_000u32 {
            drop(representations.hold(i.to_be_bytes().to_vec()).unwrap());
        }
        let interned = representations.inner.lock().unwrap();
        assert!(interned.by_content.len() <= 2 * MIN_SWEEP);
    }
}
