//! What the benchmarks that need plugins share: a runtime as `coapwasm serve`
//! builds it (default limits, a temporary data folder) with the example
//! plugins loaded from the workspace's build.

#![allow(dead_code)] // each bench uses a part

use std::path::PathBuf;
use std::sync::Arc;

use coapwasm::config::Config;
use coapwasm::kv_store::KvStore;
use coapwasm::runtime::bindings::types::{Method, Request};
use coapwasm::runtime::{HostContext, Plugin, Runtime, RuntimeLimits};

/// The example plugins, as examples/setup.sh builds them.
pub const PLUGINS: [&str; 4] = ["firmware", "info", "led", "temperature"];

/// A built plugin component, `target/wasm32-wasip2/plugin/NAME.wasm`.
pub fn component(name: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../target/wasm32-wasip2/plugin")
        .join(format!("{name}.wasm"));
    assert!(
        path.is_file(),
        "{} is missing: build the plugins with examples/setup.sh",
        path.display()
    );
    path
}

/// The runtime limits `coapwasm serve` uses by default.
pub fn default_limits() -> RuntimeLimits {
    Config::default().runtime_limits()
}

/// A runtime over a fresh data folder (kept for the process's life).
pub fn runtime() -> Arc<Runtime> {
    let data = std::env::temp_dir().join(format!("coapwasm-bench-{}", std::process::id()));
    std::fs::create_dir_all(&data).expect("a temporary folder");
    let kv = KvStore::open(&data.join("kv.redb")).expect("a key-value store");
    let host = Arc::new(HostContext::new("bench".to_owned(), Arc::new(kv)));
    Runtime::new(host, default_limits(), &data.join("cache")).expect("a runtime")
}

/// Loads the example plugins.
pub async fn plugins(runtime: &Arc<Runtime>) -> Vec<Arc<Plugin>> {
    let mut loaded = Vec::new();
    for name in PLUGINS {
        let plugin = runtime.load(&component(name)).await.expect("a plugin");
        loaded.push(Arc::new(plugin));
    }
    loaded
}

/// A GET of `path` as the exchange layer hands it to a plugin.
pub fn get(path: &str) -> Request {
    Request {
        method: Method::Get,
        path: path.to_owned(),
        query: Vec::new(),
        content_format: None,
        accept: None,
        payload: Vec::new(),
        source: "127.0.0.1:40000".to_owned(),
    }
}

/// A CON GET of `path` with a 4-byte token, as a client sends it.
pub fn get_datagram(message_id: u16, path: &str) -> Vec<u8> {
    let [high, low] = message_id.to_be_bytes();
    let mut datagram = vec![0x44, 0x01, high, low, 1, 2, 3, 4];
    let mut delta = 11; // Uri-Path
    for segment in path.split('/').filter(|s| !s.is_empty()) {
        datagram.push((delta << 4) | segment.len() as u8);
        datagram.extend_from_slice(segment.as_bytes());
        delta = 0;
    }
    datagram
}
