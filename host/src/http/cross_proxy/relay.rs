//! The cross-proxy's core for a request that is CoAP already: the CoAP
//! front's forward-proxying (RFC 7252 §5.7.2) calls it; it is the same
//! allow-list, cache and NSTART as [`CrossProxy::forward`]'s, on the same
//! [`CrossProxy`], so both fronts share one cache and one request in
//! flight per device.
//!
//! In order: the target is resolved; a group address (multicast,
//! broadcast) or a target not on the allow-list is refused; a GET is
//! answered from the cache while fresh (§5.6.1, Max-Age the seconds left,
//! §5.7.1) or revalidated with the kept ETag once stale (§5.6.2); any other
//! method forgets what was kept for the resource; one request at a time per
//! device (NSTART = 1, §4.7); the client core (through [`CrossProxy::send`], over UDP or a
//! DTLS session) does the upstream block-wise, within the proxy's timeout.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use coap_lite::{CoapOption, MessageClass, Packet, RequestType, ResponseType};

use super::{ACCEPT, CrossProxy, ETAG, IF_MATCH, URI_HOST, URI_PATH, URI_QUERY};
use super::{Busy, Lookup, proxy_allow, resolve};
use crate::client::driver::DriveError;
use crate::client::exchange::Request;
use crate::client::uri::{CoapUri, Scheme};

/// An answer of the device's, or of the cache's.
#[derive(Debug)]
pub(crate) struct Relayed {
    /// The response's code and options (Block2 and Size2 of the upstream
    /// transfer included: they are the front's to strip).
    pub head: Packet,
    /// The whole body.
    pub payload: Vec<u8>,
    /// Served from the cache without asking the device.
    pub cache_hit: bool,
}

/// Why no answer came from the device.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Unrelayed {
    /// The proxy will not forward there: a scheme it does not speak, a
    /// group address, a target not on the allow-list.
    Unwilling(String),
    /// The name did not resolve.
    Unresolvable(String),
    /// A request to the device is already in flight (NSTART).
    Busy(SocketAddr),
    /// The device stayed silent for the proxy's timeout.
    Timeout(SocketAddr, Duration),
    /// Unreachable, a Reset, or a broken exchange.
    Failed(String),
}

impl CrossProxy {
    /// Sends `request` (its method, its options other than the Uri-* ones,
    /// which come from `uri`, and its payload) to the device `uri` names.
    /// `cacheable` is the caller's word that the request has no option the
    /// cache key leaves out (RFC 7252 §5.6, §5.4.6) beyond Accept.
    pub(crate) async fn relay(
        &self,
        uri: &CoapUri,
        mut request: Request,
        cacheable: bool,
    ) -> Result<Relayed, Unrelayed> {
        if uri.scheme == Scheme::Coaps && self.settings.credentials.is_none() {
            return Err(Unrelayed::Unwilling(
                "the proxy has no credentials for coaps:// targets ([http.proxy] psk_identity \
                 and psk_key, or certificate and private_key)"
                    .to_owned(),
            ));
        }
        let peer = resolve(uri)
            .await
            .ok_or_else(|| Unrelayed::Unresolvable(format!("cannot resolve {}", uri.host)))?;
        if proxy_allow::is_group(peer.ip()) {
            return Err(Unrelayed::Unwilling(
                "the proxy does not forward to multicast or broadcast addresses".to_owned(),
            ));
        }
        if !self.settings.allow.allows(&uri.host, peer) {
            return Err(Unrelayed::Unwilling(format!(
                "{peer} is not an allowed proxy target ([http.proxy] allow)"
            )));
        }
        let mut options: Vec<(u16, Vec<u8>)> = Vec::new();
        if let Some(host) = uri.uri_host() {
            options.push((URI_HOST, host.as_bytes().to_vec()));
        }
        options.extend(uri.path.iter().map(|s| (URI_PATH, s.as_bytes().to_vec())));
        options.extend(uri.query.iter().map(|s| (URI_QUERY, s.as_bytes().to_vec())));
        options.append(&mut request.options);
        request.options = options;

        // The same key as the HTTP front's: one cache for both.
        let resource = super::resource_key(uri, peer);
        let has = |number: u16| request.options.iter().any(|(n, _)| *n == number);
        let accept = request
            .options
            .iter()
            .find(|(n, _)| *n == ACCEPT)
            .map(|(_, v)| v.clone());
        let is_get = request.method == RequestType::Get;
        if !matches!(request.method, RequestType::Get | RequestType::Fetch) {
            self.cache.invalidate(&resource);
        }
        let key = (resource, accept);
        let now = Instant::now();
        if is_get && cacheable && has(ETAG) && !has(IF_MATCH) {
            // A client validating what it has (§5.6.2): 2.03 from a fresh
            // entry with one of its ETags; else the device decides.
            if let Lookup::Fresh(head, _) = self.cache.lookup(&key, now)
                && let Some(etag) = head.get_first_option(CoapOption::ETag)
                && request.options.iter().any(|(n, v)| *n == ETAG && v == etag)
            {
                return Ok(Relayed {
                    head: valid(&head),
                    payload: Vec::new(),
                    cache_hit: true,
                });
            }
        }
        let cache_key = (is_get && cacheable && !has(ETAG) && !has(IF_MATCH)).then_some(key);
        if let Some(key) = &cache_key {
            match self.cache.lookup(key, now) {
                Lookup::Fresh(head, payload) => {
                    return Ok(Relayed {
                        head,
                        payload,
                        cache_hit: true,
                    });
                }
                Lookup::Stale(etag) => request.options.push((ETAG, etag)),
                Lookup::Miss => {}
            }
        }
        let Some(_busy) = Busy::claim(&self.busy, peer) else {
            return Err(Unrelayed::Busy(peer));
        };
        let answer = self.send(uri, peer, request).await;
        match answer {
            Ok(response) => {
                let (head, payload) = match cache_key {
                    Some(key) => self.cache.store(key, response.head, response.payload, now),
                    None => (response.head, response.payload),
                };
                Ok(Relayed {
                    head,
                    payload,
                    cache_hit: false,
                })
            }
            Err(DriveError::Timeout) => Err(Unrelayed::Timeout(peer, self.timeout)),
            Err(error) => Err(Unrelayed::Failed(format!("{peer}: {error}"))),
        }
    }
}

/// 2.03 Valid for a kept 2.05 (RFC 7252 §5.9.1.3): its ETag and Max-Age.
fn valid(content: &Packet) -> Packet {
    let mut packet = Packet::new();
    packet.header.code = MessageClass::Response(ResponseType::Valid);
    for option in [CoapOption::ETag, CoapOption::MaxAge] {
        if let Some(value) = content.get_first_option(option) {
            packet.add_option(option, value.clone());
        }
    }
    packet
}
