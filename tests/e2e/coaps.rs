//! coaps: CoAP over DTLS 1.2 (RFC 7252 §9.1; issue 15), end to end against
//! libcoap's `coap-client-openssl` and `coap-client-gnutls`, with the seed's
//! PSK identity `device-001` and key `super-secret-key-12345`, and with raw
//! ClientHellos for the cookie exchange and the bounds.

use coapwasm_tests::{CoapClient, Server, blocks};
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

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
    observer
        .await_received(Duration::from_secs(5), |m| m.code == "2.05")
        .expect("the registration's 2.05 over coaps");
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
    // The second ClientHello, the one with the cookie, is message 1 in
    // record 1 (RFC 6347 §4.2.2).
    let second = u8::from(!cookie.is_empty());
    let mut handshake = vec![1];
    handshake.extend(&(body.len() as u32).to_be_bytes()[1..]);
    handshake.extend([0, second]); // message_seq
    handshake.extend([0, 0, 0]); // fragment_offset
    handshake.extend(&(body.len() as u32).to_be_bytes()[1..]);
    handshake.extend(body);
    let mut record = vec![22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, second];
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
    // The flood runs beside a client that keeps making sessions and
    // requests: every one of them is answered.
    let flood = std::thread::spawn(move || {
        let senders: Vec<UdpSocket> = (0..64)
            .map(|_| UdpSocket::bind("127.0.0.1:0").unwrap())
            .collect();
        for round in 0..300u32 {
            for (i, sender) in senders.iter().enumerate() {
                let _ = sender.send_to(&client_hello((round as usize * 64 + i) as u8, &[]), target);
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    });
    for _ in 0..3 {
        secure_get(&server, "coap-client-openssl", "/temperature").assert_code("2.05");
    }
    flood.join().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let grown = server.resident_bytes().saturating_sub(rss_before);
    assert!(
        grown < 8 << 20,
        "19,200 hellos grew the host by {grown} bytes"
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
    observer
        .await_received(Duration::from_secs(5), |m| m.code == "2.05")
        .expect("the registration's 2.05 over coaps");
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

/// A client certificate that chains to the configured CA authenticates its
/// subject, which the policy names and the plugin learns; TLS_ECDHE_ECDSA_
/// WITH_AES_128_CCM_8, with both TLS libraries. A client with no
/// certificate is not let in.
#[test]
fn a_client_certificate_authenticates_its_subject() {
    let dir = coapwasm_tests::temp_dir::TempDir::new();
    coapwasm_tests::certificates::make_certificates(dir.path());
    let file = |name: &str| dir.path().join(name).display().to_string();
    let config = format!(
        "bind = [\"127.0.0.1:0\"]\n[coaps]\nbind = [\"127.0.0.1:0\"]\ncertificate = {:?}\nprivate_key = {:?}\nclient_ca = [{:?}]\n\
         [[access.rule]]\nwho = [\"cert:CN=gateway-7\"]\nmethods = [\"GET\"]\npaths = [\"/whoami\"]\n",
        file("server.pem"),
        file("server.key"),
        file("ca.pem"),
    );
    let server = Server::builder()
        .plugins(&["whoami"])
        .config(&config)
        .start();
    for client in CLIENTS {
        let output = CoapClient::get(&server.coaps_uri("/whoami"))
            .using(client)
            .args(&[
                "-c",
                &file("client.pem"),
                "-j",
                &file("client.key"),
                "-C",
                &file("ca.pem"),
            ])
            .run();
        output.assert_code("2.05");
        assert_eq!(
            output.payload_text(),
            "cert:CN=gateway-7 secure=true",
            "{client}: {}",
            output.shown()
        );
    }
    let without = CoapClient::get(&server.coaps_uri("/whoami"))
        .using("coap-client-openssl")
        .args(&["-C", &file("ca.pem")])
        .wait(3)
        .run();
    assert!(
        without.received.is_empty(),
        "no certificate, no session: {}",
        without.shown()
    );
}

/// The cookie exchange done, a handshake holds a slot until it completes or
/// times out: with `max_handshakes = 8`, twenty half-open handshakes take
/// eight slots and no more, and once they time out a real client gets in.
#[test]
fn half_open_handshakes_are_bounded_and_time_out() {
    let config = "[coaps]\nbind = [\"127.0.0.1:0\"]\nmax_handshakes = 8\nhandshake_timeout_ms = 1000\n\
                  [[coaps.psk]]\nidentity = \"device-001\"\nkey = \"super-secret-key-12345\"\n";
    let server = Server::builder()
        .plugins(&["temperature"])
        .config(config)
        .start();
    let target = server.coaps_addr();
    let rss_before = server.resident_bytes();
    let mut half_open = Vec::new();
    for i in 0..20u8 {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        socket.send_to(&client_hello(i, &[]), target).unwrap();
        let mut buffer = [0u8; 1500];
        let (n, _) = socket.recv_from(&mut buffer).expect("a HelloVerifyRequest");
        assert!(
            n > 28 && buffer[13] == 3,
            "HelloVerifyRequest: {:?}",
            &buffer[..n]
        );
        let cookie_len = buffer[27] as usize;
        let cookie = buffer[28..28 + cookie_len].to_vec();
        socket.send_to(&client_hello(i, &cookie), target).unwrap();
        half_open.push(socket);
    }
    // Those past the eighth get no ServerHello.
    let mut answered = 0;
    for socket in &half_open {
        socket
            .set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let mut buffer = [0u8; 1500];
        if socket.recv_from(&mut buffer).is_ok() {
            answered += 1;
        }
    }
    eprintln!("half-open: {answered} of 20 answered");
    assert!(
        (1..=8).contains(&answered),
        "{answered} half-open handshakes were answered, max_handshakes is 8"
    );
    let grown = server.resident_bytes().saturating_sub(rss_before);
    assert!(grown < 8 << 20, "{grown} bytes for 20 hellos");
    std::thread::sleep(Duration::from_millis(1500));
    secure_get(&server, "coap-client-openssl", "/temperature").assert_code("2.05");
}

/// `bind = []` turns plain coap off: the host serves coaps only.
#[test]
fn plain_coap_can_be_turned_off() {
    let server = Server::builder()
        .plugins(&["temperature"])
        .binds(&[])
        .config(&format!("bind = []\n{COAPS}"))
        .start();
    assert!(
        server.addrs().is_empty(),
        "no plain coap socket: {:?}",
        server.addrs()
    );
    secure_get(&server, "coap-client-openssl", "/temperature").assert_code("2.05");
}

/// A slow request over coaps is acknowledged at once and answered later as
/// a CON of its own (RFC 7252 §5.2.2), on the same DTLS session; and coaps
/// listens on IPv6 as on IPv4.
#[test]
fn separate_responses_and_ipv6_over_coaps() {
    let config = "[transmission]\nseparate_response_after_ms = 200\n\
                  [coaps]\nbind = [\"127.0.0.1:0\", \"[::1]:0\"]\n\
                  [[coaps.psk]]\nidentity = \"device-001\"\nkey = \"super-secret-key-12345\"\n";
    let server = Server::builder()
        .plugins(&["testkit"])
        .config(config)
        .start();
    let output = secure_get(&server, "coap-client-openssl", "/test/slow?ms=1200");
    output.assert_code("2.05");
    let kinds: Vec<(&str, &str)> = output
        .received
        .iter()
        .map(|m| (m.mtype.as_str(), m.code.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [("ACK", "0.00"), ("CON", "2.05")],
        "{}",
        output.shown()
    );

    let v6 = server
        .coaps_addrs()
        .iter()
        .find(|a| a.is_ipv6())
        .copied()
        .expect("a coaps socket on [::1]");
    CoapClient::get(&format!("coaps://{v6}/test/echo"))
        .using("coap-client-gnutls")
        .psk(IDENTITY, KEY)
        .run()
        .assert_code("2.05");
}
