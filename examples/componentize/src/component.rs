//! A component from a core module (what `wasm-tools component embed` and
//! `wasm-tools component new --adapt` do).

use std::fs;
use std::path::Path;

use anyhow::Context;
use wasi_preview1_component_adapter_provider::{
    WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME, WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
};
use wit_component::{ComponentEncoder, StringEncoding, embed_component_metadata};

use crate::world::WitWorld;

/// Reads the core module `core`, embeds the type of `wit`'s world, adapts its
/// WASI preview1 imports to WASI 0.2 and writes the component to `output`.
///
/// The reactor adapter, not the command one: a plugin is a library whose
/// exports the host calls, with no `_start`. Embedding the type again is
/// harmless when the module already carries it (wit-bindgen's C object does):
/// the encoder merges the sections.
pub fn new(wit: &WitWorld, core: &Path, output: &Path) -> anyhow::Result<()> {
    let mut module = fs::read(core).with_context(|| format!("reading {}", core.display()))?;
    let (resolve, world) = wit.resolve()?;
    embed_component_metadata(&mut module, &resolve, world, StringEncoding::UTF8)?;
    let component = ComponentEncoder::default()
        .validate(true)
        .module(&module)?
        .adapter(
            WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME,
            WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
        )?
        .encode()
        .with_context(|| format!("making a component of {}", core.display()))?;
    fs::write(output, component).with_context(|| format!("writing {}", output.display()))
}
