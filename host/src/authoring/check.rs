//! `coapwasm check`: loads components exactly as the host does (its engine,
//! its limits from the config, the manifest beside each file, the same
//! compile, link, describe and validation steps in [`Runtime::load`]) and
//! says what the host would serve or why it would refuse them; with
//! `--plugins`, whether they would clash with the plugins of that folder.

use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;

use crate::access::{MethodSet, methods};
use crate::collection;
use crate::config::Config;
use crate::discovery::Link;
use crate::kv_store::KvStore;
use crate::plugin_folder::{ParallelLoad, PluginSet, component_files, load_order};
use crate::runtime::manifest::Manifest;
use crate::runtime::{HostContext, Plugin, Runtime};

/// The arguments of `coapwasm check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// The component files to check.
    #[arg(value_name = "FILE.wasm", required = true)]
    pub files: Vec<PathBuf>,
    /// A plugins folder: also check that each file could join the plugins
    /// there (no path or name another one already has).
    #[arg(long, value_name = "DIR")]
    pub plugins: Option<PathBuf>,
    /// The host's config file, for its `[runtime]` limits. Default: the
    /// defaults.
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// What the host would do with one file.
pub enum Verdict {
    /// It would serve it.
    Serves(Arc<Plugin>),
    /// It would refuse it, for this reason.
    Refuses(String),
}

/// Checks every file of `args`, printing each verdict: a description on
/// standard output, a refusal on standard error. True if the host would
/// serve every one.
pub fn run(args: &CheckArgs) -> anyhow::Result<bool> {
    let config = match &args.config {
        Some(path) => Config::from_file(path)?,
        None => Config::default(),
    };
    let scratch = Scratch::new()?;
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let verdicts = tokio.block_on(check(&config, args, scratch.path()))?;
    let mut all_served = true;
    for (file, verdict) in &verdicts {
        match verdict {
            Verdict::Serves(plugin) => print!("{}", describe(file, plugin)),
            Verdict::Refuses(reason) => {
                all_served = false;
                eprintln!("{}: the host would refuse it: {reason}", file.display());
            }
        }
    }
    Ok(all_served)
}

/// The verdict on each of `args.files`, in order. The key-value store and
/// the compile cache are in `scratch`: a check changes no host's data.
pub async fn check(
    config: &Config,
    args: &CheckArgs,
    scratch: &Path,
) -> anyhow::Result<Vec<(PathBuf, Verdict)>> {
    let kv = KvStore::open(&scratch.join("kv.redb")).context("a scratch key-value store")?;
    let host = Arc::new(HostContext::new(config.device_id.clone(), Arc::new(kv)));
    let runtime = Runtime::new(host, config.runtime_limits(), &scratch.join("cache"))?;

    // The folder's plugins as the host would hold them: every file loaded,
    // those that clash with a file sorting before them refused.
    let others = match &args.plugins {
        Some(folder) => {
            let folder = folder
                .canonicalize()
                .with_context(|| format!("plugins folder {}", folder.display()))?;
            Some(load_all(&runtime, load_order(component_files(&folder)?)).await)
        }
        None => None,
    };
    let (present, _, _) = PluginSet::in_name_order(others.iter().flatten().filter_map(
        |(_, verdict)| match verdict {
            Verdict::Serves(plugin) => Some(plugin.clone()),
            Verdict::Refuses(_) => None,
        },
    ));

    let files: Vec<PathBuf> = args
        .files
        .iter()
        .map(|file| file.canonicalize().unwrap_or_else(|_| file.clone()))
        .collect();
    let loaded = load_all(&runtime, files).await;
    let mut verdicts = Vec::new();
    for ((_, verdict), shown) in loaded.into_iter().zip(&args.files) {
        let verdict = match verdict {
            // Joining the folder as the host takes a new file in: the
            // plugins already serving win a clash, and a file of the folder
            // itself replaces its own older version.
            Verdict::Serves(plugin) if others.is_some() => match present.with(plugin.clone()) {
                Ok(_) => Verdict::Serves(plugin),
                Err(reason) => Verdict::Refuses(format!(
                    "beside the plugins in {}: {reason}",
                    args.plugins.as_deref().unwrap_or(Path::new(".")).display()
                )),
            },
            verdict => verdict,
        };
        verdicts.push((shown.clone(), verdict));
    }
    Ok(verdicts)
}

/// Loads `files` as the host loads its folder at start-up, as many at once
/// as there are cores; the verdicts in the order of `files`.
async fn load_all(runtime: &Arc<Runtime>, files: Vec<PathBuf>) -> Vec<(PathBuf, Verdict)> {
    let at_once = std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN);
    let mut load = ParallelLoad::start(runtime, files.clone(), at_once);
    let mut done = Vec::new();
    while let Some(loaded) = load.next().await {
        let verdict = match loaded.plugin {
            Ok(plugin) => Verdict::Serves(Arc::new(plugin)),
            Err(error) => Verdict::Refuses(error.to_string()),
        };
        done.push((loaded.file, verdict));
    }
    files
        .into_iter()
        .filter_map(|file| {
            let at = done.iter().position(|(f, _)| *f == file)?;
            Some(done.swap_remove(at))
        })
        .collect()
}

/// The description of a plugin the host would serve, as `check` prints it.
pub fn describe(file: &Path, plugin: &Plugin) -> String {
    let description = plugin.description();
    let mut out = format!(
        "{}: the host would serve it\n  plugin {} version {}\n",
        file.display(),
        description.name,
        description.version
    );
    let manifest = Manifest::path_for(plugin.file());
    if manifest.is_file() {
        out.push_str(&format!("  manifest {}\n", manifest.display()));
    }
    for resource in &description.resources {
        let names: Vec<&str> = MethodSet::of(resource.methods)
            .iter()
            .map(methods::name)
            .collect();
        let mut line = format!("  {} {}", resource.path, names.join(", "));
        if collection::prefix_of(&resource.path).is_some() {
            line.push_str(" (the members of a collection)");
        }
        if resource.observable {
            line.push_str("; observable");
            if let Some(ms) = resource.sample_interval_ms {
                line.push_str(&format!(", sampled every {ms} ms"));
            }
        }
        out.push_str(&line);
        out.push('\n');
        out.push_str(&format!("    {}\n", Link::for_resource(resource).as_str()));
    }
    out
}

/// A folder of its own for one check, removed afterwards.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> anyhow::Result<Scratch> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .subsec_nanos();
        let path =
            std::env::temp_dir().join(format!("coapwasm-check-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        Ok(Scratch(path))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
