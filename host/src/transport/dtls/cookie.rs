//! The stateless cookie of the HelloVerifyRequest exchange (RFC 6347
//! §4.2.1): `HMAC-SHA256(secret, peer address, client_version, random,
//! session_id)`. Only a peer that receives datagrams at its address can
//! return it, and checking it needs no memory of having sent it, so a flood
//! of ClientHellos from spoofed addresses creates no state. The secret is
//! random, made at start, and rotated every [`ROTATION`]; a cookie made
//! with the previous secret is still accepted, so one lives 1 to 2 periods.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::sign::Signer;

use super::hello_verify::ClientHello;

/// How long a secret makes cookies before the next replaces it.
pub(crate) const ROTATION: Duration = Duration::from_secs(120);
/// HMAC-SHA256's output: the cookie's length.
pub(crate) const COOKIE_LEN: usize = 32;

/// The current and previous cookie secrets.
pub(crate) struct CookieSecrets {
    current: PKey<Private>,
    previous: Option<PKey<Private>>,
    made_at: Instant,
}

impl CookieSecrets {
    pub(crate) fn new(now: Instant) -> anyhow::Result<CookieSecrets> {
        Ok(CookieSecrets {
            current: random_secret()?,
            previous: None,
            made_at: now,
        })
    }

    /// Replaces the secret once it is [`ROTATION`] old.
    pub(crate) fn rotate(&mut self, now: Instant) {
        if now.saturating_duration_since(self.made_at) < ROTATION {
            return;
        }
        match random_secret() {
            Ok(secret) => {
                self.previous = Some(std::mem::replace(&mut self.current, secret));
                self.made_at = now;
            }
            Err(error) => tracing::warn!(%error, "dtls: cookie secret not rotated"),
        }
    }

    /// The cookie to send `peer` in a HelloVerifyRequest for `hello`.
    pub(crate) fn issue(&self, peer: SocketAddr, hello: &ClientHello<'_>) -> [u8; COOKIE_LEN] {
        mac(&self.current, peer, hello)
    }

    /// Whether `hello` carries a cookie made for `peer` and this hello by
    /// the current or the previous secret (compared in constant time).
    pub(crate) fn verify(&self, peer: SocketAddr, hello: &ClientHello<'_>) -> bool {
        if hello.cookie.len() != COOKIE_LEN {
            return false;
        }
        std::iter::once(&self.current)
            .chain(self.previous.as_ref())
            .any(|secret| openssl::memcmp::eq(&mac(secret, peer, hello), hello.cookie))
    }
}

fn random_secret() -> anyhow::Result<PKey<Private>> {
    let mut secret = [0u8; 32];
    openssl::rand::rand_bytes(&mut secret)?;
    Ok(PKey::hmac(&secret)?)
}

fn mac(secret: &PKey<Private>, peer: SocketAddr, hello: &ClientHello<'_>) -> [u8; COOKIE_LEN] {
    let mut cookie = [0u8; COOKIE_LEN];
    let mut signer = Signer::new(MessageDigest::sha256(), secret).expect("HMAC-SHA256");
    match peer.ip() {
        IpAddr::V4(ip) => signer.update(&ip.octets()),
        IpAddr::V6(ip) => signer.update(&ip.octets()),
    }
    .and_then(|()| signer.update(&peer.port().to_be_bytes()))
    .and_then(|()| signer.update(&hello.client_version))
    .and_then(|()| signer.update(hello.random))
    .and_then(|()| signer.update(&[hello.session_id.len() as u8]))
    .and_then(|()| signer.update(hello.session_id))
    .and_then(|()| signer.sign(&mut cookie))
    .expect("HMAC-SHA256 into 32 bytes");
    cookie
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hello(cookie: &[u8]) -> ClientHello<'_> {
        ClientHello {
            record_sequence: [0; 6],
            client_version: [0xfe, 0xfd],
            random: &[7; 32],
            session_id: &[],
            cookie,
        }
    }

    #[test]
    fn a_cookie_is_for_one_address_and_hello_and_survives_one_rotation() {
        let start = Instant::now();
        let mut secrets = CookieSecrets::new(start).unwrap();
        let peer: SocketAddr = "192.0.2.1:40000".parse().unwrap();
        let cookie = secrets.issue(peer, &hello(&[]));
        assert!(secrets.verify(peer, &hello(&cookie)));
        assert!(!secrets.verify("192.0.2.1:40001".parse().unwrap(), &hello(&cookie)));
        assert!(!secrets.verify("[2001:db8::1]:40000".parse().unwrap(), &hello(&cookie)));
        let other_random = ClientHello {
            random: &[8; 32],
            ..hello(&cookie)
        };
        assert!(!secrets.verify(peer, &other_random));
        assert!(!secrets.verify(peer, &hello(&cookie[..16])));
        assert!(!secrets.verify(peer, &hello(&[])));

        secrets.rotate(start + ROTATION / 2);
        assert!(secrets.verify(peer, &hello(&cookie)), "not rotated yet");
        secrets.rotate(start + ROTATION);
        assert!(secrets.verify(peer, &hello(&cookie)), "the previous secret");
        assert_ne!(secrets.issue(peer, &hello(&[])), cookie);
        secrets.rotate(start + 2 * ROTATION);
        assert!(!secrets.verify(peer, &hello(&cookie)), "two rotations old");
    }
}
