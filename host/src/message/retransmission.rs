//! The retransmission timer for confirmable messages the host sends, RFC 7252
//! §4.2: resend with exponential back-off until acknowledged, reset, or
//! MAX_RETRANSMIT is reached.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::MessageKey;

/// One CON the host sent and has not seen acknowledged.
struct Outstanding {
    datagram: Bytes,
    retransmissions_left: u32,
    timeout: Duration,
    due: Instant,
}

/// What the timer decided about one outstanding CON.
#[derive(Debug, PartialEq)]
pub enum Expiry {
    /// Send this datagram again.
    Retransmit(MessageKey, Bytes),
    /// MAX_RETRANSMIT was reached without an acknowledgement: give up (§4.2).
    GaveUp(MessageKey),
}

/// The outstanding CONs, keyed by (peer, message id) as their ACK or RST is.
#[derive(Default)]
pub struct RetransmissionTimer {
    outstanding: HashMap<MessageKey, Outstanding>,
    // Stale heap items (acknowledged or rescheduled) are skipped when popped.
    schedule: BinaryHeap<Reverse<(Instant, MessageKey)>>,
}

impl RetransmissionTimer {
    /// Starts the timer for a CON sent at `now` with `initial_timeout`.
    pub fn start(
        &mut self,
        key: MessageKey,
        datagram: Bytes,
        initial_timeout: Duration,
        max_retransmit: u32,
        now: Instant,
    ) {
        let due = now + initial_timeout;
        self.outstanding.insert(
            key,
            Outstanding {
                datagram,
                retransmissions_left: max_retransmit,
                timeout: initial_timeout,
                due,
            },
        );
        self.schedule.push(Reverse((due, key)));
    }

    /// Stops the timer on an ACK or RST; true if it matched a CON of ours.
    pub fn stop(&mut self, key: &MessageKey) -> bool {
        self.outstanding.remove(key).is_some()
    }

    /// The next moment something is due, if anything is outstanding.
    pub fn next_due(&mut self) -> Option<Instant> {
        while let Some(Reverse((due, key))) = self.schedule.peek() {
            if self.outstanding.get(key).is_some_and(|o| o.due == *due) {
                return Some(*due);
            }
            self.schedule.pop();
        }
        None
    }

    /// Everything due at `now`: retransmissions, each with its timeout doubled,
    /// and CONs given up on.
    pub fn poll(&mut self, now: Instant, expired: &mut Vec<Expiry>) {
        while let Some(&Reverse((due, key))) = self.schedule.peek() {
            if due > now {
                break;
            }
            self.schedule.pop();
            let Some(outstanding) = self.outstanding.get_mut(&key) else {
                continue;
            };
            if outstanding.due != due {
                continue;
            }
            if outstanding.retransmissions_left == 0 {
                self.outstanding.remove(&key);
                expired.push(Expiry::GaveUp(key));
                continue;
            }
            outstanding.retransmissions_left -= 1;
            outstanding.timeout *= 2;
            outstanding.due = now + outstanding.timeout;
            self.schedule.push(Reverse((outstanding.due, key)));
            expired.push(Expiry::Retransmit(key, outstanding.datagram.clone()));
        }
    }

    /// How many CONs are outstanding.
    pub fn len(&self) -> usize {
        self.outstanding.len()
    }

    /// Whether no CON is outstanding.
    pub fn is_empty(&self) -> bool {
        self.outstanding.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> MessageKey {
        MessageKey {
            peer: "[::1]:5683".parse().unwrap(),
            message_id: 42,
        }
    }

    #[test]
    fn backs_off_exponentially_then_gives_up() {
        let mut timer = RetransmissionTimer::default();
        let t0 = Instant::now();
        let datagram = Bytes::from_static(b"con");
        timer.start(key(), datagram.clone(), Duration::from_secs(2), 2, t0);
        let mut out = Vec::new();

        timer.poll(t0 + Duration::from_millis(1999), &mut out);
        assert!(out.is_empty());
        timer.poll(t0 + Duration::from_secs(2), &mut out);
        assert_eq!(out, vec![Expiry::Retransmit(key(), datagram.clone())]);
        // The timeout doubled: next due 4 s after the retransmission.
        assert_eq!(timer.next_due(), Some(t0 + Duration::from_secs(6)));
        out.clear();
        timer.poll(t0 + Duration::from_secs(6), &mut out);
        assert_eq!(out, vec![Expiry::Retransmit(key(), datagram)]);
        out.clear();
        timer.poll(t0 + Duration::from_secs(14), &mut out);
        assert_eq!(out, vec![Expiry::GaveUp(key())]);
        assert!(timer.is_empty());
        assert_eq!(timer.next_due(), None);
    }

    #[test]
    fn acknowledgement_stops_the_timer() {
        let mut timer = RetransmissionTimer::default();
        let t0 = Instant::now();
        timer.start(key(), Bytes::new(), Duration::from_secs(2), 4, t0);
        assert!(timer.stop(&key()));
        assert!(!timer.stop(&key()));
        let mut out = Vec::new();
        timer.poll(t0 + Duration::from_secs(60), &mut out);
        assert!(out.is_empty());
        assert_eq!(timer.next_due(), None);
    }
}
