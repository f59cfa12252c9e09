//! The WIT world a plugin targets, read from a folder of `.wit` files.

use std::path::PathBuf;

use anyhow::Context;
use wit_parser::{Resolve, WorldId};

/// Where the WIT package is and which of its worlds to use.
pub struct WitWorld {
    pub dir: PathBuf,
    pub world: String,
}

impl Default for WitWorld {
    fn default() -> Self {
        Self {
            dir: "wit".into(),
            world: "plugin".into(),
        }
    }
}

impl WitWorld {
    /// Parses the package and finds the world in it.
    pub fn resolve(&self) -> anyhow::Result<(Resolve, WorldId)> {
        let mut resolve = Resolve::default();
        let (package, _) = resolve
            .push_path(&self.dir)
            .with_context(|| format!("reading WIT from {}", self.dir.display()))?;
        let world = resolve
            .select_world(&[package], Some(&self.world))
            .with_context(|| format!("no world {:?} in {}", self.world, self.dir.display()))?;
        Ok((resolve, world))
    }
}
