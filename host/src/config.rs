//! The host's configuration: one typed struct with documented defaults, read from
//! an optional TOML file and overridden by command-line flags.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use serde::Deserialize;

use crate::access::{PlainCoap, Policy, Rule};
use crate::message::TransmissionParameters;

/// The most socket loops per address: a reuseport group is capped far
/// higher, but more loops than cores only add threads.
pub const MAX_LOOPS: usize = 256;

/// Everything the host can be told. Every field has a default, so an empty TOML
/// file (or none at all) is a valid configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// UDP addresses to serve plain coap on. Default `[::]:5683`, which on
    /// Linux is one dual-stack socket answering IPv4 and IPv6 clients (RFC
    /// 7252 §6.1 port). Empty (`bind = []`) turns plain coap off, which needs
    /// coaps.
    pub bind: Vec<SocketAddr>,
    /// Socket loops per address (coap and coaps): each its own socket
    /// (`SO_REUSEPORT`) on a thread of its own with a current-thread
    /// runtime, a peer always served by the same loop. Default 0: one per
    /// core. `coaps.max_sessions`, `coaps.max_handshakes` and
    /// `transmission.deduplication_capacity` are shared evenly among an
    /// address's loops; `runtime.max_pending_requests` and
    /// `observe.max_total` are counted across them.
    pub loops: usize,
    /// The folder whose `*.wasm` components are the resources. Default `plugins`.
    pub plugins: PathBuf,
    /// A `tracing` filter such as `info` or `coapwasm=debug`. Default `info`.
    pub log_level: String,
    /// Where the host keeps what outlives it: the plugins' key-value store
    /// (`kv.redb`) and compiled components (`cache/`). Default
    /// `coapwasm-data`, relative to the working directory.
    pub data_dir: PathBuf,
    /// The identifier the `host-info` import reports. Default `coapwasm-` and
    /// the machine's host name.
    pub device_id: String,
    /// The name of this host among the hosts that share state (`[kv]`
    /// redis): unique per host and stable across its restarts. Default the
    /// `device_id`. `--host-id ID` sets it.
    pub host_id: Option<String>,
    /// Where the plugins' key-value namespaces live.
    pub kv: KvConfig,
    /// Message-layer timing, RFC 7252 §4.8.
    pub transmission: TransmissionConfig,
    /// Limits of the plugin runtime.
    pub runtime: RuntimeConfig,
    /// Watching the plugins folder.
    pub reload: ReloadConfig,
    /// Observe (RFC 7641).
    pub observe: ObserveConfig,
    /// Block-wise transfer (RFC 7959).
    pub blockwise: BlockwiseConfig,
    /// coaps: CoAP over DTLS 1.2 (RFC 7252 §9.1).
    pub coaps: CoapsConfig,
    /// Who may use which resources.
    pub access: AccessConfig,
    /// The HTTP front (RFC 8075 null mapping): off unless addresses are given.
    pub http: HttpConfig,
    /// Registration with a Resource Directory (RFC 9176): off unless a
    /// directory is given.
    pub rd: RdConfig,
}

/// Registration with a CoRE Resource Directory (`[rd]`, RFC 9176): the host
/// registers its links under an endpoint name, refreshes the registration
/// before its lifetime ends, registers again when plugins come or go, and
/// removes it on a clean shutdown.
///
/// ```toml
/// [rd]
/// directory = "coap://rd.example.net"
/// endpoint = "gateway-7"
/// lifetime_s = 90000
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RdConfig {
    /// The directory: `coap://HOST[:PORT]`, whose registration resource is
    /// discovered (`/.well-known/core?rt=core.rd`, RFC 9176 §4.3), or
    /// `coap://HOST[:PORT]/PATH` naming the registration resource itself.
    /// Default none: no registration. `--rd URI` sets it.
    pub directory: Option<String>,
    /// The endpoint name, `ep` (§5): unique within the sector, at most 63
    /// bytes. Default the device id. `--endpoint NAME` sets it.
    pub endpoint: Option<String>,
    /// The registration's lifetime, `lt`, in seconds (§5: 1 to 4294967295).
    /// Default 90000 (25 hours), the RFC's default. It is refreshed at a
    /// random point between 80% and 90% of it.
    pub lifetime_s: u32,
    /// The base URI, `base` (§5), where lookup clients reach this host, such
    /// as `coap://203.0.113.7:5683` behind NAT. Default: the serving
    /// socket's address (for a wildcard bind, the address the route to the
    /// directory leaves from), since registrations go out from another port.
    pub base: Option<String>,
    /// The sector, `d` (§5). Default none.
    pub sector: Option<String>,
}

impl Default for RdConfig {
    fn default() -> Self {
        RdConfig {
            directory: None,
            endpoint: None,
            lifetime_s: 90_000,
            base: None,
            sector: None,
        }
    }
}

impl RdConfig {
    /// Checks the settings, the endpoint name as it will be sent: the
    /// device id when none is configured.
    fn validate(&self, device_id: &str) -> anyhow::Result<()> {
        let Some(directory) = &self.directory else {
            return Ok(());
        };
        let uri = crate::client::uri::CoapUri::parse(directory).context("rd.directory")?;
        anyhow::ensure!(
            uri.scheme == crate::client::uri::Scheme::Coap && uri.query.is_empty(),
            "rd.directory: {directory:?} must be a coap:// URI without a query (coaps is not \
             supported for the directory yet)"
        );
        anyhow::ensure!(
            self.lifetime_s >= 1,
            "rd.lifetime_s must be at least 1 (RFC 9176 §5)"
        );
        let endpoint = Some(
            self.endpoint
                .clone()
                .unwrap_or_else(|| device_id.to_owned()),
        );
        for (name, value) in [("endpoint", &endpoint), ("sector", &self.sector)] {
            if let Some(value) = value {
                anyhow::ensure!(
                    !value.is_empty()
                        && value.len() <= 63
                        && !value
                            .chars()
                            .any(|c| matches!(c as u32, 0..=31 | 127..=159)),
                    "rd.{name}: {value:?} must be 1 to 63 bytes without control characters \
                     (RFC 9176 §5)"
                );
            }
        }
        if let Some(base) = &self.base {
            let uri = crate::client::uri::CoapUri::parse(base).context("rd.base")?;
            anyhow::ensure!(
                uri.path.is_empty() && uri.query.is_empty(),
                "rd.base: {base:?} must be scheme://host:port, without a path or query (RFC 9176 §5)"
            );
        }
        Ok(())
    }
}

/// The plugins' key-value namespaces (`[kv]`): each is in this host's own
/// redb file (`data_dir/kv.redb`) unless `redis` is given, which puts the
/// namespaces `shared` names in Redis (or Valkey), shared by every host
/// configured alike. `--kv redis://HOST:PORT` puts every namespace there.
///
/// ```toml
/// [kv]
/// redis = "redis://127.0.0.1:6379"
/// shared = ["counter", "led"]   # or "*", the default
/// timeout_ms = 1000
/// retry_after_s = 5
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KvConfig {
    /// The Redis server: `redis://[USER:PASSWORD@]HOST:PORT[/DB]`. Default
    /// none: every namespace is local.
    pub redis: Option<String>,
    /// The plugins (by `plugin-description.name`) whose namespaces are in
    /// Redis: a list, or `"*"` for every plugin. Default `"*"`. The host's
    /// own stores (collection members, observations) stay local.
    pub shared: SharedNamespaces,
    /// The longest one Redis operation may take, connecting included;
    /// past it the request that needed it gets 5.03. Default 1000.
    pub timeout_ms: u64,
    /// The Max-Age, in seconds, of the 5.03 a request gets while Redis is
    /// unreachable (RFC 7252 §5.9.3.4: when to try again). Default 5.
    pub retry_after_s: u32,
}

impl Default for KvConfig {
    fn default() -> Self {
        KvConfig {
            redis: None,
            shared: SharedNamespaces::All,
            timeout_ms: 1000,
            retry_after_s: 5,
        }
    }
}

/// The namespaces `[kv] shared` puts in Redis.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "SharedNamespacesSyntax")]
pub enum SharedNamespaces {
    /// `"*"`: every plugin's.
    All,
    /// Those of the plugins named.
    Only(std::collections::BTreeSet<String>),
}

impl SharedNamespaces {
    /// Whether the namespace of the plugin called `name` is shared.
    pub fn contains(&self, name: &str) -> bool {
        match self {
            SharedNamespaces::All => true,
            SharedNamespaces::Only(names) => names.contains(name),
        }
    }
}

/// What the TOML may say for `shared`.
#[derive(Deserialize)]
#[serde(untagged)]
enum SharedNamespacesSyntax {
    Star(String),
    Names(Vec<String>),
}

impl TryFrom<SharedNamespacesSyntax> for SharedNamespaces {
    type Error = String;

    fn try_from(syntax: SharedNamespacesSyntax) -> Result<Self, String> {
        match syntax {
            SharedNamespacesSyntax::Star(star) if star == "*" => Ok(SharedNamespaces::All),
            SharedNamespacesSyntax::Star(other) => Err(format!(
                "kv.shared: {other:?} is neither \"*\" nor a list of plugin names"
            )),
            SharedNamespacesSyntax::Names(names) => {
                Ok(SharedNamespaces::Only(names.into_iter().collect()))
            }
        }
    }
}

/// HTTP/1.1 beside CoAP (`[http]`, issue 17): every resource at its own path
/// through the same plugins, access policy and limits (RFC 8075 §5).
///
/// Off by default: HTTP has no counterpart here of coaps' authentication, so
/// an HTTP client is as anonymous as a plain coap one, and a port nobody
/// asked for is attack surface; turning it on is one line.
///
/// ```toml
/// [http]
/// bind = ["127.0.0.1:8080"]
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// TCP addresses to serve HTTP on. Default none (off). A body larger
    /// than `[blockwise] max_body_size` gets 413, as CoAP's gets 4.13.
    pub bind: Vec<SocketAddr>,
    /// HTTP requests being answered at once; past it 503 with Retry-After.
    /// Default 256.
    pub max_in_flight: usize,
    /// The cross-proxy to other CoAP devices (RFC 8075): `/hc/coap://...`
    /// and the URI templates of `[[http.proxy.route]]`.
    pub proxy: ProxyConfig,
    /// The live log of CoAP exchanges at `/.well-known/coapwasm/exchanges`.
    pub exchange_log: ExchangeLogConfig,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            bind: Vec::new(),
            max_in_flight: 256,
            proxy: ProxyConfig::default(),
            exchange_log: ExchangeLogConfig::default(),
        }
    }
}

/// The live log of CoAP exchanges (`[http.exchange_log]`): every CoAP
/// message the sockets receive and send, as Server-Sent Events of JSON
/// records at `/.well-known/coapwasm/exchanges` (the console's log panel).
///
/// Off by default: the log shows every client's tokens, options and
/// payloads to anyone who reaches the HTTP port, past the access policy,
/// and HTTP here has no authentication. Turn it on where the HTTP port is
/// trusted (loopback, a debugging session). Even then coaps payloads stay
/// hidden (their size is shown) unless `coaps_payloads` is set: DTLS
/// protected them from everyone but the host.
///
/// ```toml
/// [http.exchange_log]
/// enabled = true
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExchangeLogConfig {
    /// Serve the log. Default false; `--exchange-log` sets it.
    pub enabled: bool,
    /// Watchers at once; past it 503. Default 8.
    pub max_watchers: usize,
    /// Show coaps payloads (decrypted) too. Default false.
    pub coaps_payloads: bool,
}

impl Default for ExchangeLogConfig {
    fn default() -> Self {
        ExchangeLogConfig {
            enabled: false,
            max_watchers: 8,
            coaps_payloads: false,
        }
    }
}

/// The HTTP-to-CoAP cross-proxy (`[http.proxy]`, RFC 8075): `GET
/// /hc/coap://HOST:PORT/PATH` (§5.3's default mapping, the target URI
/// percent-encoded or not) and the routes' URI templates (§5.4) forward the
/// request to that device. Nothing is forwarded until `allow` names targets.
///
/// The same table configures the CoAP front's forward-proxying (RFC 7252
/// §5.7.2: requests with Proxy-Uri or Proxy-Scheme), which is the same
/// proxy (one allow-list, cache, timeout and NSTART per device) and needs
/// no `[http] bind`. The table keeps its name because it shipped, and two
/// tables for one proxy would need rules for when they disagree; `coap`
/// says who may use it over CoAP.
///
/// ```toml
/// [http.proxy]
/// allow = ["127.0.0.1", "10.0.0.0/8", "sensor.local:5683"]
/// timeout_ms = 10000
/// [[http.proxy.route]]
/// template = "/devices/{ip}/temperature"
/// target = "coap://{ip}:5683/temperature"
/// methods = ["GET"]
/// ```
///
/// `coaps://` targets (RFC 8075 §5.3 with RFC 7252 §9.1) take the
/// proxy's own DTLS client credentials, the same for every device:
///
/// ```toml
/// [http.proxy]
/// psk_identity = "gateway-7"
/// psk_key = "super-secret-key-12345"   # or psk_key_hex = "..."
/// certificate = "gateway.pem"          # and/or a certificate
/// private_key = "gateway.key"
/// ca = ["devices-ca.pem"]              # verify the devices
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProxyConfig {
    /// The targets the proxy may reach: an IP address (`127.0.0.1`, `::1`),
    /// a network (`10.0.0.0/8`, `fd00::/8`) or a host name, each optionally
    /// with a port (`10.0.0.7:5683`, `[::1]:5683`, `sensor.local:5683`). A
    /// name matches the name written in the target URI, an address or
    /// network the address it resolves to. Default none: every target gets
    /// 403. Multicast and broadcast targets are refused whatever is allowed.
    /// `--proxy-allow HOST` (repeatable) adds entries.
    pub allow: Vec<String>,
    /// How long the device may stay silent: before its first answer, and
    /// between two blocks of a block-wise transfer; then 504. Default
    /// MAX_TRANSMIT_WAIT (RFC 7252 §4.8.2) of `[transmission]`: 93 s with
    /// the RFC's parameters. The seed's gateway used 10000.
    pub timeout_ms: Option<u64>,
    /// URI templates, `[[http.proxy.route]]`, tried in order before the
    /// host's own resources.
    #[serde(rename = "route")]
    pub routes: Vec<ProxyRoute>,
    /// Responses to GET kept by the cache (RFC 8075 §8.1: fresh while their
    /// Max-Age lasts, then revalidated by ETag). Default 1024; 0 turns the
    /// cache off. Each is at most `[blockwise] max_body_size`.
    pub cache_entries: usize,
    /// The PSK identity the proxy gives `coaps://` devices (RFC 4279).
    /// Default none.
    pub psk_identity: Option<String>,
    /// The pre-shared key as UTF-8 text; with `psk_identity`.
    pub psk_key: Option<String>,
    /// The pre-shared key as hex digits, instead of `psk_key`.
    pub psk_key_hex: Option<String>,
    /// A client certificate chain (PEM, leaf first) for `coaps://` devices
    /// that ask for one (RFC 7252 §9.1.3.3). Default none.
    pub certificate: Option<PathBuf>,
    /// The certificate's private key (PEM).
    pub private_key: Option<PathBuf>,
    /// CA certificates (PEM) a device's certificate must chain to, and be
    /// issued for the target's host name or IP address. Default none: the
    /// device's certificate is not verified (a PSK authenticates both ends).
    pub ca: Vec<PathBuf>,
    /// DTLS sessions to devices kept between requests, so that the next
    /// request skips the handshake; past it the least recently used is
    /// closed. Default 64; 0: a handshake per request.
    pub dtls_sessions: usize,
    /// Who may use the proxy over CoAP (Proxy-Uri, Proxy-Scheme): `"on"`
    /// (default: anyone, as over HTTP; the allow-list is the gate),
    /// `"authenticated"` (only coaps peers with an identity; others get
    /// 4.01) or `"off"` (5.05, this host is no proxy over CoAP).
    pub coap: CoapProxying,
}

impl Default for ProxyConfig {
    fn default() -> Self {
        ProxyConfig {
            allow: Vec::new(),
            timeout_ms: None,
            routes: Vec::new(),
            cache_entries: 1024,
            psk_identity: None,
            psk_key: None,
            psk_key_hex: None,
            certificate: None,
            private_key: None,
            ca: Vec::new(),
            dtls_sessions: 64,
            coap: CoapProxying::On,
        }
    }
}

impl ProxyConfig {
    /// The DTLS client credentials for `coaps://` targets (the server name
    /// left to each request); none while none is configured.
    pub fn client_credentials(
        &self,
    ) -> anyhow::Result<Option<crate::transport::dtls::ClientCredentials>> {
        let key = match (&self.psk_key, &self.psk_key_hex) {
            (Some(text), None) => Some(text.as_bytes().to_vec()),
            (None, Some(hex)) => Some(decode_hex(hex).context("http.proxy.psk_key_hex")?),
            (None, None) => None,
            _ => anyhow::bail!("http.proxy: give one of psk_key and psk_key_hex"),
        };
        let psk = match (&self.psk_identity, key) {
            (Some(identity), Some(key)) => {
                anyhow::ensure!(
                    !identity.is_empty() && identity.len() <= 128,
                    "http.proxy.psk_identity must be 1 to 128 bytes"
                );
                anyhow::ensure!(
                    (1..=64).contains(&key.len()),
                    "http.proxy: the pre-shared key must be 1 to 64 bytes"
                );
                Some((identity.clone(), key))
            }
            (None, None) => None,
            _ => anyhow::bail!("http.proxy: psk_identity and psk_key (or psk_key_hex) go together"),
        };
        let certificate = match (&self.certificate, &self.private_key) {
            (Some(chain), Some(key)) => Some((chain.clone(), key.clone())),
            (None, None) => None,
            _ => anyhow::bail!("http.proxy: certificate and private_key go together"),
        };
        for path in certificate
            .iter()
            .flat_map(|(chain, key)| [chain, key])
            .chain(&self.ca)
        {
            std::fs::metadata(path)
                .with_context(|| format!("http.proxy: cannot read {}", path.display()))?;
        }
        if psk.is_none() && certificate.is_none() && self.ca.is_empty() {
            return Ok(None);
        }
        Ok(Some(crate::transport::dtls::ClientCredentials {
            psk,
            certificate,
            trusted_cas: self.ca.clone(),
            server: String::new(),
        }))
    }
}

/// Who may use the proxy over CoAP (`[http.proxy] coap`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CoapProxying {
    /// Any requester: the allow-list of targets is the gate.
    On,
    /// Requesters with an authenticated identity (coaps) only.
    Authenticated,
    /// None: Proxy-Uri and Proxy-Scheme get 5.05.
    Off,
}

/// One URI template route (RFC 8075 §5.4): an HTTP path matching `template`
/// is forwarded to `target` with the variables filled in; the HTTP query, if
/// any, is added to the target's.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyRoute {
    /// An HTTP path whose segments are literals or variables: `{name}`
    /// matches one segment, `{+name}` (last only) the rest of the path.
    pub template: String,
    /// A `coap://` URI template using the template's variables.
    pub target: String,
    /// The HTTP methods the route takes (`GET`, `PUT`, ...). Default every one.
    #[serde(default)]
    pub methods: Vec<String>,
}

/// The access policy (`[access]`, issue 15): who may use which methods on
/// which paths, checked before any plugin is called.
///
/// ```toml
/// [access]
/// plain_coap = "on"
/// [[access.rule]]
/// who = ["psk:device-001"]
/// methods = ["*"]
/// paths = ["/*"]
/// [[access.rule]]
/// who = ["anonymous"]
/// methods = ["GET"]
/// paths = ["/temperature", "/humidity", "/sensors/*"]
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AccessConfig {
    /// What anonymous (plain coap) requests may do whatever the rules say:
    /// `"on"` (what the rules allow), `"read-only"` (GET and FETCH, Observe
    /// included, at most) or `"off"` (nothing: 4.01). Default `"on"`.
    pub plain_coap: PlainCoap,
    /// The rules, `[[access.rule]]`: each lets `who` (`psk:NAME`,
    /// `cert:SUBJECT`, `anonymous`, `authenticated`, `any`) use `methods`
    /// (`GET`, `POST`, `PUT`, `DELETE`, `FETCH`, `PATCH`, `iPATCH`, `*`) on
    /// `paths` (`/led` exactly; `/sensors/*`: `/sensors` and everything below
    /// it; `/*`: everything). Default none: everyone may do everything, and
    /// the host warns at start that it is open. Once there is one rule, what
    /// no rule allows is refused: 4.01 to an anonymous requester, 4.03 to an
    /// authenticated one.
    #[serde(rename = "rule")]
    pub rules: Vec<Rule>,
}

/// coaps: CoAP over DTLS 1.2 (RFC 7252 §9.1), served once any credential is
/// configured: pre-shared keys, or a certificate with its private key.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CoapsConfig {
    /// UDP addresses for coaps. Default `[::]:5684` (§6.2's port) once a
    /// credential is configured.
    pub bind: Option<Vec<SocketAddr>>,
    /// Pre-shared keys, one per client identity (RFC 4279), offered with
    /// TLS_PSK_WITH_AES_128_CCM_8 (§9.1.3.1).
    pub psk: Vec<PskConfig>,
    /// A TOML file of more `[[psk]]` entries, so that keys can live apart
    /// from the rest of the configuration (a relative path is relative to
    /// the working directory).
    pub psk_file: Option<PathBuf>,
    /// The host's certificate chain (PEM, leaf first; an ECDSA P-256 key),
    /// offered with TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8 (§9.1.3.3).
    pub certificate: Option<PathBuf>,
    /// The certificate's private key (PEM).
    pub private_key: Option<PathBuf>,
    /// CA certificates (PEM) that client certificates must chain to; when
    /// given, a client may authenticate with a certificate. Default none.
    pub client_ca: Vec<PathBuf>,
    /// Handshakes in progress at once, after the stateless cookie exchange.
    /// Default 256.
    pub max_handshakes: usize,
    /// Established sessions at once; past it the least recently active is
    /// closed. Default 10000.
    pub max_sessions: usize,
    /// A handshake not finished in this time is dropped. Default 10000.
    pub handshake_timeout_ms: u64,
    /// A session without traffic for this long is closed. Default 600.
    pub idle_timeout_s: u64,
}

/// One pre-shared key: the identity and the key as text or hex.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PskConfig {
    /// The PSK identity the client sends, such as `device-001`.
    pub identity: String,
    /// The key as UTF-8 text, such as `super-secret-key-12345`.
    pub key: Option<String>,
    /// The key as hex digits.
    pub key_hex: Option<String>,
}

/// What a `coaps.psk_file` holds.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PskFile {
    psk: Vec<PskConfig>,
}

impl Default for CoapsConfig {
    fn default() -> Self {
        CoapsConfig {
            bind: None,
            psk: Vec::new(),
            psk_file: None,
            certificate: None,
            private_key: None,
            client_ca: Vec::new(),
            max_handshakes: 256,
            max_sessions: 10_000,
            handshake_timeout_ms: 10_000,
            idle_timeout_s: 600,
        }
    }
}

impl PskConfig {
    fn key_bytes(&self) -> anyhow::Result<Vec<u8>> {
        match (&self.key, &self.key_hex) {
            (Some(text), None) => Ok(text.as_bytes().to_vec()),
            (None, Some(hex)) => decode_hex(hex)
                .with_context(|| format!("coaps.psk {:?}: key_hex is not hex", self.identity)),
            _ => anyhow::bail!(
                "coaps.psk {:?}: give exactly one of key and key_hex",
                self.identity
            ),
        }
    }
}

fn decode_hex(text: &str) -> anyhow::Result<Vec<u8>> {
    let text = text.trim();
    anyhow::ensure!(text.len().is_multiple_of(2), "an odd number of digits");
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).context("not a hex digit"))
        .collect()
}

impl CoapsConfig {
    /// Whether any credential is configured, which turns coaps on.
    pub fn enabled(&self) -> bool {
        !self.psk.is_empty() || self.psk_file.is_some() || self.certificate.is_some()
    }

    /// The addresses coaps is served on: none while it is off.
    pub fn binds(&self) -> Vec<SocketAddr> {
        if !self.enabled() {
            return Vec::new();
        }
        self.bind
            .clone()
            .unwrap_or_else(|| vec![SocketAddr::from(([0u16; 8], 5684))])
    }

    /// The DTLS engine's configuration, reading `psk_file`; none while
    /// coaps is off.
    pub fn dtls_config(&self) -> anyhow::Result<Option<crate::transport::dtls::DtlsConfig>> {
        use crate::transport::dtls::{CertificateConfig, DtlsConfig};
        if !self.enabled() {
            return Ok(None);
        }
        let mut entries = self.psk.clone();
        if let Some(path) = &self.psk_file {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read coaps.psk_file {}", path.display()))?;
            let file: PskFile = toml::from_str(&text)
                .with_context(|| format!("invalid coaps.psk_file {}", path.display()))?;
            entries.extend(file.psk);
        }
        let mut psk = Vec::new();
        for entry in &entries {
            anyhow::ensure!(
                !entry.identity.is_empty() && entry.identity.len() <= 128,
                "coaps.psk: an identity must be 1 to 128 bytes"
            );
            anyhow::ensure!(
                !psk.iter().any(|(identity, _)| identity == &entry.identity),
                "coaps.psk: identity {:?} is listed twice",
                entry.identity
            );
            let key = entry.key_bytes()?;
            anyhow::ensure!(
                (1..=64).contains(&key.len()),
                "coaps.psk {:?}: the key must be 1 to 64 bytes",
                entry.identity
            );
            psk.push((entry.identity.clone(), key));
        }
        let certificate = match (&self.certificate, &self.private_key) {
            (Some(chain), Some(key)) => Some(CertificateConfig {
                chain: chain.clone(),
                private_key: key.clone(),
            }),
            (None, None) => None,
            _ => anyhow::bail!("coaps: certificate and private_key go together"),
        };
        Ok(Some(DtlsConfig {
            psk,
            certificate,
            client_cas: self.client_ca.clone(),
            max_handshakes: self.max_handshakes,
            max_sessions: self.max_sessions,
            handshake_timeout: Duration::from_millis(self.handshake_timeout_ms),
            idle_timeout: Duration::from_secs(self.idle_timeout_s),
        }))
    }
}

/// Block-wise transfer (RFC 7959): the host slices and reassembles bodies.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BlockwiseConfig {
    /// The largest block the host sends or asks for: 16 to 1024, a power of
    /// two. Default 1024.
    pub max_block_size: usize,
    /// The largest request body a plugin is handed; a larger one gets 4.13
    /// with Size1. Default 262144 (256 KiB).
    pub max_body_size: usize,
    /// Bytes the whole host may hold for block-wise transfers: the partial
    /// bodies of uploads and the representations held for the later blocks
    /// of responses sent block-wise, of every socket together (one copy of
    /// a representation however many peers fetch it). Past it, an upload's
    /// next block, or a request whose response would have to be held, gets
    /// 5.03 with Max-Age. Default 16777216 (16 MiB): 64 distinct firmware
    /// images of 256 KiB in transfer at once, or 16 of the largest
    /// responses (`runtime.max_response_bytes`), small beside the 64 MiB
    /// one plugin instance may take. Formerly `max_upload_memory` (per
    /// socket, uploads only), still accepted.
    #[serde(alias = "max_upload_memory")]
    pub max_transfer_memory: usize,
    /// A partial upload with no block for this long is dropped. Default 60000.
    pub upload_timeout_ms: u64,
    /// A response datagram may be at most this many times the size of the
    /// request datagram; a larger one is sent block-wise, in blocks small
    /// enough to fit, so that a spoofed request cannot make the host an
    /// amplifier (RFC 7252 §11.3; 3 as in RFC 9175 §2.4). 0 turns the limit
    /// off, for networks where source addresses cannot be forged. Default 3.
    pub amplification_factor: usize,
    /// ... unless the response datagram is at most this many bytes: small
    /// representations go whole whatever the request's size. Default 512:
    /// every example plugin's answer fits (the largest, `/info`, is 191
    /// bytes of payload), discovery of several plugins and firmware images
    /// still go block-wise; one spoofed 10-byte GET draws at most 512 bytes.
    pub amplification_allowance: usize,
}

impl Default for BlockwiseConfig {
    fn default() -> Self {
        BlockwiseConfig {
            max_block_size: 1024,
            max_body_size: 256 * 1024,
            max_transfer_memory: 16 * 1024 * 1024,
            upload_timeout_ms: 60_000,
            amplification_factor: 3,
            amplification_allowance: 512,
        }
    }
}

/// Limits and reliability of observations (RFC 7641).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ObserveConfig {
    /// Observations one client endpoint may hold; past it a registration gets
    /// a plain response (§4.1). Default 64.
    pub max_per_endpoint: usize,
    /// Observations per socket in all. Default 10000.
    pub max_total: usize,
    /// One notification in this many is confirmable, so that a client that
    /// went away is noticed (§4.5); at least one a day is in any case.
    /// Default 20.
    pub confirmable_every: u32,
    /// Renderings of one observed resource for its observers start at least
    /// this many milliseconds apart: changes announced in between are
    /// coalesced into one notification of the newest state (RFC 7641
    /// §4.5.2), so an observer hears from a resource at most ten times a
    /// second however often it changes, and a plugin that announces changes
    /// in a loop costs one rendering per interval. 0 renders every change
    /// (still never two of one resource at once). Default 100.
    pub min_notification_interval_ms: u64,
}

impl Default for ObserveConfig {
    fn default() -> Self {
        ObserveConfig {
            max_per_endpoint: 64,
            max_total: 10_000,
            confirmable_every: 20,
            min_notification_interval_ms: 100,
        }
    }
}

/// Hot reload: the plugins folder is watched, and a file that changed is
/// loaded again once it has been quiet for a while.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReloadConfig {
    /// How long a file must go unchanged before it is loaded: long enough for
    /// a copy in several writes to finish, short enough to feel immediate.
    /// Default 100.
    pub debounce_ms: u64,
}

impl Default for ReloadConfig {
    fn default() -> Self {
        ReloadConfig { debounce_ms: 100 }
    }
}

/// RFC 7252 §4.8 transmission parameters, plus the delay after which a request
/// still being handled is acknowledged on its own (§5.2.2).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TransmissionConfig {
    /// ACK_TIMEOUT in milliseconds. Default 2000.
    pub ack_timeout_ms: u64,
    /// ACK_RANDOM_FACTOR, at least 1.0. Default 1.5.
    pub ack_random_factor: f64,
    /// MAX_RETRANSMIT. Default 4.
    pub max_retransmit: u32,
    /// How long a confirmable request may wait for its handler before the host
    /// sends an empty ACK and answers later in a separate response. Default
    /// 1000: half of ACK_TIMEOUT, so the ACK beats the client's first
    /// retransmission, which comes no earlier than ACK_TIMEOUT.
    pub separate_response_after_ms: u64,
    /// Entries kept for duplicate detection (§4.5), rounded up to a multiple
    /// of 8; past it the oldest of a set of 8 is forgotten early. Default
    /// 65536.
    pub deduplication_capacity: usize,
}

/// Limits of the plugin runtime.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RuntimeConfig {
    /// Instances of one plugin that may run at once; further requests to it
    /// wait for one to come free. Default 8.
    pub max_instances_per_plugin: usize,
    /// Instances of a plugin that none of its calls needed for this long
    /// are released, their memory returned; a later call makes a new one
    /// (tens of microseconds for a Rust plugin, milliseconds for Python or
    /// JavaScript). No instance is kept after a plugin loads. Default 60;
    /// 0 keeps idle instances for good.
    pub idle_instance_release_s: u64,
    /// Wall-clock time one call into a plugin may take before the host gives
    /// up on it and answers 5.03. Default 10000.
    pub call_timeout_ms: u64,
    /// CPU time one call into a plugin may use; past it the call is stopped
    /// and the client gets 5.03. Default 1000.
    pub max_cpu_ms_per_call: u64,
    /// The largest linear memory of one plugin instance; growing past it
    /// traps, and the client gets 5.00. Default 67108864 (64 MiB).
    pub max_memory_bytes: usize,
    /// The most elements any one table (of function references) of a plugin
    /// instance may hold: a component that declares a larger one is refused
    /// at load, and growing one past it traps (5.00). Default 262144: 2 MiB
    /// of references per table, ample for interpreters compiled to WASM.
    pub max_table_elements: usize,
    /// Requests being handled by plugins at once, per socket; past it a
    /// request gets 5.03 with Max-Age (RFC 7252 §5.9.3.4). Default 1024.
    pub max_pending_requests: usize,
    /// The largest payload of one plugin response; a larger one is answered
    /// 5.00 with a diagnostic naming the limit, and logged. Default 1048576
    /// (1 MiB): a thousand 1024-byte blocks, the largest representation a
    /// constrained client would fetch block-wise, and what bounds the bytes
    /// one held response takes of `blockwise.max_transfer_memory`. A
    /// manifest's `[limits] max_response_bytes` overrides it.
    pub max_response_bytes: usize,
    /// The most bytes one plugin's key-value namespace may hold, counting
    /// each entry's key and value (UTF-8 bytes of the key plus bytes of the
    /// value); past it a `set` that would grow the namespace fails with
    /// `too-large`, logged once. Replacing a value by one no larger, and
    /// deleting, always succeed. Default 16777216 (16 MiB): room for 64
    /// values of the largest body a request can bring (256 KiB), thousands of
    /// times what a sensor's or a device's state takes, and a bound on the
    /// disk (redb's file takes up to about 4 times the data, 64 MiB, under
    /// overwrites). 0 allows nothing to be stored.
    pub max_storage_bytes: u64,
    /// Log lines one plugin (all its instances together) may write at once;
    /// past it lines are dropped, and a line says how many. Default 100:
    /// more than a plugin says when it loads or fails, so a normal plugin is
    /// never cut.
    pub log_burst: u32,
    /// Log lines per second a plugin may write once its burst is spent.
    /// Default 10: a plugin logging without end adds at most about 40 KB a
    /// second (lines are cut at 4096 bytes) to the host's log, 3.5 GB a day
    /// at worst, instead of whatever its CPU allows.
    pub log_lines_per_second: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bind: vec![SocketAddr::from(([0u16; 8], 5683))],
            loops: 0,
            plugins: PathBuf::from("plugins"),
            log_level: "info".to_owned(),
            data_dir: PathBuf::from("coapwasm-data"),
            device_id: default_device_id(),
            host_id: None,
            kv: KvConfig::default(),
            transmission: TransmissionConfig::default(),
            runtime: RuntimeConfig::default(),
            reload: ReloadConfig::default(),
            observe: ObserveConfig::default(),
            blockwise: BlockwiseConfig::default(),
            coaps: CoapsConfig::default(),
            access: AccessConfig::default(),
            http: HttpConfig::default(),
            rd: RdConfig::default(),
        }
    }
}

impl Default for TransmissionConfig {
    fn default() -> Self {
        TransmissionConfig {
            ack_timeout_ms: 2000,
            ack_random_factor: 1.5,
            max_retransmit: 4,
            separate_response_after_ms: 1000,
            deduplication_capacity: 65536,
        }
    }
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            max_instances_per_plugin: 8,
            idle_instance_release_s: 60,
            call_timeout_ms: 10_000,
            max_cpu_ms_per_call: 1000,
            max_memory_bytes: 64 * 1024 * 1024,
            max_table_elements: 262_144,
            max_pending_requests: 1024,
            max_response_bytes: 1024 * 1024,
            max_storage_bytes: 16 * 1024 * 1024,
            log_burst: 100,
            log_lines_per_second: 10,
        }
    }
}

impl Config {
    /// Reads a TOML file; keys it leaves out keep their defaults.
    pub fn from_file(path: &Path) -> anyhow::Result<Config> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        let config: Config = toml::from_str(&text)
            .with_context(|| format!("invalid config file {}", path.display()))?;
        config.validate()?;
        Ok(config)
    }

    /// The host's name among the hosts sharing state: `host_id`, else the
    /// device id.
    pub fn host_id(&self) -> &str {
        self.host_id.as_deref().unwrap_or(&self.device_id)
    }

    /// Socket loops per address: `loops`, or one per core when 0.
    pub fn loop_count(&self) -> usize {
        match self.loops {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        }
    }

    /// Rejects values that would make the host misbehave rather than fail.
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.loops <= MAX_LOOPS,
            "loops: {} is more than {MAX_LOOPS}",
            self.loops
        );
        if let Some(url) = &self.kv.redis {
            anyhow::ensure!(
                url.starts_with("redis://") || url.starts_with("redis+unix://"),
                "kv.redis: {url:?} is not a redis://HOST:PORT URL"
            );
        }
        anyhow::ensure!(self.kv.timeout_ms > 0, "kv.timeout_ms must be positive");
        anyhow::ensure!(
            self.host_id().chars().all(|c| c.is_ascii_graphic()) && !self.host_id().is_empty(),
            "host_id: {:?} must be printable ASCII without spaces",
            self.host_id()
        );
        crate::http::cross_proxy::Settings::parse(&self.http.proxy)
            .context("http.proxy: invalid")?;
        self.rd.validate(&self.device_id)?;
        anyhow::ensure!(
            !self.http.exchange_log.enabled || self.http.exchange_log.max_watchers > 0,
            "http.exchange_log.max_watchers must be positive"
        );
        anyhow::ensure!(
            !self.bind.is_empty() || self.coaps.enabled(),
            "bind: at least one address is needed, unless coaps is configured"
        );
        anyhow::ensure!(
            self.coaps.bind.as_ref().is_none_or(|b| b.is_empty()) || self.coaps.enabled(),
            "coaps.bind: coaps needs credentials (coaps.psk, coaps.psk_file or coaps.certificate)"
        );
        anyhow::ensure!(
            self.coaps.max_handshakes > 0 && self.coaps.max_sessions > 0,
            "coaps.max_handshakes and coaps.max_sessions must be positive"
        );
        let t = &self.transmission;
        anyhow::ensure!(
            t.ack_timeout_ms > 0,
            "transmission.ack_timeout_ms must be positive"
        );
        anyhow::ensure!(
            t.ack_random_factor >= 1.0 && t.ack_random_factor.is_finite(),
            "transmission.ack_random_factor must be at least 1.0"
        );
        anyhow::ensure!(
            t.max_retransmit <= 20,
            "transmission.max_retransmit must be at most 20"
        );
        anyhow::ensure!(
            t.deduplication_capacity > 0,
            "transmission.deduplication_capacity must be positive"
        );
        let b = &self.blockwise;
        anyhow::ensure!(
            (16..=1024).contains(&b.max_block_size) && b.max_block_size.is_power_of_two(),
            "blockwise.max_block_size must be a power of two from 16 to 1024"
        );
        anyhow::ensure!(
            b.max_body_size > 0,
            "blockwise.max_body_size must be positive"
        );
        let r = &self.runtime;
        anyhow::ensure!(
            r.max_instances_per_plugin > 0,
            "runtime.max_instances_per_plugin must be positive"
        );
        anyhow::ensure!(
            r.call_timeout_ms > 0,
            "runtime.call_timeout_ms must be positive"
        );
        anyhow::ensure!(
            r.max_pending_requests > 0,
            "runtime.max_pending_requests must be positive"
        );
        anyhow::ensure!(
            r.max_response_bytes > 0,
            "runtime.max_response_bytes must be positive"
        );
        for (index, rule) in self.access.rules.iter().enumerate() {
            let number = index + 1;
            for (field, empty) in [
                ("who", rule.who.is_empty()),
                ("methods", rule.methods.is_empty()),
                ("paths", rule.paths.is_empty()),
            ] {
                anyhow::ensure!(
                    !empty,
                    "access.rule number {number} (the {number}. [[access.rule]]): {field} is \
                     empty, so the rule allows nothing"
                );
            }
        }
        Ok(())
    }

    /// The access policy.
    pub fn access_policy(&self) -> Policy {
        Policy::new(self.access.rules.clone(), self.access.plain_coap)
    }

    /// The observation policy.
    pub fn observe_policy(&self) -> crate::exchange::observe::ObservePolicy {
        crate::exchange::observe::ObservePolicy {
            per_endpoint: self.observe.max_per_endpoint,
            total: self.observe.max_total,
            confirmable_every: self.observe.confirmable_every.max(1),
            confirmable_interval: Duration::from_secs(24 * 3600),
        }
    }

    /// The plugin runtime's limits, before any manifest's overrides.
    pub fn runtime_limits(&self) -> crate::runtime::RuntimeLimits {
        let r = &self.runtime;
        crate::runtime::RuntimeLimits {
            max_instances: r.max_instances_per_plugin,
            call_timeout: Duration::from_millis(r.call_timeout_ms),
            max_cpu_per_call: Duration::from_millis(r.max_cpu_ms_per_call),
            max_memory: r.max_memory_bytes,
            max_table_elements: r.max_table_elements,
            max_response_bytes: r.max_response_bytes,
            max_storage_bytes: r.max_storage_bytes,
            log_burst: r.log_burst,
            log_lines_per_second: r.log_lines_per_second,
        }
    }

    /// What the exchange layer sends and holds for block-wise transfers.
    pub fn blockwise_limits(&self) -> crate::exchange::BlockwiseLimits {
        let b = &self.blockwise;
        crate::exchange::BlockwiseLimits {
            max_block: b.max_block_size,
            max_body: b.max_body_size,
            amplification_factor: b.amplification_factor,
            amplification_allowance: b.amplification_allowance,
            max_transfer_memory: b.max_transfer_memory,
        }
    }

    /// The block-wise upload limits.
    pub fn upload_limits(&self) -> crate::exchange::blockwise::UploadLimits {
        let b = &self.blockwise;
        crate::exchange::blockwise::UploadLimits {
            max_body: b.max_body_size,
            max_block: b.max_block_size,
            timeout: Duration::from_millis(b.upload_timeout_ms),
        }
    }

    /// The message layer's view of the transmission settings.
    pub fn transmission_parameters(&self) -> TransmissionParameters {
        let t = &self.transmission;
        TransmissionParameters {
            ack_timeout: Duration::from_millis(t.ack_timeout_ms),
            ack_random_factor: t.ack_random_factor,
            max_retransmit: t.max_retransmit,
            separate_response_after: Duration::from_millis(t.separate_response_after_ms),
            deduplication_capacity: t.deduplication_capacity,
        }
    }
}

fn default_device_id() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "device".to_owned());
    format!("coapwasm-{host}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_client_credentials() {
        let proxy = |toml: &str| toml::from_str::<Config>(toml).unwrap().http.proxy;
        assert!(
            proxy("").client_credentials().unwrap().is_none(),
            "none by default"
        );
        let psk = proxy("[http.proxy]\npsk_identity = \"gw\"\npsk_key_hex = \"00ff\"\n")
            .client_credentials()
            .unwrap()
            .unwrap();
        assert_eq!(psk.psk, Some(("gw".to_owned(), vec![0, 0xff])));
        for half in [
            "[http.proxy]\npsk_identity = \"gw\"\n",
            "[http.proxy]\npsk_key = \"k\"\n",
            "[http.proxy]\npsk_identity = \"gw\"\npsk_key = \"k\"\npsk_key_hex = \"00\"\n",
            "[http.proxy]\ncertificate = \"c.pem\"\n",
            "[http.proxy]\nca = [\"/nonexistent/ca.pem\"]\n",
        ] {
            assert!(proxy(half).client_credentials().is_err(), "{half}");
        }
    }

    #[test]
    fn empty_file_gives_defaults() {
        let config: Config = toml::from_str("").unwrap();
        assert_eq!(config.bind, Config::default().bind);
        assert_eq!(config.transmission.ack_timeout_ms, 2000);
        config.validate().unwrap();
    }

    #[test]
    fn nested_keys_override_defaults() {
        let config: Config = toml::from_str(
            "bind = [\"127.0.0.1:0\"]\n[transmission]\nseparate_response_after_ms = 200\n",
        )
        .unwrap();
        assert_eq!(config.bind, vec!["127.0.0.1:0".parse().unwrap()]);
        assert_eq!(config.transmission.separate_response_after_ms, 200);
        assert_eq!(config.transmission.max_retransmit, 4);
    }

    /// The documented example must stay a valid config with the defaults.
    #[test]
    fn example_file_is_valid_and_matches_defaults() {
        let config: Config = toml::from_str(include_str!("../../examples/coapwasm.toml")).unwrap();
        config.validate().unwrap();
        let defaults = Config::default();
        assert_eq!(config.http.bind, defaults.http.bind);
        assert_eq!(config.http.max_in_flight, defaults.http.max_in_flight);
        assert_eq!(config.http.proxy.allow, defaults.http.proxy.allow);
        assert_eq!(
            config.http.proxy.cache_entries,
            defaults.http.proxy.cache_entries
        );
        assert_eq!(
            config.http.proxy.dtls_sessions,
            defaults.http.proxy.dtls_sessions
        );
        assert_eq!(config.http.proxy.coap, defaults.http.proxy.coap);
        assert_eq!(
            config.http.exchange_log.enabled,
            defaults.http.exchange_log.enabled
        );
        assert_eq!(
            config.http.exchange_log.max_watchers,
            defaults.http.exchange_log.max_watchers
        );
        assert_eq!(config.bind, defaults.bind);
        assert_eq!(config.plugins, defaults.plugins);
        assert_eq!(config.data_dir, defaults.data_dir);
        assert_eq!(config.reload.debounce_ms, defaults.reload.debounce_ms);
        assert_eq!(
            config.observe.confirmable_every,
            defaults.observe.confirmable_every
        );
        assert_eq!(config.observe.max_total, defaults.observe.max_total);
        assert_eq!(
            config.blockwise.max_body_size,
            defaults.blockwise.max_body_size
        );
        assert_eq!(
            config.blockwise.upload_timeout_ms,
            defaults.blockwise.upload_timeout_ms
        );
        assert_eq!(
            config.transmission_parameters(),
            defaults.transmission_parameters()
        );
        assert_eq!(
            config.runtime.max_pending_requests,
            defaults.runtime.max_pending_requests
        );
        assert_eq!(
            config.runtime.max_cpu_ms_per_call,
            defaults.runtime.max_cpu_ms_per_call
        );
        assert_eq!(
            config.runtime.max_memory_bytes,
            defaults.runtime.max_memory_bytes
        );
        assert_eq!(
            config.runtime.max_response_bytes,
            defaults.runtime.max_response_bytes
        );
        assert_eq!(
            config.blockwise.max_transfer_memory,
            defaults.blockwise.max_transfer_memory
        );
        assert_eq!(
            config.blockwise.amplification_allowance,
            defaults.blockwise.amplification_allowance
        );
        assert_eq!(
            config.runtime.max_storage_bytes,
            defaults.runtime.max_storage_bytes
        );
        assert_eq!(config.kv.redis, defaults.kv.redis);
        assert_eq!(config.kv.shared, defaults.kv.shared);
        assert_eq!(config.kv.timeout_ms, defaults.kv.timeout_ms);
        assert_eq!(config.kv.retry_after_s, defaults.kv.retry_after_s);
        assert_eq!(config.runtime.log_burst, defaults.runtime.log_burst);
        assert_eq!(
            config.runtime.log_lines_per_second,
            defaults.runtime.log_lines_per_second
        );
    }

    #[test]
    fn kv_shared_is_a_star_or_a_list_of_names() {
        let config: Config =
            toml::from_str("[kv]\nredis = \"redis://127.0.0.1:6379\"\nshared = [\"led\"]\n")
                .unwrap();
        config.validate().unwrap();
        assert!(config.kv.shared.contains("led"));
        assert!(!config.kv.shared.contains("counter"));
        let all: Config = toml::from_str("[kv]\nshared = \"*\"\n").unwrap();
        assert!(all.kv.shared.contains("counter"));
        let error = toml::from_str::<Config>("[kv]\nshared = \"led\"\n").unwrap_err();
        assert!(error.to_string().contains("kv.shared"), "{error}");
        let bad: Config = toml::from_str("[kv]\nredis = \"http://x\"\n").unwrap();
        assert!(bad.validate().is_err());
        // host_id defaults to the device id.
        let mut named = Config {
            device_id: "gw-7".to_owned(),
            ..Config::default()
        };
        assert_eq!(named.host_id(), "gw-7");
        named.host_id = Some("a".to_owned());
        assert_eq!(named.host_id(), "a");
    }

    #[test]
    fn the_former_upload_memory_key_still_loads() {
        let config: Config = toml::from_str("[blockwise]\nmax_upload_memory = 1024\n").unwrap();
        assert_eq!(config.blockwise.max_transfer_memory, 1024);
    }

    #[test]
    fn the_readme_access_example_loads() {
        let config: Config = toml::from_str(
            "[access]\nplain_coap = \"read-only\"\n\
             [[access.rule]]\nwho = [\"psk:device-001\"]\nmethods = [\"*\"]\npaths = [\"/*\"]\n\
             [[access.rule]]\nwho = [\"anonymous\"]\nmethods = [\"GET\"]\n\
             paths = [\"/temperature\", \"/humidity\", \"/sensors/*\"]\n",
        )
        .unwrap();
        config.validate().unwrap();
        assert_eq!(config.access.plain_coap, PlainCoap::ReadOnly);
        assert_eq!(config.access.rules.len(), 2);
        assert!(Config::default().access_policy().is_open());
        assert!(!config.access_policy().is_open());
    }

    #[test]
    fn bad_access_entries_are_errors_that_name_them() {
        let rule = |who: &str, methods: &str, paths: &str| {
            format!("[[access.rule]]\nwho = [{who}]\nmethods = [{methods}]\npaths = [{paths}]\n")
        };
        for (text, named) in [
            (rule("\"pks:x\"", "\"GET\"", "\"/a\""), "pks:x"),
            (rule("\"any\"", "\"GETT\"", "\"/a\""), "GETT"),
            (rule("\"any\"", "\"GET\"", "\"led\""), "led"),
            (rule("\"any\"", "\"GET\"", "\"/a/*/b\""), "/a/*/b"),
            ("[access]\nplain_coap = \"maybe\"\n".to_owned(), "maybe"),
            (
                "[[access.rule]]\nwho = [\"any\"]\nmethod = [\"GET\"]\n".to_owned(),
                "method",
            ),
        ] {
            let error = toml::from_str::<Config>(&text).unwrap_err().to_string();
            assert!(error.contains(named), "{text}: {error}");
        }
        let config: Config = toml::from_str(&rule("", "\"GET\"", "\"/a\"")).unwrap();
        let error = config.validate().unwrap_err().to_string();
        assert!(error.contains("who is empty"), "{error}");
    }

    #[test]
    fn rd_is_off_by_default_and_checked_when_on() {
        let config = Config::default();
        assert!(config.rd.directory.is_none());
        assert_eq!(config.rd.lifetime_s, 90_000);
        let on: Config = toml::from_str(
            "[rd]\ndirectory = \"coap://127.0.0.1:5683\"\nendpoint = \"a\"\nlifetime_s = 60\n",
        )
        .unwrap();
        on.validate().unwrap();
        for (text, named) in [
            ("[rd]\ndirectory = \"http://x\"\n", "rd.directory"),
            (
                "[rd]\ndirectory = \"coap://x\"\nlifetime_s = 0\n",
                "at least 1",
            ),
            (
                "[rd]\ndirectory = \"coap://x\"\nendpoint = \"\"\n",
                "rd.endpoint",
            ),
            (
                "[rd]\ndirectory = \"coap://x\"\nbase = \"coap://h/p\"\n",
                "without a path",
            ),
        ] {
            let config: Config = toml::from_str(text).unwrap();
            let error = format!("{:#}", config.validate().unwrap_err());
            assert!(error.contains(named), "{text}: {error}");
        }
    }

    #[test]
    fn unknown_keys_are_errors() {
        assert!(toml::from_str::<Config>("bnd = []").is_err());
    }

    #[test]
    fn coaps_is_on_with_credentials_and_keys_are_text_or_hex() {
        let off = Config::default();
        assert!(off.coaps.binds().is_empty());
        assert!(off.coaps.dtls_config().unwrap().is_none());
        let text = "[coaps]\n[[coaps.psk]]\nidentity = \"a\"\nkey = \"k1\"\n\
                    [[coaps.psk]]\nidentity = \"b\"\nkey_hex = \"6b32\"\n";
        let config: Config = toml::from_str(text).unwrap();
        config.validate().unwrap();
        assert_eq!(config.coaps.binds(), vec!["[::]:5684".parse().unwrap()]);
        let dtls = config.coaps.dtls_config().unwrap().unwrap();
        assert_eq!(
            dtls.psk,
            vec![
                ("a".to_owned(), b"k1".to_vec()),
                ("b".to_owned(), b"k2".to_vec())
            ]
        );
    }

    #[test]
    fn bad_coaps_settings_are_named() {
        for (text, named) in [
            (
                "[coaps]\nbind = [\"127.0.0.1:0\"]\n",
                "coaps needs credentials",
            ),
            ("bind = []\n", "at least one address"),
        ] {
            let config: Config = toml::from_str(text).unwrap();
            let error = config.validate().unwrap_err().to_string();
            assert!(error.contains(named), "{text}: {error}");
        }
        for (text, named) in [
            (
                "[[coaps.psk]]\nidentity = \"a\"\nkey = \"x\"\nkey_hex = \"78\"\n",
                "exactly one",
            ),
            (
                "[[coaps.psk]]\nidentity = \"a\"\nkey_hex = \"7\"\n",
                "not hex",
            ),
            (
                "[[coaps.psk]]\nidentity = \"a\"\nkey = \"x\"\n[[coaps.psk]]\nidentity = \"a\"\nkey = \"y\"\n",
                "twice",
            ),
            ("[coaps]\ncertificate = \"c.pem\"\n", "go together"),
        ] {
            let config: Config = toml::from_str(text).unwrap();
            let error = match config.coaps.dtls_config() {
                Err(error) => error.to_string(),
                Ok(_) => panic!("{text}: accepted"),
            };
            assert!(error.contains(named), "{text}: {error}");
        }
    }

    #[test]
    fn keys_may_live_in_a_psk_file() {
        let dir = std::env::temp_dir().join(format!("coapwasm-psk-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("keys.toml");
        std::fs::write(
            &file,
            "[[psk]]\nidentity = \"device-001\"\nkey = \"super-secret-key-12345\"\n",
        )
        .unwrap();
        let text = format!("[coaps]\npsk_file = {:?}\n", file.display().to_string());
        let config: Config = toml::from_str(&text).unwrap();
        config.validate().unwrap();
        let dtls = config.coaps.dtls_config().unwrap().unwrap();
        assert_eq!(
            dtls.psk,
            vec![("device-001".to_owned(), b"super-secret-key-12345".to_vec())]
        );
        std::fs::write(&file, "[[psk]]\nidentity = \"x\"\n").unwrap();
        let error = config.coaps.dtls_config().unwrap_err().to_string();
        assert!(error.contains("exactly one"), "{error}");
        let missing: Config =
            toml::from_str("[coaps]\npsk_file = \"/nonexistent/keys.toml\"\n").unwrap();
        let error = format!("{:#}", missing.coaps.dtls_config().unwrap_err());
        assert!(error.contains("/nonexistent/keys.toml"), "{error}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
