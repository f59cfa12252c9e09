//! The CoAP front of the cross-proxy: a request with Proxy-Uri or
//! Proxy-Scheme (RFC 7252 §5.7.2) goes to the device it names through the
//! same [`CrossProxy`] as the HTTP front's `/hc/` (one allow-list, cache,
//! timeout and NSTART per device), on a task of its own like a slow plugin
//! call, so the socket goes on serving; a CON that takes longer than the
//! message layer's timer gets the empty ACK and a separate response (§5.2.2).
//!
//! The proxy's two sides are two exchanges. Toward the client it is a
//! server: it reassembles a Block1 upload and slices a large answer into
//! Block2 blocks, held for the later blocks' requests exactly as a plugin's
//! (RFC 7959 §2.3, §2.4), and the §11.3 amplification budget bounds what a
//! small request gets back. Toward the device the client core does the
//! block-wise. The answer's code and end-to-end options (Content-Format,
//! ETag, Max-Age, Location-*...) pass through (§5.7.1).
//!
//! Codes the proxy answers itself:
//! - 5.05 Proxying Not Supported: a target it is unwilling to reach (not on
//!   the allow-list, a multicast or broadcast address, another scheme):
//!   §5.10.2 says an endpoint "unable or unwilling to act as a
//!   forward-proxy for the request MUST" answer 5.05, so not 4.03, which
//!   would speak of the target resource's permissions (§5.9.2.4);
//! - 5.02 Bad Gateway: an unknown Unsafe option (§5.7.2), a name that does
//!   not resolve, a device that is unreachable, resets or breaks the
//!   protocol (§5.9.3.3);
//! - 5.04 Gateway Timeout: the device stayed silent for the timeout
//!   (§5.9.3.5);
//! - 5.03 with Max-Age 1: a request to the device already in flight
//!   (NSTART = 1, §4.7; §5.9.3.4);
//! - 4.01: with `[http.proxy] coap = "authenticated"`, an anonymous requester.
//!
//! The access policy is not asked: it governs this host's own resources,
//! and a proxied request is for someone else's. The allow-list of targets
//! is the gate, as over HTTP; `coap = "authenticated"` narrows who may
//! pass it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use coap_lite::{CoapOption, Packet, ResponseType};

use super::blockwise;
use super::proxy_request::{self, ProxyRequest, ProxyRequestError};
use super::{Answer, Blocks, Budget, Dispatch, ExchangeLayer, ToHold, Transfers, response};
use crate::client::exchange::Request;
use crate::config::CoapProxying;
use crate::http::cross_proxy::{CrossProxy, Relayed, Unrelayed};
use crate::identity::Requester;
use crate::metrics::Metrics;

/// The block size of the upstream exchange (RFC 7959's largest).
const BLOCK_SIZE: usize = 1024;

/// Options of the device's answer that were of its exchange with the proxy
/// (RFC 7959 §2, RFC 7641 §2): the proxy's own answer sets its own.
const HOP_BY_HOP: [CoapOption; 5] = [
    CoapOption::Block1,
    CoapOption::Block2,
    CoapOption::Size1,
    CoapOption::Size2,
    CoapOption::Observe,
];

/// A request on its way to another device.
pub struct ProxyCall {
    proxy: Arc<CrossProxy>,
    target: crate::client::uri::CoapUri,
    request: Request,
    cacheable: bool,
    blocks: Blocks,
    /// The held response's key.
    key: String,
    metrics: Arc<Metrics>,
}

impl ExchangeLayer {
    /// What to do with a request that [`proxy_request::is_proxy_request`],
    /// when the host is a proxy over CoAP.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn dispatch_proxy(
        &self,
        proxy: &Arc<CrossProxy>,
        mut request: Packet,
        source: SocketAddr,
        requester: &Requester,
        size: usize,
        transfers: &mut Transfers,
        now: Instant,
    ) -> Dispatch {
        if self.proxying == CoapProxying::Authenticated && !requester.identity.is_authenticated() {
            return Dispatch::Respond(response::diagnostic(
                ResponseType::Unauthorized,
                "the proxy serves authenticated (coaps) requesters only",
            ));
        }
        let parsed = match proxy_request::parse(&request) {
            Ok(parsed) => parsed,
            Err(error) => return Dispatch::Respond(error_response(&error)),
        };
        let ProxyRequest {
            target,
            method,
            forwarded,
            cacheable,
            accept,
            block1,
            block2,
            size1,
            size2,
        } = parsed;
        let mut blocks = Blocks {
            block1: None,
            block2,
            size2,
            max_block: self.max_block,
            budget: Budget::new(
                self.amplification_factor,
                self.amplification_allowance,
                size,
            )
            .map(|budget| (budget, request.get_token().len())),
        };
        // Not a path of this host's (those start with `/`).
        let resource = format!(
            "proxy {:?} {} {} {:?}",
            target.scheme, target.host, target.port, target.path
        );
        let key = blockwise::request_key(&resource, &target.query, accept);
        if block2.is_some_and(|block| block.num > 0)
            && let Some(held) = transfers.responses.get(source, &key, now)
        {
            return Dispatch::Respond(blocks.apply_held(held));
        }
        let safe = matches!(
            method,
            coap_lite::RequestType::Get | coap_lite::RequestType::Fetch
        );
        if !safe {
            transfers.responses.forget_path(&resource);
        }
        match self.whole_body(
            transfers,
            source,
            &resource,
            block1,
            size1,
            &mut request.payload,
            now,
        ) {
            Ok(block) => blocks.block1 = block,
            Err(answer) => return Dispatch::Respond(answer),
        }
        Dispatch::Proxy(ProxyCall {
            proxy: proxy.clone(),
            target,
            request: Request {
                method,
                options: forwarded,
                payload: std::mem::take(&mut request.payload),
                confirmable: true,
                observe: false,
                block_size: BLOCK_SIZE,
                early_block2: false,
                max_body: self.max_body,
                token: None,
            },
            cacheable,
            blocks,
            key,
            metrics: self.metrics.clone(),
        })
    }
}

impl ProxyCall {
    /// Forwards the request and answers with the device's response (or the
    /// proxy's own code), one block of it if it is large.
    pub async fn run(self) -> Answer {
        let whole = match self
            .proxy
            .relay(&self.target, self.request, self.cacheable)
            .await
        {
            Ok(relayed) => {
                if relayed.cache_hit {
                    self.metrics.proxy_cache_hit();
                }
                answer_of(relayed)
            }
            Err(unrelayed) => {
                tracing::debug!(?unrelayed, "not proxied");
                unrelayed_response(unrelayed)
            }
        };
        let blocks = self.blocks;
        if !blocks.splits(&whole) {
            return Answer {
                response: blocks.apply(whole),
                held: None,
            };
        }
        let mut head = whole;
        let payload = std::mem::take(&mut head.payload);
        if head.get_first_option(CoapOption::ETag).is_none() && response::is_success(&head) {
            head.add_option(CoapOption::ETag, blockwise::etag_of(&payload));
        }
        Answer {
            response: blocks.apply_to(head.clone(), Some(&payload)),
            held: Some(ToHold {
                key: self.key,
                head,
                payload,
            }),
        }
    }
}

/// The device's answer as the proxy's: its code, its end-to-end options
/// in their order, its whole body.
fn answer_of(relayed: Relayed) -> Packet {
    let mut packet = Packet::new();
    packet.header.code = relayed.head.header.code;
    for (&number, values) in relayed.head.options() {
        let option = CoapOption::from(number);
        if HOP_BY_HOP.contains(&option) {
            continue;
        }
        for value in values {
            packet.add_option(option, value.clone());
        }
    }
    packet.payload = relayed.payload;
    packet
}

fn unrelayed_response(unrelayed: Unrelayed) -> Packet {
    match unrelayed {
        Unrelayed::Unwilling(reason) => {
            response::diagnostic(ResponseType::ProxyingNotSupported, &reason)
        }
        Unrelayed::Unresolvable(reason) | Unrelayed::Failed(reason) => {
            response::diagnostic(ResponseType::BadGateway, &reason)
        }
        Unrelayed::Busy(peer) => {
            let mut packet = response::diagnostic(
                ResponseType::ServiceUnavailable,
                &format!("a request to {peer} is already in flight (NSTART 1)"),
            );
            packet.add_option(CoapOption::MaxAge, response::uint(1));
            packet
        }
        Unrelayed::Timeout(peer, timeout) => response::diagnostic(
            ResponseType::GatewayTimeout,
            &format!("{peer} did not answer within {} ms", timeout.as_millis()),
        ),
    }
}

fn error_response(error: &ProxyRequestError) -> Packet {
    match error {
        ProxyRequestError::BadOption(number) => response::diagnostic(
            ResponseType::BadOption,
            &format!("option {number} is malformed"),
        ),
        ProxyRequestError::BadRequest(reason) => {
            response::diagnostic(ResponseType::BadRequest, reason)
        }
        ProxyRequestError::UnsafeOption(number) => response::diagnostic(
            ResponseType::BadGateway,
            &format!("the proxy does not know option {number}, which is unsafe to forward"),
        ),
        ProxyRequestError::Unwilling(reason) => {
            response::diagnostic(ResponseType::ProxyingNotSupported, reason)
        }
    }
}

#[cfg(test)]
mod tests {
    use coap_lite::MessageClass;

    use super::*;

    #[test]
    fn hop_by_hop_options_are_the_proxys() {
        let mut head = Packet::new();
        head.header.code = MessageClass::Response(ResponseType::Content);
        head.add_option(CoapOption::ContentFormat, vec![50]);
        head.add_option(CoapOption::ETag, vec![7]);
        head.add_option(CoapOption::MaxAge, vec![30]);
        head.add_option(CoapOption::Block2, vec![0x26]);
        head.add_option(CoapOption::Size2, vec![0x10, 0]);
        let packet = answer_of(Relayed {
            head,
            payload: b"x".to_vec(),
            cache_hit: false,
        });
        let numbers: Vec<u16> = packet.options().map(|(n, _)| *n).collect();
        assert_eq!(numbers, [4, 12, 14]);
        assert_eq!(packet.payload, b"x");
    }
}
