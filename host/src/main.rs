//! The `coapwasm` command.

use std::io::IsTerminal as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use coap_lite::RequestType;
use coapwasm::client::command::{self as client, DiscoverArgs, ObserveArgs, RequestArgs};
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
    about = "A CoAP server whose resources are WebAssembly components, and a CoAP client",
    after_help = "Client exit status: 0 a 2.xx response, 1 another failure (Reset, DTLS, nothing listening, \
                  observation refused), 2 a bad argument, 3 no response in time (-B), 4 a 4.xx, 5 a 5.xx."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the plugins in a folder over CoAP/UDP.
    Serve(ServeArgs),
    /// GET a resource: the payload on stdout, the code and options on stderr.
    Get(RequestArgs),
    /// PUT a payload (-e TEXT or -f FILE) to a resource.
    Put(RequestArgs),
    /// POST a payload to a resource.
    Post(RequestArgs),
    /// DELETE a resource.
    Delete(RequestArgs),
    /// FETCH (RFC 8132) with a payload.
    Fetch(RequestArgs),
    /// PATCH (RFC 8132) with a payload.
    Patch(RequestArgs),
    /// iPATCH (RFC 8132) with a payload.
    #[command(name = "ipatch")]
    IPatch(RequestArgs),
    /// Observe a resource (RFC 7641): each notification as it comes, until
    /// Ctrl-C, --count or --duration; deregisters on the way out.
    Observe(ObserveArgs),
    /// List a server's resources (/.well-known/core, RFC 6690) as a table.
    Discover(DiscoverArgs),
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
    /// Socket loops per address, each on a core of its own. Default 0: one
    /// per core.
    #[arg(long, value_name = "N")]
    loops: Option<usize>,
    /// A UDP address to serve coaps (DTLS) on; repeat for several. Default
    /// [::]:5684 once coaps credentials are configured.
    #[arg(long, value_name = "ADDR")]
    bind_coaps: Vec<SocketAddr>,
    /// A TCP address to serve HTTP on (RFC 8075 null mapping); repeat for
    /// several. Default none: HTTP is off.
    #[arg(long, value_name = "ADDR")]
    http: Vec<SocketAddr>,
    /// A target the proxy may reach, over HTTP (/hc/coap://...) and over
    /// CoAP (Proxy-Uri): an address, a network such as 10.0.0.0/8, or a host
    /// name, with an optional :PORT; repeat for several. Added to
    /// [http.proxy] allow. Default none.
    #[arg(long, value_name = "HOST")]
    proxy_allow: Vec<String>,
    /// Serve the live log of CoAP exchanges over HTTP
    /// (/.well-known/coapwasm/exchanges and the console's log): sets
    /// [http.exchange_log] enabled. Default off: it shows every client's
    /// tokens and payloads to anyone who reaches the HTTP port.
    #[arg(long)]
    exchange_log: bool,
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
    /// Every plugin's key-value namespace in this Redis (or Valkey), shared
    /// with the hosts that use the same: redis://HOST:PORT. Sets [kv] redis
    /// and shared = "*". Default: each host's own redb file.
    #[arg(long, value_name = "URL")]
    kv: Option<String>,
    /// This host's name among the hosts that share state. Default the
    /// device id.
    #[arg(long, value_name = "ID")]
    host_id: Option<String>,
    /// A Resource Directory (RFC 9176) to register with: coap://HOST:PORT
    /// (its registration resource discovered) or coap://HOST:PORT/PATH.
    /// Sets [rd] directory. Default none.
    #[arg(long, value_name = "URI")]
    rd: Option<String>,
    /// The endpoint name to register under. Sets [rd] endpoint. Default the
    /// device id.
    #[arg(long, value_name = "NAME")]
    endpoint: Option<String>,
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
        if let Some(loops) = self.loops {
            config.loops = loops;
        }
        if !self.bind_coaps.is_empty() {
            config.coaps.bind = Some(self.bind_coaps);
        }
        if !self.http.is_empty() {
            config.http.bind = self.http;
        }
        config.http.proxy.allow.extend(self.proxy_allow);
        if self.exchange_log {
            config.http.exchange_log.enabled = true;
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
        if let Some(url) = self.kv {
            config.kv.redis = Some(url);
            config.kv.shared = coapwasm::config::SharedNamespaces::All;
        }
        if let Some(host_id) = self.host_id {
            config.host_id = Some(host_id);
        }
        if let Some(rd) = self.rd {
            config.rd.directory = Some(rd);
        }
        if let Some(endpoint) = self.endpoint {
            config.rd.endpoint = Some(endpoint);
        }
        config.validate()?;
        Ok(config)
    }
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Serve(args) => serve(args),
        Command::Get(args) => client::request(RequestType::Get, args),
        Command::Put(args) => client::request(RequestType::Put, args),
        Command::Post(args) => client::request(RequestType::Post, args),
        Command::Delete(args) => client::request(RequestType::Delete, args),
        Command::Fetch(args) => client::request(RequestType::Fetch, args),
        Command::Patch(args) => client::request(RequestType::Patch, args),
        Command::IPatch(args) => client::request(RequestType::IPatch, args),
        Command::Observe(args) => client::observe(args),
        Command::Discover(args) => client::discover(args),
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
