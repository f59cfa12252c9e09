//! The Rust SDK for coapwasm plugins.
//!
//! A plugin is a type that implements [`Plugin`] and one call of [`export!`]:
//!
//! ```no_run
//! use coapwasm_sdk::{Methods, Plugin, PluginDescription, Request, ResourceDescription, Response};
//! use coapwasm_sdk::content_format::TEXT_PLAIN;
//!
//! struct Hello;
//!
//! impl Plugin for Hello {
//!     fn describe() -> PluginDescription {
//!         PluginDescription::new("hello", env!("CARGO_PKG_VERSION")).resource(
//!             ResourceDescription::new("/hello", Methods::GET)
//!                 .content_format(TEXT_PLAIN)
//!                 .resource_type("greeting"),
//!         )
//!     }
//!
//!     fn handle(_request: Request) -> Response {
//!         Response::text("hello")
//!     }
//! }
//!
//! coapwasm_sdk::export!(Hello);
//! ```
//!
//! The crate generates the bindings of the `plugin` world
//! (`wit/plugin.wit`, package `coapwasm:plugin@0.2.3`) once, so a plugin
//! writes no bindings and sees no ABI. The WIT types are re-exported as they
//! are ([`Request`], [`Response`], [`ResourceDescription`], ...), with
//! constructors and builders added; the host's imports are the modules
//! [`kv`], [`log`], [`host_info`], [`observe`], [`collection`] and
//! [`requester`].
//!
//! Build a plugin crate (`crate-type = ["cdylib"]`) with
//! `cargo build --release --target wasm32-wasip2`. The crate also compiles
//! for the native target, so that a plugin's pure logic can be unit-tested
//! with `cargo test`; only calling an import needs the host.

#![warn(missing_docs)]

// Lets the generated code name this crate the same way inside it and inside
// the plugin crates that expand its macros.
extern crate self as coapwasm_sdk;

mod description;
mod plugin;
mod request;
mod response;

pub mod collection;
pub mod content_format;
pub mod host_info;
pub mod kv;
pub mod log;
pub mod observe;
pub mod requester;

pub use plugin::Plugin;
pub use wit::coapwasm::plugin::types::{
    ContentFormat, LinkAttribute, Method, Methods, PluginDescription, Request, ResourceDescription,
    Response, ResponseCode,
};

/// The bindings `wit-bindgen` generates for the `plugin` world: what the rest
/// of this crate wraps. A plugin does not need them; they are public because
/// [`export!`] expands to code that names them.
#[allow(missing_docs)]
// The generated glue passes a flattened `request` record to `handle`, which
// trips clippy's argument-count lint; it is not code anyone can shape.
#[allow(clippy::too_many_arguments)]
pub mod wit {
    wit_bindgen::generate!({
        // Relative to this crate's manifest (CARGO_MANIFEST_DIR).
        path: "../../wit",
        world: "plugin",
        additional_derives: [PartialEq],
        // The export macro runs in the plugin's crate, which depends on this
        // crate only: every path it expands to goes through here.
        pub_export_macro: true,
        default_bindings_module: "coapwasm_sdk::wit",
        runtime_path: "coapwasm_sdk::__private::wit_bindgen::rt",
    });
}

/// What the expansion of [`export!`] needs from this crate; not an API.
#[doc(hidden)]
pub mod __private {
    pub use wit_bindgen;
}

/// Exports a type that implements [`Plugin`] as the plugin's implementation
/// of the `plugin` world: `coapwasm_sdk::export!(MyPlugin);`, once per crate.
#[macro_export]
macro_rules! export {
    ($plugin:ident) => {
        $crate::wit::export!($plugin with_types_in $crate::wit);
    };
}
