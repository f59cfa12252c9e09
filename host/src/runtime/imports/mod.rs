//! The host side of the world's imports (`wit/plugin.wit`).

mod atomics;
mod collection;
mod host_info;
mod key_value;
mod log;
mod observe;
mod requester;
mod types;
