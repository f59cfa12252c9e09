//! A host upgrade never breaks a deployed plugin (issue 14): the example
//! plugins as built against `coapwasm:plugin@0.2.0`, before the WIT became
//! 0.2.1, are kept in `tests/fixtures/plugin-0.2.0/` and must load and serve
//! unchanged: requests, Observe, block-wise, the key-value store and
//! discovery. The fixtures are never rebuilt: they are what users deployed.

use coapwasm_tests::link_format;
use coapwasm_tests::{Code, Message, REPLY_TIMEOUT, Server, Type, blocks, option};
use std::path::PathBuf;

const FIXTURES: [&str; 5] = ["temperature", "led", "info", "firmware", "humidity"];

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/plugin-0.2.0")
        .join(format!("{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The custom section wit-component writes names the world a component was
/// built against: the fixtures must really be 0.2.0 builds.
fn built_against(bytes: &[u8]) -> bool {
    let name = b"coapwasm:plugin/types@0.2.0";
    bytes.windows(name.len()).any(|w| w == name)
}

#[test]
fn plugins_built_against_0_2_0_load_and_serve_unchanged() {
    let mut builder = Server::builder();
    for name in FIXTURES {
        let bytes = fixture(name);
        assert!(
            built_against(&bytes),
            "{name}.wasm is not a coapwasm:plugin@0.2.0 build"
        );
        builder = builder.plugin_file(&format!("{name}.wasm"), &bytes);
    }
    let mut server = builder.start();
    let loaded = server.wait_plugins_loaded();
    assert!(
        loaded.contains("5 serving, 0 not"),
        "{loaded}\n{}",
        server.stderr()
    );
    let mut peer = server.peer();

    let temperature = peer.get("/temperature");
    assert_eq!(temperature.code, Code::CONTENT, "{temperature}");
    assert!(
        temperature.payload_json()["value"].is_f64(),
        "{temperature}"
    );
    let humidity = peer.get("/humidity");
    assert_eq!(humidity.code, Code::CONTENT, "{humidity}");
    let info = peer.get("/info");
    assert_eq!(info.code, Code::CONTENT, "{info}");
    assert!(info.payload_json()["resources"].is_array(), "{info}");

    // Observe /led, then change it through the store.
    let register = peer.con(Code::GET, "/led").uint_option(option::OBSERVE, 0);
    let token = register.token.clone();
    let registered = peer.exchange(&register);
    assert_eq!(registered.code, Code::CONTENT, "{registered}");
    let put = peer
        .con(Code::PUT, "/led")
        .uint_option(option::CONTENT_FORMAT, 50)
        .payload(br#"{"state":"on"}"#);
    assert_eq!(peer.exchange(&put).code, Code::CHANGED);
    let notification = peer.expect(REPLY_TIMEOUT, "a notification of /led");
    if notification.mtype == Type::Con {
        peer.send(&Message::new(Type::Ack, Code::EMPTY, notification.mid));
    }
    assert_eq!(notification.token, token, "{notification}");
    assert_eq!(notification.payload_json()["state"], "on", "{notification}");

    // Block-wise both ways through the firmware plugin.
    let image = blocks::random_bytes(20_000);
    let stored = blocks::upload(&mut peer, Code::PUT, "/firmware", &image, 512);
    assert_eq!(stored.code, Code::CHANGED, "{stored}");
    let (downloaded, _) = blocks::download(&mut peer, "/firmware/image", 256);
    assert!(downloaded == image, "the image came back different");

    let (document, _) = blocks::download(&mut peer, "/.well-known/core", 256);
    let document = String::from_utf8(document).expect("UTF-8");
    let links = link_format::parse(&document).expect("link-format");
    for path in ["/temperature", "/led", "/info", "/firmware", "/humidity"] {
        assert!(
            link_format::targets(&links).contains(&path.to_owned()),
            "{path}: {document}"
        );
    }

    // State kept in the store survives a restart, as before.
    server.restart();
    let mut peer = server.peer();
    assert_eq!(peer.get("/led").payload_json()["state"], "on");
}
