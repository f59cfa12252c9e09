//! Resource discovery through /.well-known/core (RFC 6690, RFC 7252 §7.2).

use coapwasm_tests::link_format::{self, Link};
use coapwasm_tests::{CoapClient, Code, Server};

const TESTKIT_PATHS: [&str; 15] = [
    "/test/accept",
    "/test/big",
    "/test/counter",
    "/test/created",
    "/test/echo",
    "/test/env",
    "/test/etag",
    "/test/file",
    "/test/hog",
    "/test/notify",
    "/test/observable",
    "/test/slow",
    "/test/spin",
    "/test/strict",
    "/test/trap",
];

fn sorted(paths: &[&str]) -> Vec<String> {
    let mut paths: Vec<String> = paths.iter().map(|p| p.to_string()).collect();
    paths.sort();
    paths
}

/// The `ct` attribute as a list of numbers: `ct=50` or `ct="50 0"` (RFC 7252 §7.2.1).
fn content_formats(link: &Link) -> Vec<u32> {
    link.value("ct")
        .unwrap_or_else(|| panic!("no ct in {link:?}"))
        .split(' ')
        .map(|n| n.parse().unwrap_or_else(|_| panic!("bad ct in {link:?}")))
        .collect()
}

/// The words of a link's `rt`, a space-separated list (RFC 6690 §3.1).
fn resource_types(link: &Link) -> Vec<&str> {
    link.value("rt")
        .unwrap_or_else(|| panic!("no rt in {link:?}"))
        .split(' ')
        .collect()
}

fn discover(server: &Server, query: &str) -> coapwasm_tests::coap_client::Output {
    CoapClient::get(&server.uri(&format!("/.well-known/core{query}"))).run()
}

/// RFC 6690 §4 and RFC 7252 §7.2: one link per resource of every plugin, with
/// `ct` from the plugin's content formats and `obs` for observable resources.
#[test]
fn lists_every_resource_with_its_attributes() {
    let server = Server::with_plugins(&["temperature", "led", "info", "testkit"]);
    let output = discover(&server, "");
    output.assert_code("2.05");
    let links = link_format::parse(output.payload_text())
        .unwrap_or_else(|e| panic!("not link-format ({e})\n{}", output.shown()));

    let mut expected = vec!["/temperature", "/led", "/info"];
    expected.extend(TESTKIT_PATHS);
    assert_eq!(link_format::targets(&links), sorted(&expected));

    let led = link_format::find(&links, "/led");
    assert_eq!(content_formats(led), [50]);
    assert!(led.has_flag("obs"), "/led is observable: {led:?}");
    assert!(resource_types(led).contains(&"light"), "{led:?}");
    assert_eq!(led.value("if"), Some("actuator"));
    assert_eq!(led.value("title"), Some("LED"));

    let temperature = link_format::find(&links, "/temperature");
    assert_eq!(content_formats(temperature), [50, 0]);
    assert!(temperature.has_flag("obs"), "{temperature:?}");
    assert!(
        resource_types(temperature).contains(&"temperature-c"),
        "{temperature:?}"
    );
    assert_eq!(temperature.value("if"), Some("sensor"));

    let info = link_format::find(&links, "/info");
    assert_eq!(content_formats(info), [50]);
    assert!(!info.has_flag("obs"), "/info is not observable: {info:?}");
    assert!(resource_types(info).contains(&"device-info"), "{info:?}");

    let accept = link_format::find(&links, "/test/accept");
    assert_eq!(content_formats(accept), [50, 60]);
}

/// RFC 7252 §7.2.1 and §12.3: the answer is a piggybacked 2.05 with
/// Content-Format 40 (application/link-format) on the wire.
#[test]
fn answers_with_content_format_40_on_the_wire() {
    let server = Server::with_plugins(&["led", "info"]);
    let mut peer = server.peer();
    let request = peer.con(Code::GET, "/.well-known/core");
    let response = peer.fetch(&request);
    assert_eq!(response.code, Code::CONTENT, "{response}");
    assert_eq!(response.content_format(), Some(40), "{response}");
    let links = link_format::parse(response.payload_text()).unwrap();
    assert_eq!(link_format::targets(&links), sorted(&["/info", "/led"]));
}

/// RFC 6690 §4.1: `?rt=light` keeps only the links whose rt is `light`.
#[test]
fn filters_by_resource_type() {
    let server = Server::with_plugins(&["temperature", "led", "info"]);
    let output = discover(&server, "?rt=light");
    output.assert_code("2.05");
    let links = link_format::parse(output.payload_text()).unwrap();
    assert_eq!(link_format::targets(&links), ["/led"]);
    // The filter must not drop the other attributes of what it keeps.
    assert_eq!(links[0].value("if"), Some("actuator"));
}

/// RFC 6690 §4.1: a trailing `*` makes the filter a prefix match, for href
/// and for attributes.
#[test]
fn filters_by_prefix() {
    let server = Server::with_plugins(&["temperature", "led", "info", "testkit"]);

    let output = discover(&server, "?href=/led*");
    output.assert_code("2.05");
    let links = link_format::parse(output.payload_text()).unwrap();
    assert_eq!(link_format::targets(&links), ["/led"]);

    let output = discover(&server, "?href=/test/*");
    output.assert_code("2.05");
    let links = link_format::parse(output.payload_text()).unwrap();
    assert_eq!(link_format::targets(&links), sorted(&TESTKIT_PATHS));

    let output = discover(&server, "?rt=temp*");
    output.assert_code("2.05");
    let links = link_format::parse(output.payload_text()).unwrap();
    assert_eq!(link_format::targets(&links), ["/temperature"]);
}

/// RFC 6690 §4.1: `?href=/info` is an exact match on the link target and
/// `?if=sensor` filters on the interface description.
#[test]
fn filters_by_exact_href_and_interface() {
    let server = Server::with_plugins(&["temperature", "led", "info"]);

    let output = discover(&server, "?href=/info");
    output.assert_code("2.05");
    let links = link_format::parse(output.payload_text()).unwrap();
    assert_eq!(link_format::targets(&links), ["/info"]);

    let output = discover(&server, "?if=sensor");
    output.assert_code("2.05");
    let links = link_format::parse(output.payload_text()).unwrap();
    assert_eq!(link_format::targets(&links), ["/temperature"]);
}

/// RFC 6690 §4.1 with RFC 7641 §6: `?obs` keeps the observable resources.
#[test]
fn filters_by_observable_flag() {
    let server = Server::with_plugins(&["temperature", "led", "info"]);
    let output = discover(&server, "?obs");
    output.assert_code("2.05");
    let links = link_format::parse(output.payload_text()).unwrap();
    assert_eq!(
        link_format::targets(&links),
        sorted(&["/led", "/temperature"])
    );
}

/// RFC 6690 §4.1 only forbids answering a multicast query that matches
/// nothing; for unicast this project answers 4.04 Not Found.
#[test]
fn filter_matching_nothing_is_not_found() {
    let server = Server::with_plugins(&["temperature", "led", "info"]);
    let output = discover(&server, "?rt=no-such-type");
    output.assert_code("4.04");
    assert!(
        output.stderr.contains("4.04"),
        "coap-client reports the error\n{}",
        output.shown()
    );

    let mut peer = server.peer();
    let response = peer.get("/.well-known/core?href=/nothing*");
    assert_eq!(response.code, Code::NOT_FOUND, "{response}");
}

/// RFC 7252 §5.8 and §7.2: /.well-known/core is read-only; other methods
/// are 4.05 Method Not Allowed.
#[test]
fn discovery_resource_accepts_only_get() {
    let server = Server::with_plugins(&["led"]);
    let mut peer = server.peer();
    for method in [Code::POST, Code::PUT, Code::DELETE] {
        let response = peer.call(method, "/.well-known/core");
        assert_eq!(
            response.code,
            Code::METHOD_NOT_ALLOWED,
            "{method}: {response}"
        );
    }
}
