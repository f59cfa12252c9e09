//! Whether the shared store is reachable, as the last operations found it,
//! so that an outage is one log line when it starts and one when it ends,
//! not one per request that failed in between.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// What an operation's outcome changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Transition {
    /// Nothing: the store was up and still is, or was down and still is.
    None,
    /// This failure is the first of an outage.
    WentDown,
    /// This success ends an outage that lasted this long.
    CameBack(Duration),
}

#[derive(Debug, Default)]
pub(super) struct Outage {
    // Read on every operation without the lock: up is the usual case.
    down: AtomicBool,
    since: Mutex<Option<Instant>>,
}

impl Outage {
    /// After an operation that could not reach the store.
    pub(super) fn failed(&self) -> Transition {
        let mut since = self.since.lock().unwrap_or_else(|p| p.into_inner());
        if since.is_some() {
            return Transition::None;
        }
        *since = Some(Instant::now());
        self.down.store(true, Ordering::Release);
        Transition::WentDown
    }

    /// After an operation the store answered.
    pub(super) fn succeeded(&self) -> Transition {
        if !self.down.load(Ordering::Acquire) {
            return Transition::None;
        }
        let mut since = self.since.lock().unwrap_or_else(|p| p.into_inner());
        match since.take() {
            Some(start) => {
                self.down.store(false, Ordering::Release);
                Transition::CameBack(start.elapsed())
            }
            None => Transition::None,
        }
    }

    /// Whether the last operation found the store unreachable.
    pub(super) fn is_down(&self) -> bool {
        self.down.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_transition_per_outage_whatever_the_failures() {
        let outage = Outage::default();
        assert_eq!(outage.succeeded(), Transition::None);
        assert_eq!(outage.failed(), Transition::WentDown);
        for _ in 0..100 {
            assert_eq!(outage.failed(), Transition::None);
        }
        assert!(outage.is_down());
        assert!(matches!(outage.succeeded(), Transition::CameBack(_)));
        assert_eq!(outage.succeeded(), Transition::None);
        assert!(!outage.is_down());
        // The next outage is a new one.
        assert_eq!(outage.failed(), Transition::WentDown);
    }
}
