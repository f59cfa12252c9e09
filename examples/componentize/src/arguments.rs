//! The command line, parsed by hand: three options do not need a parser crate.

use std::path::PathBuf;

use anyhow::{Context, bail};

use crate::bindings::Language;
use crate::world::WitWorld;

/// What to do.
pub enum Command {
    /// Write the guest bindings of `wit` in `language` into `out`.
    Bindings {
        language: Language,
        wit: WitWorld,
        out: PathBuf,
    },
    /// Make the component `output` from the core module `core`.
    New {
        wit: WitWorld,
        core: PathBuf,
        output: PathBuf,
    },
}

const USAGE: &str = "usage: componentize bindings c|go --out DIR [--wit DIR] [--world NAME]\n       \
                     componentize new CORE.wasm -o COMPONENT.wasm [--wit DIR] [--world NAME]";

/// Parses the arguments after the program's name.
pub fn parse(arguments: impl Iterator<Item = String>) -> anyhow::Result<Command> {
    let mut wit = WitWorld::default();
    let mut out = None;
    let mut positional = Vec::new();
    let mut arguments = arguments;
    while let Some(argument) = arguments.next() {
        let mut value = || {
            arguments
                .next()
                .with_context(|| format!("{argument} needs a value\n{USAGE}"))
        };
        match argument.as_str() {
            "--wit" => wit.dir = value()?.into(),
            "--world" => wit.world = value()?,
            "--out" | "-o" => out = Some(PathBuf::from(value()?)),
            "-h" | "--help" => bail!("{USAGE}"),
            _ if argument.starts_with('-') => bail!("unknown option {argument}\n{USAGE}"),
            _ => positional.push(argument),
        }
    }
    let out = out.with_context(|| format!("missing --out/-o\n{USAGE}"))?;
    match positional
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["bindings", language] => Ok(Command::Bindings {
            language: language.parse()?,
            wit,
            out,
        }),
        ["new", core] => Ok(Command::New {
            wit,
            core: core.into(),
            output: out,
        }),
        _ => bail!("{USAGE}"),
    }
}
