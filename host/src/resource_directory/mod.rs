//! Registration with a CoRE Resource Directory (RFC 9176), so that clients
//! find this host's resources by a lookup at the directory
//! (`rd-lookup/res?rt=...`, §6) instead of asking every host.
//!
//! - [`registration`]: the protocol, sans-I/O: discovery of the
//!   registration resource, registration, registration update, removal,
//!   with backoff and jitter.
//! - [`registrant`]: the tokio task that drives it with the async client
//!   core, follows the routing table, and removes the registration on a
//!   clean shutdown.

pub mod registrant;
pub mod registration;
