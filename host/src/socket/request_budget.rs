//! The requests an address has in plugins at once
//! (`runtime.max_pending_requests`), counted across all its socket loops:
//! past it a request gets 5.03 with Max-Age (RFC 7252 §5.9.3.4) and is not
//! queued. Shared rather than split among the loops, so that one peer,
//! which one loop serves, may still use the whole budget.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A share of an address's budget of requests in progress.
#[derive(Debug, Clone)]
pub struct RequestBudget {
    in_progress: Arc<AtomicUsize>,
    max: usize,
}

impl RequestBudget {
    /// A budget of `max` requests at once, for the loops given clones of it.
    pub fn new(max: usize) -> Self {
        RequestBudget {
            in_progress: Arc::default(),
            max,
        }
    }

    /// Takes a place for one more request, if there is one.
    pub fn try_take(&self) -> bool {
        self.in_progress
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max).then_some(n + 1)
            })
            .is_ok()
    }

    /// Gives back the place of a request answered.
    pub fn give_back(&self) {
        self.in_progress.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_one_budget() {
        let budget = RequestBudget::new(2);
        let other = budget.clone();
        assert!(budget.try_take());
        assert!(other.try_take());
        assert!(!budget.try_take());
        assert!(!other.try_take());
        other.give_back();
        assert!(budget.try_take());
    }
}
