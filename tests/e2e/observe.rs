//! Observe (RFC 7641): registration, notifications, deregistration,
//! reliability, hot reload, restarts, limits and fan-out, checked with
//! hand-made datagrams for the wire-level rules and with two real clients,
//! libcoap's coap-client and aiocoap.
//!
//! Resources observed: `/led` (changed by PUT and POST), `/temperature`
//! (sampled by the host every 2 s), testkit's `/test/observable` (changed by
//! PUT, or by POST /test/notify through the plugin's `observe.changed`
//! import, `?important` asking for a confirmable notification) and the
//! versioned test plugin's `/versioned`.

use coapwasm_tests::aiocoap::AiocoapObserver;
use coapwasm_tests::coap_client::Traced;
use coapwasm_tests::datagram::{decode_uint, hex};
use coapwasm_tests::{CoapClient, Code, Message, Peer, REPLY_TIMEOUT, SILENCE, Server, Type};
use coapwasm_tests::{artifacts, option};
use serde_json::json;
use std::collections::HashSet;
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Observe sequence numbers are 24 bits (RFC 7641 §3.4, §4.4).
const SEQUENCE_MODULUS: u32 = 1 << 24;

/// A short retransmission schedule: an unacknowledged CON is sent again after
/// 200 ms, and given up 400 ms after that (RFC 7252 §4.2, §4.8).
const QUICK_RETRANSMISSION: &str =
    "[transmission]\nack_timeout_ms = 200\nack_random_factor = 1.0\nmax_retransmit = 1\n";

/// How long to wait for a log line that marks a reload; far beyond what a
/// working host needs.
const LOG_WAIT: Duration = Duration::from_secs(10);

/// testkit's observable resource: a text value, set by PUT or incremented
/// by POST /test/notify.
const OBSERVABLE: &str = "/test/observable";

// --- helpers --------------------------------------------------------------

/// A CON GET with Observe 0 (a registration, §3.1), fresh MID and token.
fn observe_get(peer: &mut Peer, target: &str) -> Message {
    peer.con(Code::GET, target).uint_option(option::OBSERVE, 0)
}

/// An accepted registration.
struct Registration {
    token: Vec<u8>,
    /// The Observe option of the response: the first sequence number.
    sequence: u32,
    response: Message,
}

/// Sends `request`, a registration, and asserts it was accepted: 2.05 with
/// an Observe option (§3.1, §4.1).
fn register_with(peer: &Peer, request: &Message) -> Registration {
    let response = peer.exchange(request);
    assert_eq!(response.code, Code::CONTENT, "registration: {response}");
    Registration {
        token: request.token.clone(),
        sequence: sequence(&response),
        response,
    }
}

/// Registers an observation of `target` with a fresh token.
fn register(peer: &mut Peer, target: &str) -> Registration {
    let request = observe_get(peer, target);
    register_with(peer, &request)
}

/// The Observe option's value; fails the test if it is missing or longer
/// than the 3 bytes of a 24-bit number (§2).
fn sequence(message: &Message) -> u32 {
    let value = message
        .option_value(option::OBSERVE)
        .unwrap_or_else(|| panic!("no Observe option in {message}"));
    assert!(
        value.len() <= 3,
        "an Observe value of {} bytes (at most 3, RFC 7641 §2) in {message}",
        value.len()
    );
    decode_uint(value)
}

/// §3.4: whether sequence number `newer` is fresher than `older`, in 24-bit
/// serial number arithmetic.
fn is_newer(newer: u32, older: u32) -> bool {
    (older < newer && newer - older < 1 << 23) || (older > newer && older - newer > 1 << 23)
}

fn assert_newer(newer: &Message, older: u32, what: &str) {
    let value = sequence(newer);
    assert!(
        is_newer(value, older),
        "{what}: Observe {value} is not newer than {older} (RFC 7641 §4.4): {newer}"
    );
}

/// Acknowledges a CON from the server.
fn ack(peer: &Peer, message: &Message) {
    peer.send(&Message::new(Type::Ack, Code::EMPTY, message.mid));
}

/// Rejects a message from the server with a Reset (§3.6: the client is no
/// longer interested).
fn reset(peer: &Peer, message: &Message) {
    peer.send(&Message::new(Type::Rst, Code::EMPTY, message.mid));
}

/// The next datagram on `peer`, which must be a 2.05 notification for
/// `token` (CON or NON, with an Observe option); a CON is acknowledged.
fn notification(peer: &Peer, token: &[u8], what: &str) -> Message {
    let message = peer.expect(REPLY_TIMEOUT, what);
    assert!(
        matches!(message.mtype, Type::Con | Type::Non),
        "{what}: a notification is a CON or NON: {message}"
    );
    if message.mtype == Type::Con {
        ack(peer, &message);
    }
    assert_eq!(message.token, token, "{what}: the registration's token");
    assert_eq!(message.code, Code::CONTENT, "{what}: {message}");
    sequence(&message);
    message
}

/// Every message `peer` receives during `window` (at most `max`); CONs are
/// acknowledged as they come.
fn collect_for(peer: &Peer, window: Duration, max: usize) -> Vec<Message> {
    let deadline = Instant::now() + window;
    let mut messages = Vec::new();
    while messages.len() < max {
        let left = deadline.saturating_duration_since(Instant::now());
        let Some(message) = peer.recv(left) else {
            break;
        };
        if message.mtype == Type::Con {
            ack(peer, &message);
        }
        messages.push(message);
    }
    messages
}

/// PUT /led {"state": STATE} (Content-Format 50), which must answer 2.04.
fn put_led(peer: &mut Peer, state: &str) {
    let request = peer
        .con(Code::PUT, "/led")
        .uint_option(option::CONTENT_FORMAT, 50)
        .payload(json!({ "state": state }).to_string().as_bytes());
    let response = peer.exchange(&request);
    assert_eq!(response.code, Code::CHANGED, "PUT /led {state}: {response}");
}

/// PUT /test/observable with a text value, which must answer 2.04.
fn put_observable(peer: &mut Peer, value: &str) {
    let request = peer
        .con(Code::PUT, OBSERVABLE)
        .uint_option(option::CONTENT_FORMAT, 0)
        .payload(value.as_bytes());
    let response = peer.exchange(&request);
    assert_eq!(
        response.code,
        Code::CHANGED,
        "PUT {OBSERVABLE} {value}: {response}"
    );
}

/// POST /test/notify (with `?important` if asked): testkit increments its
/// observable value and signals the change; returns the new value.
fn signal(peer: &mut Peer, important: bool) -> String {
    let target = if important {
        "/test/notify?important"
    } else {
        "/test/notify"
    };
    let response = peer.call(Code::POST, target);
    assert_eq!(response.code, Code::CHANGED, "POST {target}: {response}");
    response.payload_text().to_string()
}

fn led_state(message: &Message) -> serde_json::Value {
    assert_eq!(message.content_format(), Some(50), "{message}");
    message.payload_json()
}

/// The host's log line `what` ("upgraded plugin", ...) naming `file`, the
/// `count`-th of its kind; fails the test if it does not come.
fn await_reload(server: &Server, what: &str, file: &str, count: usize) {
    let path = server.plugins_dir().join(file).display().to_string();
    let matches = |line: &str| line.contains(what) && line.contains(&format!("file={path} "));
    if server.log_count(LOG_WAIT, count, matches).is_none() {
        panic!(
            "no {count}. `{what}` line naming {path} within {LOG_WAIT:?}; log:\n{}",
            server.stderr()
        );
    }
}

/// The bytes of one build of the versioned test plugin.
fn versioned(variant: &str) -> Vec<u8> {
    let path = artifacts::test_plugin(&format!("versioned-{variant}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

// --- registration ---------------------------------------------------------

/// §3.1, §4.1, §4.2, §4.4: a GET with Observe 0 is answered 2.05 with an
/// Observe option (a 24-bit sequence number taken from the wall clock) and
/// the representation; each change by a request answered 2.xx (PUT, POST)
/// brings a notification with the registration's token, a newer sequence
/// number and the new representation. Requests that change nothing (a GET,
/// a failed PUT, a refused DELETE) bring none.
#[test]
fn registration_then_put_and_post_notify_the_observer() {
    let server = Server::with_plugins(&["led"]);
    let mut observer = server.peer();
    let mut changer = server.peer();

    let registration = register(&mut observer, "/led");
    assert_eq!(
        registration.response.mtype,
        Type::Ack,
        "{}",
        registration.response
    );
    assert_eq!(led_state(&registration.response), json!({"state": "off"}));
    let clock = (SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis()
        % u128::from(SEQUENCE_MODULUS)) as u32;
    let apart = clock.wrapping_sub(registration.sequence) % SEQUENCE_MODULUS;
    let apart = apart.min(SEQUENCE_MODULUS - apart);
    assert!(
        apart < 60_000,
        "Observe {} is {apart} ms away from the wall clock's {clock} (ms mod 2^24)",
        registration.sequence
    );

    put_led(&mut changer, "on");
    let first = notification(&observer, &registration.token, "a notification after PUT");
    assert_eq!(
        first.mtype,
        Type::Non,
        "the first notification is NON: {first}"
    );
    assert_eq!(led_state(&first), json!({"state": "on"}));
    assert_newer(&first, registration.sequence, "after PUT");

    assert_eq!(changer.call(Code::POST, "/led").code, Code::CHANGED);
    let second = notification(&observer, &registration.token, "a notification after POST");
    assert_eq!(led_state(&second), json!({"state": "off"}));
    assert_newer(&second, sequence(&first), "after POST");

    // Nothing changed: no notification.
    assert_eq!(changer.get("/led").code, Code::CONTENT);
    let bad = changer
        .con(Code::PUT, "/led")
        .uint_option(option::CONTENT_FORMAT, 50)
        .payload(b"{not json");
    assert_eq!(changer.exchange(&bad).code, Code::BAD_REQUEST);
    assert_eq!(
        changer.call(Code::DELETE, "/led").code,
        Code::METHOD_NOT_ALLOWED
    );
    observer.expect_silence(SILENCE, "a GET, a 4.00 PUT and a 4.05 DELETE");
}

/// §4.1: a GET with Observe 0 on a resource that is not observable gets a
/// plain response, without the Observe option, and registers nothing: with
/// one observation allowed per endpoint, the endpoint can still register one.
#[test]
fn observe_on_a_non_observable_resource_gets_a_plain_response() {
    let server = Server::builder()
        .config("[observe]\nmax_per_endpoint = 1\n")
        .plugins(&["led", "info"])
        .start();
    let mut observer = server.peer();

    let request = observe_get(&mut observer, "/info");
    let response = observer.fetch(&request);
    assert_eq!(response.code, Code::CONTENT, "{response}");
    assert!(
        response.option_value(option::OBSERVE).is_none(),
        "/info is not observable, yet the answer carries Observe: {response}"
    );
    assert!(
        response.payload_json().get("device_id").is_some(),
        "{response}"
    );

    // The endpoint's one observation is still free.
    let registration = register(&mut observer, "/led");
    put_led(&mut server.peer(), "on");
    let notified = notification(&observer, &registration.token, "a notification of /led");
    assert_eq!(led_state(&notified), json!({"state": "on"}));
    observer.expect_silence(SILENCE, "the one notification of /led");
}

/// §4.1: a registration with the token and endpoint of an existing one
/// replaces it: one notification per change, never two; a registration with
/// the same token for another resource moves the observation there. A NON
/// registration is answered with a NON carrying Observe.
#[test]
fn same_token_and_endpoint_replace_the_registration() {
    let server = Server::with_plugins(&["led", "testkit"]);
    let mut observer = server.peer();
    let mut changer = server.peer();

    let first = observe_get(&mut observer, OBSERVABLE);
    register_with(&observer, &first);
    // Again, same token, new MID: a re-registration, not a duplicate.
    let mid = observer.mid();
    let again = Message {
        mid,
        ..first.clone()
    };
    let replaced = register_with(&observer, &again);
    let token = replaced.token.clone();

    // Another token of the same endpoint, registered with a NON.
    let (mid, other) = (observer.mid(), observer.token());
    let non = Message::request(Type::Non, Code::GET, mid, &other, OBSERVABLE)
        .uint_option(option::OBSERVE, 0);
    observer.send(&non);
    let response = observer.expect(REPLY_TIMEOUT, "the response to the NON registration");
    assert_eq!(
        (response.mtype, response.code, &response.token),
        (Type::Non, Code::CONTENT, &other),
        "{response}"
    );
    sequence(&response);

    put_observable(&mut changer, "x");
    let messages = collect_for(&observer, SILENCE, 10);
    let mut tokens: Vec<Vec<u8>> = messages.iter().map(|m| m.token.clone()).collect();
    tokens.sort();
    let mut expected = vec![token.clone(), other.clone()];
    expected.sort();
    assert_eq!(
        tokens,
        expected,
        "one notification per token after a re-registration: {:#?}",
        messages.iter().map(|m| m.to_string()).collect::<Vec<_>>()
    );
    for message in &messages {
        assert_eq!(message.payload_text(), "x", "{message}");
    }

    // The first token now observes /led instead.
    let moved = Message::request(Type::Con, Code::GET, observer.mid(), &token, "/led")
        .uint_option(option::OBSERVE, 0);
    register_with(&observer, &moved);
    put_observable(&mut changer, "y");
    let only = notification(&observer, &other, "the other token's notification");
    assert_eq!(only.payload_text(), "y");
    observer.expect_silence(
        SILENCE,
        "a change of the resource the token no longer observes",
    );
    put_led(&mut changer, "on");
    let led = notification(&observer, &token, "the moved token's notification of /led");
    assert_eq!(led_state(&led), json!({"state": "on"}));
    observer.expect_silence(SILENCE, "one notification of /led");
}

// --- notifications ----------------------------------------------------------

/// §4.2: the plugin's own signal (POST /test/notify calls the `observe`
/// import) notifies the observers of /test/observable with the current
/// value and the plugin's Max-Age; `?important` makes the notification a
/// CON (§4.5), which the host retransmits until acknowledged.
#[test]
fn plugin_signal_notifies_and_important_is_confirmable() {
    let server = Server::builder()
        .config(QUICK_RETRANSMISSION)
        .plugins(&["testkit"])
        .start();
    let mut observer = server.peer();
    let mut changer = server.peer();
    let registration = register(&mut observer, OBSERVABLE);
    assert_eq!(registration.response.payload_text(), "0");

    assert_eq!(signal(&mut changer, false), "1");
    let plain = notification(&observer, &registration.token, "the signalled change");
    assert_eq!(plain.mtype, Type::Non, "{plain}");
    assert_eq!(plain.payload_text(), "1");
    assert_eq!(plain.content_format(), Some(0), "{plain}");
    assert_eq!(
        plain.uint_option_value(option::MAX_AGE),
        Some(60),
        "the plugin's Max-Age: {plain}"
    );
    assert_newer(&plain, registration.sequence, "after the signal");

    assert_eq!(signal(&mut changer, true), "2");
    let important = observer.expect(REPLY_TIMEOUT, "the important notification");
    assert_eq!(important.mtype, Type::Con, "important is CON: {important}");
    assert_eq!(important.token, registration.token, "{important}");
    assert_eq!(important.payload_text(), "2");
    assert_eq!(important.uint_option_value(option::MAX_AGE), Some(60));
    assert_newer(&important, sequence(&plain), "the important one");
    // Unacknowledged, it comes again (200 ms later here), the very same.
    let again = observer.expect(REPLY_TIMEOUT, "the CON's retransmission");
    assert_eq!(again, important, "a retransmission repeats the message");
    ack(&observer, &important);
    observer.expect_silence(SILENCE, "the acknowledged CON");

    // Had the ACK been ignored, the host would have given up on the CON by
    // now (max_retransmit = 1) and removed the observer: no notification.
    assert_eq!(signal(&mut changer, false), "3");
    let after = notification(&observer, &registration.token, "the next change");
    assert_eq!(after.payload_text(), "3");
    assert_newer(&after, sequence(&important), "after the important one");
}

/// §4.5: notifications are NON, but one in every `confirmable_every`
/// (default 20) is a CON, so that a client that went away is noticed. Over
/// 40 changes, exactly the 20th and the 40th are CON; sequence numbers keep
/// increasing and payloads follow the changes.
#[test]
fn every_twentieth_notification_is_confirmable() {
    let server = Server::with_plugins(&["testkit"]);
    let mut observer = server.peer();
    let mut changer = server.peer();
    let registration = register(&mut observer, OBSERVABLE);

    let mut previous = registration.sequence;
    let mut types = Vec::new();
    for n in 1..=40 {
        let value = format!("change-{n}");
        put_observable(&mut changer, &value);
        let message = notification(&observer, &registration.token, &value);
        assert_eq!(message.payload_text(), value);
        assert_newer(&message, previous, &value);
        previous = sequence(&message);
        types.push(message.mtype);
    }
    let confirmable: Vec<usize> = (1..=40).filter(|n| types[n - 1] == Type::Con).collect();
    assert_eq!(
        confirmable,
        [20, 40],
        "the CON notifications among 40: {types:?}"
    );
}

/// §4.2 for changes no request caused: /temperature is sampled by the host
/// every 2 s, and its (simulated, drifting) value changes; with nobody
/// sending requests, observers in JSON and in text (Accept 0) are each
/// notified in their format, again and again: two notifications of the JSON
/// observer within 40 s. (The sample taken at start-up always counts as a
/// change, and may notify right after the registrations; the second needs
/// the drift to move the reading, which one 2 s sample in two does.)
#[test]
fn sampled_temperature_notifies_without_requests() {
    let server = Server::with_plugins(&["temperature"]);
    // One socket per observer: a sample may come between two registrations,
    // and a notification must not be taken for the second one's response.
    let mut json_observer = server.peer();
    let mut text_observer = server.peer();
    let json = register(&mut json_observer, "/temperature");
    assert_eq!(json.response.content_format(), Some(50));
    let text_request =
        observe_get(&mut text_observer, "/temperature").uint_option(option::ACCEPT, 0);
    let text = register_with(&text_observer, &text_request);
    assert_eq!(text.response.content_format(), Some(0));

    let started = Instant::now();
    let deadline = started + Duration::from_secs(40);
    let next = |peer: &Peer, token: &[u8], which: &str| {
        let left = deadline.saturating_duration_since(Instant::now());
        let message = peer.recv(left).unwrap_or_else(|| {
            panic!("no {which} notification of /temperature within 40 s without requests")
        });
        if message.mtype == Type::Con {
            ack(peer, &message);
        }
        assert_eq!(message.token, token, "{which}: {message}");
        eprintln!(
            "{which} after {:?}: {}",
            started.elapsed(),
            message.payload_text()
        );
        message
    };
    let as_json = &next(&json_observer, &json.token, "1st JSON notification");
    let as_text = &next(&text_observer, &text.token, "1st text notification");
    let again = &next(&json_observer, &json.token, "2nd JSON notification");
    assert_eq!(again.content_format(), Some(50), "{again}");
    assert_newer(again, sequence(as_json), "the 2nd JSON notification");

    assert_eq!(as_json.code, Code::CONTENT, "{as_json}");
    assert_eq!(as_json.content_format(), Some(50), "{as_json}");
    assert_eq!(as_json.uint_option_value(option::MAX_AGE), Some(5));
    let body = as_json.payload_json();
    assert!(body["value"].is_number(), "{as_json}");
    assert_eq!(body["unit"], "celsius", "{as_json}");
    assert_newer(as_json, json.sequence, "JSON");

    assert_eq!(as_text.code, Code::CONTENT, "{as_text}");
    assert_eq!(as_text.content_format(), Some(0), "{as_text}");
    let reading = as_text.payload_text();
    assert!(
        reading
            .strip_suffix(" C")
            .is_some_and(|n| n.parse::<f64>().is_ok()),
        "not `NN.N C`: {as_text}"
    );
    assert_newer(as_text, text.sequence, "text");
}

// --- deregistration -----------------------------------------------------------

/// §3.6: a GET with Observe 1 and the registration's token ends the
/// observation: a plain response (no Observe) and no more notifications,
/// while another observer of the same resource goes on being notified.
#[test]
fn get_with_observe_1_deregisters() {
    let server = Server::with_plugins(&["testkit"]);
    let mut observer = server.peer();
    let mut witness = server.peer();
    let mut changer = server.peer();
    let registration = register(&mut observer, OBSERVABLE);
    let other = register(&mut witness, OBSERVABLE);

    put_observable(&mut changer, "a");
    assert_eq!(
        notification(&observer, &registration.token, "before deregistering").payload_text(),
        "a"
    );
    assert_eq!(
        notification(&witness, &other.token, "the witness").payload_text(),
        "a"
    );

    let deregister = Message::request(
        Type::Con,
        Code::GET,
        observer.mid(),
        &registration.token,
        OBSERVABLE,
    )
    .uint_option(option::OBSERVE, 1);
    let response = observer.exchange(&deregister);
    assert_eq!(response.code, Code::CONTENT, "{response}");
    assert_eq!(response.payload_text(), "a");
    assert!(
        response.option_value(option::OBSERVE).is_none(),
        "a deregistration is answered without Observe: {response}"
    );

    put_observable(&mut changer, "b");
    assert_eq!(
        notification(&witness, &other.token, "the witness, still observing").payload_text(),
        "b"
    );
    observer.expect_silence(SILENCE, "deregistering with Observe 1");
}

/// §3.6, §4.2: a Reset in answer to a NON notification ends the observation.
#[test]
fn reset_of_a_non_notification_deregisters() {
    let server = Server::with_plugins(&["testkit"]);
    let mut observer = server.peer();
    let mut witness = server.peer();
    let mut changer = server.peer();
    let registration = register(&mut observer, OBSERVABLE);
    let other = register(&mut witness, OBSERVABLE);

    put_observable(&mut changer, "a");
    let first = notification(&observer, &registration.token, "the notification to reset");
    assert_eq!(first.mtype, Type::Non, "{first}");
    notification(&witness, &other.token, "the witness");
    reset(&observer, &first);

    put_observable(&mut changer, "b");
    assert_eq!(
        notification(&witness, &other.token, "the witness, still observing").payload_text(),
        "b"
    );
    observer.expect_silence(SILENCE, "resetting a NON notification");
}

/// §3.6, §4.5: a Reset in answer to a CON notification ends the observation,
/// and stops that CON's retransmission.
#[test]
fn reset_of_a_con_notification_deregisters() {
    let server = Server::builder()
        .config(QUICK_RETRANSMISSION)
        .plugins(&["testkit"])
        .start();
    let mut observer = server.peer();
    let mut witness = server.peer();
    let mut changer = server.peer();
    let registration = register(&mut observer, OBSERVABLE);
    let other = register(&mut witness, OBSERVABLE);

    assert_eq!(signal(&mut changer, true), "1");
    let con = observer.expect(REPLY_TIMEOUT, "the CON notification to reset");
    assert_eq!(
        (con.mtype, &con.token),
        (Type::Con, &registration.token),
        "{con}"
    );
    reset(&observer, &con);
    notification(&witness, &other.token, "the witness's CON");
    // Retransmission would come 200 ms later.
    observer.expect_silence(SILENCE, "resetting a CON notification");

    assert_eq!(signal(&mut changer, false), "2");
    assert_eq!(
        notification(&witness, &other.token, "the witness, still observing").payload_text(),
        "2"
    );
    observer.expect_silence(SILENCE, "a change after the Reset");
}

// --- reliability ------------------------------------------------------------

/// §4.5: a CON notification that is never acknowledged is retransmitted, and
/// when the retransmissions run out (max_retransmit = 1 here) the observer is
/// removed. With one observation allowed per endpoint, the proof is that the
/// endpoint can register again, and only its new token is notified.
#[test]
fn unacknowledged_con_notification_removes_the_observer() {
    let server = Server::builder()
        .config(&format!(
            "{QUICK_RETRANSMISSION}[observe]\nmax_per_endpoint = 1\n"
        ))
        .plugins(&["testkit"])
        .start();
    let mut observer = server.peer();
    let mut changer = server.peer();
    let registration = register(&mut observer, OBSERVABLE);
    let refused_request = observe_get(&mut observer, OBSERVABLE);
    let refused = observer.exchange(&refused_request);
    assert!(
        refused.option_value(option::OBSERVE).is_none(),
        "the endpoint's one observation is taken: {refused}"
    );

    assert_eq!(signal(&mut changer, true), "1");
    let con = observer.expect_raw(REPLY_TIMEOUT, "the CON notification");
    let decoded = Message::decode(&con).unwrap();
    assert_eq!(
        (decoded.mtype, &decoded.token),
        (Type::Con, &registration.token),
        "{decoded}"
    );
    let again = observer.expect_raw(REPLY_TIMEOUT, "its one retransmission");
    assert_eq!(
        hex(&again),
        hex(&con),
        "a retransmission repeats the message"
    );

    // The host gives up 400 ms after the retransmission; until then a new
    // registration is refused. Try again until it is accepted.
    let deadline = Instant::now() + Duration::from_secs(10);
    let fresh = loop {
        let request = observe_get(&mut observer, OBSERVABLE);
        let response = observer.exchange(&request);
        assert_eq!(response.code, Code::CONTENT, "{response}");
        if response.option_value(option::OBSERVE).is_some() {
            break request.token;
        }
        assert!(
            Instant::now() < deadline,
            "10 s after its CON notification went unacknowledged, the observer still \
             holds the endpoint's one observation"
        );
        thread::sleep(Duration::from_millis(100));
    };

    assert_eq!(signal(&mut changer, false), "2");
    let only = notification(&observer, &fresh, "the new registration's notification");
    assert_eq!(only.payload_text(), "2");
    observer.expect_silence(SILENCE, "the one notification, to the new token only");
}

/// §4.5.2: a client slower than the changes gets the newest state, not a
/// queue. While a CON notification is unacknowledged, three more changes
/// bring nothing but retransmissions of that same CON; once it is
/// acknowledged, exactly one notification follows, with the latest value.
#[test]
fn slow_client_gets_the_newest_state_not_a_queue() {
    let server = Server::builder()
        // Retransmissions 1 s, 3 s, 7 s and 15 s after the first sending.
        .config(
            "[transmission]\nack_timeout_ms = 1000\nack_random_factor = 1.0\nmax_retransmit = 4\n",
        )
        .plugins(&["testkit"])
        .start();
    let mut observer = server.peer();
    let mut changer = server.peer();
    let registration = register(&mut observer, OBSERVABLE);

    assert_eq!(signal(&mut changer, true), "1");
    let con = observer.expect_raw(REPLY_TIMEOUT, "the CON notification");
    let decoded = Message::decode(&con).unwrap();
    assert_eq!(decoded.mtype, Type::Con, "{decoded}");
    assert_eq!(decoded.payload_text(), "1", "{decoded}");
    for expected in ["2", "3", "4"] {
        assert_eq!(signal(&mut changer, false), expected);
    }
    // Up to its first retransmission, 1 s after it, nothing else comes.
    let retransmitted = observer.expect_raw(REPLY_TIMEOUT, "the CON's retransmission");
    assert_eq!(
        hex(&retransmitted),
        hex(&con),
        "while a CON notification is unacknowledged only it may be sent (again): {}",
        Message::decode(&retransmitted).unwrap()
    );
    ack(&observer, &decoded);

    // 2.5 s: past where the next retransmission would be, had the ACK failed.
    let after = collect_for(&observer, Duration::from_millis(2500), 10);
    let shown: Vec<String> = after.iter().map(|m| m.to_string()).collect();
    assert_eq!(
        after.len(),
        1,
        "exactly one notification after the ACK: {shown:#?}"
    );
    let newest = &after[0];
    assert_eq!(newest.token, registration.token, "{newest}");
    assert_eq!(newest.code, Code::CONTENT, "{newest}");
    assert_eq!(newest.payload_text(), "4", "the newest state: {newest}");
    assert_newer(newest, sequence(&decoded), "the newest state");
}

// --- hot reload -------------------------------------------------------------

/// A removed plugin's observers get a final 4.04 (CON, no Observe, same
/// token) and are forgotten: when the plugin comes back, a change notifies
/// new observers only.
#[test]
fn removed_plugin_ends_its_observations_with_4_04() {
    let server = Server::builder()
        .config(QUICK_RETRANSMISSION)
        .plugins(&["led"])
        .start();
    let mut observer = server.peer();
    let registration = register(&mut observer, "/led");

    server.plugins_folder().remove("led.wasm");
    let gone = observer.expect(LOG_WAIT, "a 4.04 notification for the removed resource");
    assert_eq!(gone.mtype, Type::Con, "{gone}");
    assert_eq!(gone.code, Code::NOT_FOUND, "{gone}");
    assert_eq!(gone.token, registration.token, "{gone}");
    assert!(
        gone.option_value(option::OBSERVE).is_none(),
        "a final notification carries no Observe: {gone}"
    );
    ack(&observer, &gone);
    await_reload(&server, "removed plugin", "led.wasm", 1);
    observer.expect_silence(SILENCE, "the acknowledged 4.04");

    let bytes = std::fs::read(artifacts::plugin("led.wasm")).unwrap();
    server.plugins_folder().overwrite("led.wasm", &bytes);
    await_reload(&server, "added plugin", "led.wasm", 1);
    let mut witness = server.peer();
    let new = register(&mut witness, "/led");
    put_led(&mut server.peer(), "on");
    let notified = notification(&witness, &new.token, "a new observer of the re-added /led");
    assert_eq!(led_state(&notified), json!({"state": "on"}));
    observer.expect_silence(SILENCE, "a change after the observation ended");
}

/// An upgraded plugin keeps its observers, and they get the new version's
/// state right away; a version that moves the route away ends the
/// observation of the old path with a 4.04; the path coming back does not
/// bring the ended observation back.
#[test]
fn upgrade_notifies_observers_and_a_moved_route_ends_them() {
    const FILE: &str = "versioned.wasm";
    let server = Server::builder()
        .config(QUICK_RETRANSMISSION)
        .test_plugin_as("versioned-v1", FILE)
        .start();
    let mut observer = server.peer();
    let registration = register(&mut observer, "/versioned");
    assert_eq!(registration.response.payload_text(), "v1");

    let folder = server.plugins_folder();
    folder.write_then_rename(".versioned.wasm.tmp", FILE, &versioned("v2"));
    await_reload(&server, "upgraded plugin", FILE, 1);
    let upgraded = notification(&observer, &registration.token, "the new version's state");
    assert_eq!(upgraded.payload_text(), "v2", "{upgraded}");
    assert_newer(&upgraded, registration.sequence, "after the upgrade");
    observer.expect_silence(SILENCE, "one notification per upgrade");

    folder.write_then_rename(".versioned.wasm.tmp", FILE, &versioned("moved"));
    await_reload(&server, "upgraded plugin", FILE, 2);
    let gone = observer.expect(REPLY_TIMEOUT, "a 4.04 for the path moved away");
    assert_eq!(
        (gone.mtype, gone.code, &gone.token),
        (Type::Con, Code::NOT_FOUND, &registration.token),
        "{gone}"
    );
    assert!(
        gone.option_value(option::OBSERVE).is_none(),
        "a final notification carries no Observe: {gone}"
    );
    ack(&observer, &gone);

    folder.write_then_rename(".versioned.wasm.tmp", FILE, &versioned("v2"));
    await_reload(&server, "upgraded plugin", FILE, 3);
    assert_eq!(observer.get("/versioned").payload_text(), "v2");
    observer.expect_silence(SILENCE, "the path's return after the observation ended");
}

// --- restart ----------------------------------------------------------------

/// Observations are recorded in the data directory per local address, so a
/// server restarted on the same address notifies the same client socket
/// without a new registration, with a sequence number newer than before.
fn observation_survives(end: fn(&mut Server)) {
    let mut server = Server::builder().fixed_port().plugins(&["led"]).start();
    let mut observer = server.peer();
    let registration = register(&mut observer, "/led");
    // The host records observations in batches, one about every 50 ms: give
    // it time to commit this one before the process ends.
    thread::sleep(Duration::from_millis(300));

    end(&mut server);
    server.restart();
    assert_eq!(
        server.addr(),
        observer.server(),
        "restarted on the same address"
    );

    put_led(&mut server.peer(), "on");
    let notified = notification(
        &observer,
        &registration.token,
        "a notification after the restart, without registering again",
    );
    assert_eq!(led_state(&notified), json!({"state": "on"}));
    assert_newer(&notified, registration.sequence, "after the restart");
}

#[test]
fn observations_survive_a_restart() {
    observation_survives(|server| {
        server.stop();
    });
}

#[test]
fn observations_survive_a_kill() {
    observation_survives(|server| {
        server.kill();
    });
}

/// With several socket loops per address (`--loops`), each peer's
/// datagrams reach one loop, and an observation restored after a restart
/// is restored in that loop: a Reset to its first notification ends it
/// (§3.6). Four loops and eight observers: an observation restored in
/// another loop than its observer's datagrams reach would not see the
/// Reset, and would notify again.
#[test]
fn restored_observations_live_in_the_loop_their_observer_reaches() {
    let mut server = Server::builder()
        .fixed_port()
        .arg("--loops")
        .arg("4")
        .plugins(&["led"])
        .start();
    let mut observers: Vec<Peer> = (0..8).map(|_| server.peer()).collect();
    let registrations: Vec<Registration> = observers
        .iter_mut()
        .map(|observer| register(observer, "/led"))
        .collect();
    // The host records observations in batches, one about every 50 ms.
    thread::sleep(Duration::from_millis(300));
    server.stop();
    server.restart();

    put_led(&mut server.peer(), "on");
    for (observer, registration) in observers.iter().zip(&registrations) {
        let notified = notification(observer, &registration.token, "after the restart");
        reset(observer, &notified);
    }
    put_led(&mut server.peer(), "off");
    for (i, observer) in observers.iter().enumerate() {
        observer.expect_silence(
            if i == 0 {
                SILENCE
            } else {
                Duration::from_millis(50)
            },
            &format!("observer {i} reset its restored observation"),
        );
    }
}

/// §4.1: `max_total` bounds the observations of an address across all its
/// socket loops, wherever its peers are steered: with 4 loops and a limit
/// of 3, a fourth observation is refused whichever loop serves it.
#[test]
fn the_total_limit_holds_across_socket_loops() {
    let server = Server::builder()
        .config("[observe]\nmax_total = 3\n")
        .arg("--loops")
        .arg("4")
        .plugins(&["led"])
        .start();
    let mut peers: Vec<Peer> = (0..8).map(|_| server.peer()).collect();
    let mut accepted = 0;
    for peer in &mut peers {
        let request = observe_get(peer, "/led");
        let response = peer.exchange(&request);
        assert_eq!(response.code, Code::CONTENT, "{response}");
        if response.option_value(option::OBSERVE).is_some() {
            accepted += 1;
        }
    }
    assert_eq!(accepted, 3, "observations accepted of 8, with max_total 3");
}

// --- limits -----------------------------------------------------------------

/// §4.1: past `max_per_endpoint` (2 here) a registration gets a plain 2.05
/// without Observe; a re-registration of a token it holds still succeeds,
/// other endpoints are not affected, and deregistering frees a place.
#[test]
fn registrations_past_the_per_endpoint_limit_get_plain_responses() {
    let server = Server::builder()
        .config("[observe]\nmax_per_endpoint = 2\n")
        .plugins(&["led"])
        .start();
    let mut observer = server.peer();
    let mut other = server.peer();
    let first = register(&mut observer, "/led");
    let second = register(&mut observer, "/led");

    let third_request = observe_get(&mut observer, "/led");
    let third = observer.exchange(&third_request);
    assert_eq!(third.code, Code::CONTENT, "{third}");
    assert_eq!(led_state(&third), json!({"state": "off"}));
    assert!(
        third.option_value(option::OBSERVE).is_none(),
        "a third registration of one endpoint must not be accepted: {third}"
    );
    let elsewhere = register(&mut other, "/led");
    let again = Message::request(Type::Con, Code::GET, observer.mid(), &first.token, "/led")
        .uint_option(option::OBSERVE, 0);
    register_with(&observer, &again);

    let deregister = Message::request(Type::Con, Code::GET, observer.mid(), &second.token, "/led")
        .uint_option(option::OBSERVE, 1);
    let response = observer.exchange(&deregister);
    assert!(
        response.option_value(option::OBSERVE).is_none(),
        "{response}"
    );
    let retry = Message::request(
        Type::Con,
        Code::GET,
        observer.mid(),
        &third_request.token,
        "/led",
    )
    .uint_option(option::OBSERVE, 0);
    register_with(&observer, &retry);

    put_led(&mut server.peer(), "on");
    let mut tokens: Vec<Vec<u8>> = collect_for(&observer, SILENCE, 10)
        .into_iter()
        .map(|m| m.token)
        .collect();
    tokens.sort();
    let mut expected = vec![first.token.clone(), third_request.token.clone()];
    expected.sort();
    assert_eq!(tokens, expected, "the tokens notified");
    notification(&other, &elsewhere.token, "the other endpoint");
}

/// §4.1: past `max_total` observations of one socket (3 here) a
/// registration gets a plain 2.05, whoever asks; one ending frees a place.
#[test]
fn registrations_past_the_total_limit_get_plain_responses() {
    let server = Server::builder()
        .config("[observe]\nmax_total = 3\n")
        .plugins(&["led"])
        .start();
    let mut peers: Vec<Peer> = (0..4).map(|_| server.peer()).collect();
    let registrations: Vec<Registration> = peers[..3]
        .iter_mut()
        .map(|peer| register(peer, "/led"))
        .collect();
    let request = observe_get(&mut peers[3], "/led");
    let refused = peers[3].exchange(&request);
    assert_eq!(refused.code, Code::CONTENT, "{refused}");
    assert!(
        refused.option_value(option::OBSERVE).is_none(),
        "a fourth observation of the socket must not be accepted: {refused}"
    );

    let deregister = Message::request(
        Type::Con,
        Code::GET,
        peers[0].mid(),
        &registrations[0].token,
        "/led",
    )
    .uint_option(option::OBSERVE, 1);
    peers[0].exchange(&deregister);
    let retry = Message::request(Type::Con, Code::GET, peers[3].mid(), &request.token, "/led")
        .uint_option(option::OBSERVE, 0);
    register_with(&peers[3], &retry);
}

// --- real clients -------------------------------------------------------------

/// libcoap's coap-client observing /led (`-s`): it prints each notification
/// as /led is changed by PUT and POST.
#[test]
fn coap_client_observes_led_changes() {
    let server = Server::with_plugins(&["led"]);
    let client = CoapClient::get(&server.uri("/led")).observe(8).spawn();
    let is_content = |m: &Traced| m.code == "2.05";
    if client.await_received(REPLY_TIMEOUT, is_content).is_none() {
        panic!(
            "coap-client got no answer to its registration\n{}",
            client.trace_so_far()
        );
    }

    let mut changer = server.peer();
    put_led(&mut changer, "on");
    let on = |m: &Traced| m.payload() == Some(r#"{"state":"on"}"#);
    if client.await_received(REPLY_TIMEOUT, on).is_none() {
        panic!(
            "coap-client saw no notification of the PUT\n{}",
            client.trace_so_far()
        );
    }
    assert_eq!(changer.call(Code::POST, "/led").code, Code::CHANGED);
    let deadline = Instant::now() + REPLY_TIMEOUT;
    while client
        .received_so_far()
        .iter()
        .filter(|m| is_content(m))
        .count()
        < 3
    {
        assert!(
            Instant::now() < deadline,
            "coap-client saw no notification of the POST\n{}",
            client.trace_so_far()
        );
        thread::sleep(Duration::from_millis(20));
    }

    let output = client.finish();
    assert!(
        output.status.success(),
        "coap-client failed\n{}",
        output.shown()
    );
    let contents: Vec<&Traced> = output.received.iter().filter(|m| is_content(m)).collect();
    let payloads: Vec<&str> = contents.iter().filter_map(|m| m.payload()).collect();
    assert_eq!(
        payloads,
        [
            r#"{"state":"off"}"#,
            r#"{"state":"on"}"#,
            r#"{"state":"off"}"#
        ],
        "{}",
        output.shown()
    );
    let sequences: Vec<u32> = contents
        .iter()
        .map(|m| {
            m.option("Observe")
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("no Observe in {}", m.line))
        })
        .collect();
    assert!(
        sequences.windows(2).all(|w| is_newer(w[1], w[0])),
        "sequence numbers {sequences:?}\n{}",
        output.shown()
    );
}

/// aiocoap's observation API (tests/clients/aiocoap_observe.py) observing
/// /test/observable: it gets every value PUT, in order.
#[test]
fn aiocoap_observes_changes() {
    let server = Server::with_plugins(&["testkit"]);
    let observer = AiocoapObserver::start(&server.uri(OBSERVABLE), 3, Duration::from_secs(30));
    let registered = observer.await_registered(Duration::from_secs(20));
    assert!(
        registered.starts_with("registered code=2.05 observe=")
            && !registered.contains("observe=None"),
        "{registered}"
    );

    let mut changer = server.peer();
    for value in ["alpha", "beta", "gamma"] {
        put_observable(&mut changer, value);
        let got = observer.next_payload(REPLY_TIMEOUT).unwrap_or_else(|| {
            panic!(
                "aiocoap printed no notification of {value:?}; stderr:\n{}",
                observer.stderr()
            )
        });
        assert_eq!(got, value);
    }
    let finished = observer.finish();
    assert!(
        finished.status.success(),
        "aiocoap_observe.py: {}\n{}",
        finished.status,
        finished.stderr
    );
    assert!(finished.remaining.is_empty(), "{:?}", finished.remaining);
}

/// The aiocoap script fails when the notifications it waits for do not
/// come, or when the resource cannot be observed: its success above means
/// something.
#[test]
fn aiocoap_observer_fails_without_notifications() {
    let server = Server::with_plugins(&["testkit"]);
    let observer = AiocoapObserver::start(&server.uri(OBSERVABLE), 1, Duration::from_secs(3));
    observer.await_registered(Duration::from_secs(20));
    let finished = observer.finish();
    assert!(!finished.status.success(), "{}", finished.stderr);
    assert!(finished.stderr.contains("timed out"), "{}", finished.stderr);

    let observer = AiocoapObserver::start(&server.uri("/test/counter"), 1, Duration::from_secs(10));
    let registered = observer.await_registered(Duration::from_secs(20));
    assert!(registered.contains("observe=None"), "{registered}");
    let finished = observer.finish();
    assert!(!finished.status.success(), "{}", finished.stderr);
}

// --- fan-out ----------------------------------------------------------------

/// Sends each request in turn, waiting for its response before the next:
/// one interaction in flight per endpoint, as NSTART = 1 asks of clients
/// (RFC 7252 §4.7). (Sent all at once, a burst of 1000 small datagrams
/// overflows the server socket's default 208 KiB receive buffer, and the
/// kernel drops most of them before the host sees them.)
fn exchange_all(peer: &Peer, requests: &[Message]) -> Vec<Message> {
    requests
        .iter()
        .map(|request| peer.exchange(request))
        .collect()
}

/// Worker threads that run in phases with the test's thread: each reports
/// the end of a phase and waits, bounded, to be told to start the next. A
/// worker that panics (or a test that gives up) never leaves the other side
/// waiting for ever.
struct Workers<T> {
    threads: Vec<thread::JoinHandle<T>>,
    done: mpsc::Receiver<()>,
    go: Vec<mpsc::Sender<()>>,
}

/// A worker's side of `Workers`.
struct Phase {
    done: mpsc::Sender<()>,
    go: mpsc::Receiver<()>,
}

impl Phase {
    /// Reports the phase done and waits for the next; false if the test
    /// gave up meanwhile (or did not answer within a minute).
    fn next(&self) -> bool {
        self.done.send(()).is_ok() && self.go.recv_timeout(Duration::from_secs(60)).is_ok()
    }

    /// Reports the last phase done.
    fn finish(&self) {
        let _ = self.done.send(());
    }
}

impl<T: Send + 'static> Workers<T> {
    fn spawn(count: usize, work: impl Fn(usize, Phase) -> T + Send + Sync + 'static) -> Self {
        let work = Arc::new(work);
        let (done_sender, done) = mpsc::channel();
        let mut go = Vec::new();
        let threads = (0..count)
            .map(|index| {
                let (go_sender, go_receiver) = mpsc::channel();
                go.push(go_sender);
                let phase = Phase {
                    done: done_sender.clone(),
                    go: go_receiver,
                };
                let work = Arc::clone(&work);
                thread::spawn(move || work(index, phase))
            })
            .collect();
        Workers { threads, done, go }
    }

    /// Waits up to `within` until every worker has reported the end of
    /// `phase`. A worker that panicked fails the test with its panic.
    fn await_phase(&mut self, phase: &str, within: Duration) {
        let deadline = Instant::now() + within;
        for reported in 0..self.threads.len() {
            let left = deadline.saturating_duration_since(Instant::now());
            if self.done.recv_timeout(left).is_err() {
                self.fail(&format!(
                    "{reported} of {} workers finished {phase} within {within:?}",
                    self.threads.len()
                ));
            }
        }
    }

    /// Tells every worker to start its next phase.
    fn start_next(&self) {
        for go in &self.go {
            let _ = go.send(());
        }
    }

    /// The workers' results, once they have all finished.
    fn join(self) -> Vec<T> {
        self.threads
            .into_iter()
            .map(|thread| match thread.join() {
                Ok(result) => result,
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    }

    /// Fails the test: with the panic of a worker that died, else `why`.
    fn fail(&mut self, why: &str) -> ! {
        self.go.clear();
        let finished = self.threads.iter().position(|t| t.is_finished());
        if let Some(index) = finished
            && let Err(panic) = self.threads.swap_remove(index).join()
        {
            std::panic::resume_unwind(panic);
        }
        panic!("{why}");
    }
}

/// 1000 observers of one resource (10 sockets × 100 tokens) each get the
/// notification of one change. Prints the time from the PUT's 2.04 to the
/// last notification, and the server's resident memory per observation.
#[test]
fn a_thousand_observers_are_all_notified() {
    const SOCKETS: usize = 10;
    const PER_SOCKET: usize = 100;
    const OBSERVERS: usize = SOCKETS * PER_SOCKET;
    const LIMIT: Duration = Duration::from_secs(20);
    const PHASE_LIMIT: Duration = Duration::from_secs(60);

    let server = Server::builder()
        .config("[observe]\nmax_per_endpoint = 200\n")
        .plugins(&["testkit"])
        .start();
    let mut changer = server.peer();
    put_observable(&mut changer, "before");

    // Phases: warm-up (the same requests without Observe, so that the
    // plugin's instances and the message layer's tables have grown before the
    // first measurement), registration, then receiving the notifications.
    let address = server.addr();
    let mut workers = Workers::spawn(SOCKETS, move |_, phase| {
        let mut peer = Peer::new(address);
        let warm_up: Vec<Message> = (0..PER_SOCKET)
            .map(|_| peer.con(Code::GET, OBSERVABLE))
            .collect();
        exchange_all(&peer, &warm_up);
        if !phase.next() {
            return (0, None);
        }

        let requests: Vec<Message> = (0..PER_SOCKET)
            .map(|_| observe_get(&mut peer, OBSERVABLE))
            .collect();
        let mut tokens = HashSet::new();
        for response in exchange_all(&peer, &requests) {
            assert_eq!(response.code, Code::CONTENT, "{response}");
            assert_eq!(response.payload_text(), "before", "{response}");
            sequence(&response);
            tokens.insert(response.token);
        }
        if !phase.next() {
            return (0, None);
        }

        let deadline = Instant::now() + LIMIT;
        let mut notified = HashSet::new();
        let mut last = None;
        // Bounded by count: one notification per token; more would be
        // duplicates, which fail the test.
        for _ in 0..PER_SOCKET + 10 {
            if notified.len() == PER_SOCKET {
                break;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            let Some(message) = peer.recv(left) else {
                break;
            };
            last = Some(Instant::now());
            if message.mtype == Type::Con {
                ack(&peer, &message);
            }
            assert_eq!(message.code, Code::CONTENT, "{message}");
            assert_eq!(message.payload_text(), "after", "{message}");
            sequence(&message);
            assert!(
                tokens.contains(&message.token),
                "an unknown token: {message}"
            );
            assert!(
                notified.insert(message.token.clone()),
                "a second notification for one token: {message}"
            );
        }
        phase.finish();
        (notified.len(), last)
    });

    workers.await_phase("the warm-up", PHASE_LIMIT);
    let before = server.resident_bytes();
    let registering = Instant::now();
    workers.start_next();
    workers.await_phase("registering", PHASE_LIMIT);
    let registered_in = registering.elapsed();
    let after = server.resident_bytes();
    workers.start_next();

    let put = changer
        .con(Code::PUT, OBSERVABLE)
        .uint_option(option::CONTENT_FORMAT, 0)
        .payload(b"after");
    let response = changer.exchange(&put);
    let changed_at = Instant::now();
    assert_eq!(response.code, Code::CHANGED, "{response}");
    workers.await_phase("receiving the notifications", LIMIT + REPLY_TIMEOUT);

    let results = workers.join();
    let total: usize = results.iter().map(|(count, _)| count).sum();
    assert_eq!(
        total, OBSERVERS,
        "observers notified within {LIMIT:?} of the PUT"
    );
    let last = results
        .iter()
        .filter_map(|(_, last)| *last)
        .max()
        .unwrap_or(changed_at);

    let per_observation = (after as i64 - before as i64) / OBSERVERS as i64;
    eprintln!(
        "fan-out: {OBSERVERS} observers registered in {registered_in:?}; all notified \
         {:?} after the PUT's 2.04; VmRSS {} kB before, {} kB after the registrations: \
         {per_observation} bytes per observation",
        last.saturating_duration_since(changed_at),
        before / 1024,
        after / 1024,
    );
}
