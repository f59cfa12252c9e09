//! Host bindings generated from the WIT package in `wit/`, the only contract
//! between the host and plugins. Exports are async so that a call into a
//! plugin can yield (epoch interruption) instead of holding a thread. The
//! key-value imports are async too: a namespace in Redis is a network round
//! trip, which must wait without holding a tokio worker thread. The other
//! imports answer from memory and stay sync, which costs nothing.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "plugin",
    exports: { default: async },
    imports: {
        "coapwasm:plugin/key-value": async,
        "coapwasm:plugin/atomics": async,
    },
});

pub use self::coapwasm::plugin::types;
pub use self::coapwasm::plugin::{
    atomics, collection, host_info, key_value, log, observe, requester,
};
