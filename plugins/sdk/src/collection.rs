//! Collections (since `coapwasm:plugin@0.2.1`): a plugin that describes a
//! resource whose path ends in `/*`, such as
//! `ResourceDescription::new("/sensors/*", Methods::GET | Methods::DELETE)`,
//! receives every request for a path below `/sensors`: the members it
//! creates (for example on `POST /sensors`, answered
//! [`Response::created`](crate::Response::created) with a Location-Path) and
//! removes. This module lists the members in /.well-known/core (the
//! `collection` import); routing does not depend on it.

use crate::LinkAttribute;
use crate::wit::coapwasm::plugin::collection as host;
pub use crate::wit::coapwasm::plugin::collection::ListingError;

/// Lists the member at `path` (a full path such as `/sensors/3`) in
/// /.well-known/core with `attributes` besides its collection's, replacing
/// its earlier listing. The host keeps the list across restarts; it allows
/// 1024 members per plugin.
pub fn list_member(path: &str, attributes: &[LinkAttribute]) -> Result<(), ListingError> {
    host::list_member(path, attributes)
}

/// Stops listing the member at `path`; true if it was listed.
pub fn unlist_member(path: &str) -> bool {
    host::unlist_member(path)
}

/// The members listed now, sorted by path.
pub fn listed_members() -> Vec<String> {
    host::listed_members()
}
