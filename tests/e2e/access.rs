//! The access policy (issue 15, `[access]`): checked by the host before any
//! plugin is called. Over plain coap every request is anonymous, so a
//! refusal here is 4.01 Unauthorized (RFC 7252 §5.9.2.2); 4.03 Forbidden
//! for an authenticated requester needs coaps and is covered by the
//! policy's unit tests (and the DTLS transport's own tests). The `whoami`
//! test plugin shows what the WIT 0.2.2 `requester` import tells `handle`.

use coapwasm_tests::blocks::{self, BLOCK1, Block, CONTINUE};
use coapwasm_tests::link_format;
use coapwasm_tests::{Code, Peer, Server, option};
use serde_json::json;
use std::time::Duration;

const UNAUTHORIZED: Code = Code::new(4, 1);
const LOG_WAIT: Duration = Duration::from_secs(5);

/// The `[[access.rule]]` letting anonymous requests GET `paths` only.
fn anonymous_may_get(paths: &[&str]) -> String {
    let paths: Vec<String> = paths.iter().map(|p| format!("{p:?}")).collect();
    format!(
        "[[access.rule]]\nwho = [\"anonymous\"]\nmethods = [\"GET\"]\npaths = [{}]\n",
        paths.join(", ")
    )
}

fn put_led(peer: &mut Peer, state: &str) -> coapwasm_tests::Message {
    let put = peer
        .con(Code::PUT, "/led")
        .uint_option(option::CONTENT_FORMAT, 50)
        .payload(format!(r#"{{"state":"{state}"}}"#).as_bytes());
    peer.exchange(&put)
}

fn discover(peer: &mut Peer) -> Vec<String> {
    let response = peer.get("/.well-known/core");
    assert_eq!(response.code, Code::CONTENT, "discovery: {response}");
    let links = link_format::parse(response.payload_text())
        .unwrap_or_else(|e| panic!("not link-format ({e}): {response}"));
    links.iter().map(|link| link.target.clone()).collect()
}

#[test]
fn what_no_rule_allows_is_refused_4_01_before_the_plugin_is_called() {
    let server = Server::builder()
        .plugins(&["temperature", "led", "firmware", "whoami"])
        .config(&anonymous_may_get(&[
            "/temperature",
            "/led",
            "/firmware/*",
            "/whoami",
        ]))
        .start();
    let mut peer = server.peer();

    let response = peer.get("/temperature");
    assert_eq!(response.code, Code::CONTENT, "GET /temperature: {response}");

    // The LED is not switched: 4.01 with a diagnostic, and its state (read
    // back from the plugin's store) is what it was.
    assert_eq!(peer.get("/led").payload_json(), json!({"state": "off"}));
    let refused = put_led(&mut peer, "on");
    assert_eq!(refused.code, UNAUTHORIZED, "PUT /led: {refused}");
    assert!(
        refused.payload_text().contains("PUT /led"),
        "a diagnostic payload (RFC 7252 §5.5.2): {refused}"
    );
    assert_eq!(peer.get("/led").payload_json(), json!({"state": "off"}));

    // A method the resource does not take, and a path nothing serves, are
    // refused alike: a refused requester learns nothing of what exists.
    let request = peer.con(Code::DELETE, "/temperature");
    assert_eq!(peer.exchange(&request).code, UNAUTHORIZED);
    assert_eq!(peer.get("/nothing-here").code, UNAUTHORIZED);

    // A Block1 upload is refused at its first block: no 2.31, nothing kept
    // for it, nothing stored.
    let image = blocks::random_bytes(2048);
    let first = peer
        .con(Code::PUT, "/firmware")
        .uint_option(BLOCK1, Block::new(0, true, 512).value())
        .payload(&image[..512]);
    let response = peer.exchange(&first);
    assert_ne!(response.code, CONTINUE, "the first block: {response}");
    assert_eq!(response.code, UNAUTHORIZED, "the first block: {response}");
    let last = peer
        .con(Code::PUT, "/firmware")
        .uint_option(BLOCK1, Block::new(3, false, 512).value())
        .payload(&image[1536..]);
    assert_eq!(peer.exchange(&last).code, UNAUTHORIZED);
    let stored = peer.get("/firmware/image");
    assert_eq!(stored.code, Code::NOT_FOUND, "nothing stored: {stored}");

    // The plugin learns who asked: nobody authenticated, not over DTLS.
    let whoami = peer.get("/whoami");
    assert_eq!(whoami.code, Code::CONTENT, "{whoami}");
    assert_eq!(whoami.payload_text(), "anonymous secure=false");

    // The host is not open: no warning that it is.
    assert!(
        server
            .log_lines(|l| l.contains("no [access] rules"))
            .is_empty(),
        "{}",
        server.stderr()
    );
}

#[test]
fn observe_registrations_and_discovery_follow_the_policy() {
    let server = Server::builder()
        .plugins(&["temperature", "led", "firmware"])
        .config(&anonymous_may_get(&["/temperature"]))
        .start();
    let mut peer = server.peer();

    // Registering as an observer of a refused resource is refused: 4.01, no
    // Observe option, so no observation (RFC 7641 §3.1 is a GET).
    let register = peer
        .con(Code::GET, "/firmware")
        .uint_option(option::OBSERVE, 0);
    let response = peer.exchange(&register);
    assert_eq!(response.code, UNAUTHORIZED, "registration: {response}");
    assert!(
        response.option_value(option::OBSERVE).is_none(),
        "not registered: {response}"
    );
    // ... while an allowed one is accepted.
    let register = peer
        .con(Code::GET, "/temperature")
        .uint_option(option::OBSERVE, 0);
    let response = peer.exchange(&register);
    assert_eq!(response.code, Code::CONTENT, "registration: {response}");
    assert!(
        response.option_value(option::OBSERVE).is_some(),
        "{response}"
    );

    // Discovery lists what the requester may use, nothing else.
    assert_eq!(discover(&mut peer), vec!["/temperature".to_owned()]);
}

#[test]
fn read_only_plain_coap_leaves_anonymous_requests_get_and_observe() {
    let server = Server::builder()
        .plugins(&["led"])
        .config("[access]\nplain_coap = \"read-only\"\n")
        .start();
    let mut peer = server.peer();

    assert_eq!(peer.get("/led").code, Code::CONTENT);
    let register = peer.con(Code::GET, "/led").uint_option(option::OBSERVE, 0);
    let response = peer.exchange(&register);
    assert_eq!(response.code, Code::CONTENT, "registration: {response}");
    assert!(
        response.option_value(option::OBSERVE).is_some(),
        "{response}"
    );
    let refused = put_led(&mut peer, "on");
    assert_eq!(refused.code, UNAUTHORIZED, "PUT /led: {refused}");
    assert!(refused.payload_text().contains("read-only"), "{refused}");
    assert_eq!(peer.call(Code::POST, "/led").code, UNAUTHORIZED);
    assert_eq!(peer.get("/led").payload_json(), json!({"state": "off"}));
    assert_eq!(discover(&mut peer), vec!["/led".to_owned()]);
}

#[test]
fn plain_coap_off_answers_every_anonymous_request_4_01() {
    let server = Server::builder()
        .plugins(&["temperature", "led"])
        .config("[access]\nplain_coap = \"off\"\n")
        .start();
    let mut peer = server.peer();

    for target in ["/temperature", "/led", "/.well-known/core", "/nothing-here"] {
        let response = peer.get(target);
        assert_eq!(response.code, UNAUTHORIZED, "GET {target}: {response}");
        assert!(response.payload_text().contains("coaps"), "{response}");
    }
    assert_eq!(put_led(&mut peer, "on").code, UNAUTHORIZED);
}

#[test]
fn without_a_policy_everything_is_allowed_and_one_warning_says_so() {
    let server = Server::builder().plugins(&["temperature", "led"]).start();
    let mut peer = server.peer();

    assert_eq!(put_led(&mut peer, "on").code, Code::CHANGED);
    assert_eq!(peer.get("/led").payload_json(), json!({"state": "on"}));
    assert_eq!(peer.get("/temperature").code, Code::CONTENT);
    let links = discover(&mut peer);
    assert!(
        links.contains(&"/led".to_owned()) && links.contains(&"/temperature".to_owned()),
        "{links:?}"
    );

    let open = |l: &str| l.contains("WARN") && l.contains("anyone") && l.contains("[access]");
    server
        .log_line(LOG_WAIT, open)
        .unwrap_or_else(|| panic!("no warning that the host is open:\n{}", server.stderr()));
    let lines = server.log_lines(open);
    assert_eq!(lines.len(), 1, "exactly one warning: {lines:?}");
}

#[test]
fn an_invalid_policy_stops_the_host_with_a_message_naming_the_bad_entry() {
    let rule = |who: &str, method: &str, path: &str| {
        format!(
            "[[access.rule]]\nwho = [\"{who}\"]\nmethods = [\"{method}\"]\npaths = [\"{path}\"]\n"
        )
    };
    for (config, named) in [
        (rule("anonymous", "GETT", "/led"), "unknown method \"GETT\""),
        (
            rule("anonymous", "GET", "led"),
            "\"led\" must start with '/'",
        ),
        (
            rule("pks:device-001", "GET", "/led"),
            "unknown who \"pks:device-001\"",
        ),
        (
            "[access]\nplain_coap = \"sometimes\"\n".to_owned(),
            "sometimes",
        ),
    ] {
        let exited = Server::builder()
            .plugins(&["led"])
            .config(&config)
            .run_to_exit(Duration::from_secs(10));
        assert!(!exited.status.success(), "{config}: {}", exited.stderr);
        assert!(
            exited.stderr.contains(named),
            "{config}: the error names {named}:\n{}",
            exited.stderr
        );
        assert!(!exited.stdout.contains("listening on"), "{}", exited.stdout);
    }
}

/// An observation stored before a restart is checked against the policy the
/// host restarts with: one the new policy does not allow is dropped, and
/// its observer hears nothing more.
#[test]
fn a_restored_observation_must_pass_the_policy_of_the_restart() {
    let mut server = Server::builder().fixed_port().plugins(&["led"]).start();
    let mut observer = server.peer();
    let register = observer
        .con(Code::GET, "/led")
        .uint_option(option::OBSERVE, 0);
    let token = register.token.clone();
    assert_eq!(observer.exchange(&register).code, Code::CONTENT);
    // Observations are committed in batches about every 50 ms.
    std::thread::sleep(Duration::from_millis(300));

    // Anonymous clients may now switch the LED but no longer read it.
    server.set_config(
        "[[access.rule]]\nwho = [\"anonymous\"]\nmethods = [\"PUT\"]\npaths = [\"/led\"]\n",
    );
    server.restart();
    assert_eq!(put_led(&mut server.peer(), "on").code, Code::CHANGED);
    if let Some(message) = observer.recv(Duration::from_millis(700)) {
        assert_ne!(
            message.token, token,
            "notified after the policy refused it: {message}"
        );
    }
    assert!(
        server
            .log_line(LOG_WAIT, |line| line.contains("observations restored")
                && line.contains("dropped=1"))
            .is_some(),
        "{}",
        server.stderr()
    );
}
