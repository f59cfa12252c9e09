//! The access policy (issue 15): who may use which methods on which paths.
//! The host decides before any plugin is called, the same way for every
//! transport, from the requester's [`Identity`](crate::identity::Identity)
//! alone: a plugin never sees a request the policy refused.
//!
//! Configured in `[access]` ([`AccessConfig`](crate::config::AccessConfig));
//! without rules everyone may do everything, as before the policy existed.

pub mod methods;
pub mod pattern;
pub mod policy;
pub mod who;

pub use methods::MethodSet;
pub use pattern::PathPattern;
pub use policy::{Decision, PlainCoap, Policy, Rule};
pub use who::Who;
