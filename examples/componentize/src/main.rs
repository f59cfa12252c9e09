//! `componentize`: the build tool for coapwasm plugins written in C or Go.
//!
//! It does, from library crates, what `wit-bindgen` and `wasm-tools` would do
//! from the command line, so that a plugin build needs no `cargo install`:
//!
//! ```text
//! componentize bindings c  --out DIR [--wit DIR] [--world NAME]
//! componentize bindings go --out DIR [--wit DIR] [--world NAME]
//! componentize new CORE.wasm -o COMPONENT.wasm [--wit DIR] [--world NAME]
//! ```
//!
//! `bindings` writes the guest bindings of the world (wit-bindgen's C or Go
//! generator); `new` embeds the world's type into a WASI preview1 core module
//! and turns it into a component with the preview1 reactor adapter.
//! `--wit` defaults to `wit`, `--world` to `plugin`.

mod arguments;
mod bindings;
mod component;
mod go_runtime;
mod world;

use std::process::ExitCode;

use arguments::Command;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("componentize: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    match arguments::parse(std::env::args().skip(1))? {
        Command::Bindings { language, wit, out } => bindings::write(language, &wit, &out),
        Command::New { wit, core, output } => component::new(&wit, &core, &output),
    }
}
