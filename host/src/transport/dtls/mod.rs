//! coaps: a DTLS 1.2 server engine (and, in [`DtlsConnector`], a client's) (RFC 7252 §9.1, RFC 6347) that turns
//! datagrams from the socket into decrypted CoAP messages and back.
//!
//! It does no I/O: the socket loop hands every datagram to
//! [`DtlsEndpoint::on_datagram`], sends what comes back as
//! [`DtlsEvent::Transmit`], passes [`DtlsEvent::Deliver`] to the message
//! layer, and calls [`DtlsEndpoint::on_timeout`] at
//! [`DtlsEndpoint::next_deadline`].
//!
//! A ClientHello without a valid cookie is answered by a HelloVerifyRequest
//! crafted here without any per-peer state (RFC 6347 §4.2.1); only a hello
//! that returns the cookie creates a session, one OpenSSL `SSL` over an
//! in-memory datagram pipe. Only the RFC 7252 §9.1.3 mandatory suites are
//! offered: TLS_PSK_WITH_AES_128_CCM_8 and TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8.

mod config;
mod connector;
mod cookie;
mod credentials;
mod datagram_pipe;
mod endpoint;
mod failed_peers;
mod hello_verify;
mod record;
mod session;

#[cfg(test)]
mod tests;

pub use config::{CertificateConfig, DtlsConfig};
pub use connector::{ClientCredentials, ConnectorEvent, DtlsConnector};
pub use endpoint::{DtlsEndpoint, DtlsEvent};
