//! A test-only sensor plugin whose `sample` never returns (issue 13, finding
//! 3): it loops until the host stops it. `GET /stuck` answers at once, so a
//! client can still observe the resource.

use coapwasm_sdk::{Methods, Plugin, PluginDescription, Request, ResourceDescription, Response};

/// How often the host is asked to sample `/stuck`.
const SAMPLE_INTERVAL_MS: u32 = 100;

struct StuckSampler;

impl Plugin for StuckSampler {
    fn describe() -> PluginDescription {
        PluginDescription::new("stuck-sampler", env!("CARGO_PKG_VERSION")).resource(
            ResourceDescription::new("/stuck", Methods::GET).sample_interval_ms(SAMPLE_INTERVAL_MS),
        )
    }

    fn handle(_request: Request) -> Response {
        Response::text("stuck")
    }

    fn sample(_path: &str) -> bool {
        let mut x: u64 = 0;
        loop {
            // black_box keeps the loop from being optimised into a trap.
            x = std::hint::black_box(x.wrapping_add(1));
        }
    }
}

coapwasm_sdk::export!(StuckSampler);
