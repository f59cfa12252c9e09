//! Arbitrary bytes through the host's inbound path that needs no plugin:
//! classification (RFC 7252 §3, §4.2, §4.3), the message layer
//! (deduplication, acknowledgement, separate responses, retransmission,
//! §4 and §5.2) and the request's option processing (§5.4). Every request
//! delivered is answered, half at once (piggybacked) and half after the
//! empty-ACK deadline (separate CON), and the clock then runs until nothing is
//! due, all of it twice, with the RFC's parameters and with cramped ones.
//! Besides "no panic": whatever the host sends parses as CoAP, and no
//! confirmable message of the host's is still outstanding at the end.
#![no_main]

use std::time::{Duration, Instant};

use coap_lite::{MessageType, Packet, ResponseType};
use coapwasm::exchange::request::{self, RequestError};
use coapwasm::exchange::response;
use coapwasm::message::{
    Action, Exchange, Inbound, MessageLayer, TransmissionParameters, classify,
};
use coapwasm_fuzz::{BETWEEN_DATAGRAMS, datagrams, peer};
use libfuzzer_sys::fuzz_target;

/// Enough timer turns for every retransmission of every message to run out.
const MAX_TIMER_TURNS: usize = 1000;

/// The RFC's defaults, and a cramped configuration whose deduplication cache
/// forgets after two messages (the eviction paths of §4.5) and that
/// retransmits once.
fn configurations() -> [TransmissionParameters; 2] {
    let default = TransmissionParameters::default();
    let cramped = TransmissionParameters {
        max_retransmit: 1,
        deduplication_capacity: 2,
        ..default
    };
    [default, cramped]
}

fuzz_target!(|input: &[u8]| {
    for parameters in configurations() {
        through_message_layer(parameters, input);
    }
});

/// The datagrams of `input` through one message layer, and what follows.
fn through_message_layer(parameters: TransmissionParameters, input: &[u8]) {
    let mut layer = MessageLayer::new(parameters, 0);
    let mut now = Instant::now();
    let mut actions = Vec::new();
    let mut deferred = Vec::new();

    for datagram in datagrams(input) {
        // The classifier and the option parser on their own, as a plugin-less
        // caller would use them.
        if let Inbound::Request { packet, .. } = classify(datagram) {
            let _ = request::parse(&packet);
        }
        layer.on_datagram(peer(datagram), datagram, now, &mut actions);
        carry_out(&mut layer, &mut actions, &mut deferred, now);
        now += BETWEEN_DATAGRAMS;
        layer.on_timeout(now, &mut actions);
        carry_out(&mut layer, &mut actions, &mut deferred, now);
    }

    // Past the empty-ACK deadline: the deferred answers go as separate CONs.
    now += parameters.separate_response_after;
    layer.on_timeout(now, &mut actions);
    carry_out(&mut layer, &mut actions, &mut deferred, now);
    for (exchange, response) in deferred.drain(..) {
        layer.on_response(exchange, response, now, &mut actions);
    }
    carry_out(&mut layer, &mut actions, &mut Vec::new(), now);

    // No client acknowledges: every CON must give up within MAX_TRANSMIT_SPAN.
    let mut turns = 0;
    while let Some(due) = layer.next_deadline() {
        turns += 1;
        assert!(
            turns <= MAX_TIMER_TURNS,
            "the message layer's timer never settles"
        );
        now = now.max(due);
        layer.on_timeout(now, &mut actions);
        carry_out(&mut layer, &mut actions, &mut Vec::new(), now);
    }
    assert_eq!(layer.outstanding(), 0, "a CON outlived MAX_TRANSMIT_SPAN");
    // Later than EXCHANGE_LIFETIME, everything is forgotten.
    layer.on_timeout(
        now + parameters.exchange_lifetime() + Duration::from_secs(1),
        &mut actions,
    );
}

/// Answers what the layer delivered (now, or later in `deferred`) and checks
/// what it sends.
fn carry_out(
    layer: &mut MessageLayer,
    actions: &mut Vec<Action>,
    deferred: &mut Vec<(Exchange, Packet)>,
    now: Instant,
) {
    let mut answers = Vec::new();
    for action in actions.drain(..) {
        match action {
            Action::Send { datagram, .. } => {
                if let Err(error) = Packet::from_bytes(&datagram) {
                    panic!(
                        "the host sent a datagram that is not CoAP ({error:?}): {datagram:02x?}"
                    );
                }
            }
            Action::Deliver { exchange, request } => answers.push((exchange, answer(&request))),
            Action::Acknowledged(_) | Action::Reset(_) | Action::GaveUp(_) => {}
        }
    }
    for (exchange, answer) in answers {
        match answer {
            None => layer.on_reject(exchange, actions),
            // Odd message ids wait past the empty-ACK deadline.
            Some(response) if exchange.key.message_id & 1 == 1 => {
                deferred.push((exchange, response));
            }
            Some(response) => layer.on_response(exchange, response, now, actions),
        }
    }
    if !actions.is_empty() {
        carry_out(layer, actions, deferred, now);
    }
}

/// What the exchange layer would make of `request` without a plugin: a
/// rejection (None) for a NON with a bad critical option (§5.4.1), an error
/// response, or the payload echoed back.
fn answer(request: &Packet) -> Option<Packet> {
    match request::parse(request) {
        Ok(_) => Some(response::content(0, request.payload.clone())),
        Err(RequestError::BadOption(_))
            if request.header.get_type() != MessageType::Confirmable =>
        {
            None
        }
        Err(error) => Some(response::diagnostic(
            ResponseType::BadRequest,
            &format!("{error:?}"),
        )),
    }
}
