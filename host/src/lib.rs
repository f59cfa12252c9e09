//! coapwasm: a CoAP (RFC 7252) server over UDP that serves every resource from
//! a WebAssembly component.
//!
//! Data flows one way through the layers, each its own module:
//! [`socket`] (datagrams) → [`message`] (reliability, deduplication) →
//! [`exchange`] (request/response; later block-wise and observe) → [`router`]
//! (path to plugin, exact or a [`collection`]'s member) → [`runtime`]
//! (wasmtime). [`discovery`], [`plugin_folder`] and [`reload`] sit beside the
//! router; [`kv_store`] keeps
//! the plugins' state.

pub mod access;
pub mod allocator;
pub mod authoring;
pub mod client;
pub mod collection;
pub mod config;
pub mod discovery;
pub mod exchange;
pub mod exchange_log;
pub mod http;
pub mod identity;
pub mod idle_instances;
pub mod kv_store;
pub mod message;
pub mod metrics;
pub mod observation_mirror;
pub mod observation_store;
pub mod plugin_folder;
pub mod reload;
pub mod remote_changes;
pub mod resource_directory;
pub mod router;
pub mod runtime;
pub mod sampler;
pub mod server;
pub mod socket;
pub mod transport;
