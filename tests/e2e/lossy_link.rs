//! RFC 7252 §4.2 and §4.5 across a link that loses 30% of the datagrams each
//! way (`support/lossy_relay.rs`): CON requests, separate responses and CON
//! notifications all complete through retransmission, and deduplication makes
//! every request's side effect happen exactly once.

use std::time::{Duration, Instant};

use coapwasm_tests::lossy_relay::LossyRelay;
use coapwasm_tests::{Code, Message, Peer, Server, Type, option};

const LOSS_PERCENT: u64 = 30;

/// Quick retransmission on the host's side, so that a lost separate response
/// or notification is sent again within the test's patience.
const QUICK: &str = "[transmission]\nack_timeout_ms = 50\nack_random_factor = 1.0\n\
                     max_retransmit = 8\nseparate_response_after_ms = 100\n";

/// The client's retransmission timeout: fixed, unlike §4.2's doubling, so
/// that the test's time stays small.
const CLIENT_TIMEOUT: Duration = Duration::from_millis(150);
const CLIENT_ATTEMPTS: u32 = 20;

/// How long a request may take across the link, all retransmissions counted.
const PATIENCE: Duration = Duration::from_secs(20);

/// Acknowledges a CON from the host (§4.2), and does again for each copy.
fn acknowledge(peer: &Peer, message: &Message) {
    if message.mtype == Type::Con {
        peer.send(&Message::new(Type::Ack, Code::EMPTY, message.mid));
    }
}

/// A client's exchange (§4.2, §5.2): sends `request` until something
/// answers it; after an empty ACK, waits for the separate response. Returns
/// the response and whether it came separately.
fn exchange_across(peer: &Peer, request: &Message) -> (Message, bool) {
    let deadline = Instant::now() + PATIENCE;
    let mut acknowledged = false;
    let mut attempts = 0;
    while Instant::now() < deadline {
        if !acknowledged {
            assert!(
                attempts < CLIENT_ATTEMPTS,
                "no answer to {request} in {attempts} tries"
            );
            peer.send(request);
            attempts += 1;
        }
        let wait_until = Instant::now() + CLIENT_TIMEOUT;
        while let Some(reply) = peer.recv(wait_until.saturating_duration_since(Instant::now())) {
            match reply.mtype {
                Type::Ack if reply.mid == request.mid && reply.code == Code::EMPTY => {
                    acknowledged = true;
                }
                Type::Ack if reply.mid == request.mid => return (reply, false),
                Type::Con | Type::Non if reply.token == request.token => {
                    acknowledge(peer, &reply);
                    return (reply, true);
                }
                // A copy of an earlier separate response or notification
                // whose ACK was lost: acknowledged again, otherwise ignored.
                _ => acknowledge(peer, &reply),
            }
        }
    }
    panic!("no response to {request} within {PATIENCE:?}");
}

fn loss_was_real(relay: &LossyRelay) {
    let (up, down) = (&relay.upstream, &relay.downstream);
    eprintln!(
        "client→host: {} forwarded, {} dropped; host→client: {} forwarded, {} dropped",
        up.forwarded(),
        up.dropped(),
        down.forwarded(),
        down.dropped()
    );
    assert!(
        up.dropped() > 0 && down.dropped() > 0,
        "the link lost nothing one way, so the test showed nothing"
    );
}

/// §4.5: thirty POSTs that each add one to a counter, every one retransmitted
/// until answered: the host answers retransmissions from its deduplication
/// cache, so the counter ends at exactly 30 and each answer is the next number.
#[test]
fn con_requests_take_effect_exactly_once() {
    let server = Server::builder()
        .config(QUICK)
        .plugins(&["testkit"])
        .start();
    let relay = LossyRelay::start(server.addr(), LOSS_PERCENT, 0x5eed_0001);
    let mut peer = Peer::new(relay.addr());

    let mut counts = Vec::new();
    for _ in 0..30 {
        let request = peer.con(Code::POST, "/test/counter");
        let (response, _) = exchange_across(&peer, &request);
        assert_eq!(response.code, Code::CHANGED, "{response}");
        counts.push(response.payload_text().parse::<u32>().unwrap());
    }
    assert_eq!(counts, (1..=30).collect::<Vec<_>>());
    let direct = server.peer().get("/test/counter");
    assert_eq!(direct.payload_text(), "30", "{direct}");
    loss_was_real(&relay);
}

/// §5.2.2: a slow handler's request gets an empty ACK and then a separate
/// CON response, which the host retransmits until the client acknowledges it.
#[test]
fn separate_responses_complete() {
    let server = Server::builder()
        .config(QUICK)
        .plugins(&["testkit"])
        .start();
    let relay = LossyRelay::start(server.addr(), LOSS_PERCENT, 0x5eed_0002);
    let mut peer = Peer::new(relay.addr());

    for _ in 0..8 {
        let request = peer.con(Code::GET, "/test/slow?ms=300");
        let (response, separate) = exchange_across(&peer, &request);
        assert_eq!(response.code, Code::CONTENT, "{response}");
        assert!(separate, "a 300 ms handler answers separately: {response}");
        assert_eq!(response.mtype, Type::Con, "{response}");
    }
    loss_was_real(&relay);
}

/// RFC 7641 §4.5: with every notification confirmable, each change reaches
/// the observer across the link: the host retransmits a notification until
/// it is acknowledged.
#[test]
fn confirmable_notifications_complete() {
    let server = Server::builder()
        .config(&format!("{QUICK}[observe]\nconfirmable_every = 1\n"))
        .plugins(&["testkit"])
        .start();
    let relay = LossyRelay::start(server.addr(), LOSS_PERCENT, 0x5eed_0003);
    let mut observer = Peer::new(relay.addr());
    let mut writer = server.peer();

    let registration = observer
        .con(Code::GET, "/test/observable")
        .uint_option(option::OBSERVE, 0);
    let (first, _) = exchange_across(&observer, &registration);
    assert_eq!(first.code, Code::CONTENT, "{first}");
    assert!(
        first.uint_option_value(option::OBSERVE).is_some(),
        "{first}"
    );

    for value in 1..=10u32 {
        let put = writer
            .con(Code::PUT, "/test/observable")
            .payload(value.to_string().as_bytes());
        assert_eq!(writer.exchange(&put).code, Code::CHANGED);

        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let notification = observer
                .recv(left)
                .unwrap_or_else(|| panic!("no notification of {value} within {PATIENCE:?}"));
            acknowledge(&observer, &notification);
            if notification.token == registration.token
                && notification.payload_text() == value.to_string()
            {
                assert_eq!(notification.mtype, Type::Con, "{notification}");
                break;
            }
        }
    }
    loss_was_real(&relay);
}
