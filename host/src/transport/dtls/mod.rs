//! STUB, replaced by the dtls branch's engine at merge.
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::identity::Identity;

#[derive(Clone)]
pub struct DtlsConfig {
    pub psk: Vec<(String, Vec<u8>)>,
    pub certificate: Option<CertificateConfig>,
    pub client_cas: Vec<PathBuf>,
    pub max_handshakes: usize,
    pub max_sessions: usize,
    pub handshake_timeout: Duration,
    pub idle_timeout: Duration,
}
#[derive(Clone)]
pub struct CertificateConfig {
    pub chain: PathBuf,
    pub private_key: PathBuf,
}
pub struct DtlsEndpoint;
pub enum DtlsEvent {
    Transmit(SocketAddr, bytes::Bytes),
    Deliver(SocketAddr, bytes::Bytes),
    Closed(SocketAddr),
}
impl DtlsEndpoint {
    pub fn new(_config: DtlsConfig) -> anyhow::Result<DtlsEndpoint> {
        anyhow::bail!("stub")
    }
    pub fn on_datagram(
        &mut self,
        _peer: SocketAddr,
        _datagram: &[u8],
        _now: Instant,
        _events: &mut Vec<DtlsEvent>,
    ) {
    }
    pub fn send(
        &mut self,
        _peer: SocketAddr,
        _plaintext: &[u8],
        _events: &mut Vec<DtlsEvent>,
    ) -> bool {
        false
    }
    pub fn on_timeout(&mut self, _now: Instant, _events: &mut Vec<DtlsEvent>) {}
    pub fn next_deadline(&self) -> Option<Instant> {
        None
    }
    pub fn identity(&self, _peer: SocketAddr) -> Option<&Identity> {
        None
    }
    pub fn sessions(&self) -> usize {
        0
    }
    pub fn handshakes(&self) -> usize {
        0
    }
}
