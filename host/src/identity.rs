//! Who sent a request, as the transport established it (RFC 7252 §9): the
//! access policy decides by it, and plugins learn it. An identity is not
//! always a DTLS session's: OSCORE (RFC 8613) will give one over plain UDP.

use std::fmt;
use std::sync::Arc;

/// The authenticated identity of a peer, or none.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Identity {
    /// Nothing authenticated the peer: plain coap.
    Anonymous,
    /// The PSK identity a DTLS handshake authenticated (RFC 4279).
    PreSharedKey(Arc<str>),
    /// The subject of the client certificate a DTLS handshake verified
    /// against the configured CAs, as `CN=...` (RFC 4514 form).
    Certificate(Arc<str>),
}

impl Identity {
    /// Whether anything authenticated the peer.
    pub fn is_authenticated(&self) -> bool {
        !matches!(self, Identity::Anonymous)
    }
}

impl fmt::Display for Identity {
    /// As the access policy names identities: `anonymous`,
    /// `psk:device-001`, `cert:CN=gateway-7`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Identity::Anonymous => f.write_str("anonymous"),
            Identity::PreSharedKey(identity) => write!(f, "psk:{identity}"),
            Identity::Certificate(subject) => write!(f, "cert:{subject}"),
        }
    }
}

/// Who sent one request and how it reached the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requester {
    /// The peer's identity.
    pub identity: Identity,
    /// Whether the request came inside a DTLS session (coaps).
    pub dtls: bool,
}

impl Requester {
    /// A peer on plain coap.
    pub const fn anonymous() -> Requester {
        Requester {
            identity: Identity::Anonymous,
            dtls: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_print_as_the_policy_names_them() {
        assert_eq!(Identity::Anonymous.to_string(), "anonymous");
        assert_eq!(
            Identity::PreSharedKey("device-001".into()).to_string(),
            "psk:device-001"
        );
        assert_eq!(
            Identity::Certificate("CN=gw".into()).to_string(),
            "cert:CN=gw"
        );
        assert!(!Identity::Anonymous.is_authenticated());
        assert!(Identity::PreSharedKey("x".into()).is_authenticated());
    }
}
