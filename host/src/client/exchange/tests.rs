//! The client exchange against a scripted server: no socket, no clock.

use super::*;
use coap_lite::ResponseType;

fn peer() -> SocketAddr {
    "127.0.0.1:5683".parse().unwrap()
}

fn get(path: &str) -> Request {
    Request {
        method: RequestType::Get,
        options: vec![(11, path.as_bytes().to_vec())],
        payload: Vec::new(),
        confirmable: true,
        observe: false,
        block_size: 1024,
        early_block2: false,
        max_body: 1 << 20,
        token: None,
    }
}

fn sent(events: &[Event]) -> Vec<Packet> {
    events
        .iter()
        .filter_map(|event| match event {
            Event::Transmit(datagram) => Some(Packet::from_bytes(datagram).unwrap()),
            _ => None,
        })
        .collect()
}

/// The response `server` builds to `request`, as a piggybacked ACK.
fn piggybacked(request: &Packet, code: ResponseType, edit: impl FnOnce(&mut Packet)) -> Vec<u8> {
    let mut response = Packet::new();
    response.header.set_type(MessageType::Acknowledgement);
    response.header.message_id = request.header.message_id;
    response.header.code = MessageClass::Response(code);
    response.set_token(request.get_token().to_vec());
    edit(&mut response);
    response.to_bytes().unwrap()
}

fn responses(events: &[Event]) -> Vec<&Response> {
    events
        .iter()
        .filter_map(|event| match event {
            Event::Response(r) | Event::Notification(r) => Some(r),
            _ => None,
        })
        .collect()
}

#[test]
fn piggybacked_response_ends_the_exchange() {
    let now = Instant::now();
    let mut events = Vec::new();
    let mut exchange =
        ClientExchange::start(peer(), get("led"), Default::default(), 1, now, &mut events);
    let request = sent(&events).remove(0);
    assert_eq!(request.header.get_type(), MessageType::Confirmable);
    assert_eq!(request.get_token().len(), 8);
    events.clear();
    // Another token with the right message id is not the answer (§5.3.2):
    // the server answered an earlier exchange under that id from its
    // deduplication (§4.5), and a retransmission would get the same. The
    // request goes again at once, under a new id.
    let mut stranger = request.clone();
    stranger.set_token(vec![1]);
    exchange.on_datagram(
        &piggybacked(&stranger, ResponseType::Content, |_| {}),
        now,
        &mut events,
    );
    assert!(responses(&events).is_empty() && !exchange.is_finished());
    let again = sent(&events);
    assert_eq!(again.len(), 1, "sent again at once: {events:?}");
    let again = &again[0];
    assert_ne!(again.header.message_id, request.header.message_id);
    assert_eq!(again.get_token(), request.get_token());
    assert_eq!(again.header.get_type(), MessageType::Confirmable);
    assert_eq!(again.payload, request.payload);
    assert_eq!(
        again.get_option(CoapOption::UriPath),
        request.get_option(CoapOption::UriPath)
    );
    events.clear();
    // The stale answer to the old id is ignored now.
    exchange.on_datagram(
        &piggybacked(&stranger, ResponseType::Content, |_| {}),
        now,
        &mut events,
    );
    assert!(events.is_empty(), "{events:?}");
    let request = again.clone();
    exchange.on_datagram(
        &piggybacked(&request, ResponseType::Content, |r| {
            r.payload = b"on".to_vec()
        }),
        now,
        &mut events,
    );
    assert_eq!(responses(&events)[0].payload, b"on");
    assert!(exchange.is_finished());
    assert_eq!(exchange.next_deadline(), None);
}

#[test]
fn retransmits_then_gives_up() {
    let now = Instant::now();
    let mut events = Vec::new();
    let mut exchange =
        ClientExchange::start(peer(), get("led"), Default::default(), 2, now, &mut events);
    let mut transmissions = 1;
    for _ in 0..10 {
        let Some(due) = exchange.next_deadline() else {
            break;
        };
        events.clear();
        exchange.on_timeout(due, &mut events);
        transmissions += sent(&events).len();
    }
    // MAX_RETRANSMIT is 4 (§4.8): five transmissions, then failure.
    assert_eq!(transmissions, 5);
    assert!(matches!(
        events.last(),
        Some(Event::Failed(Failure::NotAcknowledged))
    ));
    assert!(exchange.is_finished());
}

#[test]
fn separate_response_is_acknowledged_and_processed_once() {
    let now = Instant::now();
    let mut events = Vec::new();
    let mut exchange =
        ClientExchange::start(peer(), get("slow"), Default::default(), 3, now, &mut events);
    let request = sent(&events).remove(0);
    events.clear();
    let [high, low] = request.header.message_id.to_be_bytes();
    exchange.on_datagram(&[0x60, 0, high, low], now, &mut events);
    assert_eq!(
        exchange.next_deadline(),
        None,
        "the empty ACK stops retransmission"
    );
    let mut separate = Packet::new();
    separate.header.set_type(MessageType::Confirmable);
    separate.header.message_id = 777;
    separate.header.code = MessageClass::Response(ResponseType::Content);
    separate.set_token(request.get_token().to_vec());
    let datagram = separate.to_bytes().unwrap();
    exchange.on_datagram(&datagram, now, &mut events);
    exchange.on_datagram(&datagram, now, &mut events);
    let acks: Vec<_> = sent(&events)
        .into_iter()
        .filter(|p| p.header.get_type() == MessageType::Acknowledgement)
        .collect();
    assert_eq!(acks.len(), 2, "each copy of a CON is acknowledged");
    assert_eq!(responses(&events).len(), 1, "but processed once");
}

#[test]
fn block2_download_is_reassembled() {
    let now = Instant::now();
    let body: Vec<u8> = (0..100u8).collect();
    let mut events = Vec::new();
    let mut exchange =
        ClientExchange::start(peer(), get("big"), Default::default(), 4, now, &mut events);
    for _ in 0..10 {
        let Some(request) = sent(&events).pop() else {
            break;
        };
        events.clear();
        let asked = request
            .get_first_option(CoapOption::from(BLOCK2))
            .and_then(|v| Block::decode(v))
            .unwrap_or(Block::new(0, false, 32));
        // Size2 is asked for once the transfer is known to be block-wise
        // (RFC 7959 §4), never in the first request.
        assert_eq!(
            request.get_first_option(CoapOption::from(SIZE2)).is_some(),
            asked.num == 1
        );
        let end = (asked.offset() + 32).min(body.len());
        let block = Block::new(asked.num, end < body.len(), 32);
        exchange.on_datagram(
            &piggybacked(&request, ResponseType::Content, |r| {
                r.add_option(CoapOption::from(BLOCK2), block.encode());
                r.payload = body[asked.offset()..end].to_vec();
            }),
            now,
            &mut events,
        );
    }
    assert_eq!(responses(&events)[0].payload, body);
    assert!(exchange.is_finished());
}

#[test]
fn block1_upload_follows_the_servers_size() {
    let now = Instant::now();
    let payload: Vec<u8> = (0..200u8).collect();
    let mut request = get("firmware");
    request.method = RequestType::Put;
    request.payload = payload.clone();
    request.block_size = 64;
    let mut events = Vec::new();
    let mut exchange =
        ClientExchange::start(peer(), request, Default::default(), 5, now, &mut events);
    let mut received = Vec::new();
    for _ in 0..20 {
        let Some(message) = sent(&events).pop() else {
            break;
        };
        events.clear();
        let block1 =
            Block::decode(message.get_first_option(CoapOption::from(BLOCK1)).unwrap()).unwrap();
        assert_eq!(block1.offset(), received.len());
        received.extend_from_slice(&message.payload);
        // The server wants 32-byte blocks (RFC 7959 §2.5).
        let reply = Block::new(block1.num, block1.more, 32);
        let code = if block1.more {
            ResponseType::Continue
        } else {
            ResponseType::Changed
        };
        exchange.on_datagram(
            &piggybacked(&message, code, |r| {
                r.add_option(CoapOption::from(BLOCK1), reply.encode())
            }),
            now,
            &mut events,
        );
    }
    assert_eq!(received, payload);
    assert!(matches!(events.last(), Some(Event::Response(_))));
}

#[test]
fn changing_etag_fails_the_download() {
    let now = Instant::now();
    let mut events = Vec::new();
    let mut exchange =
        ClientExchange::start(peer(), get("big"), Default::default(), 6, now, &mut events);
    for etag in [1u8, 2] {
        let request = sent(&events).pop().unwrap();
        events.clear();
        let asked = request
            .get_first_option(CoapOption::from(BLOCK2))
            .and_then(|v| Block::decode(v))
            .unwrap_or(Block::new(0, false, 16));
        exchange.on_datagram(
            &piggybacked(&request, ResponseType::Content, |r| {
                r.add_option(
                    CoapOption::from(BLOCK2),
                    Block::new(asked.num, true, 16).encode(),
                );
                r.add_option(CoapOption::from(ETAG), vec![etag]);
                r.payload = vec![0; 16];
            }),
            now,
            &mut events,
        );
    }
    assert!(matches!(
        events.last(),
        Some(Event::Failed(Failure::Protocol(_)))
    ));
}

#[test]
fn observation_notifications_stale_ones_dropped_and_deregistration() {
    let now = Instant::now();
    let mut request = get("temperature");
    request.observe = true;
    let mut events = Vec::new();
    let mut exchange =
        ClientExchange::start(peer(), request, Default::default(), 7, now, &mut events);
    let registration = sent(&events).remove(0);
    assert_eq!(
        registration.get_first_option(CoapOption::from(OBSERVE)),
        Some(&Vec::new())
    );
    events.clear();
    exchange.on_datagram(
        &piggybacked(&registration, ResponseType::Content, |r| {
            r.add_option(CoapOption::from(OBSERVE), vec![10])
        }),
        now,
        &mut events,
    );
    assert!(exchange.is_observing());
    let notification = |message_id: u16, value: u8| {
        let mut n = Packet::new();
        n.header.set_type(MessageType::NonConfirmable);
        n.header.message_id = message_id;
        n.header.code = MessageClass::Response(ResponseType::Content);
        n.set_token(registration.get_token().to_vec());
        n.add_option(CoapOption::from(OBSERVE), vec![value]);
        n.payload = vec![value];
        n.to_bytes().unwrap()
    };
    exchange.on_datagram(&notification(100, 12), now, &mut events);
    exchange.on_datagram(&notification(101, 11), now, &mut events); // stale (§3.4)
    exchange.on_datagram(&notification(102, 13), now, &mut events);
    let payloads: Vec<_> = responses(&events)
        .iter()
        .map(|r| r.payload.clone())
        .collect();
    assert_eq!(payloads, [vec![], vec![12], vec![13]]);
    events.clear();
    exchange.deregister(now, &mut events);
    let deregistration = sent(&events).remove(0);
    assert_eq!(
        deregistration.get_first_option(CoapOption::from(OBSERVE)),
        Some(&vec![1])
    );
    assert_eq!(deregistration.get_token(), registration.get_token());
    assert!(!exchange.is_finished());
    exchange.on_datagram(
        &piggybacked(&deregistration, ResponseType::Content, |_| {}),
        now,
        &mut events,
    );
    assert!(exchange.is_finished());
}

/// A block-wise notification keeps the Observe value of its first block:
/// the later blocks answer plain GETs and carry none (RFC 7959 §2.6).
#[test]
fn blockwise_notification_keeps_its_observe_value() {
    let now = Instant::now();
    let body: Vec<u8> = (0..100u8).collect();
    let mut request = get("big");
    request.observe = true;
    let mut events = Vec::new();
    let mut exchange =
        ClientExchange::start(peer(), request, Default::default(), 9, now, &mut events);
    for _ in 0..10 {
        let Some(request) = sent(&events).pop() else {
            break;
        };
        events.clear();
        let asked = request
            .get_first_option(CoapOption::from(BLOCK2))
            .and_then(|v| Block::decode(v))
            .unwrap_or(Block::new(0, false, 32));
        // Size2 is asked for once the transfer is known to be block-wise
        // (RFC 7959 §4), never in the first request.
        assert_eq!(
            request.get_first_option(CoapOption::from(SIZE2)).is_some(),
            asked.num == 1
        );
        let end = (asked.offset() + 32).min(body.len());
        let block = Block::new(asked.num, end < body.len(), 32);
        let registering = request
            .get_first_option(CoapOption::from(OBSERVE))
            .is_some();
        exchange.on_datagram(
            &piggybacked(&request, ResponseType::Content, |r| {
                if registering {
                    r.add_option(CoapOption::from(OBSERVE), vec![7]);
                }
                r.add_option(CoapOption::from(BLOCK2), block.encode());
                r.payload = body[asked.offset()..end].to_vec();
            }),
            now,
            &mut events,
        );
    }
    let response = responses(&events)[0];
    assert_eq!(response.payload, body);
    assert_eq!(response.observe(), Some(7));
    assert!(exchange.is_observing());
}

#[test]
fn refused_observation_is_a_plain_response() {
    let now = Instant::now();
    let mut request = get("info");
    request.observe = true;
    let mut events = Vec::new();
    let mut exchange =
        ClientExchange::start(peer(), request, Default::default(), 8, now, &mut events);
    let registration = sent(&events).remove(0);
    exchange.on_datagram(
        &piggybacked(&registration, ResponseType::Content, |_| {}),
        now,
        &mut events,
    );
    assert!(!exchange.is_observing());
    assert!(exchange.is_finished());
}

#[test]
fn unknown_con_response_is_reset() {
    let now = Instant::now();
    let mut events = Vec::new();
    let mut exchange =
        ClientExchange::start(peer(), get("led"), Default::default(), 9, now, &mut events);
    events.clear();
    let mut stray = Packet::new();
    stray.header.set_type(MessageType::Confirmable);
    stray.header.message_id = 5;
    stray.header.code = MessageClass::Response(ResponseType::Content);
    stray.set_token(vec![9, 9]);
    exchange.on_datagram(&stray.to_bytes().unwrap(), now, &mut events);
    assert_eq!(sent(&events)[0].header.get_type(), MessageType::Reset);
}

#[test]
fn freshness_wraps_around() {
    let now = Instant::now();
    assert!(is_fresher(1, now, 2, now));
    assert!(!is_fresher(2, now, 1, now));
    assert!(is_fresher((1 << 24) - 1, now, 3, now));
    assert!(is_fresher(5, now, 4, now + Duration::from_secs(129)));
}

#[test]
fn a_block_wise_notification_is_completed_by_plain_gets() {
    let now = Instant::now();
    let mut request = get("big");
    request.observe = true;
    let mut events = Vec::new();
    let mut exchange =
        ClientExchange::start(peer(), request, Default::default(), 10, now, &mut events);
    let registration = sent(&events).remove(0);
    events.clear();
    exchange.on_datagram(
        &piggybacked(&registration, ResponseType::Content, |r| {
            r.add_option(CoapOption::from(OBSERVE), vec![1]);
            r.payload = b"small".to_vec();
        }),
        now,
        &mut events,
    );
    assert!(exchange.is_observing());
    events.clear();
    // RFC 7959 §2.6: the notification carries the first block only.
    let mut notification = Packet::new();
    notification.header.set_type(MessageType::NonConfirmable);
    notification.header.message_id = 900;
    notification.header.code = MessageClass::Response(ResponseType::Content);
    notification.set_token(registration.get_token().to_vec());
    notification.add_option(CoapOption::from(OBSERVE), vec![2]);
    notification.add_option(CoapOption::from(BLOCK2), Block::new(0, true, 16).encode());
    notification.payload = vec![b'a'; 16];
    exchange.on_datagram(&notification.to_bytes().unwrap(), now, &mut events);
    let follow_up = sent(&events).pop().expect("a GET for block 1");
    assert_eq!(follow_up.get_first_option(CoapOption::from(OBSERVE)), None);
    assert_ne!(follow_up.get_token(), registration.get_token());
    let block = Block::decode(
        follow_up
            .get_first_option(CoapOption::from(BLOCK2))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(block.num, 1);
    events.clear();
    exchange.on_datagram(
        &piggybacked(&follow_up, ResponseType::Content, |r| {
            r.add_option(CoapOption::from(BLOCK2), Block::new(1, false, 16).encode());
            r.payload = b"bc".to_vec();
        }),
        now,
        &mut events,
    );
    let whole: Vec<_> = responses(&events)
        .iter()
        .map(|r| r.payload.clone())
        .collect();
    let mut expected = vec![b'a'; 16];
    expected.extend_from_slice(b"bc");
    assert_eq!(whole, [expected]);
    assert!(matches!(events.last(), Some(Event::Notification(_))));
    assert!(exchange.is_observing(), "still observing");
}

/// A hostile or broken server: whatever the bytes, the exchange never
/// panics, and endless blocks stop at the body limit.
#[test]
fn garbage_and_endless_blocks_are_survived() {
    let now = Instant::now();
    let mut events = Vec::new();
    let mut exchange =
        ClientExchange::start(peer(), get("x"), Default::default(), 11, now, &mut events);
    let request = sent(&events).remove(0);
    let valid = piggybacked(&request, ResponseType::Content, |r| {
        r.add_option(CoapOption::from(BLOCK2), Block::new(0, true, 16).encode());
        r.add_option(CoapOption::from(OBSERVE), vec![1, 2, 3, 4, 5]);
        r.payload = vec![7; 16];
    });
    let mut rng = SmallRng::seed_from_u64(99);
    for round in 0..20_000 {
        let mut datagram = if round % 2 == 0 {
            valid.clone()
        } else {
            Vec::new()
        };
        let extra = rng.random_range(0..24);
        datagram.extend((0..extra).map(|_| rng.random::<u8>()));
        for _ in 0..rng.random_range(0..4) {
            if !datagram.is_empty() {
                let i = rng.random_range(0..datagram.len());
                datagram[i] = rng.random();
            }
        }
        events.clear();
        exchange.on_datagram(&datagram, now, &mut events);
        exchange.on_timeout(now + Duration::from_secs(round), &mut events);
    }

    // A server that always says "more follows" ends at the body limit.
    let mut request = get("endless");
    request.max_body = 4096;
    let mut events = Vec::new();
    let mut exchange =
        ClientExchange::start(peer(), request, Default::default(), 12, now, &mut events);
    for _ in 0..1000 {
        let Some(request) = sent(&events).pop() else {
            break;
        };
        events.clear();
        let asked = request
            .get_first_option(CoapOption::from(BLOCK2))
            .and_then(|v| Block::decode(v))
            .unwrap_or(Block::new(0, false, 1024));
        exchange.on_datagram(
            &piggybacked(&request, ResponseType::Content, |r| {
                r.add_option(
                    CoapOption::from(BLOCK2),
                    Block::new(asked.num, true, 1024).encode(),
                );
                r.payload = vec![0; 1024];
            }),
            now,
            &mut events,
        );
    }
    assert!(
        matches!(events.last(), Some(Event::Failed(Failure::Protocol(reason))) if reason.contains("larger than 4096")),
        "{events:?}"
    );
    assert!(exchange.is_finished());
}

/// Exchanges on one endpoint continue one another's message ids (RFC 7252
/// §4.4, §4.5), whatever their seeds.
#[test]
fn a_later_exchange_continues_the_message_ids() {
    let now = Instant::now();
    let mut events = Vec::new();
    let mut first =
        ClientExchange::start(peer(), get("a"), Default::default(), 1, now, &mut events);
    let request = sent(&events).remove(0);
    let answer = piggybacked(&request, ResponseType::Content, |_| {});
    events.clear();
    first.on_datagram(&answer, now, &mut events);
    assert!(first.is_finished());
    let next = first.next_message_id();
    assert_eq!(next, request.header.message_id.wrapping_add(1));
    events.clear();
    let second = ClientExchange::start_from(
        peer(),
        get("b"),
        Default::default(),
        1,
        next,
        now,
        &mut events,
    );
    assert_eq!(sent(&events)[0].header.message_id, next);
    assert_eq!(second.next_message_id(), next.wrapping_add(1));
}
