//! The server's credentials in an `SslContext`: the PSK table (RFC 4279),
//! the certificate chain and key, the CAs trusted for client certificates,
//! and the protocol and suites RFC 7252 §9.1 allows: DTLS 1.2 only, and only
//! the mandatory suites TLS_PSK_WITH_AES_128_CCM_8 (§9.1.3.1) and
//! TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8 (§9.1.3.2, §9.1.3.3).

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::{Context, bail};
use openssl::ssl::{
    SslContextBuilder, SslFiletype, SslMethod, SslOptions, SslSessionCacheMode, SslVerifyMode,
    SslVersion,
};
use openssl::x509::X509;

use super::config::DtlsConfig;

/// OpenSSL's name for TLS_PSK_WITH_AES_128_CCM_8.
const PSK_SUITE: &str = "PSK-AES128-CCM8";
/// OpenSSL's name for TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8.
const CERTIFICATE_SUITE: &str = "ECDHE-ECDSA-AES128-CCM8";

/// A context for the server side of coaps sessions, holding `config`'s
/// credentials. Errors name the file that could not be used.
pub(crate) fn server_context(config: &DtlsConfig) -> anyhow::Result<SslContextBuilder> {
    let mut builder = SslContextBuilder::new(SslMethod::dtls())?;
    builder.set_min_proto_version(Some(SslVersion::DTLS1_2))?;
    builder.set_max_proto_version(Some(SslVersion::DTLS1_2))?;
    // The MTU is set per SSL, never asked of the (in-memory) BIO; no
    // renegotiation, no tickets, no session cache: a session's memory is
    // its SSL and nothing outlives it.
    builder.set_options(
        SslOptions::NO_QUERY_MTU | SslOptions::NO_RENEGOTIATION | SslOptions::NO_TICKET,
    );
    builder.set_session_cache_mode(SslSessionCacheMode::OFF);

    let mut suites = Vec::new();
    if !config.psk.is_empty() {
        install_psk(&mut builder, config);
        suites.push(PSK_SUITE);
    }
    if let Some(certificate) = &config.certificate {
        builder
            .set_certificate_chain_file(&certificate.chain)
            .with_context(|| format!("dtls certificate chain {}", certificate.chain.display()))?;
        builder
            .set_private_key_file(&certificate.private_key, SslFiletype::PEM)
            .with_context(|| format!("dtls private key {}", certificate.private_key.display()))?;
        builder.check_private_key().with_context(|| {
            format!(
                "dtls private key {} does not match the certificate in {}",
                certificate.private_key.display(),
                certificate.chain.display()
            )
        })?;
        suites.push(CERTIFICATE_SUITE);
    }
    if suites.is_empty() {
        bail!("dtls: neither a PSK nor a certificate is configured");
    }
    builder.set_cipher_list(&suites.join(":"))?;
    // RFC 7252 §9.1.3.2 names secp256r1 for the ECDHE suite.
    builder.set_groups_list("P-256")?;

    if !config.client_cas.is_empty() {
        for path in &config.client_cas {
            let pem = std::fs::read(path)
                .with_context(|| format!("dtls client CA {}", path.display()))?;
            let cas = X509::stack_from_pem(&pem)
                .with_context(|| format!("dtls client CA {}", path.display()))?;
            if cas.is_empty() {
                bail!("dtls client CA {}: no certificate in it", path.display());
            }
            for ca in cas {
                builder
                    .add_client_ca(&ca)
                    .with_context(|| format!("dtls client CA {}", path.display()))?;
                builder
                    .cert_store_mut()
                    .add_cert(ca)
                    .with_context(|| format!("dtls client CA {}", path.display()))?;
            }
        }
        // A certificate-suite client must present a certificate the CAs
        // verify; PSK suites never send a CertificateRequest, so PSK
        // clients are unaffected.
        builder.set_verify(SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT);
    }
    Ok(builder)
}

/// The PSK table, looked up by the identity the client names.
fn install_psk(builder: &mut SslContextBuilder, config: &DtlsConfig) {
    let table: Arc<HashMap<Vec<u8>, Vec<u8>>> = Arc::new(
        config
            .psk
            .iter()
            .map(|(identity, key)| (identity.as_bytes().to_vec(), key.clone()))
            .collect(),
    );
    builder.set_psk_server_callback(move |_ssl, identity, psk| {
        let key = identity.and_then(|identity| table.get(identity));
        match key {
            Some(key) if key.len() <= psk.len() => {
                psk[..key.len()].copy_from_slice(key);
                Ok(key.len())
            }
            // Unknown identity (or a key longer than OpenSSL's buffer):
            // 0 fails the handshake with unknown_psk_identity.
            _ => Ok(0),
        }
    });
}
