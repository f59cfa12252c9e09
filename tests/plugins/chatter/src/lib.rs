//! A test-only plugin that logs without end, as in issue 13 (finding 6):
//! each GET /chatter writes 2,000 lines of 4,000 bytes to the host's log, so
//! that the end-to-end tests can check the per-plugin log rate limit.
//!
//! `lines=` and `len=` change how many lines and how long; `level=debug`
//! logs them at the debug level instead of info; `to=stderr` or `to=stdout`
//! prints them there instead of calling the `log` import (the host routes a
//! plugin's WASI stdout and stderr into its log, within the same limit).
//! Answers `logged N`.

use std::io::Write;

use coapwasm_sdk::{
    Methods, Plugin, PluginDescription, Request, ResourceDescription, Response, log,
};

const LINES: usize = 2000;
const LEN: usize = 4000;

struct Chatter;

impl Plugin for Chatter {
    fn describe() -> PluginDescription {
        PluginDescription::new("chatter", env!("CARGO_PKG_VERSION"))
            .resource(ResourceDescription::new("/chatter", Methods::GET))
    }

    fn handle(request: Request) -> Response {
        let number = |name: &str, default: usize| {
            request
                .query_value(name)
                .and_then(|v| v.parse().ok())
                .unwrap_or(default)
        };
        let (lines, len) = (number("lines", LINES), number("len", LEN));
        let level = match request.query_value("level") {
            Some("debug") => log::Level::Debug,
            _ => log::Level::Info,
        };
        let filler = "x".repeat(len.saturating_sub(16));
        // Errors are ignored as `println!` would panic on them: a line the
        // host drops must not turn into a trap.
        match request.query_value("to") {
            Some("stderr") => {
                let mut stderr = std::io::stderr().lock();
                for i in 0..lines {
                    let _ = writeln!(stderr, "chatter {i:06} {filler}");
                }
            }
            Some("stdout") => {
                let mut stdout = std::io::stdout().lock();
                for i in 0..lines {
                    let _ = writeln!(stdout, "chatter {i:06} {filler}");
                }
                let _ = stdout.flush();
            }
            _ => {
                for i in 0..lines {
                    log::log(level, &format!("chatter {i:06} {filler}"));
                }
            }
        }
        Response::text(format!("logged {lines}"))
    }
}

coapwasm_sdk::export!(Chatter);
