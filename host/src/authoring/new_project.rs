//! `coapwasm new`: a plugin project, ready to build, outside the repository.
//! It holds the language's template with the plugin's name and path filled
//! in, its build script, the WIT package in `wit/` (where the build scripts
//! look first), and what the language needs from the repository: the Rust
//! SDK vendored, the Python or JavaScript helper module beside the plugin's
//! own, and for C and Go the repository to build `componentize` from.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, anyhow};

use super::embedded;
use super::language::Language;
use super::plugin_identity::{check_name, check_path};
use super::rust_project;
use super::template_placeholders::fill;

/// The arguments of `coapwasm new`.
#[derive(Debug, clap::Args)]
pub struct NewArgs {
    /// The plugin's language.
    #[arg(value_enum)]
    pub language: Language,
    /// The plugin's name: lowercase letters, digits and '-'. It names the
    /// plugin's key-value namespace and, by default, its folder and path.
    pub name: String,
    /// The resource it serves. Default /NAME.
    #[arg(long, value_name = "PATH")]
    pub path: Option<String>,
    /// Where to write the project: a folder that does not exist or is
    /// empty. Default ./NAME.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// The line of the C and Go build scripts that names the repository to
/// build `componentize` in when the project is outside it.
const REPOSITORY_LINE: &str = "coapwasm_repo=${COAPWASM_REPO:-}";

/// Writes the project `args` asks for and says on standard output how to
/// build and serve it.
pub fn run(args: &NewArgs) -> anyhow::Result<()> {
    check_name(&args.name).map_err(|e| anyhow!(e))?;
    let path = args
        .path
        .clone()
        .unwrap_or_else(|| format!("/{}", args.name));
    check_path(&path).map_err(|e| anyhow!(e))?;
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(&args.name));
    ensure_empty(&dir)?;

    let repository = repository();
    let files = project_files(args.language, &args.name, &path, repository.as_deref())?;
    for (relative, bytes) in &files {
        write(&dir.join(relative), bytes)?;
    }

    let build = dir.join("build.sh");
    let component = dir.join("target/wasm32-wasip2/plugin").join(component_name(
        args.language,
        &args.name,
        &dir,
    ));
    println!(
        "created the {} plugin {:?} serving {path} in {}",
        args.language.name(),
        args.name,
        dir.display()
    );
    println!("build it:   bash {}", build.display());
    println!(
        "            (the first build {}; the last line names the .wasm)",
        args.language.first_build()
    );
    println!("check it:   coapwasm check {}", component.display());
    println!(
        "serve it:   copy {} into the host's plugins folder; a running host loads it",
        component.display()
    );
    if matches!(args.language, Language::C | Language::Go) && repository.is_none() {
        println!(
            "componentize: build.sh needs it; set COMPONENTIZE to its path or put it on PATH \
             (`cargo install --path examples/componentize` in a coapwasm checkout)"
        );
    }
    Ok(())
}

/// The file name of the component the project's build writes (unless
/// `CARGO_TARGET_DIR` moves it): Cargo names it after the crate, the other
/// build scripts after the project's folder.
fn component_name(language: Language, name: &str, dir: &Path) -> String {
    match language {
        Language::Rust => format!("{}.wasm", name.replace('-', "_")),
        _ => {
            let folder = std::path::absolute(dir)
                .ok()
                .and_then(|d| d.file_name().map(|f| f.to_string_lossy().into_owned()))
                .unwrap_or_else(|| name.to_owned());
            format!("{folder}.wasm")
        }
    }
}

/// The project's files, relative to its folder.
fn project_files(
    language: Language,
    name: &str,
    path: &str,
    repository: Option<&Path>,
) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut names = 0;
    for file in language.template() {
        let Some(text) = file.text() else {
            files.push((file.path.to_owned(), file.bytes.to_vec()));
            continue;
        };
        let (mut text, count) = fill(text, name, path);
        names += count;
        if language == Language::Rust && file.path == "Cargo.toml" {
            text = rust_project::project_manifest(&text)?;
        }
        if file.path == "build.sh" && text.contains(REPOSITORY_LINE) {
            text = text.replace(REPOSITORY_LINE, &repository_line(repository)?);
        }
        files.push((file.path.to_owned(), text.into_bytes()));
    }
    anyhow::ensure!(
        names > 0,
        "the {} template no longer names its plugin \"hello\" where `new` looks",
        language.name()
    );
    for file in embedded::WIT {
        files.push((format!("wit/{}", file.path), file.bytes.to_vec()));
    }
    for file in language.helpers() {
        files.push((file.path.to_owned(), file.bytes.to_vec()));
    }
    if language == Language::Rust {
        for (relative, bytes) in rust_project::sdk_files()? {
            files.push((format!("{}/{relative}", rust_project::SDK_FOLDER), bytes));
        }
        files.push(("Cargo.lock".to_owned(), rust_project::lock_file()?.to_vec()));
    }
    // The builds write target/ in the project.
    match files.iter_mut().find(|(p, _)| p == ".gitignore") {
        Some((_, ignored)) => ignored.extend_from_slice(b"/target/\n"),
        None => files.push((".gitignore".to_owned(), b"/target/\n".to_vec())),
    }
    Ok(files)
}

/// The coapwasm repository this binary was built in, if it is still there:
/// C and Go projects build `componentize` in it.
fn repository() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent()?;
    root.join("examples/componentize/Cargo.toml")
        .is_file()
        .then(|| root.to_path_buf())
}

/// The build script's line naming `repository` (still overridden by
/// `COAPWASM_REPO`).
fn repository_line(repository: Option<&Path>) -> anyhow::Result<String> {
    let Some(repository) = repository else {
        return Ok(REPOSITORY_LINE.to_owned());
    };
    let shown = repository.display().to_string();
    anyhow::ensure!(
        !shown.contains('\''),
        "the repository's path {shown} has a quote: it cannot go into build.sh"
    );
    Ok(format!("coapwasm_repo=${{COAPWASM_REPO:-'{shown}'}}"))
}

/// Refuses a `dir` that holds anything: a project is never written over files.
fn ensure_empty(dir: &Path) -> anyhow::Result<()> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => anyhow::ensure!(
            entries.next().is_none(),
            "{} already exists and is not empty: choose another name or --dir",
            dir.display()
        ),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => return Err(error).with_context(|| format!("cannot use {}", dir.display())),
    }
    Ok(())
}

/// Writes a new file, executable if it is a script.
fn write(file: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;

    if let Some(parent) = file.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let mode = if file.extension().is_some_and(|e| e == "sh") {
        0o755
    } else {
        0o644
    };
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(file)
        .and_then(|mut f| f.write_all(bytes))
        .with_context(|| format!("cannot write {}", file.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_language_gets_the_wit_package_and_a_build_script() {
        for language in [
            Language::Rust,
            Language::C,
            Language::Go,
            Language::Python,
            Language::Javascript,
        ] {
            let files = project_files(language, "zz", "/zz", Some(Path::new("/repo"))).unwrap();
            let has = |p: &str| files.iter().any(|(f, _)| f == p);
            assert!(has("wit/plugin.wit"), "{language:?}");
            assert!(has("build.sh"), "{language:?}");
        }
    }

    #[test]
    fn c_and_go_scripts_name_the_repository() {
        for language in [Language::C, Language::Go] {
            let files = project_files(language, "zz", "/zz", Some(Path::new("/repo"))).unwrap();
            let script = &files.iter().find(|(f, _)| f == "build.sh").unwrap().1;
            let script = std::str::from_utf8(script).unwrap();
            assert!(
                script.contains("coapwasm_repo=${COAPWASM_REPO:-'/repo'}"),
                "{language:?}"
            );
        }
    }

    #[test]
    fn a_rust_project_vendors_the_sdk() {
        let files = project_files(Language::Rust, "zz", "/zz", None).unwrap();
        let has = |p: &str| files.iter().any(|(f, _)| f == p);
        assert!(has("coapwasm-sdk/Cargo.toml") && has("coapwasm-sdk/src/lib.rs"));
        assert!(has("Cargo.lock") && has("src/lib.rs"));
    }
}
