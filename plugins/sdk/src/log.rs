//! Writing into the host's log (the `log` import), tagged with the plugin's
//! name; the host's log level decides what is shown. The host rate-limits
//! each plugin's lines (by default a burst of 100, then 10 a second) and
//! logs how many it dropped; lines the log level hides cost nothing.

use crate::wit::coapwasm::plugin::log as host;

/// The severity of a log line.
pub use host::Level;

/// Writes `message` at `level`.
pub fn log(level: Level, message: &str) {
    host::log(level, message);
}

/// Writes `message` at the trace level: very detailed tracing.
pub fn trace(message: &str) {
    log(Level::Trace, message);
}

/// Writes `message` at the debug level: detail for debugging.
pub fn debug(message: &str) {
    log(Level::Debug, message);
}

/// Writes `message` at the info level: normal operation.
pub fn info(message: &str) {
    log(Level::Info, message);
}

/// Writes `message` at the warn level: something unexpected the plugin handled.
pub fn warn(message: &str) {
    log(Level::Warn, message);
}

/// Writes `message` at the error level: something failed.
pub fn error(message: &str) {
    log(Level::Error, message);
}
