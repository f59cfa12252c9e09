//! The storage quota of one namespace: the bytes of its keys and values
//! (UTF-8 key length plus value length, summed over its entries; redb's own
//! pages, tree nodes and free space are not counted, see the README for what
//! they add on disk).
//!
//! A write that would take the namespace past its quota is refused, unless
//! it does not make the namespace larger: replacing a value with one no
//! larger, and deleting, always succeed, so that a plugin can always get
//! back under (and a quota lowered below what is stored loses nothing).
//! Pure bookkeeping: the store calls it while it holds the namespace's
//! write lock, with the sizes it found in the transaction.

/// The bytes an entry counts for.
pub(super) fn entry_bytes(key: &str, value_len: usize) -> u64 {
    (key.len() + value_len) as u64
}

/// Once a refusal has been logged, the next is logged only after usage has
/// fallen to this fraction of the quota (7/8): a plugin hovering at its
/// quota, deleting a little and writing again, is not one log line per write.
const REARM_NUMERATOR: u64 = 7;
const REARM_DENOMINATOR: u64 = 8;

/// Whether a namespace holding `used` bytes is far enough under `quota` for
/// its next refusal to be logged again.
pub(super) fn rearmed(quota: u64, used: u64) -> bool {
    used <= quota / REARM_DENOMINATOR * REARM_NUMERATOR
}

/// What a namespace holds, and whether its owner has been told it is full.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Usage {
    used: u64,
    warned: bool,
}

/// Whether a write may go ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Yes; the namespace then holds `used` bytes.
    Allowed { used: u64 },
    /// No; `log` is true for the first refusal since the namespace was last
    /// back under its quota.
    Refused { used: u64, log: bool },
}

impl Usage {
    /// A namespace holding `used` bytes, as counted when it was opened.
    pub(super) fn counted(used: u64) -> Usage {
        Usage {
            used,
            warned: false,
        }
    }

    /// The bytes held now.
    pub(super) fn used(&self) -> u64 {
        self.used
    }

    /// Whether replacing an entry of `old` bytes (none: a new key) by one of
    /// `new` bytes fits `quota`. A refusal is recorded so that it is logged
    /// once; an allowed write changes nothing until [`Usage::committed`].
    pub(super) fn check(&mut self, quota: u64, old: Option<u64>, new: u64) -> Verdict {
        let used = self.used - old.unwrap_or(0).min(self.used) + new;
        if used <= quota || used <= self.used {
            return Verdict::Allowed { used };
        }
        let log = !self.warned;
        self.warned = true;
        Verdict::Refused {
            used: self.used,
            log,
        }
    }

    /// After a committed write or delete: the namespace holds `used` bytes.
    pub(super) fn committed(&mut self, quota: u64, used: u64) {
        self.used = used;
        if rearmed(quota, used) {
            self.warned = false;
        }
    }

    /// What deleting an entry of `old` bytes leaves.
    pub(super) fn after_delete(&self, old: Option<u64>) -> u64 {
        self.used - old.unwrap_or(0).min(self.used)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUOTA: u64 = 1000;

    fn allowed(verdict: Verdict) -> u64 {
        match verdict {
            Verdict::Allowed { used } => used,
            refused => panic!("refused: {refused:?}"),
        }
    }

    #[test]
    fn counts_keys_and_values() {
        assert_eq!(entry_bytes("state", 2), 7);
        assert_eq!(entry_bytes("é", 0), 2);
    }

    #[test]
    fn new_entries_fit_up_to_the_quota_exactly() {
        let mut usage = Usage::counted(0);
        let used = allowed(usage.check(QUOTA, None, 600));
        usage.committed(QUOTA, used);
        let used = allowed(usage.check(QUOTA, None, 400));
        usage.committed(QUOTA, used);
        assert_eq!(usage.used(), QUOTA);
        assert_eq!(
            usage.check(QUOTA, None, 1),
            Verdict::Refused {
                used: QUOTA,
                log: true
            }
        );
    }

    #[test]
    fn a_replacement_counts_only_its_growth() {
        let mut usage = Usage::counted(900);
        // 100 bytes replaced by 200: 1000, just fits.
        assert_eq!(allowed(usage.check(QUOTA, Some(100), 200)), 1000);
        // 100 replaced by 201: one byte over.
        assert!(matches!(
            usage.check(QUOTA, Some(100), 201),
            Verdict::Refused { .. }
        ));
    }

    #[test]
    fn over_the_quota_nothing_that_shrinks_or_keeps_the_size_is_refused() {
        // A quota lowered below what is stored.
        let mut usage = Usage::counted(5000);
        assert_eq!(allowed(usage.check(QUOTA, Some(300), 300)), 5000);
        assert_eq!(allowed(usage.check(QUOTA, Some(300), 10)), 4710);
        assert_eq!(usage.after_delete(Some(300)), 4700);
        assert!(matches!(
            usage.check(QUOTA, Some(300), 301),
            Verdict::Refused { .. }
        ));
    }

    #[test]
    fn a_refusal_is_logged_once_until_usage_is_well_under_again() {
        let mut usage = Usage::counted(QUOTA);
        let logs = |usage: &mut Usage| match usage.check(QUOTA, None, 10) {
            Verdict::Refused { log, .. } => log,
            Verdict::Allowed { .. } => panic!("allowed"),
        };
        assert!(logs(&mut usage));
        assert!(!logs(&mut usage));
        // Deleting a little (still above 7/8) does not re-arm it...
        usage.committed(QUOTA, 995);
        assert!(!logs(&mut usage));
        // ...getting well under does.
        usage.committed(QUOTA, 500);
        let used = allowed(usage.check(QUOTA, None, 500));
        usage.committed(QUOTA, used);
        assert!(logs(&mut usage));
    }

    #[test]
    fn a_zero_quota_refuses_every_new_entry() {
        let mut usage = Usage::counted(0);
        assert!(matches!(
            usage.check(0, None, 1),
            Verdict::Refused { log: true, .. }
        ));
        assert_eq!(allowed(usage.check(0, None, 0)), 0);
    }
}
