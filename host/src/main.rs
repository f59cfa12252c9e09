//! The `coapwasm` command.

use std::io::IsTerminal as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use coapwasm::config::Config;

// glibc's allocator costs the request path 13% of its CPU (the per-request
// task cell comes with mprotect and page faults) and lets the RSS of the
// deduplication cache's datagrams grow to 2.7 KB an entry; mimalloc does
// neither (measured in the issue 8 note).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

// mimalloc takes some options only before its first allocation, and the Rust
// runtime allocates before `main`: so this runs as an ELF constructor.
#[used]
#[unsafe(link_section = ".init_array")]
static CONFIGURE_ALLOCATOR: extern "C" fn() = {
    extern "C" fn configure() {
        coapwasm::allocator::configure();
    }
    configure
};

#[derive(Parser)]
#[command(
    name = "coapwasm",
    version,
    about = "A CoAP server whose resources are WebAssembly components"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the plugins in a folder over CoAP/UDP.
    Serve(ServeArgs),
    /// Write a new plugin project, ready to build, into ./NAME (or --dir).
    New(coapwasm::authoring::NewArgs),
    /// Load components as the host would: describe them, or say why the
    /// host would refuse them (exit status 1).
    Check(coapwasm::authoring::CheckArgs),
}

/// Flags override the config file, which overrides the defaults.
#[derive(clap::Args)]
struct ServeArgs {
    /// A TOML config file (keys as in the README's Configuration section).
    #[arg(long, short = 'c', value_name = "FILE")]
    config: Option<PathBuf>,
    /// A UDP address to serve on; repeat for several. Default [::]:5683.
    #[arg(long, value_name = "ADDR")]
    bind: Vec<SocketAddr>,
    /// A UDP address to serve coaps (DTLS) on; repeat for several. Default
    /// [::]:5684 once coaps credentials are configured.
    #[arg(long, value_name = "ADDR")]
    bind_coaps: Vec<SocketAddr>,
    /// The folder of plugin components. Default ./plugins.
    #[arg(long, value_name = "DIR")]
    plugins: Option<PathBuf>,
    /// Where the key-value store and the compile cache live. Default ./coapwasm-data.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Log filter: error, warn, info, debug, trace, or a tracing directive.
    #[arg(long, value_name = "LEVEL")]
    log_level: Option<String>,
    /// The device id that the host-info import reports.
    #[arg(long, value_name = "ID")]
    device_id: Option<String>,
}

impl ServeArgs {
    fn into_config(self) -> anyhow::Result<Config> {
        let mut config = match &self.config {
            Some(path) => Config::from_file(path)?,
            None => Config::default(),
        };
        if !self.bind.is_empty() {
            config.bind = self.bind;
        }
        if !self.bind_coaps.is_empty() {
            config.coaps.bind = Some(self.bind_coaps);
        }
        if let Some(plugins) = self.plugins {
            config.plugins = plugins;
        }
        if let Some(data_dir) = self.data_dir {
            config.data_dir = data_dir;
        }
        if let Some(level) = self.log_level {
            config.log_level = level;
        }
        if let Some(device_id) = self.device_id {
            config.device_id = device_id;
        }
        config.validate()?;
        Ok(config)
    }
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Serve(args) => serve(args),
        Command::New(args) => coapwasm::authoring::new_project::run(&args)
            .map_or_else(|error| fail(&error), |()| ExitCode::SUCCESS),
        Command::Check(args) => match coapwasm::authoring::check::run(&args) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::FAILURE,
            Err(error) => fail(&error),
        },
    }
}

fn serve(args: ServeArgs) -> ExitCode {
    let config = match args.into_config() {
        Ok(config) => config,
        Err(error) => return fail(&error),
    };
    let filter = match tracing_subscriber::EnvFilter::try_new(log_filter(&config.log_level)) {
        Ok(filter) => filter,
        Err(error) => {
            return fail(&anyhow::anyhow!(
                "invalid log level {:?}: {error}",
                config.log_level
            ));
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => return fail(&error.into()),
    };
    match runtime.block_on(coapwasm::server::run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => fail(&error),
    }
}

/// A bare level applies to the host and its plugins only: wasmtime and
/// Cranelift at debug level would bury them. A full directive is taken as is.
fn log_filter(level: &str) -> String {
    match level {
        "error" | "warn" | "info" | "debug" | "trace" => {
            format!("warn,coapwasm={level},plugin={level}")
        }
        directive => directive.to_owned(),
    }
}

fn fail(error: &anyhow::Error) -> ExitCode {
    eprintln!("error: {error:#}");
    ExitCode::FAILURE
}
