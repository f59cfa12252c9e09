//! One endpoint's registration with a Resource Directory (RFC 9176), sans-I/O:
//! the state goes in, the next request to send (or the time to wait until)
//! comes out, and each request's outcome goes back in.
//!
//! Discovering (§4.3: `GET /.well-known/core?rt=core.rd*`) → Registering
//! (§5: `POST {registration resource}?ep&lt&base&d` with the links) →
//! Registered at a location, until the refresh time → Updating (§5.3.1:
//! `POST {location}`, empty) → Registered … and on a clean shutdown
//! Removing (§5.3.2: `DELETE {location}`) → Finished.
//!
//! The links are replaced by registering again: a registration with an
//! already registered `ep` and `d` keeps its location and gets the new
//! payload's links (§5), whereas an update with a payload is undefined
//! (§5.3.1: "only describes the use of POST with an empty payload").

use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::client::link_format;

/// The first retry's delay; each failure in a row doubles it.
const FIRST_RETRY: Duration = Duration::from_secs(1);
/// The longest delay between two attempts, before jitter: an RD that comes
/// up is found within about this long.
const MAX_RETRY: Duration = Duration::from_secs(60);
/// How long the links must stay unchanged before they are registered anew:
/// a folder of plugins copied at once makes one re-registration, not one
/// per file.
pub const LINKS_SETTLE: Duration = Duration::from_secs(1);
/// The share of the lifetime after which the registration is refreshed, a
/// random point in this range so that hosts started together spread their
/// updates (RFC 9176 leaves the time to the registrant).
const REFRESH_AT: (f64, f64) = (0.80, 0.90);

/// application/link-format (RFC 6690 §7.3).
pub const LINK_FORMAT: u16 = 40;

/// What the registrant registers as (RFC 9176 §5's URI template variables).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parameters {
    /// `ep`, the endpoint name: unique within its sector.
    pub endpoint: String,
    /// `d`, the sector, if any.
    pub sector: Option<String>,
    /// `lt`, the lifetime in seconds (1 to 4294967295).
    pub lifetime_s: u32,
    /// `base`, the base URI of the registration's links: where lookup
    /// clients reach this host.
    pub base: Option<String>,
    /// The registration resource's path when the directory's URI names one;
    /// None to discover it.
    pub registration_resource: Option<Vec<String>>,
}

/// A request for the I/O side to send to the RD.
#[derive(Debug, Clone, PartialEq)]
pub struct RdRequest {
    /// What the request is.
    pub purpose: Purpose,
    /// GET, POST or DELETE.
    pub method: coap_lite::RequestType,
    /// Uri-Path segments.
    pub path: Vec<String>,
    /// Uri-Query items.
    pub query: Vec<String>,
    /// The link-format payload (Content-Format 40), if any.
    pub payload: Option<Vec<u8>>,
}

/// Which step of the registration a request is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// URI discovery of the registration resource (§4.3).
    Discovery,
    /// Registration (§5).
    Registration,
    /// Registration update (§5.3.1).
    Update,
    /// Registration removal (§5.3.2).
    Removal,
}

/// How a request ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The RD answered.
    Answer {
        /// The response code's class and detail (2.01 is `(2, 1)`).
        code: (u8, u8),
        /// Location-Path options.
        location: Vec<String>,
        /// The payload.
        payload: Vec<u8>,
    },
    /// No answer: a timeout, nothing listening, a Reset.
    NoAnswer,
}

/// What to do next.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Send this request, then report its outcome.
    Send(RdRequest),
    /// Nothing to send before this time (None: until something changes,
    /// such as the links becoming known).
    Wait(Option<Instant>),
    /// Removed, or shut down with nothing registered: stop.
    Finished,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Discovering,
    Registering {
        resource: Vec<String>,
    },
    Registered {
        resource: Vec<String>,
        location: Vec<String>,
        refresh_at: Instant,
    },
    Updating {
        resource: Vec<String>,
        location: Vec<String>,
    },
    Removing {
        location: Vec<String>,
    },
    Finished,
}

/// The registration's state machine.
#[derive(Debug)]
pub struct Registration {
    parameters: Parameters,
    state: State,
    /// The host's link-format document; None until the plugins are loaded.
    links: Option<String>,
    /// When the links last changed.
    links_changed_at: Option<Instant>,
    /// The links the RD has, as last registered.
    registered_links: Option<String>,
    /// The links of the registration in flight: the links may change while
    /// it is, and then they must be registered again.
    sending_links: Option<String>,
    /// The request sent and not yet answered.
    in_flight: Option<Purpose>,
    /// Failures in a row, for the backoff.
    failures: u32,
    retry_at: Option<Instant>,
    rng: SmallRng,
}

impl Registration {
    /// A registration about to start; `seed` drives the jitter.
    pub fn new(parameters: Parameters, seed: u64) -> Self {
        let state = match &parameters.registration_resource {
            Some(resource) => State::Registering {
                resource: resource.clone(),
            },
            None => State::Discovering,
        };
        Registration {
            parameters,
            state,
            links: None,
            links_changed_at: None,
            registered_links: None,
            sending_links: None,
            in_flight: None,
            failures: 0,
            retry_at: None,
            rng: SmallRng::seed_from_u64(seed),
        }
    }

    /// The location of the registration resource at the RD, while registered.
    pub fn location(&self) -> Option<&[String]> {
        match &self.state {
            State::Registered { location, .. } | State::Updating { location, .. } => Some(location),
            _ => None,
        }
    }

    /// The host's links are now `document` (RFC 6690 link-format): they are
    /// registered once they have settled.
    pub fn links_changed(&mut self, document: String, now: Instant) {
        if self.links.as_ref() != Some(&document) {
            self.links = Some(document);
            self.links_changed_at = Some(now);
        }
    }

    /// A clean shutdown: remove the registration if there is one (§5.3.2
    /// "SHOULD explicitly remove an entry from the RD if it knows it will no
    /// longer be available"). A request in flight is abandoned.
    pub fn shut_down(&mut self) {
        self.in_flight = None;
        self.retry_at = None;
        self.state = match std::mem::replace(&mut self.state, State::Finished) {
            State::Registered { location, .. }
            | State::Updating { location, .. }
            | State::Removing { location } => State::Removing { location },
            _ => State::Finished,
        };
    }

    /// The next request to send, or how long to wait.
    pub fn poll(&mut self, now: Instant) -> Step {
        if self.state == State::Finished {
            return Step::Finished;
        }
        if self.in_flight.is_some() {
            return Step::Wait(None);
        }
        if let Some(retry_at) = self.retry_at {
            if now < retry_at {
                return Step::Wait(Some(retry_at));
            }
            self.retry_at = None;
        }
        let request = match &self.state {
            State::Discovering => RdRequest {
                purpose: Purpose::Discovery,
                method: coap_lite::RequestType::Get,
                path: vec![".well-known".to_owned(), "core".to_owned()],
                query: vec!["rt=core.rd*".to_owned()],
                payload: None,
            },
            State::Registering { resource } => {
                let Some(links) = &self.links else {
                    return Step::Wait(None);
                };
                self.registration(resource.clone(), links.clone())
            }
            State::Registered {
                resource,
                location,
                refresh_at,
            } => {
                let settle_at = self.links_changed_at.map(|at| at + LINKS_SETTLE);
                if self.links.is_some() && self.links != self.registered_links {
                    let settle_at = settle_at.unwrap_or(now);
                    if now >= settle_at {
                        let (resource, links) = (resource.clone(), self.links.clone());
                        self.state = State::Registering {
                            resource: resource.clone(),
                        };
                        let request = self.registration(resource, links.unwrap_or_default());
                        self.in_flight = Some(request.purpose);
                        return Step::Send(request);
                    }
                    if settle_at < *refresh_at {
                        return Step::Wait(Some(settle_at));
                    }
                }
                if now < *refresh_at {
                    return Step::Wait(Some(*refresh_at));
                }
                let (resource, location) = (resource.clone(), location.clone());
                let request = RdRequest {
                    purpose: Purpose::Update,
                    method: coap_lite::RequestType::Post,
                    path: location.clone(),
                    query: Vec::new(),
                    payload: None,
                };
                self.state = State::Updating { resource, location };
                request
            }
            State::Updating { location, .. } => RdRequest {
                purpose: Purpose::Update,
                method: coap_lite::RequestType::Post,
                path: location.clone(),
                query: Vec::new(),
                payload: None,
            },
            State::Removing { location } => RdRequest {
                purpose: Purpose::Removal,
                method: coap_lite::RequestType::Delete,
                path: location.clone(),
                query: Vec::new(),
                payload: None,
            },
            State::Finished => return Step::Finished,
        };
        self.in_flight = Some(request.purpose);
        Step::Send(request)
    }

    /// The outcome of the request last sent.
    pub fn handle(&mut self, outcome: Outcome, now: Instant) {
        let Some(purpose) = self.in_flight.take() else {
            return;
        };
        let (code, location, payload) = match outcome {
            Outcome::Answer {
                code,
                location,
                payload,
            } => (Some(code), location, payload),
            Outcome::NoAnswer => (None, Vec::new(), Vec::new()),
        };
        match (purpose, &self.state) {
            (Purpose::Discovery, State::Discovering) => {
                match code
                    .filter(|&c| c == (2, 5))
                    .and_then(|_| registration_resource(&payload))
                {
                    Some(resource) => {
                        self.failures = 0;
                        self.state = State::Registering { resource };
                    }
                    None => self.failed(now),
                }
            }
            (Purpose::Registration, State::Registering { resource }) => {
                if code == Some((2, 1)) && !location.is_empty() {
                    self.failures = 0;
                    self.registered_links = self.sending_links.take();
                    self.state = State::Registered {
                        resource: resource.clone(),
                        location,
                        refresh_at: self.refresh_time(now),
                    };
                } else {
                    // §5: a failed registration SHOULD try another
                    // registration URI from URI discovery, unless the
                    // configuration named the resource.
                    if self.parameters.registration_resource.is_none() {
                        self.state = State::Discovering;
                    }
                    self.failed(now);
                }
            }
            (Purpose::Update, State::Updating { resource, location }) => {
                if code.is_some_and(|(class, _)| class == 2) {
                    self.failures = 0;
                    self.state = State::Registered {
                        resource: resource.clone(),
                        location: location.clone(),
                        refresh_at: self.refresh_time(now),
                    };
                } else {
                    // §5.3.1: "If the registration update fails in any way,
                    // including "Not Found" and request timeouts, ... the
                    // registering endpoint SHOULD attempt registration
                    // again." At once if the RD answered (it is up), after
                    // a backoff if it did not.
                    self.state = State::Registering {
                        resource: resource.clone(),
                    };
                    if code.is_none() {
                        self.failed(now);
                    }
                }
            }
            (Purpose::Removal, _) => self.state = State::Finished,
            // An outcome for a state left since (shut down meanwhile).
            _ => {}
        }
    }

    fn registration(&mut self, resource: Vec<String>, links: String) -> RdRequest {
        self.sending_links = Some(links.clone());
        let p = &self.parameters;
        let mut query = vec![format!("ep={}", p.endpoint)];
        if let Some(sector) = &p.sector {
            query.push(format!("d={sector}"));
        }
        query.push(format!("lt={}", p.lifetime_s));
        if let Some(base) = &p.base {
            query.push(format!("base={base}"));
        }
        RdRequest {
            purpose: Purpose::Registration,
            method: coap_lite::RequestType::Post,
            path: resource,
            query,
            payload: Some(links.into_bytes()),
        }
    }

    /// A random point between 80% and 90% of the lifetime from now.
    fn refresh_time(&mut self, now: Instant) -> Instant {
        let share = self.rng.random_range(REFRESH_AT.0..REFRESH_AT.1);
        now + Duration::from_secs(u64::from(self.parameters.lifetime_s)).mul_f64(share)
    }

    /// Exponential backoff, capped, times a random factor from 1 to 1.5 so
    /// that hosts that lost the same RD do not retry in step.
    fn failed(&mut self, now: Instant) {
        self.failures = self.failures.saturating_add(1);
        let doubled = FIRST_RETRY.saturating_mul(1 << self.failures.min(16).saturating_sub(1));
        let delay = doubled
            .min(MAX_RETRY)
            .mul_f64(self.rng.random_range(1.0..1.5));
        self.retry_at = Some(now + delay);
    }
}

/// The path of the registration resource in a URI discovery answer (§4.3):
/// the first link whose `rt` is `core.rd` (not the lookup resources'
/// `core.rd-lookup-*`), as Uri-Path segments. A target that is a full URI
/// gives its path: the RD is taken to serve it.
pub fn registration_resource(payload: &[u8]) -> Option<Vec<String>> {
    let document = std::str::from_utf8(payload).ok()?;
    let link = link_format::parse(document)?.into_iter().find(|link| {
        link.value("rt")
            .is_some_and(|rt| rt.split(' ').any(|t| t == "core.rd"))
    })?;
    let target = link.target.as_str();
    let path = match target.find("://") {
        Some(at) => {
            let rest = &target[at + 3..];
            &rest[rest.find('/').unwrap_or(rest.len())..]
        }
        None => target,
    };
    let path = path.split(['?', '#']).next().unwrap_or("");
    let path = path.strip_prefix('/')?;
    if path.is_empty() {
        return Some(Vec::new());
    }
    Some(path.split('/').map(str::to_owned).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use coap_lite::RequestType;

    fn parameters() -> Parameters {
        Parameters {
            endpoint: "node1".to_owned(),
            sector: None,
            lifetime_s: 100,
            base: Some("coap://127.0.0.2:5683".to_owned()),
            registration_resource: None,
        }
    }

    fn answer(code: (u8, u8), location: &[&str], payload: &str) -> Outcome {
        Outcome::Answer {
            code,
            location: location.iter().map(|s| s.to_string()).collect(),
            payload: payload.as_bytes().to_vec(),
        }
    }

    fn send(registration: &mut Registration, now: Instant) -> RdRequest {
        match registration.poll(now) {
            Step::Send(request) => request,
            other => panic!("expected a request, got {other:?}"),
        }
    }

    const AIOCOAP_DISCOVERY: &str = "</resourcedirectory/>;ct=\"40\";rt=\"core.rd\",\
        </endpoint-lookup/>;ct=\"40\";rt=\"core.rd-lookup-ep\";obs,\
        </resource-lookup/>;ct=\"40\";rt=\"core.rd-lookup-res\";obs";

    /// Discovered, registered, then at rest until the refresh time.
    fn registered(t0: Instant) -> Registration {
        let mut r = Registration::new(parameters(), 7);
        r.links_changed("</temperature>;rt=\"temperature-celsius\"".to_owned(), t0);
        let discovery = send(&mut r, t0);
        assert_eq!(discovery.path, [".well-known", "core"]);
        assert_eq!(discovery.query, ["rt=core.rd*"]);
        r.handle(answer((2, 5), &[], AIOCOAP_DISCOVERY), t0);
        let registration = send(&mut r, t0);
        assert_eq!(registration.method, RequestType::Post);
        assert_eq!(registration.path, ["resourcedirectory", ""]);
        assert_eq!(
            registration.query,
            ["ep=node1", "lt=100", "base=coap://127.0.0.2:5683"]
        );
        assert_eq!(
            registration.payload.as_deref(),
            Some(&b"</temperature>;rt=\"temperature-celsius\""[..])
        );
        r.handle(answer((2, 1), &["reg", "1", ""], ""), t0);
        assert_eq!(
            r.location(),
            Some(&["reg".to_owned(), "1".to_owned(), String::new()][..])
        );
        r
    }

    #[test]
    fn discovers_registers_and_refreshes_between_80_and_90_percent_of_the_lifetime() {
        let t0 = Instant::now();
        let mut r = registered(t0);
        let Step::Wait(Some(refresh_at)) = r.poll(t0) else {
            panic!("a registered endpoint waits for its refresh time");
        };
        let after = refresh_at - t0;
        assert!(
            (Duration::from_secs(80)..=Duration::from_secs(90)).contains(&after),
            "{after:?}"
        );
        let update = send(&mut r, refresh_at);
        assert_eq!(update.purpose, Purpose::Update);
        assert_eq!(update.method, RequestType::Post);
        assert_eq!(update.path, ["reg", "1", ""]);
        assert!(update.query.is_empty() && update.payload.is_none());
        r.handle(answer((2, 4), &[], ""), refresh_at);
        let Step::Wait(Some(next)) = r.poll(refresh_at) else {
            panic!("refreshed, it waits again");
        };
        assert!(next - refresh_at >= Duration::from_secs(80));
    }

    #[test]
    fn an_update_answered_4_04_registers_anew_at_once() {
        let t0 = Instant::now();
        let mut r = registered(t0);
        let at = t0 + Duration::from_secs(95);
        assert_eq!(send(&mut r, at).purpose, Purpose::Update);
        r.handle(answer((4, 4), &[], ""), at);
        let again = send(&mut r, at);
        assert_eq!(again.purpose, Purpose::Registration);
        assert_eq!(again.path, ["resourcedirectory", ""]);
    }

    #[test]
    fn an_unanswered_update_registers_anew_after_a_backoff() {
        let t0 = Instant::now();
        let mut r = registered(t0);
        let at = t0 + Duration::from_secs(95);
        assert_eq!(send(&mut r, at).purpose, Purpose::Update);
        r.handle(Outcome::NoAnswer, at);
        let Step::Wait(Some(retry)) = r.poll(at) else {
            panic!("backs off");
        };
        assert!((Duration::from_secs(1)..Duration::from_millis(1500)).contains(&(retry - at)));
        assert_eq!(send(&mut r, retry).purpose, Purpose::Registration);
    }

    #[test]
    fn failures_back_off_exponentially_with_jitter_and_a_cap() {
        let t0 = Instant::now();
        let mut r = Registration::new(parameters(), 1);
        let mut now = t0;
        let mut delays = Vec::new();
        for _ in 0..10 {
            assert_eq!(send(&mut r, now).purpose, Purpose::Discovery);
            r.handle(Outcome::NoAnswer, now);
            let Step::Wait(Some(retry)) = r.poll(now) else {
                panic!("backs off");
            };
            delays.push(retry - now);
            now = retry;
        }
        for (n, delay) in delays.iter().enumerate() {
            let base = Duration::from_secs(1 << n.min(6)).min(MAX_RETRY);
            assert!(
                *delay >= base && *delay < base.mul_f64(1.5),
                "attempt {n}: {delay:?}"
            );
        }
    }

    #[test]
    fn waits_for_the_links_before_registering() {
        let t0 = Instant::now();
        let mut r = Registration::new(parameters(), 1);
        send(&mut r, t0);
        r.handle(answer((2, 5), &[], AIOCOAP_DISCOVERY), t0);
        assert_eq!(r.poll(t0), Step::Wait(None));
        r.links_changed("</a>".to_owned(), t0);
        assert_eq!(send(&mut r, t0).purpose, Purpose::Registration);
    }

    #[test]
    fn changed_links_register_anew_once_settled() {
        let t0 = Instant::now();
        let mut r = registered(t0);
        let t1 = t0 + Duration::from_secs(5);
        r.links_changed("</temperature>,</humidity>".to_owned(), t1);
        r.links_changed("</temperature>,</humidity>,</led>".to_owned(), t1);
        assert_eq!(r.poll(t1), Step::Wait(Some(t1 + LINKS_SETTLE)));
        let again = send(&mut r, t1 + LINKS_SETTLE);
        assert_eq!(again.purpose, Purpose::Registration);
        assert_eq!(
            again.payload.as_deref(),
            Some(&b"</temperature>,</humidity>,</led>"[..])
        );
        r.handle(answer((2, 1), &["reg", "1", ""], ""), t1);
        assert!(matches!(r.poll(t1), Step::Wait(Some(_))));
        // The same links again change nothing.
        r.links_changed("</temperature>,</humidity>,</led>".to_owned(), t1);
        let Step::Wait(Some(at)) = r.poll(t1) else {
            panic!()
        };
        assert!(at - t1 >= Duration::from_secs(80));
    }

    #[test]
    fn links_that_change_while_registering_are_registered_again() {
        let t0 = Instant::now();
        let mut r = registered(t0);
        let t1 = t0 + Duration::from_secs(5);
        r.links_changed("</a>".to_owned(), t1);
        let first = send(&mut r, t1 + LINKS_SETTLE);
        assert_eq!(first.payload.as_deref(), Some(&b"</a>"[..]));
        r.links_changed("</a>,</b>".to_owned(), t1 + LINKS_SETTLE);
        r.handle(answer((2, 1), &["reg", "1", ""], ""), t1 + LINKS_SETTLE);
        let second = send(&mut r, t1 + LINKS_SETTLE * 2);
        assert_eq!(second.purpose, Purpose::Registration);
        assert_eq!(second.payload.as_deref(), Some(&b"</a>,</b>"[..]));
    }

    #[test]
    fn shutdown_removes_the_registration_then_finishes() {
        let t0 = Instant::now();
        let mut r = registered(t0);
        r.shut_down();
        let removal = send(&mut r, t0);
        assert_eq!(removal.method, RequestType::Delete);
        assert_eq!(removal.path, ["reg", "1", ""]);
        r.handle(answer((2, 2), &[], ""), t0);
        assert_eq!(r.poll(t0), Step::Finished);
    }

    #[test]
    fn shutdown_before_registering_sends_nothing() {
        let mut r = Registration::new(parameters(), 1);
        r.shut_down();
        assert_eq!(r.poll(Instant::now()), Step::Finished);
    }

    #[test]
    fn a_configured_registration_resource_skips_discovery_and_sector_goes_as_d() {
        let mut p = parameters();
        p.registration_resource = Some(vec!["rd".to_owned()]);
        p.sector = Some("building-7".to_owned());
        p.base = None;
        let mut r = Registration::new(p, 1);
        r.links_changed("</a>".to_owned(), Instant::now());
        let request = send(&mut r, Instant::now());
        assert_eq!(request.path, ["rd"]);
        assert_eq!(request.query, ["ep=node1", "d=building-7", "lt=100"]);
    }

    #[test]
    fn finds_the_registration_resource_not_the_lookups() {
        assert_eq!(
            registration_resource(AIOCOAP_DISCOVERY.as_bytes()),
            Some(vec!["resourcedirectory".to_owned(), String::new()])
        );
        // libcoap's coap-rd.
        assert_eq!(
            registration_resource(b"</rd>;ins=\"default\";rt=\"core.rd\";ct=40"),
            Some(vec!["rd".to_owned()])
        );
        assert_eq!(
            registration_resource(b"</rd-lookup/res>;rt=\"core.rd-lookup-res\""),
            None
        );
        assert_eq!(registration_resource(b"not link-format"), None);
    }
}
