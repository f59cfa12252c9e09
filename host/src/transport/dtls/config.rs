//! What a coaps endpoint is configured with: its credentials (RFC 7252
//! §9.1.3.1 PreSharedKey, §9.1.3.3 X.509) and the bounds on its state.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// What a coaps endpoint is configured with.
#[derive(Clone)]
pub struct DtlsConfig {
    /// PSK identities and their keys (RFC 4279); empty: no PSK suite offered.
    pub psk: Vec<(String, Vec<u8>)>,
    /// The server's certificate chain and private key (ECDSA P-256), PEM
    /// files; none: no certificate suite offered.
    pub certificate: Option<CertificateConfig>,
    /// PEM CA certificates trusted for client certificates. If non-empty a
    /// certificate-suite client must present a certificate they verify; PSK
    /// clients are never asked for one.
    pub client_cas: Vec<PathBuf>,
    /// Half-open (handshaking) sessions at once; a new handshake past it is
    /// dropped until one finishes or times out.
    pub max_handshakes: usize,
    /// Established sessions; past it the least recently active is evicted.
    pub max_sessions: usize,
    /// A handshake not finished within this is abandoned.
    pub handshake_timeout: Duration,
    /// An established session without traffic for this long is dropped.
    pub idle_timeout: Duration,
}

impl DtlsConfig {
    /// This configuration for one of `loops` socket loops of an address:
    /// the session and handshake limits shared evenly among them.
    pub fn shared_by(&self, loops: usize) -> DtlsConfig {
        let loops = loops.max(1);
        DtlsConfig {
            max_handshakes: self.max_handshakes.div_ceil(loops),
            max_sessions: self.max_sessions.div_ceil(loops),
            ..self.clone()
        }
    }
}

impl Default for DtlsConfig {
    fn default() -> DtlsConfig {
        DtlsConfig {
            psk: Vec::new(),
            certificate: None,
            client_cas: Vec::new(),
            max_handshakes: 256,
            max_sessions: 10_000,
            handshake_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(600),
        }
    }
}

impl fmt::Debug for DtlsConfig {
    /// Names the PSK identities, never their keys.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let identities: Vec<&str> = self.psk.iter().map(|(id, _)| id.as_str()).collect();
        f.debug_struct("DtlsConfig")
            .field("psk_identities", &identities)
            .field("certificate", &self.certificate)
            .field("client_cas", &self.client_cas)
            .field("max_handshakes", &self.max_handshakes)
            .field("max_sessions", &self.max_sessions)
            .field("handshake_timeout", &self.handshake_timeout)
            .field("idle_timeout", &self.idle_timeout)
            .finish()
    }
}

/// A server certificate: the chain (leaf first) and its private key, PEM.
#[derive(Debug, Clone)]
pub struct CertificateConfig {
    /// PEM file: the server certificate followed by any intermediates.
    pub chain: PathBuf,
    /// PEM file: the private key of the server certificate.
    pub private_key: PathBuf,
}
