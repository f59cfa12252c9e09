//! The plugin author's tools: `coapwasm new` writes a ready plugin project
//! outside the repository, `coapwasm check` tells whether the host would
//! serve a component and what it would serve.

pub mod check;
mod embedded;
mod language;
pub mod new_project;
mod plugin_identity;
mod rust_project;
mod template_placeholders;

pub use check::CheckArgs;
pub use language::Language;
pub use new_project::NewArgs;
