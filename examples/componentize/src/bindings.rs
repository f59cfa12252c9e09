//! Guest bindings, from wit-bindgen's C and Go generators used as libraries.

use std::fs;
use std::path::Path;
use std::str::FromStr;

use anyhow::{Context, bail};
use wit_bindgen_core::Files;

use crate::go_runtime;
use crate::world::WitWorld;

/// A language that bindings can be written for.
#[derive(Clone, Copy)]
pub enum Language {
    /// `<world>.h`, `<world>.c` and `<world>_component_type.o`, the object
    /// that carries the world's type into the linked module.
    C,
    /// A Go module `wit_component` whose main package exports the world's
    /// functions with `//go:wasmexport`, plus the runtime package it imports.
    Go,
}

impl FromStr for Language {
    type Err = anyhow::Error;

    fn from_str(name: &str) -> anyhow::Result<Self> {
        match name {
            "c" => Ok(Self::C),
            "go" => Ok(Self::Go),
            _ => bail!("no bindings for {name:?}: c or go"),
        }
    }
}

/// Writes the bindings of `wit` in `language` into the folder `out`.
pub fn write(language: Language, wit: &WitWorld, out: &Path) -> anyhow::Result<()> {
    let (mut resolve, world) = wit.resolve()?;
    let mut generator = match language {
        Language::C => wit_bindgen_c::Opts::default().build(),
        // gofmt is not needed to compile, and may not be on the PATH.
        Language::Go => wit_bindgen_go::Opts {
            format: wit_bindgen_go::Format::False,
            ..Default::default()
        }
        .build(),
    };
    let mut files = Files::default();
    generator.generate(&mut resolve, world, &mut files)?;
    if let Language::Go = language {
        go_runtime::add(&mut files);
    }
    for (name, contents) in files.iter() {
        let path = out.join(name);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        fs::write(&path, contents).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}
