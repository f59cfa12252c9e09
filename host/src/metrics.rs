//! The host's metrics (issue 17), served at `/metrics` by the HTTP front in
//! the OpenMetrics text format (which Prometheus scrapes) through the
//! `prometheus-client` crate. One [`Metrics`] is made at start-up
//! (server.rs) and shared: the exchange layer holds it, and reaches the
//! sockets, the HTTP front and the plugin calls through it.
//!
//! Cheap on the request path: a counter is an atomic (the latency
//! histogram, the crate's, a short mutex per transport); a labelled one is
//! found in its family's map under a read lock, by labels that borrow or
//! share what the request already has (a `&'static str` method, the
//! plugin's `Arc<str>` name, the code as a number), so nothing is
//! allocated once a label set has been seen. Label values are few: three
//! transports, the methods, the response codes, the plugins.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

/// What carried a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// CoAP over UDP.
    Coap,
    /// CoAP over DTLS.
    Coaps,
    /// The HTTP front.
    Http,
}

impl EncodeLabelValue for Transport {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        encoder.write_str(match self {
            Transport::Coap => "coap",
            Transport::Coaps => "coaps",
            Transport::Http => "http",
        })
    }
}

/// A response code as its transport writes it: `2.05` for CoAP, `200`
/// for HTTP. Kept as a number, written only when scraped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Code {
    /// A CoAP code, class and detail in one byte (RFC 7252 §3).
    Coap(u8),
    /// An HTTP status.
    Http(u16),
}

impl EncodeLabelValue for Code {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        match *self {
            Code::Coap(code) => write!(encoder, "{}.{:02}", code >> 5, code & 0x1f),
            Code::Http(status) => write!(encoder, "{status}"),
        }
    }
}

/// The method of a CoAP request code (RFC 7252 §12.1.1, RFC 8132), as
/// the `method` label has it.
pub fn coap_method(code: u8) -> &'static str {
    match code {
        1 => "GET",
        2 => "POST",
        3 => "PUT",
        4 => "DELETE",
        5 => "FETCH",
        6 => "PATCH",
        7 => "iPATCH",
        _ => "other",
    }
}

/// The labels of a request.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RequestLabels {
    transport: Transport,
    /// The plugin called; empty when the host answered alone.
    plugin: Option<Arc<str>>,
    method: &'static str,
    code: Code,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct TransportLabels {
    transport: Transport,
}

/// How a plugin call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallOutcome {
    /// It answered (whatever the code).
    Ok,
    /// It trapped.
    Trap,
    /// It ran past `runtime.call_timeout_ms`.
    Timeout,
    /// It ran past its CPU time per call.
    CpuLimit,
    /// It answered more than its `max_response_bytes`.
    TooLarge,
    /// It could not be called (no instance).
    Error,
}

impl EncodeLabelValue for CallOutcome {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        encoder.write_str(match self {
            CallOutcome::Ok => "ok",
            CallOutcome::Trap => "trap",
            CallOutcome::Timeout => "timeout",
            CallOutcome::CpuLimit => "cpu_limit",
            CallOutcome::TooLarge => "too_large",
            CallOutcome::Error => "error",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct CallLabels {
    plugin: Arc<str>,
    outcome: CallOutcome,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct PluginLabels {
    plugin: Arc<str>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ReloadLabels {
    outcome: &'static str,
}

fn latency_histogram() -> Histogram {
    // 50 µs to about 1.6 s, doubling.
    Histogram::new(exponential_buckets(0.000_05, 2.0, 16))
}

/// The host's metrics and the registry they are scraped from.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<TransportLabels, Histogram, fn() -> Histogram>,
    plugin_calls: Family<CallLabels, Counter>,
    plugin_call_seconds: Family<PluginLabels, Counter<f64>>,
    plugin_running_seconds: Family<PluginLabels, Counter<f64>>,
    reloads: Family<ReloadLabels, Counter>,
    observers: Family<TransportLabels, Gauge>,
    dtls_sessions: Gauge,
    blockwise_bytes: Gauge,
    proxy_cache_hits: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// Every metric at zero, registered under the `coapwasm_` prefix.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("coapwasm");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "requests",
            "Requests answered, by transport, plugin called (empty: the host answered \
             alone), method and response code",
            requests.clone(),
        );
        let latency = Family::<TransportLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        registry.register_with_unit(
            "request_duration",
            "From a request's arrival to its response, by transport",
            Unit::Seconds,
            latency.clone(),
        );
        let plugin_calls = Family::<CallLabels, Counter>::default();
        registry.register(
            "plugin_calls",
            "Plugin calls, by plugin and outcome (ok, trap, timeout, cpu_limit, too_large, error)",
            plugin_calls.clone(),
        );
        let plugin_call_seconds = Family::<PluginLabels, Counter<f64>>::default();
        registry.register_with_unit(
            "plugin_call",
            "Wall-clock time spent in plugin calls, by plugin",
            Unit::Seconds,
            plugin_call_seconds.clone(),
        );
        let plugin_running_seconds = Family::<PluginLabels, Counter<f64>>::default();
        registry.register_with_unit(
            "plugin_cpu",
            "Time plugin code ran (the polls of its calls, without their waits: \
             the CPU time of its calls), by plugin",
            Unit::Seconds,
            plugin_running_seconds.clone(),
        );
        let reloads = Family::<ReloadLabels, Counter>::default();
        registry.register(
            "plugin_reloads",
            "Changes of the plugins folder applied after start-up, by outcome (loaded, failed)",
            reloads.clone(),
        );
        let observers = Family::<TransportLabels, Gauge>::default();
        registry.register(
            "observers",
            "Current CoAP observations (RFC 7641), by transport",
            observers.clone(),
        );
        let dtls_sessions = Gauge::default();
        registry.register(
            "dtls_sessions",
            "Established DTLS sessions (coaps)",
            dtls_sessions.clone(),
        );
        let blockwise_bytes = Gauge::default();
        registry.register_with_unit(
            "blockwise_held",
            "Bytes held for block-wise transfers: partial uploads and large responses",
            Unit::Bytes,
            blockwise_bytes.clone(),
        );
        let proxy_cache_hits = Counter::default();
        registry.register(
            "proxy_cache_hits",
            "Proxied requests answered from the proxy's cache",
            proxy_cache_hits.clone(),
        );
        Metrics {
            registry,
            requests,
            latency,
            plugin_calls,
            plugin_call_seconds,
            plugin_running_seconds,
            reloads,
            observers,
            dtls_sessions,
            blockwise_bytes,
            proxy_cache_hits,
        }
    }

    /// A request answered with `code` after `took`, over `transport`; by
    /// `plugin` if one was called.
    pub fn request(
        &self,
        transport: Transport,
        plugin: Option<&Arc<str>>,
        method: &'static str,
        code: Code,
        took: Duration,
    ) {
        self.requests
            .get_or_create(&RequestLabels {
                transport,
                plugin: plugin.cloned(),
                method,
                code,
            })
            .inc();
        self.latency
            .get_or_create(&TransportLabels { transport })
            .observe(took.as_secs_f64());
    }

    /// A call of `plugin` that ended with `outcome` after `took`.
    pub fn plugin_call(&self, plugin: &Arc<str>, outcome: CallOutcome, took: Duration) {
        self.plugin_calls
            .get_or_create(&CallLabels {
                plugin: plugin.clone(),
                outcome,
            })
            .inc();
        self.plugin_call_seconds
            .get_or_create(&PluginLabels {
                plugin: plugin.clone(),
            })
            .inc_by(took.as_secs_f64());
    }

    /// `took` more of `plugin`'s code running (see `runtime::busy_time`).
    pub fn plugin_running(&self, plugin: &Arc<str>, took: Duration) {
        self.plugin_running_seconds
            .get_or_create(&PluginLabels {
                plugin: plugin.clone(),
            })
            .inc_by(took.as_secs_f64());
    }

    /// A change of the plugins folder applied (`loaded`) or not.
    pub fn reload(&self, loaded: bool) {
        let outcome = if loaded { "loaded" } else { "failed" };
        self.reloads.get_or_create(&ReloadLabels { outcome }).inc();
    }

    /// `delta` more (or fewer) observations over `transport`.
    pub fn observers_changed(&self, transport: Transport, delta: i64) {
        self.observers
            .get_or_create(&TransportLabels { transport })
            .inc_by(delta);
    }

    /// `delta` more (or fewer) established DTLS sessions.
    pub fn dtls_sessions_changed(&self, delta: i64) {
        self.dtls_sessions.inc_by(delta);
    }

    /// The bytes block-wise transfers hold now (set when scraped).
    pub fn set_blockwise_held(&self, bytes: usize) {
        self.blockwise_bytes
            .set(i64::try_from(bytes).unwrap_or(i64::MAX));
    }

    /// A proxied request answered from the cache (for the cross-proxy).
    pub fn proxy_cache_hit(&self) {
        self.proxy_cache_hits.inc();
    }

    /// The metrics in the OpenMetrics text format.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing to a String does not fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

/// The Content-Type of [`Metrics::encode`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_is_counted_with_its_labels() {
        let metrics = Metrics::new();
        let plugin: Arc<str> = "led".into();
        metrics.request(
            Transport::Coap,
            Some(&plugin),
            coap_method(1),
            Code::Coap(0x45),
            Duration::from_micros(70),
        );
        metrics.request(
            Transport::Http,
            None,
            "GET",
            Code::Http(404),
            Duration::from_micros(10),
        );
        let text = metrics.encode();
        assert!(
            text.contains(
                "coapwasm_requests_total{transport=\"coap\",plugin=\"led\",method=\"GET\",code=\"2.05\"} 1"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "coapwasm_requests_total{transport=\"http\",plugin=\"\",method=\"GET\",code=\"404\"} 1"
            ),
            "{text}"
        );
        assert!(
            text.contains("coapwasm_request_duration_seconds_count{transport=\"coap\"} 1"),
            "{text}"
        );
    }
}
