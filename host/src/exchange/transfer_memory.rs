//! The byte budget of block-wise transfers (RFC 7959), shared by every socket
//! of the host: the representations held for later Block2 requests (§2.4,
//! §3.3) and the partial bodies of Block1 uploads (§2.3) draw on one amount,
//! so that no number of peers, sockets or large answers can make the host
//! hold more than it was configured to.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The accountant of the budget: cheap to clone, every clone draws on the
/// same amount.
#[derive(Debug, Clone)]
pub struct TransferMemory {
    inner: Arc<Accountant>,
}

#[derive(Debug)]
struct Accountant {
    used: AtomicUsize,
    limit: usize,
}

impl TransferMemory {
    /// A budget of `limit` bytes, none used yet.
    pub fn new(limit: usize) -> Self {
        TransferMemory {
            inner: Arc::new(Accountant {
                used: AtomicUsize::new(0),
                limit,
            }),
        }
    }

    /// `bytes` of the budget, given back when the reservation is dropped; or
    /// none when they would take the budget past its limit.
    pub fn reserve(&self, bytes: usize) -> Option<Reservation> {
        let mut reservation = self.reservation();
        reservation.grow(bytes).then_some(reservation)
    }

    /// A reservation of nothing yet, to [`Reservation::grow`].
    pub fn reservation(&self) -> Reservation {
        Reservation {
            memory: self.clone(),
            bytes: 0,
        }
    }

    /// Bytes reserved now.
    pub fn used(&self) -> usize {
        self.inner.used.load(Ordering::Relaxed)
    }

    /// The budget.
    pub fn limit(&self) -> usize {
        self.inner.limit
    }
}

/// Bytes taken from a [`TransferMemory`] for as long as this lives.
#[derive(Debug)]
pub struct Reservation {
    memory: TransferMemory,
    bytes: usize,
}

impl Reservation {
    /// Takes `bytes` more; false, taking nothing, when they would take the
    /// budget past its limit.
    pub fn grow(&mut self, bytes: usize) -> bool {
        let accountant = &self.memory.inner;
        let taken = accountant
            .used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| {
                used.checked_add(bytes)
                    .filter(|&total| total <= accountant.limit)
            })
            .is_ok();
        if taken {
            self.bytes += bytes;
        }
        taken
    }

    /// Bytes this reservation holds.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.memory
            .inner
            .used
            .fetch_sub(self.bytes, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_stay_within_the_limit_and_give_back_on_drop() {
        let memory = TransferMemory::new(100);
        let mut first = memory.reserve(60).unwrap();
        assert!(memory.reserve(41).is_none(), "past the limit");
        let second = memory.clone().reserve(40).unwrap();
        assert_eq!(memory.used(), 100);
        assert!(!first.grow(1));
        assert_eq!(first.bytes(), 60);
        drop(second);
        assert!(first.grow(40));
        assert_eq!(memory.used(), 100);
        drop(first);
        assert_eq!(memory.used(), 0);
    }
}
