//! The cross-proxy's response cache (RFC 8075 §8.1, RFC 7252 §5.6): a 2.05
//! to a GET is kept while its Max-Age lasts (60 s when absent, §5.10.5) and
//! served without asking the device; once stale, one with an ETag is
//! revalidated (§5.6.2): the request carries the ETag, and a 2.03 Valid
//! makes the kept body fresh again with the new Max-Age. Any other method
//! to the same target forgets what was kept for it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use coap_lite::{CoapOption, MessageClass, Packet, ResponseType};

/// A request as the cache sees it: the resource (the device's address and
/// the request's Uri-Host, Uri-Path and Uri-Query) and the Accept option.
pub type Key = (String, Option<Vec<u8>>);

struct Entry {
    head: Packet,
    payload: Vec<u8>,
    fresh_until: Instant,
    etag: Option<Vec<u8>>,
}

/// What the cache has for a request.
pub enum Lookup {
    /// A fresh response: its head (Max-Age the seconds left) and body.
    Fresh(Packet, Vec<u8>),
    /// A stale response to revalidate with this ETag.
    Stale(Vec<u8>),
    Miss,
}

/// Kept responses, at most `capacity` of them, and each at most `max_body`.
pub struct ProxyCache {
    entries: Mutex<HashMap<Key, Entry>>,
    capacity: usize,
}

/// Max-Age when a response carries none (RFC 7252 §5.10.5).
const DEFAULT_MAX_AGE: u32 = 60;

impl ProxyCache {
    pub fn new(capacity: usize) -> ProxyCache {
        ProxyCache {
            entries: Mutex::new(HashMap::new()),
            capacity,
        }
    }

    pub fn lookup(&self, key: &Key, now: Instant) -> Lookup {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let Some(entry) = entries.get(key) else {
            return Lookup::Miss;
        };
        if now < entry.fresh_until {
            let left = entry.fresh_until.duration_since(now).as_secs() as u32;
            let mut head = entry.head.clone();
            head.clear_option(CoapOption::MaxAge);
            head.add_option(CoapOption::MaxAge, uint(left));
            return Lookup::Fresh(head, entry.payload.clone());
        }
        match &entry.etag {
            Some(etag) => Lookup::Stale(etag.clone()),
            None => Lookup::Miss,
        }
    }

    /// Forgets every kept answer for resource `target`: a PUT, POST, DELETE... to it
    /// may have changed it (RFC 9111 §4.4).
    pub fn invalidate(&self, target: &str) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|(kept, _), _| kept != target);
    }

    /// Keeps a 2.05, or refreshes the kept one on a 2.03 Valid and returns
    /// it (as a 2.05); any other answer is returned as it is.
    pub fn store(
        &self,
        key: Key,
        head: Packet,
        payload: Vec<u8>,
        now: Instant,
    ) -> (Packet, Vec<u8>) {
        let code = head.header.code;
        let max_age = head
            .get_first_option(CoapOption::MaxAge)
            .map_or(DEFAULT_MAX_AGE, |v| {
                v.iter().take(4).fold(0, |a, &b| (a << 8) | u32::from(b))
            });
        let fresh_until = now + Duration::from_secs(u64::from(max_age));
        let etag = head.get_first_option(CoapOption::ETag).cloned();
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        match code {
            MessageClass::Response(ResponseType::Content) => {
                if max_age > 0 || etag.is_some() {
                    if entries.len() >= self.capacity && !entries.contains_key(&key) {
                        // Make room: the stalest entry goes.
                        if let Some(oldest) = entries
                            .iter()
                            .min_by_key(|(_, e)| e.fresh_until)
                            .map(|(k, _)| k.clone())
                        {
                            entries.remove(&oldest);
                        }
                    }
                    if self.capacity > 0 {
                        entries.insert(
                            key,
                            Entry {
                                head: head.clone(),
                                payload: payload.clone(),
                                fresh_until,
                                etag,
                            },
                        );
                    }
                } else {
                    entries.remove(&key);
                }
                (head, payload)
            }
            MessageClass::Response(ResponseType::Valid) => match entries.get_mut(&key) {
                Some(entry) if etag.is_none() || etag == entry.etag => {
                    entry.fresh_until = fresh_until;
                    let mut head = entry.head.clone();
                    head.clear_option(CoapOption::MaxAge);
                    head.add_option(CoapOption::MaxAge, uint(max_age));
                    (head, entry.payload.clone())
                }
                _ => (head, payload),
            },
            _ => (head, payload),
        }
    }
}

fn uint(value: u32) -> Vec<u8> {
    let bytes = value.to_be_bytes();
    let skip = bytes.iter().take_while(|&&b| b == 0).count();
    bytes[skip..].to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn content(max_age: Option<u32>, etag: Option<&[u8]>) -> Packet {
        let mut packet = Packet::new();
        packet.header.code = MessageClass::Response(ResponseType::Content);
        if let Some(seconds) = max_age {
            packet.add_option(CoapOption::MaxAge, uint(seconds));
        }
        if let Some(etag) = etag {
            packet.add_option(CoapOption::ETag, etag.to_vec());
        }
        packet
    }

    fn key(name: &str) -> Key {
        (name.to_owned(), None)
    }

    #[test]
    fn fresh_then_stale_then_valid() {
        let cache = ProxyCache::new(4);
        let t0 = Instant::now();
        cache.store(key("a"), content(Some(10), Some(&[1])), b"x".to_vec(), t0);
        let Lookup::Fresh(head, body) = cache.lookup(&key("a"), t0 + Duration::from_secs(3)) else {
            panic!("not fresh");
        };
        assert_eq!(body, b"x");
        assert_eq!(head.get_first_option(CoapOption::MaxAge), Some(&vec![7]));
        let later = t0 + Duration::from_secs(11);
        assert!(matches!(cache.lookup(&key("a"), later), Lookup::Stale(e) if e == [1]));
        let mut valid = Packet::new();
        valid.header.code = MessageClass::Response(ResponseType::Valid);
        valid.add_option(CoapOption::ETag, vec![1]);
        let (head, body) = cache.store(key("a"), valid, Vec::new(), later);
        assert_eq!(body, b"x");
        assert_eq!(
            head.header.code,
            MessageClass::Response(ResponseType::Content)
        );
        assert!(matches!(cache.lookup(&key("a"), later), Lookup::Fresh(..)));
        cache.invalidate("a");
        assert!(matches!(cache.lookup(&key("a"), later), Lookup::Miss));
    }

    #[test]
    fn bounded_and_max_age_zero() {
        let cache = ProxyCache::new(2);
        let t0 = Instant::now();
        cache.store(key("a"), content(Some(1), None), Vec::new(), t0);
        cache.store(key("b"), content(Some(50), None), Vec::new(), t0);
        cache.store(key("c"), content(None, None), Vec::new(), t0);
        // "a", the stalest, made room.
        assert!(matches!(cache.lookup(&key("a"), t0), Lookup::Miss));
        assert!(matches!(cache.lookup(&key("c"), t0), Lookup::Fresh(..)));
        cache.store(key("b"), content(Some(0), None), Vec::new(), t0);
        assert!(matches!(cache.lookup(&key("b"), t0), Lookup::Miss));
        // No ETag: a stale entry is a miss.
        let later = t0 + Duration::from_secs(61);
        assert!(matches!(cache.lookup(&key("c"), later), Lookup::Miss));
    }
}
