//! The client side of coaps: one DTLS 1.2 session to one server (RFC 7252
//! §9.1), over the same [`Session`] the server's endpoint uses. Sans-I/O
//! like it: datagrams and the time go in, datagrams to send and decrypted
//! CoAP messages come out.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use bytes::Bytes;
use openssl::ssl::{
    SslContext, SslContextBuilder, SslFiletype, SslMethod, SslOptions, SslVerifyMode, SslVersion,
};
use openssl::x509::X509;

use super::session::{Handshake, Phase, Session};

/// What the client proves itself with, and whom it trusts.
#[derive(Debug, Clone, Default)]
pub struct ClientCredentials {
    /// A pre-shared key and its identity (RFC 7252 §9.1.3.1).
    pub psk: Option<(String, Vec<u8>)>,
    /// A certificate chain and its private key, PEM (§9.1.3.3).
    pub certificate: Option<(PathBuf, PathBuf)>,
    /// CAs whose certificates the server's must chain to, and be issued
    /// for the server's name or address; none: the server's certificate is
    /// not verified (as coap-client without -R).
    pub trusted_cas: Vec<PathBuf>,
    /// The server's name or address as the URI gives it.
    pub server: String,
}

/// The suites a client offers: the RFC 7252 §9.1.3 mandatory ones first,
/// then the GCM ones servers built on stock OpenSSL or mbed TLS commonly
/// prefer.
const PSK_SUITES: &str = "PSK-AES128-CCM8:PSK-AES128-CCM:PSK-AES128-GCM-SHA256";
const CERTIFICATE_SUITES: &str =
    "ECDHE-ECDSA-AES128-CCM8:ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256";

fn client_context(credentials: &ClientCredentials) -> anyhow::Result<SslContext> {
    let mut builder = SslContextBuilder::new(SslMethod::dtls())?;
    builder.set_min_proto_version(Some(SslVersion::DTLS1_2))?;
    builder.set_max_proto_version(Some(SslVersion::DTLS1_2))?;
    builder.set_options(SslOptions::NO_QUERY_MTU | SslOptions::NO_TICKET);
    let mut suites = Vec::new();
    if let Some((identity, key)) = credentials.psk.clone() {
        builder.set_psk_client_callback(move |_ssl, _hint, identity_out, psk_out| {
            let identity = identity.as_bytes();
            // The identity is a C string: it needs room for its NUL.
            if identity.len() >= identity_out.len() || key.len() > psk_out.len() {
                return Ok(0);
            }
            identity_out[..identity.len()].copy_from_slice(identity);
            identity_out[identity.len()] = 0;
            psk_out[..key.len()].copy_from_slice(&key);
            Ok(key.len())
        });
        suites.push(PSK_SUITES);
    }
    if let Some((chain, key)) = &credentials.certificate {
        builder
            .set_certificate_chain_file(chain)
            .with_context(|| format!("certificate chain {}", chain.display()))?;
        builder
            .set_private_key_file(key, SslFiletype::PEM)
            .with_context(|| format!("private key {}", key.display()))?;
        builder
            .check_private_key()
            .with_context(|| format!("{} is not the key of {}", key.display(), chain.display()))?;
    }
    if credentials.psk.is_none() || credentials.certificate.is_some() {
        suites.push(CERTIFICATE_SUITES);
    }
    builder.set_cipher_list(&suites.join(":"))?;
    if credentials.trusted_cas.is_empty() {
        builder.set_verify(SslVerifyMode::NONE);
    } else {
        for path in &credentials.trusted_cas {
            let pem = std::fs::read(path).with_context(|| format!("CA {}", path.display()))?;
            for ca in
                X509::stack_from_pem(&pem).with_context(|| format!("CA {}", path.display()))?
            {
                builder.cert_store_mut().add_cert(ca)?;
            }
        }
        builder.set_verify(SslVerifyMode::PEER);
    }
    Ok(builder.build())
}

/// What the connector tells the code around it.
#[derive(Debug)]
pub enum ConnectorEvent {
    /// Send this datagram to the server.
    Transmit(Bytes),
    /// A decrypted datagram: one CoAP message.
    Deliver(Bytes),
    /// The handshake completed.
    Established,
    /// The session failed (handshake or later); it is over.
    Failed(String),
}

/// One session to a server.
pub struct DtlsConnector {
    session: Session,
    deadline: Instant,
    failed: bool,
    /// Whether anything came from the server: a handshake that then runs
    /// out of time was refused (DTLS drops what fails to decrypt, RFC 6347
    /// §4.1.2.7), not unanswered.
    heard: bool,
}

impl DtlsConnector {
    /// Starts a handshake at `now` that must end within `timeout`; the
    /// ClientHello is in `events`.
    pub fn connect(
        credentials: &ClientCredentials,
        now: Instant,
        timeout: Duration,
        events: &mut Vec<ConnectorEvent>,
    ) -> anyhow::Result<DtlsConnector> {
        let context = client_context(credentials)?;
        let session =
            Session::connect(&context, &credentials.server, now).map_err(anyhow::Error::msg)?;
        let mut connector = DtlsConnector {
            session,
            deadline: now + timeout,
            failed: false,
            heard: false,
        };
        connector.step(now, events);
        Ok(connector)
    }

    /// Whether the handshake is done.
    pub fn is_established(&self) -> bool {
        matches!(self.session.phase, Phase::Established { .. })
    }

    /// A datagram from the server.
    pub fn on_datagram(&mut self, datagram: &[u8], now: Instant, events: &mut Vec<ConnectorEvent>) {
        if self.failed {
            return;
        }
        self.heard = true;
        self.session.input(datagram);
        if self.is_established() {
            let result = self
                .session
                .read(|plaintext| events.push(ConnectorEvent::Deliver(plaintext)));
            self.flush(events);
            if let Err(reason) = result {
                self.fail(reason, events);
            }
        } else {
            self.step(now, events);
        }
    }

    /// Retransmits a handshake flight when OpenSSL's timer says so (RFC 6347
    /// §4.2.4); fails the handshake at its deadline.
    pub fn on_timeout(&mut self, now: Instant, events: &mut Vec<ConnectorEvent>) {
        if self.failed || self.is_established() {
            return;
        }
        if now >= self.deadline {
            let reason = if self.heard {
                "the server answered but the handshake never completed: a wrong PSK identity or key, or no suite in common?"
            } else {
                "handshake timed out: no coaps server answered"
            };
            return self.fail(reason.into(), events);
        }
        if let Err(reason) = self.session.retransmit(now) {
            return self.fail(reason, events);
        }
        self.flush(events);
    }

    /// When [`DtlsConnector::on_timeout`] next has something to do.
    pub fn next_deadline(&self) -> Option<Instant> {
        match self.session.phase {
            Phase::Handshaking { retransmit_at, .. } if !self.failed => {
                Some(retransmit_at.map_or(self.deadline, |at| at.min(self.deadline)))
            }
            _ => None,
        }
    }

    /// One CoAP message, encrypted into one record in one datagram.
    pub fn seal(&mut self, plaintext: &[u8], events: &mut Vec<ConnectorEvent>) {
        if self.is_established() && !self.session.write(plaintext) {
            return self.fail("a record could not be written".into(), events);
        }
        self.flush(events);
    }

    /// Ends the session with close_notify (RFC 5246 §7.2.1).
    pub fn close(&mut self, events: &mut Vec<ConnectorEvent>) {
        if self.is_established() {
            self.session.close();
            self.flush(events);
        }
    }

    fn step(&mut self, now: Instant, events: &mut Vec<ConnectorEvent>) {
        match self.session.handshake(now, false) {
            Handshake::Pending => self.flush(events),
            Handshake::Done => {
                self.flush(events);
                events.push(ConnectorEvent::Established);
            }
            Handshake::Failed(reason) => {
                self.flush(events);
                self.fail(reason, events);
            }
        }
    }

    fn flush(&mut self, events: &mut Vec<ConnectorEvent>) {
        events.extend(self.session.output().map(ConnectorEvent::Transmit));
    }

    fn fail(&mut self, reason: String, events: &mut Vec<ConnectorEvent>) {
        self.failed = true;
        events.push(ConnectorEvent::Failed(reason));
    }
}
