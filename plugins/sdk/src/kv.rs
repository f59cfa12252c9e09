//! The plugin's namespace in the host's key-value store (the `key-value`
//! import): the place for state that must outlive one call, since the host
//! may run several instances of a plugin and replaces one that trapped.
//! A write is on disk when the call returns (in Redis, when the host shares
//! the namespace with other hosts).
//!
//! [`increment`] and [`compare_and_swap`] (the `atomics` import, since WIT
//! 0.2.3) are atomic across every instance of the plugin and every host
//! sharing its namespace, which a [`get`] then [`set`] is not.

use crate::wit::coapwasm::plugin::{atomics, key_value};

/// Why a store operation failed: the key or value is too large for the host
/// (`TooLarge`, also when a write would take the namespace past its quota:
/// the bytes of its keys and values, 16 MiB unless the host or the plugin's
/// manifest says otherwise; a smaller replacement or a delete always
/// succeeds), or the store itself failed.
pub use key_value::Error;

/// The value stored under `key`, or `None` if there is none.
pub fn get(key: &str) -> Result<Option<Vec<u8>>, Error> {
    key_value::get(key)
}

/// Stores `value` under `key`, replacing any earlier value. Fails with
/// `Error::TooLarge` if the key or value is over the host's limit, or if the
/// namespace would grow past its quota.
pub fn set(key: &str, value: impl AsRef<[u8]>) -> Result<(), Error> {
    key_value::set(key, value.as_ref())
}

/// Removes `key`; `true` if it was there.
pub fn delete(key: &str) -> Result<bool, Error> {
    key_value::delete(key)
}

/// Every key in the namespace, sorted.
pub fn keys() -> Result<Vec<String>, Error> {
    key_value::keys()
}

/// Adds `delta` to the integer stored under `key` as decimal text (none
/// counts as 0) and returns the sum, in one atomic step. Fails with
/// `Error::Storage` if the value is not a decimal integer or the sum leaves
/// the `i64` range, changing nothing.
pub fn increment(key: &str, delta: i64) -> Result<i64, Error> {
    atomics::increment(key, delta)
}

/// Stores `new` under `key` if its value is `old` right now (`None`: if it
/// has none), in one atomic step; `false` if the value was another.
pub fn compare_and_swap(
    key: &str,
    old: Option<&[u8]>,
    new: impl AsRef<[u8]>,
) -> Result<bool, Error> {
    atomics::compare_and_swap(key, old, new.as_ref())
}
