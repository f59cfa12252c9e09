//! The Rust plugin template (examples/templates/rust, package `hello`, built
//! on the SDK in plugins/sdk): what README's "Writing a plugin" promises a
//! newcomer who builds it and drops it into the plugins folder.

use coapwasm_tests::{CoapClient, Server, link_format};

/// RFC 7252 §5.8.1 and §5.8.3: GET /hello answers "hello" as text/plain, a
/// PUT of text replaces the greeting (2.04) and the next GET sees it.
#[test]
fn hello_answers_and_takes_a_new_greeting() {
    let server = Server::with_plugins(&["hello"]);
    let uri = server.uri("/hello");

    let output = CoapClient::get(&uri).run();
    output.assert_code("2.05");
    assert_eq!(output.payload_text(), "hello", "{}", output.shown());
    assert_eq!(
        output.response().option("Content-Format"),
        Some("text/plain"),
        "{}",
        output.shown()
    );

    CoapClient::get(&uri)
        .method("put")
        .payload("bonjour")
        .content_format(0)
        .run()
        .assert_code("2.04");
    let output = CoapClient::get(&uri).run();
    output.assert_code("2.05");
    assert_eq!(output.payload_text(), "bonjour", "{}", output.shown());
}

/// RFC 7252 §5.9.2.9 and §5.5.2: a greeting in another Content-Format is
/// 4.15 with a diagnostic, and changes nothing.
#[test]
fn hello_refuses_a_greeting_that_is_not_text() {
    let server = Server::with_plugins(&["hello"]);
    let uri = server.uri("/hello");

    let output = CoapClient::get(&uri)
        .method("put")
        .payload(r#"{"greeting":"hi"}"#)
        .content_format(50)
        .run();
    output.assert_code("4.15");
    assert_eq!(
        output.response().payload(),
        Some("send text/plain (0)"),
        "{}",
        output.shown()
    );
    assert_eq!(CoapClient::get(&uri).run().payload_text(), "hello");
}

/// RFC 6690 §4: /.well-known/core lists /hello with what the template's
/// describe() builds: `ct=0`, `rt`, `title` and `obs`.
#[test]
fn discovery_lists_hello() {
    let server = Server::with_plugins(&["hello"]);
    let output = CoapClient::get(&server.uri("/.well-known/core")).run();
    output.assert_code("2.05");
    let links = link_format::parse(output.payload_text())
        .unwrap_or_else(|e| panic!("not link-format ({e})\n{}", output.shown()));
    assert_eq!(link_format::targets(&links), ["/hello"]);
    let hello = link_format::find(&links, "/hello");
    assert_eq!(hello.value("ct"), Some("0"));
    assert_eq!(hello.value("rt"), Some("greeting"));
    assert_eq!(hello.value("title"), Some("Hello"));
    assert!(hello.has_flag("obs"), "{hello:?}");
}
