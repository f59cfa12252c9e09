//! The `types` interface declares no functions; its host trait is empty.

use crate::runtime::bindings::types::Host;
use crate::runtime::state::PluginState;

impl Host for PluginState {}
