//! `log`: a plugin's lines in the host's log, tagged with its name.

use crate::runtime::bindings::log::{Host, Level};
use crate::runtime::state::PluginState;

/// Longer messages are cut, so that a plugin cannot flood the log with one call.
const MAX_MESSAGE_LEN: usize = 4096;

impl Host for PluginState {
    fn log(&mut self, level: Level, mut message: String) {
        if message.len() > MAX_MESSAGE_LEN {
            let mut cut = MAX_MESSAGE_LEN;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
        }
        let plugin = &*self.name;
        match level {
            Level::Trace => tracing::trace!(target: "plugin", plugin, "{message}"),
            Level::Debug => tracing::debug!(target: "plugin", plugin, "{message}"),
            Level::Info => tracing::info!(target: "plugin", plugin, "{message}"),
            Level::Warn => tracing::warn!(target: "plugin", plugin, "{message}"),
            Level::Error => tracing::error!(target: "plugin", plugin, "{message}"),
        }
    }
}
