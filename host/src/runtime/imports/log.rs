//! `log`: a plugin's lines in the host's log, tagged with its name, within
//! the plugin's rate limit (`runtime.log_burst`, `runtime.log_lines_per_second`).

use crate::runtime::bindings::log::{Host, Level};
use crate::runtime::state::PluginState;

/// Longer messages are cut, so that a plugin cannot flood the log with one call.
const MAX_MESSAGE_LEN: usize = 4096;

/// Whether the host's log filter shows plugin lines at `level`: a line that
/// would not be shown costs no token, so a plugin's debug lines cost nothing
/// while the host logs at info.
fn shown(level: Level) -> bool {
    match level {
        Level::Trace => tracing::enabled!(target: "plugin", tracing::Level::TRACE),
        Level::Debug => tracing::enabled!(target: "plugin", tracing::Level::DEBUG),
        Level::Info => tracing::enabled!(target: "plugin", tracing::Level::INFO),
        Level::Warn => tracing::enabled!(target: "plugin", tracing::Level::WARN),
        Level::Error => tracing::enabled!(target: "plugin", tracing::Level::ERROR),
    }
}

impl Host for PluginState {
    fn log(&mut self, level: Level, mut message: String) {
        if !shown(level) {
            return;
        }
        let plugin = &*self.name;
        if !self.log_limiter.admit_line_of(plugin) {
            return;
        }
        if message.len() > MAX_MESSAGE_LEN {
            let mut cut = MAX_MESSAGE_LEN;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
        }
        match level {
            Level::Trace => tracing::trace!(target: "plugin", plugin, "{message}"),
            Level::Debug => tracing::debug!(target: "plugin", plugin, "{message}"),
            Level::Info => tracing::info!(target: "plugin", plugin, "{message}"),
            Level::Warn => tracing::warn!(target: "plugin", plugin, "{message}"),
            Level::Error => tracing::error!(target: "plugin", plugin, "{message}"),
        }
    }
}
