//! The rate limit on one plugin's log lines: a token bucket shared by all its
//! instances (it lives on the `Plugin`, so a fresh instance after a trap
//! does not get a fresh burst). A plugin that logs without end costs the
//! host's log a burst, then a steady rate. The first line dropped after
//! lines got through is noticed at once (one line saying lines are being
//! dropped); how many were dropped is reported with the next line that gets
//! through, at most once a second.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How often at most a count of dropped lines is reported.
const REPORT_INTERVAL: Duration = Duration::from_secs(1);

/// Whether a line may be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Write it, after a line saying that `dropped` lines were dropped, if
    /// `dropped` is not zero.
    Write { dropped: u64 },
    /// Drop it (it is counted); `notice` is true for the first of a run of
    /// dropped lines, which the host announces.
    Drop { notice: bool },
}

/// A token bucket: `burst` lines at once, refilled at `per_second`.
pub struct LogLimiter {
    burst: f64,
    per_second: f64,
    bucket: Mutex<Bucket>,
}

struct Bucket {
    tokens: f64,
    refilled: Instant,
    dropped: u64,
    reported: Option<Instant>,
}

impl LogLimiter {
    /// A full bucket.
    pub fn new(burst: u32, per_second: u32) -> LogLimiter {
        LogLimiter::starting(burst, per_second, Instant::now())
    }

    fn starting(burst: u32, per_second: u32, now: Instant) -> LogLimiter {
        LogLimiter {
            burst: f64::from(burst),
            per_second: f64::from(per_second),
            bucket: Mutex::new(Bucket {
                tokens: f64::from(burst),
                refilled: now,
                dropped: 0,
                reported: None,
            }),
        }
    }

    /// Lines that may be written at once.
    pub fn burst(&self) -> f64 {
        self.burst
    }

    /// Lines per second once the burst is spent.
    pub fn per_second(&self) -> f64 {
        self.per_second
    }

    /// Takes a token for one line of `plugin`'s own (through the `log`
    /// import or printed on its stdout or stderr), and writes the host's
    /// lines about dropping: the notice when a run of dropped lines starts,
    /// the count of them before the next line that gets through. True if
    /// the line may be written.
    pub fn admit_line_of(&self, plugin: &str) -> bool {
        match self.admit() {
            Admission::Drop { notice: false } => false,
            Admission::Drop { notice: true } => {
                tracing::warn!(
                    plugin,
                    "dropping log lines of plugin {plugin}: past its burst of {} lines, {} a second",
                    self.burst(),
                    self.per_second()
                );
                false
            }
            Admission::Write { dropped: 0 } => true,
            Admission::Write { dropped } => {
                tracing::warn!(
                    plugin,
                    dropped,
                    "dropped {dropped} log lines of plugin {plugin}"
                );
                true
            }
        }
    }

    /// Takes a token for one line, if there is one.
    pub fn admit(&self) -> Admission {
        self.admit_at(Instant::now())
    }

    fn admit_at(&self, now: Instant) -> Admission {
        let mut bucket = self
            .bucket
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let elapsed = now.saturating_duration_since(bucket.refilled);
        bucket.tokens = (bucket.tokens + elapsed.as_secs_f64() * self.per_second).min(self.burst);
        bucket.refilled = now;
        if bucket.tokens < 1.0 {
            bucket.dropped += 1;
            return Admission::Drop {
                notice: bucket.dropped == 1,
            };
        }
        bucket.tokens -= 1.0;
        let report = bucket.dropped > 0
            && bucket
                .reported
                .is_none_or(|at| now.saturating_duration_since(at) >= REPORT_INTERVAL);
        if !report {
            return Admission::Write { dropped: 0 };
        }
        bucket.reported = Some(now);
        Admission::Write {
            dropped: std::mem::take(&mut bucket.dropped),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(limiter: &LogLimiter, lines: usize, now: Instant) -> (usize, u64) {
        let mut written = 0;
        let mut reported = 0;
        for _ in 0..lines {
            if let Admission::Write { dropped } = limiter.admit_at(now) {
                written += 1;
                reported += dropped;
            }
        }
        (written, reported)
    }

    #[test]
    fn a_burst_then_the_rate() {
        let start = Instant::now();
        let limiter = LogLimiter::starting(100, 10, start);
        assert_eq!(written(&limiter, 2000, start), (100, 0));
        // Half a second later: 5 tokens, and the first of them reports the
        // 1900 dropped.
        let later = start + Duration::from_millis(500);
        assert_eq!(written(&limiter, 2000, later), (5, 1900));
        // Within the report interval the next count waits.
        let later = later + Duration::from_millis(500);
        assert_eq!(written(&limiter, 2000, later), (5, 0));
        let later = later + Duration::from_millis(500);
        assert_eq!(written(&limiter, 10, later), (5, 1995 + 1995));
    }

    #[test]
    fn the_bucket_refills_only_to_the_burst() {
        let start = Instant::now();
        let limiter = LogLimiter::starting(100, 10, start);
        let much_later = start + Duration::from_secs(3600);
        assert_eq!(written(&limiter, 1000, much_later), (100, 0));
    }

    #[test]
    fn the_first_dropped_line_of_a_run_is_noticed() {
        let start = Instant::now();
        let limiter = LogLimiter::starting(2, 10, start);
        let admit = || limiter.admit_at(start);
        assert_eq!(admit(), Admission::Write { dropped: 0 });
        assert_eq!(admit(), Admission::Write { dropped: 0 });
        assert_eq!(admit(), Admission::Drop { notice: true });
        assert_eq!(admit(), Admission::Drop { notice: false });
        let later = start + Duration::from_millis(100);
        assert_eq!(limiter.admit_at(later), Admission::Write { dropped: 2 });
        assert_eq!(limiter.admit_at(later), Admission::Drop { notice: true });
    }

    #[test]
    fn a_quiet_plugin_is_never_limited() {
        let start = Instant::now();
        let limiter = LogLimiter::starting(100, 10, start);
        for second in 0..100 {
            let now = start + Duration::from_secs(second);
            assert_eq!(written(&limiter, 10, now), (10, 0));
        }
    }
}
