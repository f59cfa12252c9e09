//! The tap on the CoAP traffic (issue 17): every CoAP message a socket
//! receives or sends, as the message layer sees it (after DTLS decryption,
//! before encryption), captured for whoever watches the log over HTTP
//! (`/.well-known/coapwasm/exchanges`, [`crate::http::exchange_log`]).
//!
//! It costs the socket next to nothing: with nobody watching, one relaxed
//! atomic load per message; with watchers, a clock reading, a copy of an
//! inbound message (an outbound one is shared) and a non-blocking send on
//! a broadcast channel. Everything else (parsing, naming the options,
//! JSON) happens on the watcher's own task ([`record`]). A watcher that
//! falls behind loses the oldest captures, and is told how many; the
//! socket never waits for it.

pub mod record;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::SystemTime;

use bytes::Bytes;
use tokio::sync::broadcast;

/// Captures kept for a watcher that has not read them yet: past this it
/// loses the oldest. About 1 MB of 1 KB messages.
const BACKLOG: usize = 1024;

/// Which way a message went, seen from the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    In,
    Out,
}

/// One CoAP message as it crossed a socket.
#[derive(Debug, Clone)]
pub struct Capture {
    /// Its number in the log, from 1: a gap is a message a watcher lost.
    pub sequence: u64,
    pub time: SystemTime,
    pub direction: Direction,
    /// The host's socket.
    pub local: SocketAddr,
    pub peer: SocketAddr,
    /// Carried by DTLS (`coaps`), not plain UDP (`coap`).
    pub secure: bool,
    /// The message's bytes (RFC 7252 §3), possibly not a valid message.
    pub message: Bytes,
}

/// The host's one log: the sockets tap it, HTTP watchers read it.
pub struct ExchangeLog {
    sender: broadcast::Sender<Capture>,
    /// Watchers now: read by the tap before anything else (the broadcast
    /// channel's own count takes a lock).
    watching: AtomicUsize,
    sequence: AtomicU64,
    max_watchers: usize,
}

/// One watcher's place and its receiver; the place is given back on drop.
pub struct Watcher {
    pub receiver: broadcast::Receiver<Capture>,
    log: Arc<ExchangeLog>,
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.log.watching.fetch_sub(1, Ordering::Relaxed);
    }
}

impl ExchangeLog {
    /// A log that at most `max_watchers` read at once.
    pub fn new(max_watchers: usize) -> ExchangeLog {
        ExchangeLog {
            sender: broadcast::channel(BACKLOG).0,
            watching: AtomicUsize::new(0),
            sequence: AtomicU64::new(0),
            max_watchers,
        }
    }

    /// A new watcher, seeing what is captured from now on; None past the
    /// bound.
    pub fn watch(self: &Arc<Self>) -> Option<Watcher> {
        self.watching
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n < self.max_watchers).then_some(n + 1)
            })
            .ok()?;
        Some(Watcher {
            receiver: self.sender.subscribe(),
            log: self.clone(),
        })
    }

    /// Watchers now.
    pub fn watchers(&self) -> usize {
        self.watching.load(Ordering::Relaxed)
    }

    /// The most watchers at once.
    pub fn max_watchers(&self) -> usize {
        self.max_watchers
    }

    /// Whether anyone watches: what the tap asks before any work.
    #[inline]
    pub fn watched(&self) -> bool {
        self.watching.load(Ordering::Relaxed) > 0
    }

    /// Captures a message, if anyone watches. `message` is only copied then.
    #[inline]
    pub fn tap(
        &self,
        direction: Direction,
        local: SocketAddr,
        peer: SocketAddr,
        secure: bool,
        message: impl FnOnce() -> Bytes,
    ) {
        if !self.watched() {
            return;
        }
        let capture = Capture {
            sequence: self.sequence.fetch_add(1, Ordering::Relaxed) + 1,
            time: SystemTime::now(),
            direction,
            local,
            peer,
            secure,
            message: message(),
        };
        // No receiver left (the last watcher went between the check and
        // here) is no error.
        let _ = self.sender.send(capture);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tap(log: &ExchangeLog, n: u8) {
        let address = SocketAddr::from(([127, 0, 0, 1], 5683));
        log.tap(Direction::In, address, address, false, || {
            Bytes::from(vec![0x40, 1, 0, n])
        });
    }

    #[test]
    fn nothing_is_captured_unwatched_and_watchers_are_bounded() {
        let log = Arc::new(ExchangeLog::new(2));
        tap(&log, 1);
        let mut first = log.watch().unwrap();
        let second = log.watch().unwrap();
        assert!(log.watch().is_none(), "past the bound");
        tap(&log, 2);
        let capture = first.receiver.try_recv().unwrap();
        assert_eq!((capture.sequence, capture.message[3]), (1, 2));
        drop(second);
        assert_eq!(log.watchers(), 1);
        assert!(log.watch().is_some(), "a place given back");
    }

    #[test]
    fn a_watcher_behind_loses_the_oldest_and_learns_how_many() {
        let log = Arc::new(ExchangeLog::new(1));
        let mut watcher = log.watch().unwrap();
        for n in 0..(BACKLOG + 10) {
            tap(&log, n as u8);
        }
        assert!(matches!(
            watcher.receiver.try_recv(),
            Err(broadcast::error::TryRecvError::Lagged(10))
        ));
        assert_eq!(watcher.receiver.try_recv().unwrap().sequence, 11);
    }
}
