//! Start-up and the lifetime of the host: bind the sockets, serve at once
//! while the plugins load in parallel, serve until told to stop.

use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;

use crate::config::Config;
use crate::exchange::ExchangeLayer;
use crate::kv_store::{KvStore, RedisStore, SharedKv};
use crate::message::MessageLayer;
use crate::metrics::Metrics;
use crate::observation_store::ObservationStore;
use crate::plugin_folder::component_files;
use crate::reload::{self, Reloader};
use crate::resource_directory::registrant::Registrant;
use crate::router::{Router, RoutingTable};
use crate::runtime::{HostContext, Runtime};
use crate::sampler;
use crate::socket::{self, EndpointLimits, Shared};
use crate::transport::DatagramTransport;
use crate::transport::dtls::DtlsEndpoint;

/// How long a clean shutdown waits for the Resource Directory to confirm
/// the removal of the registration.
const RD_REMOVAL_WAIT: Duration = Duration::from_secs(2);

/// Runs the host with `config` until SIGINT or SIGTERM.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    anyhow::ensure!(
        config.plugins.is_dir(),
        "plugins folder {} does not exist (or is not a folder)",
        config.plugins.display()
    );

    // Bind before the slow part, so that a port in use fails at once.
    let dtls = config.coaps.dtls_config()?;
    let loops = config.loop_count();
    let mut sockets = Vec::new();
    let coaps = config
        .coaps
        .binds()
        .into_iter()
        .map(|address| (address, true));
    for (address, secure) in config.bind.iter().map(|&a| (a, false)).chain(coaps) {
        let group = match socket::bind(address, loops) {
            Ok(group) => group,
            // A kernel without IPv6 cannot make the dual-stack socket of the
            // default: serve IPv4 rather than nothing.
            Err(error) if is_ipv6_unavailable(address, &error) => {
                let v4 = SocketAddr::from(([0, 0, 0, 0], address.port()));
                tracing::warn!("IPv6 is not available ({error}); serving {v4} only");
                socket::bind(v4, loops).map_err(|error| bind_error(v4, error))?
            }
            Err(error) => return Err(bind_error(address, error)),
        };
        sockets.push((group, secure));
    }

    let mut http_listeners = Vec::new();
    for &address in &config.http.bind {
        http_listeners.push(crate::http::bind(address).await?);
    }

    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("cannot create data folder {}", config.data_dir.display()))?;
    let kv_path = config.data_dir.join("kv.redb");
    let kv = KvStore::open(&kv_path)
        .with_context(|| format!("cannot open the key-value store {}", kv_path.display()))?;
    // The host's one registry of metrics, scraped at /metrics over HTTP.
    let metrics = Arc::new(Metrics::new());
    let mut host =
        HostContext::new(config.device_id.clone(), Arc::new(kv)).with_metrics(metrics.clone());
    if let Some(url) = &config.kv.redis {
        let store = RedisStore::connect(url, Duration::from_millis(config.kv.timeout_ms))
            .context("cannot use the shared key-value store")?
            .with_host_id(config.host_id());
        tracing::info!(
            redis = store.shown(),
            host_id = config.host_id(),
            shared = ?config.kv.shared,
            "plugin namespaces shared through Redis"
        );
        host = host.with_shared_kv(
            SharedKv::new(store, config.kv.shared.clone()),
            config.kv.retry_after_s,
        );
    }
    let host = Arc::new(host);
    let runtime = Runtime::new(
        host.clone(),
        config.runtime_limits(),
        &config.data_dir.join("cache"),
    )?;

    // Absolute, so that watcher events and loaded files name a file alike.
    let folder = config.plugins.canonicalize()?;
    let events = reload::watch(&folder)
        .with_context(|| format!("cannot watch plugins folder {}", folder.display()))?;
    let files = component_files(&folder)?;
    // Nothing is served until the first plugin is ready; until the last,
    // a path no plugin serves yet is "still loading", not "not found".
    let router = Arc::new(Router::new(RoutingTable::default().while_loading()));
    let access = config.access_policy();
    access.warn_if_open();
    // Until targets are allowed, this host is no proxy over CoAP (5.05).
    let coap_proxying = if config.http.proxy.allow.is_empty() {
        crate::config::CoapProxying::Off
    } else {
        config.http.proxy.coap
    };
    // One proxy for both fronts (one cache, one request in flight per
    // device), there with HTTP off too: CoAP's Proxy-Uri uses it.
    let proxy = Arc::new(
        crate::http::cross_proxy::CrossProxy::new(
            &config.http.proxy,
            config.transmission_parameters(),
            config.blockwise.max_body_size,
        )?
        .with_metrics(metrics.clone()),
    );
    let exchanges = Arc::new(
        ExchangeLayer::new(router.clone(), config.blockwise_limits(), access)
            .with_metrics(metrics.clone())
            .with_proxy(proxy.clone(), coap_proxying),
    );
    let debounce = Duration::from_millis(config.reload.debounce_ms);
    tokio::spawn(sampler::run(router.clone(), host.clone()));
    if config.runtime.idle_instance_release_s > 0 {
        tokio::spawn(crate::idle_instances::run(
            router.clone(),
            Duration::from_secs(config.runtime.idle_instance_release_s),
        ));
    }
    tokio::spawn(crate::remote_changes::follow(host.clone(), router.clone()));
    let observations_path = config.data_dir.join("observations.redb");
    let mut observation_store = ObservationStore::open(&observations_path).with_context(|| {
        format!(
            "cannot open the observation store {}",
            observations_path.display()
        )
    })?;
    if let Some(shared) = &host.shared_kv {
        // A host of a fleet keeps its observations under its host id, where
        // a replacement with the same id finds them.
        let (store, id) = (shared.store(), config.host_id());
        let restored =
            match crate::observation_mirror::load(store.connection(), id, store.timeout()).await {
                Ok(found) => Some(found),
                Err(error) => {
                    tracing::warn!(
                        "cannot read this host's observations from Redis ({error}): restoring \
                         those of {}",
                        observations_path.display()
                    );
                    None
                }
            };
        let mirror =
            crate::observation_mirror::Mirror::start(store.connection(), id, store.timeout());
        observation_store = observation_store.with_mirror(mirror, restored);
    }
    let observation_store = Arc::new(observation_store);
    let log = &config.http.exchange_log;
    let exchange_log = Arc::new(crate::exchange_log::ExchangeLog::new(log.max_watchers));
    if log.enabled
        && let Some(open) = config.http.bind.iter().find(|a| !a.ip().is_loopback())
    {
        tracing::warn!(
            "the exchange log is served on {open}: anyone who reaches it sees every CoAP \
             client's tokens and payloads"
        );
    }
    let shared = Shared {
        exchanges,
        host,
        observation_store,
        exchange_log,
        spawner: tokio::runtime::Handle::current(),
    };

    let limits = EndpointLimits {
        observe: config.observe_policy(),
        notification_interval: std::time::Duration::from_millis(
            config.observe.min_notification_interval_ms,
        ),
        uploads: config.upload_limits(),
    };
    let (ended, mut loop_ended) = tokio::sync::mpsc::unbounded_channel();
    let mut serving = Vec::new();
    for (group, secure) in sockets {
        let local = group[0]
            .local_addr()
            .context("socket has no local address")?;
        serving.push((local, secure));
        let count = group.len();
        // What the address's limits bound, counted across its loops.
        let observations = Arc::default();
        let pending = socket::RequestBudget::new(config.runtime.max_pending_requests);
        for (index, socket) in group.into_iter().enumerate() {
            // A peer's duplicates reach its own loop only: the address's
            // capacity is shared among its loops, not multiplied.
            let mut parameters = config.transmission_parameters();
            parameters.deduplication_capacity = parameters.deduplication_capacity.div_ceil(count);
            let layer = MessageLayer::new(parameters, rand::random());
            let transport = match (&dtls, secure) {
                (Some(dtls), true) => DatagramTransport::dtls(
                    DtlsEndpoint::new(dtls.shared_by(count)).context("cannot set up coaps")?,
                ),
                _ => DatagramTransport::Udp,
            };
            socket::start_loop(
                socket,
                transport,
                layer,
                shared.clone(),
                limits,
                socket::LoopPlace {
                    index,
                    count,
                    observations: Arc::clone(&observations),
                    pending: pending.clone(),
                },
                ended.clone(),
            )
            .context("cannot start a socket loop")?;
        }
        // Scripts and tests wait for these lines to learn the bound ports.
        if secure {
            println!("coaps listening on {local}");
        } else {
            println!("listening on {local}");
        }
        tracing::debug!(%local, loops = count, "socket loops started");
    }
    for listener in http_listeners {
        let local = listener
            .local_addr()
            .context("HTTP listener has no local address")?;
        let front = Arc::new(
            crate::http::HttpFront::new(
                shared.exchanges.clone(),
                router.clone(),
                shared.host.clone(),
                shared.exchanges.transfers(config.upload_limits()),
                config.http.max_in_flight,
                config.blockwise.max_body_size,
                crate::http::event_stream::EventStreams::new(
                    config.observe.max_total,
                    config.observe.max_per_endpoint,
                    Duration::from_millis(config.observe.min_notification_interval_ms),
                ),
            )
            .with_proxy(proxy.clone())
            .with_exchange_log(log.enabled.then(|| {
                crate::http::exchange_log::Served {
                    log: shared.exchange_log.clone(),
                    coaps_payloads: log.coaps_payloads,
                }
            })),
        );
        tokio::spawn(crate::http::serve(listener, front));
        println!("http listening on {local}");
    }
    let registrant = Registrant::start(
        &config.rd,
        crate::resource_directory::registrant::Host {
            exchanges: shared.exchanges.clone(),
            router: router.clone(),
            serving,
            device_id: config.device_id.clone(),
            transmission: config.transmission_parameters(),
        },
    )?;
    tracing::info!(
        files = files.len(),
        ms = started.elapsed().as_millis() as u64,
        "coapwasm {} serving; loading plugins",
        env!("CARGO_PKG_VERSION")
    );

    // The loads run beside the sockets: each plugin serves once it is ready.
    // Folder events wait in their queue until the initial load is done.
    let at_once = std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN);
    let mut reloader = Reloader::new(runtime, router, debounce).with_metrics(metrics);
    tokio::spawn(async move {
        let loaded = reloader.load_initial(files, at_once).await;
        // Scripts and tests that need every plugin wait for this line.
        println!(
            "plugins loaded: {} serving, {} not, {} ms after start",
            loaded.serving,
            loaded.not_serving,
            started.elapsed().as_millis()
        );
        reloader.run(events).await;
    });

    tokio::select! {
        () = shutdown_signal() => tracing::info!("shutting down"),
        Some(error) = loop_ended.recv() => return Err(error).context("a socket loop failed"),
    }
    // A clean shutdown tells the directory at once (RFC 9176 §5.3.2) rather
    // than leaving lookups to find this host until the lifetime ends.
    if let Some(registrant) = registrant {
        registrant.remove(RD_REMOVAL_WAIT).await;
    }
    Ok(())
}

fn is_ipv6_unavailable(address: SocketAddr, error: &std::io::Error) -> bool {
    const EAFNOSUPPORT: i32 = 97;
    address.is_ipv6() && address.ip().is_unspecified() && error.raw_os_error() == Some(EAFNOSUPPORT)
}

fn bind_error(address: SocketAddr, error: std::io::Error) -> anyhow::Error {
    if error.kind() == std::io::ErrorKind::AddrInUse {
        anyhow::anyhow!("cannot bind UDP {address}: the address is already in use")
    } else {
        anyhow::anyhow!("cannot bind UDP {address}: {error}")
    }
}

async fn shutdown_signal() {
    let mut terminate =
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
}
