//! Whom a rule of the access policy names.

use std::fmt;
use std::str::FromStr;

use serde::Deserialize;

use crate::identity::Identity;

/// One entry of a rule's `who`: an identity, or a class of them.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum Who {
    /// `psk:NAME`: the peer a DTLS handshake authenticated with the PSK
    /// identity NAME (RFC 4279).
    PreSharedKey(String),
    /// `cert:SUBJECT`: the peer whose verified client certificate has this
    /// subject, as `CN=...` (RFC 4514 form), compared exactly.
    Certificate(String),
    /// `anonymous`: a peer nothing authenticated (plain coap).
    Anonymous,
    /// `authenticated`: any authenticated peer, whatever its identity.
    Authenticated,
    /// `any`: every peer, authenticated or not.
    Any,
}

impl Who {
    /// Whether `identity` is one this entry names.
    pub fn matches(&self, identity: &Identity) -> bool {
        match (self, identity) {
            (Who::Any, _) => true,
            (Who::Anonymous, identity) => !identity.is_authenticated(),
            (Who::Authenticated, identity) => identity.is_authenticated(),
            (Who::PreSharedKey(name), Identity::PreSharedKey(id)) => name.as_str() == &**id,
            (Who::Certificate(subject), Identity::Certificate(s)) => subject.as_str() == &**s,
            _ => false,
        }
    }
}

impl FromStr for Who {
    type Err = String;

    fn from_str(text: &str) -> Result<Who, String> {
        let named = |prefix: &str| {
            text.strip_prefix(prefix)
                .filter(|rest| !rest.is_empty())
                .map(str::to_owned)
        };
        match text {
            "anonymous" => Ok(Who::Anonymous),
            "authenticated" => Ok(Who::Authenticated),
            "any" => Ok(Who::Any),
            _ => {
                if let Some(name) = named("psk:") {
                    Ok(Who::PreSharedKey(name))
                } else if let Some(subject) = named("cert:") {
                    Ok(Who::Certificate(subject))
                } else {
                    Err(format!(
                        "unknown who {text:?}: expected \"psk:NAME\", \"cert:SUBJECT\" \
                         (such as \"cert:CN=gateway-7\"), \"anonymous\", \"authenticated\" \
                         or \"any\""
                    ))
                }
            }
        }
    }
}

impl TryFrom<String> for Who {
    type Error = String;

    fn try_from(text: String) -> Result<Who, String> {
        text.parse()
    }
}

impl fmt::Display for Who {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Who::PreSharedKey(name) => write!(f, "psk:{name}"),
            Who::Certificate(subject) => write!(f, "cert:{subject}"),
            Who::Anonymous => f.write_str("anonymous"),
            Who::Authenticated => f.write_str("authenticated"),
            Who::Any => f.write_str("any"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_parses_and_prints_back() {
        for text in [
            "psk:device-001",
            "cert:CN=gateway-7",
            "anonymous",
            "authenticated",
            "any",
        ] {
            assert_eq!(text.parse::<Who>().unwrap().to_string(), text);
        }
    }

    #[test]
    fn unknown_forms_are_refused_with_the_forms_named() {
        for text in ["pks:device", "psk:", "cert:", "Anonymous", "", "everyone"] {
            let error = text.parse::<Who>().unwrap_err();
            assert!(error.contains("psk:NAME"), "{text}: {error}");
        }
    }

    #[test]
    fn entries_match_the_identities_they_name() {
        let anonymous = Identity::Anonymous;
        let device = Identity::PreSharedKey("device-001".into());
        let gateway = Identity::Certificate("CN=gw".into());
        let who = |text: &str| text.parse::<Who>().unwrap();
        assert!(who("any").matches(&anonymous) && who("any").matches(&gateway));
        assert!(who("anonymous").matches(&anonymous) && !who("anonymous").matches(&device));
        assert!(who("authenticated").matches(&device) && who("authenticated").matches(&gateway));
        assert!(!who("authenticated").matches(&anonymous));
        assert!(who("psk:device-001").matches(&device));
        assert!(!who("psk:device-002").matches(&device));
        assert!(
            !who("psk:CN=gw").matches(&gateway),
            "a PSK is not a subject"
        );
        assert!(who("cert:CN=gw").matches(&gateway));
        assert!(!who("cert:device-001").matches(&device));
    }
}
