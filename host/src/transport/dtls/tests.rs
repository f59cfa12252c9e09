//! The endpoint against an OpenSSL DTLS client over the same in-memory
//! pipe, no sockets: handshakes (PSK, certificate), data both ways, the
//! cookie exchange, the bounds, failures and lost flights.

use std::collections::HashSet;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use bytes::Bytes;
use foreign_types::ForeignTypeRef;
use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::ssl::{
    ErrorCode, Ssl, SslContext, SslContextBuilder, SslMethod, SslOptions, SslStream, SslVerifyMode,
    SslVersion,
};
use openssl::x509::extension::BasicConstraints;
use openssl::x509::{X509, X509Name};

use super::datagram_pipe::DatagramPipe;
use super::session::{MTU, set_initial_retransmit};
use super::*;
use crate::identity::Identity;

const IDENTITY: &str = "device-001";
const KEY: &[u8] = b"super-secret-key-12345";

fn peer(n: u32) -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::from(0x0a00_0000 + n), 5684))
}

fn psk_config() -> DtlsConfig {
    DtlsConfig {
        psk: vec![(IDENTITY.into(), KEY.to_vec())],
        ..DtlsConfig::default()
    }
}

/// An OpenSSL DTLS 1.2 client over an in-memory pipe.
struct Client {
    stream: SslStream<DatagramPipe>,
}

impl Client {
    fn new(context: &SslContext) -> Client {
        let mut ssl = Ssl::new(context).unwrap();
        ssl.set_mtu(MTU).unwrap();
        ssl.set_connect_state();
        set_initial_retransmit(&mut ssl, Duration::from_millis(20));
        Client {
            stream: SslStream::new(ssl, DatagramPipe::default()).unwrap(),
        }
    }

    fn psk(identity: &str, key: &[u8]) -> Client {
        let mut builder = client_builder("PSK-AES128-CCM8");
        let identity = identity.as_bytes().to_vec();
        let key = key.to_vec();
        builder.set_psk_client_callback(move |_ssl, _hint, identity_out, key_out| {
            identity_out[..identity.len()].copy_from_slice(&identity);
            identity_out[identity.len()] = 0;
            key_out[..key.len()].copy_from_slice(&key);
            Ok(key.len())
        });
        Client::new(&builder.build())
    }

    /// The datagrams the client wrote since the last call.
    fn output(&mut self) -> Vec<Bytes> {
        self.stream.get_mut().take_outbound().collect()
    }

    fn input(&mut self, datagram: &[u8]) {
        self.stream.get_mut().push_inbound(datagram);
    }

    /// Its retransmission timer, if due by OpenSSL's clock.
    fn handle_timeout(&mut self) {
        // SAFETY: a valid SSL; DTLS_CTRL_HANDLE_TIMEOUT takes no argument.
        unsafe {
            openssl_sys::SSL_ctrl(self.stream.ssl().as_ptr(), 74, 0, std::ptr::null_mut());
        }
    }
}

fn client_builder(suite: &str) -> SslContextBuilder {
    let mut builder = SslContextBuilder::new(SslMethod::dtls()).unwrap();
    builder
        .set_min_proto_version(Some(SslVersion::DTLS1_2))
        .unwrap();
    builder
        .set_max_proto_version(Some(SslVersion::DTLS1_2))
        .unwrap();
    builder.set_options(SslOptions::NO_QUERY_MTU);
    builder.set_cipher_list(suite).unwrap();
    builder
}

/// Transmits to `peer`, and everything else, from `events`.
fn transmitted(events: &mut Vec<DtlsEvent>, to: SocketAddr) -> Vec<Bytes> {
    let mut datagrams = Vec::new();
    events.retain(|event| match event {
        DtlsEvent::Transmit(peer, datagram) if *peer == to => {
            datagrams.push(datagram.clone());
            false
        }
        _ => true,
    });
    datagrams
}

/// Runs the handshake to its end, passing datagrams both ways; the
/// endpoint's other events are returned.
fn handshake(
    endpoint: &mut DtlsEndpoint,
    client: &mut Client,
    from: SocketAddr,
    now: Instant,
) -> Result<Vec<DtlsEvent>, String> {
    let mut others = Vec::new();
    for _ in 0..20 {
        let result = client.stream.do_handshake();
        let out = client.output();
        let mut events = Vec::new();
        for datagram in &out {
            endpoint.on_datagram(from, datagram, now, &mut events);
        }
        let answers = transmitted(&mut events, from);
        others.extend(events);
        for datagram in &answers {
            client.input(datagram);
        }
        match result {
            Ok(()) if answers.is_empty() => return Ok(others),
            Ok(()) => {}
            Err(error) if error.code() == ErrorCode::WANT_READ => {
                if out.is_empty() && answers.is_empty() {
                    return Err("stalled".into());
                }
            }
            Err(error) => return Err(error.to_string()),
        }
    }
    Err("no end".into())
}

/// Sends one message from the client and returns what the endpoint did.
fn client_send(
    endpoint: &mut DtlsEndpoint,
    client: &mut Client,
    from: SocketAddr,
    message: &[u8],
) -> Vec<DtlsEvent> {
    client_send_at(endpoint, client, from, message, Instant::now())
}

fn client_send_at(
    endpoint: &mut DtlsEndpoint,
    client: &mut Client,
    from: SocketAddr,
    message: &[u8],
    now: Instant,
) -> Vec<DtlsEvent> {
    client.stream.ssl_write(message).unwrap();
    let mut events = Vec::new();
    for datagram in client.output() {
        endpoint.on_datagram(from, &datagram, now, &mut events);
    }
    events
}

#[test]
fn psk_handshake_then_data_both_ways() {
    let mut endpoint = DtlsEndpoint::new(psk_config()).unwrap();
    let mut client = Client::psk(IDENTITY, KEY);
    let from = peer(1);
    handshake(&mut endpoint, &mut client, from, Instant::now()).unwrap();
    assert_eq!((endpoint.sessions(), endpoint.handshakes()), (1, 0));
    assert_eq!(
        endpoint.identity(from),
        Some(&Identity::PreSharedKey(IDENTITY.into()))
    );
    assert_eq!(
        client.stream.ssl().current_cipher().unwrap().name(),
        "PSK-AES128-CCM8"
    );

    let events = client_send(&mut endpoint, &mut client, from, b"\x40\x01\x12\x34");
    assert_eq!(
        events,
        vec![DtlsEvent::Deliver(
            from,
            Bytes::from_static(b"\x40\x01\x12\x34")
        )]
    );

    let mut events = Vec::new();
    assert!(endpoint.send(from, b"\x60\x45\x12\x34", &mut events));
    for datagram in transmitted(&mut events, from) {
        client.input(&datagram);
    }
    let mut buffer = [0u8; 64];
    let n = client.stream.ssl_read(&mut buffer).unwrap();
    assert_eq!(&buffer[..n], b"\x60\x45\x12\x34");

    assert!(
        !endpoint.send(peer(2), b"x", &mut events),
        "no session, nothing sent"
    );
    assert!(events.is_empty());
}

#[test]
fn close_notify_ends_the_session() {
    let mut endpoint = DtlsEndpoint::new(psk_config()).unwrap();
    let mut client = Client::psk(IDENTITY, KEY);
    handshake(&mut endpoint, &mut client, peer(1), Instant::now()).unwrap();
    let _ = client.stream.shutdown();
    let mut events = Vec::new();
    for datagram in client.output() {
        endpoint.on_datagram(peer(1), &datagram, Instant::now(), &mut events);
    }
    assert!(events.contains(&DtlsEvent::Closed(peer(1))));
    assert_eq!(endpoint.sessions(), 0);
}

#[test]
fn wrong_key_fails_and_the_peer_is_warned_about_once() {
    let mut endpoint = DtlsEndpoint::new(psk_config()).unwrap();
    for _ in 0..3 {
        let mut client = Client::psk(IDENTITY, b"not-the-key");
        let now = Instant::now();
        let events = handshake(&mut endpoint, &mut client, peer(7), now).unwrap_err();
        let _ = events;
        // The server dropped the session at once; nothing left to time out.
        assert_eq!((endpoint.sessions(), endpoint.handshakes()), (0, 0));
    }
    assert!(endpoint.failed_peers().remembers(peer(7)));
    assert_eq!(endpoint.failed_peers().warnings(), 1);
}

#[test]
fn unknown_identity_fails() {
    let mut endpoint = DtlsEndpoint::new(psk_config()).unwrap();
    let mut client = Client::psk("stranger", KEY);
    let error = handshake(&mut endpoint, &mut client, peer(8), Instant::now()).unwrap_err();
    assert!(
        error.contains("alert") || error.contains("stalled"),
        "{error}"
    );
    assert_eq!((endpoint.sessions(), endpoint.handshakes()), (0, 0));
    assert_eq!(endpoint.failed_peers().warnings(), 1);
    assert!(endpoint.identity(peer(8)).is_none());
}

/// A first ClientHello (no cookie), as the client sends it.
fn first_hello() -> Bytes {
    let mut client = Client::psk(IDENTITY, KEY);
    let _ = client.stream.do_handshake();
    client.output().remove(0)
}

#[test]
fn hellos_without_a_valid_cookie_create_no_session() {
    let mut endpoint = DtlsEndpoint::new(psk_config()).unwrap();
    let hello = first_hello();
    let now = Instant::now();
    let mut events = Vec::new();
    for n in 0..10_000 {
        endpoint.on_datagram(peer(n), &hello, now, &mut events);
        assert_eq!(events.len(), 1, "one HelloVerifyRequest");
        let DtlsEvent::Transmit(to, request) = events.pop().unwrap() else {
            panic!("not a transmit");
        };
        assert_eq!(to, peer(n));
        assert_eq!(
            &request[..3],
            &[22, 0xfe, 0xff],
            "handshake record, DTLS 1.0 version"
        );
        assert_eq!(request[13], 3, "hello_verify_request");
    }
    assert_eq!((endpoint.handshakes(), endpoint.sessions()), (0, 0));
    assert_eq!(endpoint.next_deadline(), None);

    // A cookie made for another address is refused the same way.
    let mut client = Client::psk(IDENTITY, KEY);
    let _ = client.stream.do_handshake();
    for datagram in client.output() {
        endpoint.on_datagram(peer(1), &datagram, now, &mut events);
    }
    for datagram in transmitted(&mut events, peer(1)) {
        client.input(&datagram);
    }
    let _ = client.stream.do_handshake();
    let second_hello = client.output().remove(0);
    endpoint.on_datagram(peer(2), &second_hello, now, &mut events);
    assert_eq!(endpoint.handshakes(), 0);
    let answer = transmitted(&mut events, peer(2));
    assert_eq!(answer[0][13], 3, "another HelloVerifyRequest");
    // Garbage and non-hellos from unknown peers are dropped silently.
    endpoint.on_datagram(peer(3), b"\x17\xfe\xfd garbage", now, &mut events);
    endpoint.on_datagram(peer(3), &[], now, &mut events);
    assert!(events.is_empty());
    // The right address gets its handshake.
    endpoint.on_datagram(peer(1), &second_hello, now, &mut events);
    assert_eq!(endpoint.handshakes(), 1);
}

/// Takes a client through the cookie exchange and sends its second hello.
fn start(
    endpoint: &mut DtlsEndpoint,
    client: &mut Client,
    from: SocketAddr,
    now: Instant,
) -> Vec<DtlsEvent> {
    let mut events = Vec::new();
    for _ in 0..2 {
        let _ = client.stream.do_handshake();
        for datagram in client.output() {
            endpoint.on_datagram(from, &datagram, now, &mut events);
        }
        for datagram in transmitted(&mut events, from) {
            client.input(&datagram);
        }
    }
    events
}

#[test]
fn half_open_handshakes_are_bounded_and_time_out() {
    let mut endpoint = DtlsEndpoint::new(DtlsConfig {
        max_handshakes: 2,
        ..psk_config()
    })
    .unwrap();
    let now = Instant::now();
    let mut clients: Vec<Client> = (0..3).map(|_| Client::psk(IDENTITY, KEY)).collect();
    for (n, client) in clients.iter_mut().enumerate() {
        start(&mut endpoint, client, peer(n as u32), now);
    }
    assert_eq!(endpoint.handshakes(), 2, "the third hello is dropped");
    let deadline = endpoint.next_deadline().expect("retransmission or timeout");
    assert!(deadline <= now + Duration::from_secs(10));

    let mut events = Vec::new();
    endpoint.on_timeout(now + Duration::from_secs(11), &mut events);
    assert_eq!(endpoint.handshakes(), 0);
    assert!(events.contains(&DtlsEvent::Closed(peer(0))));
    assert!(events.contains(&DtlsEvent::Closed(peer(1))));
    assert_eq!(endpoint.next_deadline(), None);
    assert_eq!(
        endpoint.failed_peers().warnings(),
        2,
        "timeouts are warned about"
    );

    // A slot is free again: the third client's retransmitted hello (same
    // cookie) gets in.
    std::thread::sleep(Duration::from_millis(30));
    clients[2].handle_timeout();
    let retransmitted = clients[2].output();
    assert_eq!(retransmitted.len(), 1);
    endpoint.on_datagram(
        peer(2),
        &retransmitted[0],
        now + Duration::from_secs(12),
        &mut events,
    );
    assert_eq!(endpoint.handshakes(), 1);
}

#[test]
fn established_sessions_are_bounded_least_recently_active_evicted() {
    let mut endpoint = DtlsEndpoint::new(DtlsConfig {
        max_sessions: 2,
        ..psk_config()
    })
    .unwrap();
    let t0 = Instant::now();
    let mut clients: Vec<Client> = (0..2).map(|_| Client::psk(IDENTITY, KEY)).collect();
    handshake(&mut endpoint, &mut clients[0], peer(0), t0).unwrap();
    handshake(
        &mut endpoint,
        &mut clients[1],
        peer(1),
        t0 + Duration::from_secs(1),
    )
    .unwrap();
    // Peer 0 is active later than peer 1.
    let later = t0 + Duration::from_secs(2);
    let events = client_send_at(&mut endpoint, &mut clients[0], peer(0), b"ping", later);
    assert_eq!(
        events,
        vec![DtlsEvent::Deliver(peer(0), Bytes::from_static(b"ping"))]
    );

    let mut third = Client::psk(IDENTITY, KEY);
    let events = handshake(
        &mut endpoint,
        &mut third,
        peer(2),
        t0 + Duration::from_secs(3),
    )
    .unwrap();
    assert_eq!(endpoint.sessions(), 2);
    assert!(events.contains(&DtlsEvent::Closed(peer(1))), "{events:?}");
    assert!(endpoint.identity(peer(1)).is_none());
    assert!(endpoint.identity(peer(0)).is_some());
    assert!(endpoint.identity(peer(2)).is_some());
}

#[test]
fn idle_sessions_are_dropped_with_close_notify() {
    let mut endpoint = DtlsEndpoint::new(psk_config()).unwrap();
    let mut client = Client::psk(IDENTITY, KEY);
    let now = Instant::now();
    handshake(&mut endpoint, &mut client, peer(1), now).unwrap();
    let mut events = Vec::new();
    endpoint.on_timeout(now + Duration::from_secs(60), &mut events);
    assert_eq!(endpoint.sessions(), 1, "not idle yet");
    let deadline = endpoint.next_deadline().unwrap();
    assert!(deadline > now + Duration::from_secs(60));
    endpoint.on_timeout(now + Duration::from_secs(601), &mut events);
    assert_eq!(endpoint.sessions(), 0);
    assert_eq!(events.last(), Some(&DtlsEvent::Closed(peer(1))));
    let alert = transmitted(&mut events, peer(1));
    assert_eq!(alert.len(), 1, "close_notify");
    client.input(&alert[0]);
    let mut buffer = [0u8; 16];
    let error = client.stream.ssl_read(&mut buffer).unwrap_err();
    assert_eq!(error.code(), ErrorCode::ZERO_RETURN);
}

#[test]
fn a_new_hello_from_an_established_peer_replaces_its_session_after_the_cookie() {
    let mut endpoint = DtlsEndpoint::new(psk_config()).unwrap();
    let now = Instant::now();
    let mut old = Client::psk(IDENTITY, KEY);
    handshake(&mut endpoint, &mut old, peer(1), now).unwrap();

    // The restarted client's first hello: answered statelessly, the old
    // session untouched.
    let mut new = Client::psk(IDENTITY, KEY);
    let _ = new.stream.do_handshake();
    let mut events = Vec::new();
    for datagram in new.output() {
        endpoint.on_datagram(peer(1), &datagram, now, &mut events);
    }
    assert_eq!(endpoint.sessions(), 1);
    assert!(!events.contains(&DtlsEvent::Closed(peer(1))));
    for datagram in transmitted(&mut events, peer(1)) {
        new.input(&datagram);
    }
    let events = handshake(&mut endpoint, &mut new, peer(1), now).unwrap();
    assert!(
        events.contains(&DtlsEvent::Closed(peer(1))),
        "the old session is closed"
    );
    assert_eq!((endpoint.sessions(), endpoint.handshakes()), (1, 0));
    let events = client_send(&mut endpoint, &mut new, peer(1), b"new");
    assert_eq!(
        events,
        vec![DtlsEvent::Deliver(peer(1), Bytes::from_static(b"new"))]
    );
}

/// The first record's (content type, epoch, handshake type, message_seq):
/// the same for every copy of a flight.
fn flight_key(datagram: &[u8]) -> (u8, u16, u8, u16) {
    let epoch = u16::from_be_bytes([datagram[3], datagram[4]]);
    if datagram[0] == 22 && epoch == 0 {
        (
            22,
            0,
            datagram[13],
            u16::from_be_bytes([datagram[17], datagram[18]]),
        )
    } else {
        (datagram[0], epoch, 0, 0)
    }
}

#[test]
fn the_handshake_completes_when_every_flight_is_lost_once() {
    let mut endpoint = DtlsEndpoint::new(psk_config()).unwrap();
    endpoint.set_initial_retransmit(Duration::from_millis(20));
    let mut client = Client::psk(IDENTITY, KEY);
    let from = peer(1);
    let mut seen_from_client = HashSet::new();
    let mut seen_from_server = HashSet::new();
    let (mut dropped, mut passed) = (0, 0);
    let started = Instant::now();
    let mut done = false;
    while started.elapsed() < Duration::from_secs(5) {
        let result = client.stream.do_handshake();
        let mut events = Vec::new();
        for datagram in client.output() {
            if seen_from_client.insert(flight_key(&datagram)) {
                dropped += 1;
                continue;
            }
            passed += 1;
            endpoint.on_datagram(from, &datagram, Instant::now(), &mut events);
        }
        let now = Instant::now();
        if endpoint
            .next_deadline()
            .is_some_and(|deadline| deadline <= now)
        {
            endpoint.on_timeout(now, &mut events);
        }
        for datagram in transmitted(&mut events, from) {
            if seen_from_server.insert(flight_key(&datagram)) {
                dropped += 1;
                continue;
            }
            passed += 1;
            client.input(&datagram);
        }
        if result.is_ok() && endpoint.sessions() == 1 {
            done = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
        client.handle_timeout();
    }
    assert!(
        done,
        "handshake incomplete: dropped {dropped}, passed {passed}"
    );
    // Flights: hello, HelloVerifyRequest, hello, ServerHello.., client
    // Finished.., server Finished.. (the last may not need a retransmission
    // to finish the server side; the client needs it).
    assert!(dropped >= 6, "dropped {dropped}");
    assert_eq!(
        endpoint.identity(from),
        Some(&Identity::PreSharedKey(IDENTITY.into()))
    );
}

/// An EC P-256 key.
fn p256() -> PKey<Private> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap()
}

/// A certificate for `cn` and `key`, signed by `issuer` (self-signed if none).
fn certificate(cn: &str, key: &PKey<Private>, issuer: Option<(&X509, &PKey<Private>)>) -> X509 {
    let mut name = X509Name::builder().unwrap();
    name.append_entry_by_text("CN", cn).unwrap();
    let name = name.build();
    let mut builder = X509::builder().unwrap();
    builder.set_version(2).unwrap();
    let serial = BigNum::from_u32(rand::random::<u32>() >> 1).unwrap();
    builder
        .set_serial_number(&serial.to_asn1_integer().unwrap())
        .unwrap();
    builder.set_subject_name(&name).unwrap();
    builder.set_pubkey(key).unwrap();
    builder
        .set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    builder
        .set_not_after(&Asn1Time::days_from_now(1).unwrap())
        .unwrap();
    match issuer {
        Some((ca, ca_key)) => {
            builder.set_issuer_name(ca.subject_name()).unwrap();
            builder.sign(ca_key, MessageDigest::sha256()).unwrap();
        }
        None => {
            builder.set_issuer_name(&name).unwrap();
            builder
                .append_extension(BasicConstraints::new().critical().ca().build().unwrap())
                .unwrap();
            builder.sign(key, MessageDigest::sha256()).unwrap();
        }
    }
    builder.build()
}

/// A scratch directory for PEM files.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("coapwasm-dtls-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn certificate_handshake_gives_the_client_subject() {
    let dir = scratch("cert");
    let (ca_key, server_key, client_key) = (p256(), p256(), p256());
    let ca = certificate("test-ca", &ca_key, None);
    let server = certificate("server", &server_key, Some((&ca, &ca_key)));
    let client_certificate = certificate("client", &client_key, Some((&ca, &ca_key)));
    std::fs::write(dir.join("ca.pem"), ca.to_pem().unwrap()).unwrap();
    std::fs::write(dir.join("server.pem"), server.to_pem().unwrap()).unwrap();
    std::fs::write(
        dir.join("server.key"),
        server_key.private_key_to_pem_pkcs8().unwrap(),
    )
    .unwrap();

    let config = DtlsConfig {
        certificate: Some(CertificateConfig {
            chain: dir.join("server.pem"),
            private_key: dir.join("server.key"),
        }),
        client_cas: vec![dir.join("ca.pem")],
        ..psk_config()
    };
    let mut endpoint = DtlsEndpoint::new(config).unwrap();

    let client_context = |with_certificate: bool| {
        let mut builder = client_builder("ECDHE-ECDSA-AES128-CCM8");
        builder.cert_store_mut().add_cert(ca.clone()).unwrap();
        builder.set_verify(SslVerifyMode::PEER);
        if with_certificate {
            builder.set_certificate(&client_certificate).unwrap();
            builder.set_private_key(&client_key).unwrap();
        }
        builder.build()
    };
    let mut client = Client::new(&client_context(true));
    handshake(&mut endpoint, &mut client, peer(1), Instant::now()).unwrap();
    assert_eq!(
        endpoint.identity(peer(1)),
        Some(&Identity::Certificate("CN=client".into()))
    );
    assert_eq!(
        client.stream.ssl().current_cipher().unwrap().name(),
        "ECDHE-ECDSA-AES128-CCM8"
    );

    // With client CAs configured, a certificate client must present one...
    let mut anonymous = Client::new(&client_context(false));
    assert!(handshake(&mut endpoint, &mut anonymous, peer(2), Instant::now()).is_err());
    assert!(endpoint.identity(peer(2)).is_none());
    // ...while PSK clients are never asked for one.
    let mut psk = Client::psk(IDENTITY, KEY);
    handshake(&mut endpoint, &mut psk, peer(3), Instant::now()).unwrap();
    assert_eq!(
        endpoint.identity(peer(3)),
        Some(&Identity::PreSharedKey(IDENTITY.into()))
    );

    // A certificate from another CA is refused.
    let (other_ca_key, stranger_key) = (p256(), p256());
    let other_ca = certificate("other-ca", &other_ca_key, None);
    let stranger = certificate("client", &stranger_key, Some((&other_ca, &other_ca_key)));
    let mut builder = client_builder("ECDHE-ECDSA-AES128-CCM8");
    builder.set_certificate(&stranger).unwrap();
    builder.set_private_key(&stranger_key).unwrap();
    let mut forged = Client::new(&builder.build());
    assert!(handshake(&mut endpoint, &mut forged, peer(4), Instant::now()).is_err());
    assert!(endpoint.identity(peer(4)).is_none());
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn configuration_errors_name_the_file() {
    let missing = PathBuf::from("/nonexistent/server.pem");
    let error = DtlsEndpoint::new(DtlsConfig {
        certificate: Some(CertificateConfig {
            chain: missing.clone(),
            private_key: missing.clone(),
        }),
        ..DtlsConfig::default()
    })
    .err()
    .unwrap();
    assert!(
        format!("{error:#}").contains("/nonexistent/server.pem"),
        "{error:#}"
    );
    let error = DtlsEndpoint::new(DtlsConfig::default()).err().unwrap();
    assert!(error.to_string().contains("neither"), "{error}");
}

/// Resident memory, from /proc/self/statm.
fn resident_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: usize = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

/// Handshakes per second (client and server in this thread) and the
/// resident memory an established PSK session costs the endpoint:
/// `cargo test --release -p coapwasm --lib dtls::tests::measure -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement; prints figures"]
fn measure_handshake_rate_and_session_memory() {
    const N: u32 = 2000;
    let mut endpoint = DtlsEndpoint::new(psk_config()).unwrap();
    // Warm up allocator and OpenSSL tables.
    for n in 0..50 {
        let mut client = Client::psk(IDENTITY, KEY);
        handshake(
            &mut endpoint,
            &mut client,
            peer(1_000_000 + n),
            Instant::now(),
        )
        .unwrap();
    }
    let before = resident_bytes();
    let started = Instant::now();
    for n in 0..N {
        // Each client is dropped after its handshake, so what grows is the
        // endpoint's sessions.
        let mut client = Client::psk(IDENTITY, KEY);
        handshake(&mut endpoint, &mut client, peer(n), Instant::now()).unwrap();
    }
    let elapsed = started.elapsed();
    let after = resident_bytes();
    assert_eq!(endpoint.sessions(), N as usize + 50);
    println!(
        "{N} PSK handshakes in {elapsed:?}: {:.0}/s (client and server on one core); \
         resident memory per established session: {} bytes",
        f64::from(N) / elapsed.as_secs_f64(),
        (after - before) / N as usize
    );

    // Stateless hellos: the cost of a HelloVerifyRequest.
    let hello = first_hello();
    let mut events = Vec::new();
    let started = Instant::now();
    for n in 0..100_000 {
        endpoint.on_datagram(peer(10_000_000 + n), &hello, Instant::now(), &mut events);
        events.clear();
    }
    println!(
        "HelloVerifyRequest: {:.2} us each",
        started.elapsed().as_secs_f64() * 1e6 / 100_000.0
    );
}
