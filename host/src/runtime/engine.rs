//! The wasmtime engine every plugin shares, and the epoch clock that lets the
//! host take the CPU back from a plugin that runs long.

use std::time::Duration;

use wasmtime::{Config, Engine};

/// How often the engine's epoch advances. A running plugin yields to the async
/// runtime at every tick, so a busy plugin never holds a worker thread longer.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// An engine for components (async calls are always on in wasmtime 48), with epoch interruption, and a
/// thread that advances its epoch for as long as the process lives.
pub fn new_engine() -> anyhow::Result<Engine> {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    config.cranelift_opt_level(wasmtime::OptLevel::Speed);
    let engine = Engine::new(&config)?;

    let ticking = engine.weak();
    std::thread::Builder::new()
        .name("epoch-clock".to_owned())
        .spawn(move || {
            while let Some(engine) = ticking.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })?;
    Ok(engine)
}
