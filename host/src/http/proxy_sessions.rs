//! The cross-proxy's DTLS sessions to `coaps://` devices, kept between
//! requests: a full handshake costs several round trips and, with
//! certificates, signatures on both ends; a session resumed here costs
//! none (RFC 7252 §9.1: one session carries any number of exchanges).
//!
//! A session is taken out while an exchange uses it (NSTART 1 makes that
//! one exchange per device) and put back after a success; one that failed
//! is dropped. At most `capacity` are kept, the least recently used closed
//! first, and none longer than [`MAX_IDLE`], well inside the idle timeouts
//! of devices (libcoap's 300 s, coapwasm's 600 s), so that a session the
//! device has already forgotten is rarely reused.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::client::driver_dtls::DtlsLink;

/// How long a kept session may sit unused.
pub const MAX_IDLE: Duration = Duration::from_secs(60);

/// A device as a session sees it: its address, and the name its certificate
/// was verified for.
pub type Key = (SocketAddr, String);

/// Sessions not in use.
pub struct ProxySessions {
    idle: Mutex<HashMap<Key, DtlsLink>>,
    capacity: usize,
}

impl ProxySessions {
    pub fn new(capacity: usize) -> ProxySessions {
        ProxySessions {
            idle: Mutex::new(HashMap::new()),
            capacity,
        }
    }

    /// The kept session to `key`, if one is young enough.
    pub fn take(&self, key: &Key, now: Instant) -> Option<DtlsLink> {
        let link = self.lock().remove(key)?;
        if now.saturating_duration_since(link.last_used) < MAX_IDLE {
            Some(link)
        } else {
            link.close();
            None
        }
    }

    /// Keeps a session that just carried an exchange.
    pub fn put(&self, key: Key, mut link: DtlsLink, now: Instant) {
        if self.capacity == 0 {
            return link.close();
        }
        link.last_used = now;
        let mut idle = self.lock();
        idle.retain(|_, kept| now.saturating_duration_since(kept.last_used) < MAX_IDLE);
        while idle.len() >= self.capacity {
            let Some(oldest) = idle
                .iter()
                .min_by_key(|(_, kept)| kept.last_used)
                .map(|(key, _)| key.clone())
            else {
                break;
            };
            if let Some(evicted) = idle.remove(&oldest) {
                evicted.close();
            }
        }
        if let Some(replaced) = idle.insert(key, link) {
            replaced.close();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, DtlsLink>> {
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }
}
