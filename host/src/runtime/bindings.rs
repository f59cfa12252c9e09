//! Host bindings generated from the WIT package in `wit/`, the only contract
//! between the host and plugins. Exports are async so that a call into a
//! plugin can yield (epoch interruption) instead of holding a thread.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "plugin",
    exports: { default: async },
});

pub use self::coapwasm::plugin::types;
pub use self::coapwasm::plugin::{collection, host_info, key_value, log, observe, requester};
