//! The trait a plugin implements: the exports of the `plugin` world.

use crate::{PluginDescription, Request, Response, wit};

/// A coapwasm plugin: the three exports of the `plugin` world. Implement it
/// on a unit struct and pass the struct to [`export!`](crate::export!).
///
/// The functions take no `self`: the host may run several instances of a
/// plugin at once and replaces an instance that trapped, so state that must
/// outlive one call belongs in the key-value store ([`kv`](crate::kv)).
pub trait Plugin {
    /// Describes the plugin and its resources. Called once when the plugin is
    /// loaded, before any request; must not depend on stored state.
    fn describe() -> PluginDescription;

    /// Answers one request to one of the resources `describe` listed. The
    /// host has already checked the path, the method and Accept. A panic
    /// answers the client 5.00 and the host replaces the instance.
    fn handle(request: Request) -> Response;

    /// Reads the sensor behind `path`, a resource whose description set a
    /// sample interval, and says whether its value changed enough since the
    /// last sample for observers to be told (RFC 7641 §4.2). The host calls
    /// it on that interval. The default, for a plugin that samples nothing,
    /// says no.
    fn sample(path: &str) -> bool {
        let _ = path;
        false
    }
}

impl<T: Plugin> wit::Guest for T {
    fn describe() -> PluginDescription {
        <T as Plugin>::describe()
    }

    fn handle(request: Request) -> Response {
        <T as Plugin>::handle(request)
    }

    fn sample(path: String) -> bool {
        <T as Plugin>::sample(&path)
    }
}
