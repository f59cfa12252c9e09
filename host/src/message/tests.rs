//! The message layer driven by hand: datagrams and instants in, actions out.

use std::time::Duration;

use coap_lite::{MessageClass, RequestType, ResponseType};

use super::*;

fn peer() -> SocketAddr {
    "127.0.0.1:40000".parse().unwrap()
}

fn layer() -> MessageLayer {
    MessageLayer::new(TransmissionParameters::default(), 7)
}

fn get(message_type: MessageType, message_id: u16, token: &[u8]) -> Vec<u8> {
    let mut packet = Packet::new();
    packet.header.set_type(message_type);
    packet.header.code = MessageClass::Request(RequestType::Get);
    packet.header.message_id = message_id;
    packet.set_token(token.to_vec());
    packet.add_option(coap_lite::CoapOption::UriPath, b"led".to_vec());
    packet.to_bytes().unwrap()
}

fn content() -> Packet {
    let mut packet = Packet::new();
    packet.header.code = MessageClass::Response(ResponseType::Content);
    packet.payload = b"on".to_vec();
    packet
}

fn sent(actions: &[Action]) -> Vec<Packet> {
    actions
        .iter()
        .filter_map(|action| match action {
            Action::Send { datagram, .. } => Some(Packet::from_bytes(datagram).unwrap()),
            _ => None,
        })
        .collect()
}

fn delivered(actions: &[Action]) -> Vec<Exchange> {
    actions
        .iter()
        .filter_map(|action| match action {
            Action::Deliver { exchange, .. } => Some(*exchange),
            _ => None,
        })
        .collect()
}

#[test]
fn confirmable_request_gets_a_piggybacked_ack() {
    let mut layer = layer();
    let now = Instant::now();
    let mut actions = Vec::new();
    layer.on_datagram(
        peer(),
        &get(MessageType::Confirmable, 0x1234, b"tok"),
        now,
        &mut actions,
    );
    let exchanges = delivered(&actions);
    assert_eq!(exchanges.len(), 1);
    actions.clear();
    layer.on_response(exchanges[0], content(), now, &mut actions);
    let answers = sent(&actions);
    assert_eq!(answers.len(), 1);
    assert_eq!(answers[0].header.get_type(), MessageType::Acknowledgement);
    assert_eq!(answers[0].header.message_id, 0x1234);
    assert_eq!(answers[0].get_token(), b"tok");
    assert_eq!(answers[0].payload, b"on");
}

#[test]
fn duplicate_confirmable_gets_the_same_answer_and_is_delivered_once() {
    let mut layer = layer();
    let now = Instant::now();
    let request = get(MessageType::Confirmable, 9, b"t");
    let mut actions = Vec::new();
    layer.on_datagram(peer(), &request, now, &mut actions);
    let exchange = delivered(&actions)[0];
    layer.on_response(exchange, content(), now, &mut actions);
    let first = actions.pop().unwrap();
    actions.clear();
    layer.on_datagram(peer(), &request, now + Duration::from_secs(3), &mut actions);
    assert!(delivered(&actions).is_empty());
    match (&first, &actions[0]) {
        (Action::Send { datagram: a, .. }, Action::Send { datagram: b, .. }) => assert_eq!(a, b),
        other => panic!("expected two sends, got {other:?}"),
    }
}

#[test]
fn non_confirmable_request_gets_a_non_response_and_duplicates_are_ignored() {
    let mut layer = layer();
    let now = Instant::now();
    let request = get(MessageType::NonConfirmable, 5, b"nn");
    let mut actions = Vec::new();
    layer.on_datagram(peer(), &request, now, &mut actions);
    let exchange = delivered(&actions)[0];
    assert!(!exchange.confirmable);
    actions.clear();
    layer.on_response(exchange, content(), now, &mut actions);
    let answers = sent(&actions);
    assert_eq!(answers[0].header.get_type(), MessageType::NonConfirmable);
    assert_eq!(answers[0].get_token(), b"nn");
    actions.clear();
    layer.on_datagram(peer(), &request, now, &mut actions);
    assert!(actions.is_empty());
}

#[test]
fn ping_gets_a_reset() {
    let mut layer = layer();
    let mut actions = Vec::new();
    layer.on_datagram(peer(), &[0x40, 0, 0xAB, 0xCD], Instant::now(), &mut actions);
    match &actions[..] {
        [Action::Send { datagram, .. }] => assert_eq!(&datagram[..], &[0x70, 0, 0xAB, 0xCD]),
        other => panic!("expected one Reset, got {other:?}"),
    }
}

#[test]
fn slow_handler_gets_an_empty_ack_then_a_retransmitted_separate_response() {
    let mut layer = layer();
    let t0 = Instant::now();
    let mut actions = Vec::new();
    layer.on_datagram(
        peer(),
        &get(MessageType::Confirmable, 77, b"sl"),
        t0,
        &mut actions,
    );
    let exchange = delivered(&actions)[0];
    actions.clear();

    let due = layer.next_deadline().unwrap();
    assert_eq!(due, t0 + Duration::from_secs(1));
    layer.on_timeout(due, &mut actions);
    match &actions[..] {
        [Action::Send { datagram, .. }] => assert_eq!(&datagram[..], &[0x60, 0, 0, 77]),
        other => panic!("expected the empty ACK, got {other:?}"),
    }
    actions.clear();

    let t1 = t0 + Duration::from_secs(2);
    layer.on_response(exchange, content(), t1, &mut actions);
    let separate = sent(&actions).remove(0);
    assert_eq!(separate.header.get_type(), MessageType::Confirmable);
    assert_ne!(separate.header.message_id, 77);
    assert_eq!(separate.get_token(), b"sl");
    assert_eq!(layer.outstanding(), 1);
    actions.clear();

    // Unacknowledged: sent again, same message id, within ACK_TIMEOUT * 1.5.
    layer.on_timeout(t1 + Duration::from_secs(3), &mut actions);
    let again = sent(&actions).remove(0);
    assert_eq!(again.header.message_id, separate.header.message_id);
    actions.clear();

    // The client's ACK ends it.
    let [high, low] = separate.header.message_id.to_be_bytes();
    layer.on_datagram(
        peer(),
        &[0x60, 0, high, low],
        t1 + Duration::from_secs(4),
        &mut actions,
    );
    assert_eq!(layer.outstanding(), 0);
    assert!(matches!(actions[..], [Action::Acknowledged(_)]));
    actions.clear();
    layer.on_timeout(t1 + Duration::from_secs(60), &mut actions);
    assert!(actions.is_empty());
}

#[test]
fn separate_response_is_abandoned_after_max_retransmit() {
    let mut layer = layer();
    let t0 = Instant::now();
    let mut actions = Vec::new();
    layer.on_datagram(
        peer(),
        &get(MessageType::Confirmable, 1, b""),
        t0,
        &mut actions,
    );
    let exchange = delivered(&actions)[0];
    layer.on_timeout(t0 + Duration::from_secs(1), &mut actions);
    layer.on_response(
        exchange,
        content(),
        t0 + Duration::from_secs(1),
        &mut actions,
    );
    actions.clear();
    let mut now = t0 + Duration::from_secs(1);
    let mut transmissions = 0;
    for _ in 0..100 {
        let Some(due) = layer.next_deadline() else {
            break;
        };
        now = now.max(due);
        layer.on_timeout(now, &mut actions);
        transmissions += actions.len();
        actions.clear();
    }
    assert_eq!(
        transmissions, 5,
        "MAX_RETRANSMIT retransmissions and the give-up"
    );
    assert_eq!(layer.outstanding(), 0);
}

#[test]
fn retransmitted_request_while_handling_is_acknowledged_at_once() {
    let mut layer = layer();
    let t0 = Instant::now();
    let request = get(MessageType::Confirmable, 3, b"x");
    let mut actions = Vec::new();
    layer.on_datagram(peer(), &request, t0, &mut actions);
    actions.clear();
    layer.on_datagram(
        peer(),
        &request,
        t0 + Duration::from_millis(500),
        &mut actions,
    );
    match &actions[..] {
        [Action::Send { datagram, .. }] => assert_eq!(&datagram[..], &[0x60, 0, 0, 3]),
        other => panic!("expected the empty ACK, got {other:?}"),
    }
}

#[test]
fn malformed_confirmable_is_reset_and_malformed_non_is_silent() {
    let mut layer = layer();
    let mut actions = Vec::new();
    layer.on_datagram(
        peer(),
        &[0x40, 0x01, 0, 8, 0xFF],
        Instant::now(),
        &mut actions,
    );
    match &actions[..] {
        [Action::Send { datagram, .. }] => assert_eq!(&datagram[..], &[0x70, 0, 0, 8]),
        other => panic!("expected a Reset, got {other:?}"),
    }
    actions.clear();
    layer.on_datagram(
        peer(),
        &[0x50, 0x01, 0, 8, 0xFF],
        Instant::now(),
        &mut actions,
    );
    assert!(actions.is_empty());
}

#[test]
fn confirmable_message_of_ours_reports_reset_and_give_up() {
    let mut layer = layer();
    let t0 = Instant::now();
    let mut actions = Vec::new();
    let token = Token::new(b"ob").unwrap();
    let id = layer.send_message(peer(), token, content(), true, t0, &mut actions);
    assert_eq!(
        sent(&actions)[0].header.get_type(),
        MessageType::Confirmable
    );
    actions.clear();
    let [high, low] = id.to_be_bytes();
    layer.on_datagram(peer(), &[0x70, 0, high, low], t0, &mut actions);
    assert!(matches!(actions[..], [Action::Reset(key)] if key.message_id == id));
    assert_eq!(layer.outstanding(), 0);

    actions.clear();
    let id = layer.send_message(peer(), token, content(), true, t0, &mut actions);
    let mut now = t0;
    for _ in 0..100 {
        let Some(due) = layer.next_deadline() else {
            break;
        };
        now = now.max(due);
        layer.on_timeout(now, &mut actions);
    }
    assert!(matches!(actions.last(), Some(Action::GaveUp(key)) if key.message_id == id));
}
