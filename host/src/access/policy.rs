//! The access policy's rules and its decision for one request: pure, the
//! requester's identity, the method and the path in, a decision out.

use serde::Deserialize;

use super::methods::{self, MethodSet};
use super::pattern::PathPattern;
use super::who::Who;
use crate::identity::Identity;
use crate::runtime::bindings::types::Method;

/// What anonymous requests (plain coap: nothing authenticated the peer) may
/// do, whatever the rules say. `[access] plain_coap`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PlainCoap {
    /// What the rules allow them (everything, without rules). The default.
    #[default]
    On,
    /// At most GET and FETCH (so Observe registrations too), and only
    /// where the rules allow them.
    ReadOnly,
    /// Nothing: every anonymous request is answered 4.01.
    Off,
}

/// One `[[access.rule]]`: the identities in `who` may use `methods` on
/// `paths`. Rules only allow; a request no rule allows is refused.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Whom the rule allows: `psk:NAME`, `cert:SUBJECT`, `anonymous`,
    /// `authenticated` or `any`.
    pub who: Vec<Who>,
    /// What they may do: method names, or `*`.
    pub methods: MethodSet,
    /// Where: `/led`, `/sensors/*` (`/sensors` and below), `/*`.
    pub paths: Vec<PathPattern>,
}

impl Rule {
    fn applies_to(&self, identity: &Identity) -> bool {
        self.who.iter().any(|who| who.matches(identity))
    }

    fn covers(&self, path: &str) -> bool {
        self.paths.iter().any(|pattern| pattern.matches(path))
    }
}

/// The policy's answer to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// The request goes on: to routing, and then to its plugin.
    Allowed,
    /// Refused, and nothing authenticated the requester: answered 4.01
    /// Unauthorized (RFC 7252 §5.9.2.2), as an authenticated request (over
    /// coaps) might be allowed. The text is the diagnostic payload.
    Unauthorized(String),
    /// Refused for the authenticated requester: answered 4.03 Forbidden
    /// (RFC 7252 §5.9.2.4); authenticating again would not help.
    Forbidden(String),
}

/// Who may use which methods on which paths.
///
/// Without rules, everyone may do everything (the host's behaviour before
/// the policy existed), but for what `plain_coap` takes from anonymous
/// requests. With rules, a request is allowed only if a rule allows it:
/// default deny.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    rules: Vec<Rule>,
    plain_coap: PlainCoap,
}

impl Policy {
    /// A policy of `rules`, with `plain_coap` on top for anonymous requests.
    pub fn new(rules: Vec<Rule>, plain_coap: PlainCoap) -> Policy {
        Policy { rules, plain_coap }
    }

    /// Whether anyone who reaches the host may change its resources: no
    /// rules, and plain coap on.
    pub fn is_open(&self) -> bool {
        self.rules.is_empty() && self.plain_coap == PlainCoap::On
    }

    /// Logs, once at start-up, that the host is open, if it is.
    pub fn warn_if_open(&self) {
        if self.is_open() {
            tracing::warn!(
                "no [access] rules configured: anyone who can reach this host on the network \
                 can read and change every resource (see README, Configuration, [access])"
            );
        }
    }

    /// The methods anonymous requests may use at most, if `plain_coap`
    /// restricts them.
    fn plain_limit(&self, identity: &Identity) -> Option<MethodSet> {
        if identity.is_authenticated() {
            return None;
        }
        match self.plain_coap {
            PlainCoap::On => None,
            PlainCoap::ReadOnly => Some(MethodSet::safe()),
            PlainCoap::Off => Some(MethodSet::of(Default::default())),
        }
    }

    /// May `identity` use `method` on `path`? Decided from the rules alone,
    /// whether a resource has the path or not: a refused requester learns
    /// nothing of which paths exist.
    pub fn decide(&self, identity: &Identity, method: Method, path: &str) -> Decision {
        let name = methods::name(method);
        if let Some(limit) = self.plain_limit(identity)
            && !limit.contains(method)
        {
            return Decision::Unauthorized(if limit.is_empty() {
                "plain coap is off on this host: use coaps".to_owned()
            } else {
                format!("plain coap is read-only on this host: {name} {path} needs coaps")
            });
        }
        let allowed = self.rules.is_empty()
            || self.rules.iter().any(|rule| {
                rule.applies_to(identity) && rule.methods.contains(method) && rule.covers(path)
            });
        if allowed {
            Decision::Allowed
        } else {
            refusal(identity, &format!("{name} {path}"))
        }
    }

    /// May `identity` use at least one of `methods` on `path`? For the
    /// links discovery shows it.
    pub fn allows_some(&self, identity: &Identity, path: &str, methods: MethodSet) -> bool {
        methods
            .iter()
            .any(|method| self.decide(identity, method, path) == Decision::Allowed)
    }

    /// May `identity` GET /.well-known/core? Anyone who may use something
    /// may: a rule names them with a method `plain_coap` leaves them. What
    /// the document lists is then filtered by [`Policy::allows_some`].
    pub fn may_discover(&self, identity: &Identity) -> Decision {
        let limit = self.plain_limit(identity).unwrap_or_else(MethodSet::all);
        if limit.is_empty() {
            return Decision::Unauthorized("plain coap is off on this host: use coaps".to_owned());
        }
        let allowed = self.rules.is_empty()
            || self.rules.iter().any(|rule| {
                rule.applies_to(identity) && !rule.methods.intersection(limit).is_empty()
            });
        if allowed {
            Decision::Allowed
        } else {
            refusal(identity, "discovery")
        }
    }
}

/// The refusal for `identity`: 4.01 if nothing authenticated it, else 4.03.
fn refusal(identity: &Identity, what: &str) -> Decision {
    if identity.is_authenticated() {
        Decision::Forbidden(format!("{identity} may not {what}"))
    } else {
        Decision::Unauthorized(format!("{what} needs an authenticated identity: use coaps"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(who: &[&str], methods: &[&str], paths: &[&str]) -> Rule {
        Rule {
            who: who.iter().map(|w| w.parse().unwrap()).collect(),
            methods: MethodSet::try_from(methods.iter().map(|m| m.to_string()).collect::<Vec<_>>())
                .unwrap(),
            paths: paths.iter().map(|p| p.parse().unwrap()).collect(),
        }
    }

    /// The README's example: device-001 may do everything; anonymous
    /// requests may only read the sensors.
    fn seed(plain_coap: PlainCoap) -> Policy {
        Policy::new(
            vec![
                rule(&["psk:device-001"], &["*"], &["/*"]),
                rule(
                    &["anonymous"],
                    &["GET"],
                    &["/temperature", "/humidity", "/sensors/*"],
                ),
            ],
            plain_coap,
        )
    }

    fn anonymous() -> Identity {
        Identity::Anonymous
    }

    fn device(name: &str) -> Identity {
        Identity::PreSharedKey(name.into())
    }

    fn allowed(decision: Decision) -> bool {
        decision == Decision::Allowed
    }

    fn is_401(decision: Decision) -> bool {
        matches!(decision, Decision::Unauthorized(_))
    }

    fn is_403(decision: Decision) -> bool {
        matches!(decision, Decision::Forbidden(_))
    }

    #[test]
    fn without_rules_everyone_may_do_everything_and_the_host_is_open() {
        let policy = Policy::default();
        assert!(policy.is_open());
        for method in methods::ALL {
            assert!(allowed(policy.decide(&anonymous(), method, "/led")));
            assert!(allowed(policy.decide(&device("x"), method, "/firmware")));
        }
        assert!(allowed(policy.may_discover(&anonymous())));
    }

    #[test]
    fn with_rules_what_no_rule_allows_is_refused() {
        let policy = seed(PlainCoap::On);
        assert!(!policy.is_open());
        assert!(allowed(policy.decide(
            &anonymous(),
            Method::Get,
            "/temperature"
        )));
        assert!(allowed(policy.decide(
            &anonymous(),
            Method::Get,
            "/sensors"
        )));
        assert!(allowed(policy.decide(
            &anonymous(),
            Method::Get,
            "/sensors/3"
        )));
        assert!(is_401(policy.decide(&anonymous(), Method::Put, "/led")));
        assert!(is_401(policy.decide(&anonymous(), Method::Get, "/led")));
        assert!(is_401(policy.decide(
            &anonymous(),
            Method::Post,
            "/sensors"
        )));
        assert!(is_401(policy.decide(
            &anonymous(),
            Method::Fetch,
            "/temperature"
        )));
        for method in methods::ALL {
            assert!(allowed(policy.decide(
                &device("device-001"),
                method,
                "/firmware"
            )));
        }
    }

    /// 4.01 for a refused request nothing authenticated, 4.03 for a refused
    /// authenticated one: the same refusal, told apart by identity.
    #[test]
    fn refusals_are_401_when_anonymous_and_403_when_authenticated() {
        let policy = seed(PlainCoap::On);
        let stranger = device("device-002");
        let subject = Identity::Certificate("CN=gateway-7".into());
        assert!(is_401(policy.decide(&anonymous(), Method::Put, "/led")));
        assert!(is_403(policy.decide(&stranger, Method::Put, "/led")));
        assert!(is_403(policy.decide(&subject, Method::Get, "/led")));
        // `anonymous` does not cover authenticated peers.
        assert!(is_403(policy.decide(
            &stranger,
            Method::Get,
            "/temperature"
        )));
        let Decision::Forbidden(text) = policy.decide(&stranger, Method::Put, "/led") else {
            unreachable!()
        };
        assert_eq!(text, "psk:device-002 may not PUT /led");
        let Decision::Unauthorized(text) = policy.decide(&anonymous(), Method::Put, "/led") else {
            unreachable!()
        };
        assert!(
            text.contains("PUT /led") && text.contains("coaps"),
            "{text}"
        );
    }

    #[test]
    fn authenticated_and_any_cover_their_classes() {
        let policy = Policy::new(
            vec![
                rule(&["authenticated"], &["PUT"], &["/led"]),
                rule(&["any"], &["GET"], &["/led"]),
            ],
            PlainCoap::On,
        );
        assert!(allowed(policy.decide(&device("a"), Method::Put, "/led")));
        assert!(allowed(policy.decide(&anonymous(), Method::Get, "/led")));
        assert!(allowed(policy.decide(&device("a"), Method::Get, "/led")));
        assert!(is_401(policy.decide(&anonymous(), Method::Put, "/led")));
        assert!(is_403(policy.decide(&device("a"), Method::Delete, "/led")));
    }

    #[test]
    fn read_only_plain_coap_leaves_anonymous_requests_get_and_fetch() {
        let open = Policy::new(Vec::new(), PlainCoap::ReadOnly);
        assert!(!open.is_open());
        assert!(allowed(open.decide(&anonymous(), Method::Get, "/led")));
        assert!(allowed(open.decide(&anonymous(), Method::Fetch, "/led")));
        assert!(is_401(open.decide(&anonymous(), Method::Put, "/led")));
        assert!(is_401(open.decide(&anonymous(), Method::Post, "/sensors")));
        // Authenticated peers keep what the rules give them: everything.
        assert!(allowed(open.decide(&device("a"), Method::Put, "/led")));
        // With rules, read-only takes away what a rule gave anonymous.
        let policy = Policy::new(
            vec![rule(&["anonymous"], &["*"], &["/*"])],
            PlainCoap::ReadOnly,
        );
        assert!(allowed(policy.decide(&anonymous(), Method::Get, "/led")));
        assert!(is_401(policy.decide(&anonymous(), Method::Put, "/led")));
        assert!(allowed(policy.may_discover(&anonymous())));
        // ... and gives nothing a rule did not.
        let seeded = seed(PlainCoap::ReadOnly);
        assert!(is_401(seeded.decide(&anonymous(), Method::Get, "/led")));
    }

    #[test]
    fn plain_coap_off_refuses_every_anonymous_request() {
        let policy = Policy::new(Vec::new(), PlainCoap::Off);
        assert!(!policy.is_open());
        for method in methods::ALL {
            let decision = policy.decide(&anonymous(), method, "/temperature");
            assert!(is_401(decision.clone()), "{method:?}");
            assert!(allowed(policy.decide(&device("a"), method, "/temperature")));
        }
        assert!(is_401(policy.may_discover(&anonymous())));
        assert!(allowed(policy.may_discover(&device("a"))));
    }

    #[test]
    fn discovery_is_for_whoever_may_use_something() {
        let policy = seed(PlainCoap::On);
        assert!(allowed(policy.may_discover(&anonymous())));
        assert!(allowed(policy.may_discover(&device("device-001"))));
        assert!(is_403(policy.may_discover(&device("device-002"))));
        let writers = Policy::new(
            vec![rule(&["anonymous"], &["PUT"], &["/led"])],
            PlainCoap::ReadOnly,
        );
        assert!(is_401(writers.may_discover(&anonymous())));
    }

    #[test]
    fn links_are_shown_to_whoever_may_use_some_method_of_theirs() {
        let policy = seed(PlainCoap::On);
        let get_put = MethodSet::try_from(vec!["GET".to_owned(), "PUT".to_owned()]).unwrap();
        let put = MethodSet::try_from(vec!["PUT".to_owned()]).unwrap();
        assert!(policy.allows_some(&anonymous(), "/temperature", get_put));
        assert!(!policy.allows_some(&anonymous(), "/temperature", put));
        assert!(!policy.allows_some(&anonymous(), "/led", get_put));
        assert!(policy.allows_some(&device("device-001"), "/led", put));
    }
}
