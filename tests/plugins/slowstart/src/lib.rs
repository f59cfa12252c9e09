//! A test-only plugin that takes two seconds to describe itself and claims
//! `/led`, the path of the `led` example plugin: copied as `a-slow.wasm`,
//! whose name sorts before `led.wasm`, it is ready after `led` at start-up
//! and must still win the clash (the first file name wins, whichever plugin
//! is ready first).

use std::time::Duration;

use coapwasm_sdk::content_format::TEXT_PLAIN;
use coapwasm_sdk::{Methods, Plugin, PluginDescription, Request, ResourceDescription, Response};

/// Long beside `led`'s load (a fraction of a second), short beside the call
/// timeout a describe runs under (10 s); a sleep costs no CPU time.
const DESCRIBE_DELAY: Duration = Duration::from_secs(2);

struct Slowstart;

impl Plugin for Slowstart {
    fn describe() -> PluginDescription {
        std::thread::sleep(DESCRIBE_DELAY);
        PluginDescription::new("slowstart", env!("CARGO_PKG_VERSION"))
            .resource(ResourceDescription::new("/led", Methods::GET).content_format(TEXT_PLAIN))
    }

    fn handle(_request: Request) -> Response {
        Response::text("slowstart")
    }
}

coapwasm_sdk::export!(Slowstart);
