//! Compiled components kept on disk, keyed by the component's content hash
//! and the engine's settings, so that a restart or a re-add of the same file
//! skips Cranelift.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// The SHA-256 of a component file, as lowercase hex.
pub fn content_hash(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A folder of serialized components.
pub struct CompileCache {
    dir: PathBuf,
    engine_key: String,
}

impl CompileCache {
    /// A cache in `dir` (made if missing) for components of `engine`.
    pub fn new(dir: &Path, engine: &Engine) -> std::io::Result<CompileCache> {
        std::fs::create_dir_all(dir)?;
        // Code compiled under other settings or another wasmtime must not be
        // loaded: the engine's compatibility hash is part of every key.
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        Ok(CompileCache {
            dir: dir.to_path_buf(),
            engine_key: format!("{:016x}", hasher.finish()),
        })
    }

    /// The component for `bytes` (whose hash is `hash`), from the cache if it
    /// is there, else compiled and stored. True when it came from the cache.
    pub fn component(
        &self,
        engine: &Engine,
        hash: &str,
        bytes: &[u8],
    ) -> wasmtime::Result<(Component, bool)> {
        let path = self.dir.join(format!("{hash}-{}.cwasm", self.engine_key));
        if path.is_file() {
            // SAFETY: the file is one this cache wrote from wasmtime's own
            // serialization, under a key that pins the engine's settings;
            // the cache folder belongs to the host's data directory.
            match unsafe { Component::deserialize_file(engine, &path) } {
                Ok(component) => return Ok((component, true)),
                Err(error) => {
                    tracing::warn!(file = %path.display(), "unusable cache entry, compiling again: {error}");
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        let component = compile(engine, bytes)?;
        if let Err(error) = self.store(&path, &component) {
            tracing::warn!(file = %path.display(), "cannot write the compile cache: {error:#}");
        }
        Ok((component, false))
    }

    fn store(&self, path: &Path, component: &Component) -> anyhow::Result<()> {
        let serialized = component.serialize()?;
        // Write then rename, so that a crash never leaves half an entry.
        let partial = path.with_extension(format!("partial-{}", std::process::id()));
        std::fs::write(&partial, serialized)?;
        std::fs::rename(&partial, path)?;
        Ok(())
    }
}

/// Compiles `bytes` in a thread pool of its own. Cranelift compiles a
/// component's functions in parallel with rayon; in rayon's global pool,
/// shared by every compilation, a small component compiled beside a large one
/// waits behind all of the large one's functions (measured with a cold cache:
/// `led` 0.2 s alone, 17.9 s beside the Python `greeting`). In pools of their
/// own, compilations share the cores as the OS shares threads.
fn compile(engine: &Engine, bytes: &[u8]) -> wasmtime::Result<Component> {
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    match rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("compile-{i}"))
        .build()
    {
        Ok(pool) => pool.install(|| Component::new(engine, bytes)),
        Err(error) => {
            tracing::debug!("no thread pool of its own for a compilation: {error}");
            Component::new(engine, bytes)
        }
    }
}
