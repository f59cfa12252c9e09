//! A call into a plugin: through the host's public path (`Plugin::handle`:
//! the pool's semaphore, an idle instance, the call timeout), straight into a
//! live instance (wasmtime's own cost), and into a fresh instance each time
//! (what the pool saves).
//!
//! The last two build their own engine and linker the way `runtime/` does,
//! since the host keeps its instances private.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use coapwasm::identity::Requester;
use coapwasm::runtime::bindings::{Plugin as Exports, PluginPre};
use coapwasm::runtime::manifest::Capabilities;
use coapwasm::runtime::{LogLimiter, PluginState};
use criterion::{Criterion, criterion_group, criterion_main};
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config, Engine, Store};

fn tokio() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// `Plugin::handle`, as the exchange layer calls it.
fn host_path(c: &mut Criterion) {
    let tokio = tokio();
    let runtime = support::runtime();
    let plugins = tokio.block_on(support::plugins(&runtime));
    for (name, path) in [("led", "/led"), ("info", "/info")] {
        let plugin = plugins.iter().find(|p| p.name() == name).expect("loaded");
        c.bench_function(&format!("plugin/Plugin::handle GET {path}"), |b| {
            b.iter_custom(|iters| {
                tokio.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        plugin
                            .handle(&support::get(path), &Requester::anonymous())
                            .await
                            .expect("a response");
                    }
                    start.elapsed()
                })
            })
        });
    }
}

/// An engine configured as `runtime::engine` does, and the plugin's
/// pre-instantiated component in it.
fn pre(name: &str) -> (Engine, PluginPre<PluginState>) {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    config.cranelift_opt_level(wasmtime::OptLevel::Speed);
    let engine = Engine::new(&config).expect("an engine");
    let component = Component::from_file(&engine, support::component(name)).expect("compiles");
    let mut linker = Linker::new(&engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker).expect("WASI");
    Exports::add_to_linker::<_, HasSelf<PluginState>>(&mut linker, |state| state)
        .expect("the host's imports");
    let pre = linker
        .instantiate_pre(&component)
        .and_then(PluginPre::new)
        .expect("links");
    (engine, pre)
}

async fn instantiate(
    engine: &Engine,
    pre: &PluginPre<PluginState>,
    runtime: &coapwasm::runtime::Runtime,
    name: &str,
    path: &str,
) -> (Store<PluginState>, Exports) {
    let limits = support::default_limits();
    let namespace = runtime
        .host()
        .plugin_namespace(name, limits.max_storage_bytes);
    let state = PluginState::new(
        name.into(),
        Some(namespace),
        Arc::from(vec![path.to_owned()]),
        runtime.host().clone(),
        Arc::new(LogLimiter::new(
            limits.log_burst,
            limits.log_lines_per_second,
        )),
        &limits,
        &Capabilities::default(),
    )
    .expect("state");
    let mut store = Store::new(engine, state);
    store.set_epoch_deadline(u64::MAX / 2);
    let exports = pre
        .instantiate_async(&mut store)
        .await
        .expect("instantiates");
    (store, exports)
}

/// A live instance called again and again, and a fresh one per call.
fn instances(c: &mut Criterion) {
    let tokio = tokio();
    let runtime = support::runtime();
    for (name, path) in [("led", "/led"), ("info", "/info")] {
        let (engine, pre) = pre(name);
        let request = support::get(path);
        let (mut store, exports) = tokio.block_on(instantiate(&engine, &pre, &runtime, name, path));
        c.bench_function(
            &format!("plugin/reused instance call_handle GET {path}"),
            |b| {
                b.iter_custom(|iters| {
                    tokio.block_on(async {
                        let start = Instant::now();
                        for _ in 0..iters {
                            exports
                                .call_handle(&mut store, &request)
                                .await
                                .expect("a response");
                        }
                        start.elapsed()
                    })
                })
            },
        );
        let mut group = c.benchmark_group("plugin");
        group.measurement_time(Duration::from_secs(3));
        group.bench_function(format!("fresh instance + call_handle GET {path}"), |b| {
            b.iter_custom(|iters| {
                tokio.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        let (mut store, exports) =
                            instantiate(&engine, &pre, &runtime, name, path).await;
                        exports
                            .call_handle(&mut store, &request)
                            .await
                            .expect("a response");
                    }
                    start.elapsed()
                })
            })
        });
        group.finish();
    }
}

criterion_group!(benches, host_path, instances);
criterion_main!(benches);
