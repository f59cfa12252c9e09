//! Telling the host that a resource changed for a reason no request shows
//! (the `observe` import), so that it notifies the resource's observers
//! (RFC 7641 §4.2). A request answered 2.xx that changed the resource needs
//! no call: the host notifies after it on its own.

use crate::wit::coapwasm::plugin::observe as host;

/// Marks the resource at `path`, one of this plugin's, as changed: the host
/// then asks [`Plugin::handle`](crate::Plugin::handle) for a GET of it and
/// sends the answer to every observer once the current call returns.
/// `important` makes the notification confirmable (RFC 7641 §4.5), for a
/// change a client must not miss.
pub fn changed(path: &str, important: bool) {
    host::changed(path, important);
}
