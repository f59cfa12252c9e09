//! Collections and RESTful creation (issue 14; `wit/plugin.wit` 0.2.1): the
//! example `sensors` plugin serves `/sensors` and every path below it, so
//! that `POST /sensors` creates `/sensors/{id}` (2.01 with Location-Path,
//! RFC 7252 §5.8.2), which GET, PUT, DELETE and Observe then reach, and
//! /.well-known/core lists the collection and the members the plugin listed
//! (RFC 6690), across restarts. The test plugin `storm` misuses the
//! `collection` import: the host bounds what it keeps.

use coapwasm_tests::blocks;
use coapwasm_tests::link_format::{self, Link};
use coapwasm_tests::{Code, Message, Peer, REPLY_TIMEOUT, Server, Type, option};
use std::time::Duration;

/// POSTs `body` to /sensors and returns the created member's path, from the
/// 2.01's Location-Path options.
fn create(peer: &mut Peer, body: &str) -> String {
    let request = peer
        .con(Code::POST, "/sensors")
        .uint_option(option::CONTENT_FORMAT, 50)
        .payload(body.as_bytes());
    let response = peer.exchange(&request);
    assert_eq!(
        response.code,
        Code::CREATED,
        "POST /sensors {body}: {response}"
    );
    let segments = response.string_options(option::LOCATION_PATH);
    assert_eq!(
        segments.len(),
        2,
        "Location-Path sensors/{{id}}: {response}"
    );
    assert_eq!(segments[0], "sensors", "{response}");
    format!("/{}", segments.join("/"))
}

fn put(peer: &mut Peer, target: &str, body: &str) -> Message {
    let request = peer
        .con(Code::PUT, target)
        .uint_option(option::CONTENT_FORMAT, 50)
        .payload(body.as_bytes());
    peer.exchange(&request)
}

/// GET /.well-known/core with `query`, block by block (a collection's
/// members make it long).
fn discover(peer: &mut Peer, query: &str) -> Vec<Link> {
    let (document, _) = blocks::download(peer, &format!("/.well-known/core{query}"), 256);
    let text = String::from_utf8(document).expect("link-format is UTF-8");
    link_format::parse(&text).unwrap_or_else(|e| panic!("not link-format ({e}): {text}"))
}

/// Acknowledges a CON from the server.
fn ack(peer: &Peer, message: &Message) {
    if message.mtype == Type::Con {
        peer.send(&Message::new(Type::Ack, Code::EMPTY, message.mid));
    }
}

#[test]
fn post_creates_a_member_that_get_put_observe_and_delete_reach() {
    let server = Server::builder().plugins(&["sensors", "led"]).start();
    let mut peer = server.peer();

    let member = create(
        &mut peer,
        r#"{"type":"humidity","value":40,"unit":"percent"}"#,
    );
    let other = create(&mut peer, r#"{"type":"pressure"}"#);
    assert_ne!(member, other, "each POST creates its own member");

    let response = peer.get(&member);
    assert_eq!(response.code, Code::CONTENT, "GET {member}: {response}");
    let sensor = response.payload_json();
    assert_eq!(sensor["type"], "humidity", "{response}");
    assert_eq!(sensor["value"], 40.0, "{response}");

    // Observe the member (RFC 7641 §3.1).
    let register = peer.con(Code::GET, &member).uint_option(option::OBSERVE, 0);
    let token = register.token.clone();
    let response = peer.exchange(&register);
    assert_eq!(response.code, Code::CONTENT, "registration: {response}");
    assert!(
        response.option_value(option::OBSERVE).is_some(),
        "accepted: {response}"
    );

    // A PUT changes it; its observer hears of it.
    let changed = put(&mut peer, &member, r#"{"value":41.5}"#);
    assert_eq!(changed.code, Code::CHANGED, "PUT {member}: {changed}");
    let mut notification = None;
    for _ in 0..3 {
        let message = peer.expect(REPLY_TIMEOUT, "a notification after the PUT");
        ack(&peer, &message);
        if message.token == token {
            notification = Some(message);
            break;
        }
    }
    let notification = notification.expect("a notification for the member's observer");
    assert_eq!(notification.code, Code::CONTENT, "{notification}");
    assert_eq!(notification.payload_json()["value"], 41.5, "{notification}");

    // Bad input changes nothing.
    let refused = put(&mut peer, &member, r#"{"value":"warm"}"#);
    assert_eq!(refused.code, Code::BAD_REQUEST, "{refused}");
    assert_eq!(peer.get(&member).payload_json()["value"], 41.5);

    // DELETE removes it: its observer gets a final 4.04 (RFC 7641 §3.2),
    // and a GET finds nothing.
    let request = peer.con(Code::DELETE, &member);
    let deleted = peer.exchange(&request);
    assert_eq!(deleted.code, Code::new(2, 2), "DELETE {member}: {deleted}");
    let last = peer.expect(REPLY_TIMEOUT, "the observer's last notification");
    ack(&peer, &last);
    assert_eq!(last.token, token, "{last}");
    assert_eq!(last.code, Code::NOT_FOUND, "after DELETE: {last}");
    assert!(
        last.option_value(option::OBSERVE).is_none(),
        "it ends the observation: {last}"
    );
    let gone = peer.get(&member);
    assert_eq!(gone.code, Code::NOT_FOUND, "GET after DELETE: {gone}");

    // The other member is untouched; a path never created is 4.04, from the
    // plugin; methods outside the members' are 4.05, from the host.
    assert_eq!(peer.get(&other).code, Code::CONTENT);
    assert_eq!(peer.get("/sensors/never").code, Code::NOT_FOUND);
    let request = peer.con(Code::POST, &other);
    assert_eq!(peer.exchange(&request).code, Code::METHOD_NOT_ALLOWED);
    // The collection lists what is left.
    let list = peer.get("/sensors");
    assert_eq!(list.code, Code::CONTENT, "{list}");
    let ids: Vec<String> = list
        .payload_json()
        .as_array()
        .unwrap_or_else(|| panic!("GET /sensors is a JSON array: {list}"))
        .iter()
        .map(|s| s["id"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(ids, [other.trim_start_matches("/sensors/")], "{list}");
}

#[test]
fn discovery_lists_the_collection_and_its_members_across_restarts() {
    let mut server = Server::builder().plugins(&["sensors", "led"]).start();
    let mut peer = server.peer();
    let humidity = create(&mut peer, r#"{"type":"humidity"}"#);
    let pressure = create(&mut peer, r#"{"type":"pressure"}"#);

    let links = discover(&mut peer, "");
    let targets = link_format::targets(&links);
    assert!(targets.contains(&"/sensors".to_owned()), "{targets:?}");
    assert!(targets.contains(&humidity), "{targets:?}");
    assert!(targets.contains(&pressure), "{targets:?}");
    assert!(
        !targets.iter().any(|t| t.contains('*')),
        "no wildcard is a link: {targets:?}"
    );
    let link = link_format::find(&links, &humidity);
    assert_eq!(link.value("rt"), Some("sensor humidity"), "{link:?}");
    assert_eq!(link.value("ct"), Some("50"), "{link:?}");
    assert!(link.has_flag("obs"), "{link:?}");

    // RFC 6690 §4.1 filters apply to members too.
    let filtered = link_format::targets(&discover(&mut peer, "?rt=pressure"));
    assert_eq!(filtered, std::slice::from_ref(&pressure));

    let request = peer.con(Code::DELETE, &humidity);
    assert_eq!(peer.exchange(&request).code, Code::new(2, 2));
    let targets = link_format::targets(&discover(&mut peer, ""));
    assert!(
        !targets.contains(&humidity),
        "deleted, so unlisted: {targets:?}"
    );

    server.restart();
    let mut peer = server.peer();
    let targets = link_format::targets(&discover(&mut peer, ""));
    assert!(
        targets.contains(&pressure),
        "listed after a restart: {targets:?}"
    );
    assert!(!targets.contains(&humidity), "{targets:?}");
    assert_eq!(peer.get(&pressure).payload_json()["type"], "pressure");
    // Ids are not reused after a restart either.
    let next = create(&mut peer, "");
    assert!(next != humidity && next != pressure, "{next}");
}

/// A plugin that lists members without end gets `too-many` past 1024, and
/// discovery stays bounded; one that announces changes of 10,000 different
/// members in one call makes the host hold at most 64 of them, and the host
/// keeps answering.
#[test]
fn a_plugin_cannot_list_or_announce_members_without_end() {
    let server = Server::builder().plugins(&["storm", "led"]).start();
    let mut peer = server.peer();

    let response = peer.call(Code::POST, "/swarm?list=5000");
    assert_eq!(response.code, Code::CHANGED, "{response}");
    assert_eq!(
        response.payload_text(),
        "listed 1024; first refusal: too-many at 1024",
        "{response}"
    );
    let links = discover(&mut peer, "?href=/swarm/*");
    assert_eq!(
        links.len(),
        1024,
        "discovery lists what was listed, no more"
    );

    // An observer of a member inside the first 64 announced hears once; one
    // past them is not notified by this call.
    let mut observer = server.peer();
    let early = observer
        .con(Code::GET, "/swarm/3")
        .uint_option(option::OBSERVE, 0);
    let early_token = early.token.clone();
    assert_eq!(observer.exchange(&early).code, Code::CONTENT);
    let late = observer
        .con(Code::GET, "/swarm/9000")
        .uint_option(option::OBSERVE, 0);
    let late_token = late.token.clone();
    assert_eq!(observer.exchange(&late).code, Code::CONTENT);

    let rss_before = server.resident_bytes();
    let response = peer.call(Code::POST, "/swarm?changed=1000000");
    assert_eq!(response.code, Code::CHANGED, "{response}");
    let mut tokens = Vec::new();
    while let Some(message) = observer.recv(Duration::from_millis(700)) {
        ack(&observer, &message);
        tokens.push(message.token.clone());
        assert!(tokens.len() < 10, "a flood of notifications: {message}");
    }
    assert_eq!(
        tokens,
        [early_token],
        "one notification, for the early member only"
    );
    assert_ne!(tokens.first(), Some(&late_token));
    let grown = server.resident_bytes().saturating_sub(rss_before);
    assert!(
        grown < 16 << 20,
        "the announcements grew the host by {grown} bytes"
    );
    assert_eq!(
        peer.get("/led").code,
        Code::CONTENT,
        "the host still answers"
    );
}

/// Removing the plugin file ends the observations of its members with a
/// 4.04, as it does for any resource (RFC 7641 §3.2): observers are not left
/// waiting for a collection that is gone.
#[test]
fn removing_the_plugin_ends_its_members_observations() {
    let server = Server::builder().plugins(&["sensors", "led"]).start();
    let mut peer = server.peer();
    let member = create(&mut peer, r#"{"type":"humidity"}"#);
    let register = peer.con(Code::GET, &member).uint_option(option::OBSERVE, 0);
    let token = register.token.clone();
    assert_eq!(peer.exchange(&register).code, Code::CONTENT);

    std::fs::remove_file(server.plugins_dir().join("sensors.wasm")).unwrap();
    let last = peer.expect(REPLY_TIMEOUT, "a 4.04 for the member's observer");
    ack(&peer, &last);
    assert_eq!(last.token, token, "{last}");
    assert_eq!(last.code, Code::NOT_FOUND, "{last}");
    assert_eq!(peer.get(&member).code, Code::NOT_FOUND);
}
