//! coaps: CoAP over DTLS 1.2 (RFC 7252 §9.1; issue 15), end to end against
//! libcoap's `coap-client-openssl` and `coap-client-gnutls`, with the seed's
//! PSK identity `device-001` and key `super-secret-key-12345`, and with raw
//! ClientHellos for the cookie exchange and the bounds.

use coapwasm_tests::{CoapClient, Server, blocks};
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

const IDENTITY: &str = "device-001";
const KEY: &str = "super-secret-key-12345";
const CLIENTS: [&str; 2] = ["coap-client-openssl", "coap-client-gnutls"];

/// The seed's setup: one PSK identity, coaps on an ephemeral port.
const COAPS: &str = "[coaps]\nbind = [\"127.0.0.1:0\"]\n[[coaps.psk]]\nidentity = \"device-001\"\nkey = \"super-secret-key-12345\"\n";

fn secure_server(plugins: &[&str]) -> Server {
    Server::builder().plugins(plugins).config(COAPS).start()
}

fn secure_get(server: &Server, client: &str, path: &str) -> coapwasm_tests::coap_client::Output {
    CoapClient::get(&server.coaps_uri(path))
        .using(client)
        .psk(IDENTITY, KEY)
        .run()
}

#[test]
fn psk_clients_of_both_tls_libraries_get_2_05() {
    let server = secure_server(&["temperature", "led"]);
    for client in CLIENTS {
        let output = secure_get(&server, client, "/temperature");
        output.assert_code("2.05");
        assert!(
            output.payload_json()["value"].is_f64(),
            "{client}: {}",
            output.shown()
        );
    }
}

#[test]
fn a_wrong_key_or_an_unknown_identity_gets_nothing_and_is_logged_once_per_peer() {
    let server = secure_server(&["temperature"]);
    for (identity, key) in [(IDENTITY, "not-the-key"), ("device-999", KEY)] {
        let output = CoapClient::get(&server.coaps_uri("/temperature"))
            .using("coap-client-openssl")
            .psk(identity, key)
            .wait(3)
            .run();
        assert!(output.received.is_empty(), "{identity}: {}", output.shown());
    }
    std::thread::sleep(Duration::from_millis(300));
    let failures = server.log_lines(|line| line.contains("handshake failed"));
    assert!(
        (1..=2).contains(&failures.len()),
        "one line per failing peer, not per datagram: {failures:#?}"
    );
    // The host still serves the right key.
    secure_get(&server, "coap-client-openssl", "/temperature").assert_code("2.05");
}

#[test]
fn observe_over_coaps_notifies_on_the_observers_session() {
    let server = secure_server(&["led"]);
    let observer = CoapClient::get(&server.coaps_uri("/led"))
        .using("coap-client-openssl")
        .psk(IDENTITY, KEY)
        .observe(4)
        .spawn();
    let deadline = Instant::now() + Duration::from_secs(5);
    while observer.received_so_far().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    // A change made over plain coap reaches the coaps observer.
    CoapClient::get(&server.uri("/led"))
        .method("put")
        .content_format(50)
        .payload(r#"{"state":"on"}"#)
        .run()
        .assert_code("2.04");
    let output = observer.finish();
    let contents: Vec<_> = output
        .received
        .iter()
        .filter(|m| m.code == "2.05")
        .collect();
    assert!(
        contents.len() >= 2,
        "registration and a notification: {}",
        output.shown()
    );
    assert!(
        contents.last().unwrap().line.contains("on"),
        "{}",
        output.shown()
    );
}

#[test]
fn blockwise_both_ways_over_coaps() {
    let server = secure_server(&["firmware"]);
    let dir = coapwasm_tests::temp_dir::TempDir::new();
    let image = blocks::random_bytes(20_000);
    let file = dir.path().join("image.bin");
    std::fs::write(&file, &image).unwrap();
    let file = file.display().to_string();
    CoapClient::get(&server.coaps_uri("/firmware"))
        .using("coap-client-openssl")
        .psk(IDENTITY, KEY)
        .method("put")
        .args(&["-f", &file, "-b", "512"])
        .run()
        .assert_code("2.04");
    let output = secure_get(&server, "coap-client-gnutls", "/firmware/image");
    assert!(
        output.payload == image,
        "the image came back different: {}",
        output.shown()
    );
}

/// A minimal DTLS 1.2 ClientHello (RFC 6347 §4.2.2) offering
/// TLS_PSK_WITH_AES_128_CCM_8, with the cookie given.
fn client_hello(random: u8, cookie: &[u8]) -> Vec<u8> {
    let mut body = vec![0xfe, 0xfd];
    body.extend([random; 32]);
    body.push(0); // session id
    body.push(cookie.len() as u8);
    body.extend(cookie);
    body.extend([0, 2, 0xc0, 0xa8]); // cipher suites
    body.extend([1, 0]); // compression: null
    let mut handshake = vec![1];
    handshake.extend(&(body.len() as u32).to_be_bytes()[1..]);
    handshake.extend([0, 0]); // message_seq
    handshake.extend([0, 0, 0]); // fragment_offset
    handshake.extend(&(body.len() as u32).to_be_bytes()[1..]);
    handshake.extend(body);
    let mut record = vec![22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0];
    record.extend(&(handshake.len() as u16).to_be_bytes());
    record.extend(handshake);
    record
}

/// RFC 6347 §4.2.1: a ClientHello without a cookie is answered with a
/// HelloVerifyRequest and nothing else; a flood of them from many addresses
/// costs the host no memory per hello, and a PSK client still gets in.
#[test]
fn a_flood_of_cookieless_client_hellos_is_answered_statelessly() {
    let server = secure_server(&["temperature"]);
    let target: SocketAddr = server.coaps_addr();
    let probe = UdpSocket::bind("127.0.0.1:0").unwrap();
    probe
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    probe.send_to(&client_hello(1, &[]), target).unwrap();
    let mut buffer = [0u8; 1500];
    let (n, _) = probe.recv_from(&mut buffer).expect("a HelloVerifyRequest");
    assert!(n > 25, "{n} bytes");
    assert_eq!(buffer[0], 22, "a handshake record");
    assert_eq!(buffer[13], 3, "HelloVerifyRequest (handshake type 3)");

    let rss_before = server.resident_bytes();
    let senders: Vec<UdpSocket> = (0..64)
        .map(|_| UdpSocket::bind("127.0.0.1:0").unwrap())
        .collect();
    for round in 0..100u32 {
        for (i, sender) in senders.iter().enumerate() {
            let _ = sender.send_to(&client_hello((round as usize * 64 + i) as u8, &[]), target);
        }
    }
    std::thread::sleep(Duration::from_millis(300));
    let grown = server.resident_bytes().saturating_sub(rss_before);
    assert!(
        grown < 8 << 20,
        "6,400 hellos grew the host by {grown} bytes"
    );
    secure_get(&server, "coap-client-openssl", "/temperature").assert_code("2.05");
}

/// Handshake and request complete across a link that drops 30% of
/// datagrams both ways (the lossy relay between client and host).
#[test]
fn a_handshake_and_request_complete_across_30_percent_loss() {
    let server = secure_server(&["temperature"]);
    let relay = coapwasm_tests::lossy_relay::LossyRelay::start(server.coaps_addr(), 30, 7);
    let output = CoapClient::get(&format!("coaps://{}/temperature", relay.addr()))
        .using("coap-client-openssl")
        .psk(IDENTITY, KEY)
        .wait(18)
        .run();
    output.assert_code("2.05");
}

/// `examples/secure.toml` with its addresses made ephemeral loopback ones,
/// and `extra` appended.
fn secure_example(extra: &str) -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/secure.toml");
    let text = std::fs::read_to_string(path).unwrap();
    assert!(
        text.contains("\"[::]:5683\"") && text.contains("\"[::]:5684\""),
        "{text}"
    );
    text.replace("\"[::]:5683\"", "\"127.0.0.1:0\"")
        .replace("\"[::]:5684\"", "\"127.0.0.1:0\"")
        + extra
}

/// A second PSK identity that no rule names.
const STRANGER: &str = "\n[[coaps.psk]]\nidentity = \"device-002\"\nkey = \"another-key\"\n";

fn coaps_as(server: &Server, identity: &str, key: &str, path: &str) -> CoapClient {
    CoapClient::get(&server.coaps_uri(path))
        .using("coap-client-openssl")
        .psk(identity, key)
}

/// The seed's setup (examples/secure.toml): device-001 over coaps may do
/// everything, and its identity reaches the plugin; an anonymous plain-coap
/// client may only read the sensors (4.01 otherwise); an authenticated
/// identity no rule names gets 4.03; discovery lists what the asker may use.
#[test]
fn the_seed_setup_allows_the_device_everything_and_strangers_only_reading() {
    let server = Server::builder()
        .plugins(&["temperature", "led", "whoami"])
        .config(&secure_example(STRANGER))
        .start();

    CoapClient::get(&server.uri("/temperature"))
        .run()
        .assert_code("2.05");
    let refused = CoapClient::get(&server.uri("/led"))
        .method("put")
        .content_format(50)
        .payload(r#"{"state":"on"}"#)
        .run();
    refused.assert_code("4.01");

    coaps_as(&server, IDENTITY, KEY, "/led")
        .method("put")
        .content_format(50)
        .payload(r#"{"state":"on"}"#)
        .run()
        .assert_code("2.04");
    let whoami = coaps_as(&server, IDENTITY, KEY, "/whoami").run();
    whoami.assert_code("2.05");
    assert_eq!(
        whoami.payload_text(),
        "psk:device-001 secure=true",
        "{}",
        whoami.shown()
    );

    let stranger = coaps_as(&server, "device-002", "another-key", "/led")
        .method("put")
        .content_format(50)
        .payload(r#"{"state":"off"}"#)
        .run();
    stranger.assert_code("4.03");
    // The LED is as the device left it.
    let led = coaps_as(&server, IDENTITY, KEY, "/led").run();
    assert!(led.payload_text().contains("\"on\""), "{}", led.shown());

    let anonymous = CoapClient::get(&server.uri("/.well-known/core")).run();
    anonymous.assert_code("2.05");
    let listed = anonymous.payload_text();
    assert!(listed.contains("</temperature>"), "{listed}");
    assert!(
        !listed.contains("</led>") && !listed.contains("</whoami>"),
        "{listed}"
    );
    let device = coaps_as(&server, IDENTITY, KEY, "/.well-known/core").run();
    for path in ["</temperature>", "</led>", "</whoami>"] {
        assert!(
            device.payload_text().contains(path),
            "{path}: {}",
            device.shown()
        );
    }
}

/// Sessions survive an upgrade of the plugin they talk to: an observer over
/// coaps hears the new version on the session it registered with.
#[test]
fn a_plugin_upgrade_keeps_the_session_and_its_observation() {
    let server = Server::builder()
        .test_plugin_as("versioned-v1", "versioned.wasm")
        .config(COAPS)
        .start();
    let observer = coaps_as(&server, IDENTITY, KEY, "/versioned")
        .observe(5)
        .spawn();
    let deadline = Instant::now() + Duration::from_secs(5);
    while observer.received_so_far().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let v2 = std::fs::read(coapwasm_tests::artifacts::test_plugin("versioned-v2.wasm")).unwrap();
    server
        .plugins_folder()
        .write_then_rename(".versioned.wasm.tmp", "versioned.wasm", &v2);
    let output = observer.finish();
    let contents: Vec<_> = output
        .received
        .iter()
        .filter(|m| m.code == "2.05")
        .collect();
    assert!(contents.len() >= 2, "{}", output.shown());
    assert!(
        contents.last().unwrap().line.contains("v2"),
        "{}",
        output.shown()
    );
}
