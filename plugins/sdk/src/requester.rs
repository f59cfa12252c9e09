//! Who sent the request being handled (the `requester` import, since
//! `coapwasm:plugin@0.2.2`): the identity the host's transport
//! authenticated, and whether the request came over DTLS (coaps).
//!
//! The host's access policy has already allowed the request before
//! [`Plugin::handle`](crate::Plugin::handle) runs; these are for finer
//! decisions, or for recording who changed what. Outside a request (in
//! `describe` and `sample`) and while a resource is rendered for its
//! observers (a notification goes to every observer), [`identity`] is none
//! and [`secure`] false.

use crate::wit::coapwasm::plugin::requester as host;

pub use host::PeerIdentity as Identity;

/// The authenticated identity of the request's sender: a PSK identity or a
/// certificate subject (`CN=...`); none over plain coap, and outside a
/// request.
pub fn identity() -> Option<Identity> {
    host::identity()
}

/// Whether the request came inside a DTLS session (coaps); false over plain
/// coap, and outside a request.
pub fn secure() -> bool {
    host::secure()
}
