//! Runs the real `coapwasm serve` in a fresh directory holding just the plugins
//! a test needs and a data directory of its own (`--data-dir DIR/data`: the
//! key-value store and the compiled-component cache), learns its ports from the
//! `listening on ADDR` lines, waits (unless told not to) for its `plugins
//! loaded` line, collects its log and kills it when the test ends.
//! A test may also kill it (SIGKILL) or restart it on the same directories,
//! and change its plugins folder while it runs (see `PluginsFolder`).

use crate::peer::Peer;
use crate::plugins_folder::PluginsFolder;
use crate::temp_dir::TempDir;
use crate::{STARTUP_TIMEOUT, artifacts};
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long a server may take to exit after SIGTERM or SIGKILL.
const EXIT_WAIT: Duration = Duration::from_secs(30);

/// Describes a server to start; see `Server::builder`.
pub struct ServerBuilder {
    dir: TempDir,
    launch: Launch,
}

/// How to run the process: kept by the server so that it can be restarted
/// exactly as it was first started.
struct Launch {
    binds: Vec<String>,
    plugins_flag: bool,
    data_dir_flag: bool,
    config: Option<String>,
    args: Vec<String>,
    /// Environment variables set for the process, on top of the test's own.
    env: Vec<(String, String)>,
    sockets: Option<usize>,
    /// Whether starting waits for the `plugins loaded` line too.
    wait_for_plugins: bool,
}

/// A running server. Dropping it kills the process.
pub struct Server {
    child: Child,
    addrs: Vec<SocketAddr>,
    coaps_addrs: Vec<SocketAddr>,
    /// From the `http listening on` lines (`--http`).
    http_addrs: Vec<SocketAddr>,
    stderr: Arc<Mutex<Vec<u8>>>,
    stdout: Receiver<String>,
    /// The `plugins loaded` line of this run, once read.
    plugins_loaded: Option<String>,
    launch: Launch,
    /// The logs of the runs before a restart, shown when a test fails.
    earlier_logs: String,
    dir: TempDir,
}

/// A server run that ended by itself.
pub struct Exited {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Server {
    /// A server bound to `127.0.0.1:0`, with an empty plugins folder passed by
    /// `--plugins` and a data directory of its own passed by `--data-dir`
    /// (created by the server).
    pub fn builder() -> ServerBuilder {
        let dir = TempDir::new();
        std::fs::create_dir(dir.path().join("plugins")).unwrap();
        ServerBuilder {
            dir,
            launch: Launch {
                binds: vec!["127.0.0.1:0".into()],
                plugins_flag: true,
                data_dir_flag: true,
                config: None,
                args: Vec::new(),
                env: Vec::new(),
                sockets: None,
                wait_for_plugins: true,
            },
        }
    }

    /// A default server with these plugins, e.g. `&["led"]`.
    pub fn with_plugins(names: &[&str]) -> Server {
        Server::builder().plugins(names).start()
    }

    /// The first bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addrs[0]
    }

    pub fn addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// The first coaps (DTLS) address, from the `coaps listening on` lines.
    pub fn coaps_addr(&self) -> SocketAddr {
        *self
            .coaps_addrs
            .first()
            .expect("the server serves no coaps: configure coaps and --bind-coaps")
    }

    /// Replaces the config file for the next `restart` (`{plugins}` and
    /// `{data}` as for `ServerBuilder::config`).
    pub fn set_config(&mut self, toml: &str) {
        let plugins = self.plugins_dir().display().to_string();
        let data = self.data_dir().display().to_string();
        self.launch.config = Some(toml.replace("{plugins}", &plugins).replace("{data}", &data));
    }

    /// Every coaps address.
    pub fn coaps_addrs(&self) -> &[SocketAddr] {
        &self.coaps_addrs
    }

    /// `http://ADDR/path` for the first HTTP address (`--http`), read from
    /// its `http listening on` line once the plugins are loaded.
    pub fn http_url(&self, path: &str) -> String {
        let addr = self
            .http_addrs
            .first()
            .expect("the server serves no HTTP: pass --http 127.0.0.1:0");
        format!("http://{addr}{path}")
    }

    /// `coaps://ADDR/path` for the first coaps address.
    pub fn coaps_uri(&self, path: &str) -> String {
        format!("coaps://{}{path}", self.coaps_addr())
    }

    /// `coap://ADDR/path` for the first bound address.
    pub fn uri(&self, path: &str) -> String {
        format!("coap://{}{path}", self.addr())
    }

    /// A raw UDP client for the first bound address.
    pub fn peer(&self) -> Peer {
        Peer::new(self.addr())
    }

    /// The process id of the running server, e.g. to read `/proc/PID/status`.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The server's resident memory (`VmRSS` in `/proc/PID/status`), in bytes.
    pub fn resident_bytes(&self) -> u64 {
        let path = format!("/proc/{}/status", self.pid());
        let status = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
        let kilobytes = status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|rest| rest.trim().strip_suffix("kB"))
            .and_then(|number| number.trim().parse::<u64>().ok())
            .unwrap_or_else(|| panic!("no `VmRSS: N kB` line in {path}:\n{status}"));
        kilobytes * 1024
    }

    /// The server's own directory, its working directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn plugins_dir(&self) -> PathBuf {
        self.dir.path().join("plugins")
    }

    /// The plugins folder, to add, replace and remove plugins while it runs.
    pub fn plugins_folder(&self) -> PluginsFolder {
        PluginsFolder::new(self.plugins_dir())
    }

    /// The directory passed by `--data-dir`; it survives `restart`.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Everything the server has logged so far, since it was last (re)started.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }

    /// The log lines of this run satisfying `matches`, in order.
    pub fn log_lines(&self, matches: impl Fn(&str) -> bool) -> Vec<String> {
        self.stderr()
            .lines()
            .filter(|l| matches(l))
            .map(str::to_string)
            .collect()
    }

    /// Waits up to `within` until at least `count` log lines of this run
    /// satisfy `matches`, and returns them all; None if too few came in time.
    pub fn log_count(
        &self,
        within: Duration,
        count: usize,
        matches: impl Fn(&str) -> bool,
    ) -> Option<Vec<String>> {
        let deadline = Instant::now() + within;
        loop {
            let lines = self.log_lines(&matches);
            if lines.len() >= count {
                return Some(lines);
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// The first log line satisfying `matches`, waiting up to `within` for it
    /// (the log is read by another thread, so it may lag a little).
    pub fn log_line(&self, within: Duration, matches: impl Fn(&str) -> bool) -> Option<String> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(line) = self.stderr().lines().find(|l| matches(l)) {
                return Some(line.to_string());
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Fails the test if the process has exited.
    pub fn assert_running(&mut self) {
        if let Some(status) = self.child.try_wait().unwrap() {
            panic!("the server exited ({status}); log:\n{}", self.stderr());
        }
    }

    /// Sends `signal` (e.g. "TERM") and waits, bounded, for the process to exit.
    pub fn signal_and_wait(&mut self, signal: &str, within: Duration) -> ExitStatus {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} failed");
        wait_bounded(&mut self.child, within).unwrap_or_else(|| {
            panic!(
                "the server did not exit within {within:?} of SIG{signal}; log:\n{}",
                self.stderr()
            )
        })
    }

    /// Kills the process with SIGKILL, as a power cut would: no chance to
    /// flush or clean up. Waits, bounded, until it is gone.
    pub fn kill(&mut self) -> ExitStatus {
        self.signal_and_wait("KILL", EXIT_WAIT)
    }

    /// Stops the process with SIGTERM, the orderly way, and waits, bounded,
    /// until it has exited; `restart` starts it again.
    pub fn stop(&mut self) -> ExitStatus {
        self.signal_and_wait("TERM", EXIT_WAIT)
    }

    /// Stops the process with SIGTERM if it still runs (after `kill` or
    /// `stop` it does not), then starts it again exactly as before: same
    /// directory, plugins folder, data directory, config and flags. Waits
    /// until it listens again and has loaded its plugins (as `start`). Bound
    /// to port 0 (the default) its ports are new, so make new peers and
    /// URIs; bound to an explicit port (see
    /// `ServerBuilder::fixed_port`) it listens on the same address again, and
    /// existing peers keep working.
    pub fn restart(&mut self) {
        if self.child.try_wait().unwrap().is_none() {
            self.stop();
        }
        // Let the log reader drain the last lines of the run that ended.
        thread::sleep(Duration::from_millis(100));
        let log = self.stderr();
        self.earlier_logs
            .push_str(&format!("--- run before a restart ---\n{log}"));
        let (child, stderr, stdout) = spawn(self.dir.path(), &self.launch);
        self.child = child;
        self.stderr = stderr;
        self.stdout = stdout;
        self.addrs.clear();
        self.coaps_addrs.clear();
        self.http_addrs.clear();
        self.plugins_loaded = None;
        self.wait_started();
    }

    /// Waits until the listening lines and, unless the builder said
    /// `without_waiting_for_plugins`, the `plugins loaded` line.
    fn wait_started(&mut self) {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        self.wait_listening(deadline);
        if self.launch.wait_for_plugins {
            self.wait_plugins_loaded_until(deadline);
        }
    }

    /// Waits until the server has loaded its plugins folder at start-up (its
    /// `plugins loaded` line on standard output) and returns that line.
    pub fn wait_plugins_loaded(&mut self) -> String {
        self.wait_plugins_loaded_until(Instant::now() + STARTUP_TIMEOUT)
    }

    /// The `plugins loaded` line if it has been printed by now, without waiting.
    pub fn plugins_loaded(&mut self) -> Option<String> {
        while self.plugins_loaded.is_none() {
            let Ok(line) = self.stdout.try_recv() else {
                break;
            };
            self.read_stdout_line(line);
        }
        self.plugins_loaded.clone()
    }

    fn wait_plugins_loaded_until(&mut self, deadline: Instant) -> String {
        while self.plugins_loaded.is_none() {
            self.read_stdout_until(deadline, "a `plugins loaded` line");
        }
        self.plugins_loaded.clone().unwrap()
    }

    /// Reads one line of standard output, waiting at most until `deadline`
    /// (failing the test past it or if the process ends), and notes what it says.
    fn read_stdout_until(&mut self, deadline: Instant, awaited: &str) {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                panic!(
                    "the server did not print {awaited} within {STARTUP_TIMEOUT:?} of starting; \
                     log:\n{}",
                    self.stderr()
                );
            }
            match self
                .stdout
                .recv_timeout(left.min(Duration::from_millis(200)))
            {
                Ok(line) => return self.read_stdout_line(line),
                Err(RecvTimeoutError::Timeout) => self.assert_running(),
                Err(RecvTimeoutError::Disconnected) => {
                    // stdout closed: the process is ending; give it a moment to say why.
                    let status = wait_bounded(&mut self.child, Duration::from_secs(5));
                    panic!(
                        "the server closed stdout before it printed {awaited} (exit: {status:?}); \
                         log:\n{}",
                        self.stderr()
                    );
                }
            }
        }
    }

    fn read_stdout_line(&mut self, line: String) {
        let line = line.trim();
        if let Some(addr) = line.strip_prefix("listening on ") {
            let addr = addr
                .parse()
                .unwrap_or_else(|e| panic!("unparsable address in stdout line {line:?}: {e}"));
            self.addrs.push(addr);
        } else if let Some(addr) = line.strip_prefix("coaps listening on ") {
            let addr = addr
                .parse()
                .unwrap_or_else(|e| panic!("unparsable address in stdout line {line:?}: {e}"));
            self.coaps_addrs.push(addr);
        } else if let Some(addr) = line.strip_prefix("http listening on ") {
            let addr = addr
                .parse()
                .unwrap_or_else(|e| panic!("unparsable address in stdout line {line:?}: {e}"));
            self.http_addrs.push(addr);
        } else if line.starts_with("plugins loaded") {
            self.plugins_loaded = Some(line.to_owned());
        }
    }

    /// Waits until every expected socket has printed its `listening on` line.
    fn wait_listening(&mut self, deadline: Instant) {
        let expected = self
            .launch
            .sockets
            .unwrap_or(self.launch.binds.len())
            .max(1);
        while self.addrs.len() + self.coaps_addrs.len() < expected {
            self.read_stdout_until(deadline, &format!("{expected} `listening on` line(s)"));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // A failing test shows what the server logged (libtest captures this).
        if thread::panicking() {
            eprintln!(
                "--- coapwasm log ---\n{}{}--- end of log ---",
                self.earlier_logs,
                self.stderr()
            );
        }
    }
}

impl ServerBuilder {
    /// Copies built plugins, e.g. `"led"` for `led.wasm`, into the plugins folder.
    pub fn plugins(mut self, names: &[&str]) -> ServerBuilder {
        for name in names {
            self = self.plugin_as(name, &format!("{name}.wasm"));
        }
        self
    }

    /// Copies the built plugin `name` under another file name, which decides
    /// the order plugins are loaded in (sorted by file name).
    pub fn plugin_as(self, name: &str, file_name: &str) -> ServerBuilder {
        let file = format!("{name}.wasm");
        let to = self.plugins_path().join(file_name);
        std::fs::copy(artifacts::plugin(&file), &to)
            .unwrap_or_else(|e| panic!("copy {file} to {}: {e}", to.display()));
        self
    }

    /// Copies a test plugin variant, e.g. `"versioned-v1"` for
    /// `target/test-plugins/versioned-v1.wasm`, under the file name given.
    pub fn test_plugin_as(self, variant: &str, file_name: &str) -> ServerBuilder {
        let file = format!("{variant}.wasm");
        let to = self.plugins_path().join(file_name);
        std::fs::copy(artifacts::test_plugin(&file), &to)
            .unwrap_or_else(|e| panic!("copy {file} to {}: {e}", to.display()));
        self
    }

    /// Writes a file of the given bytes into the plugins folder.
    pub fn plugin_file(self, file_name: &str, bytes: &[u8]) -> ServerBuilder {
        std::fs::write(self.plugins_path().join(file_name), bytes).unwrap();
        self
    }

    /// Writes the manifest `STEM.toml` beside the plugin `STEM.wasm`, e.g.
    /// `manifest("testkit", "[limits]\n...")`.
    pub fn manifest(self, stem: &str, toml: &str) -> ServerBuilder {
        self.plugin_file(&format!("{stem}.toml"), toml.as_bytes())
    }

    /// Sets an environment variable for the server process (kept by `restart`).
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> ServerBuilder {
        self.launch.env.push((key.into(), value.into()));
        self
    }

    /// Replaces the default `--bind 127.0.0.1:0` by these flags (none if empty).
    pub fn binds(mut self, addrs: &[&str]) -> ServerBuilder {
        self.launch.binds = addrs.iter().map(|a| a.to_string()).collect();
        self
    }

    /// Replaces the default `--bind 127.0.0.1:0` by `--bind 127.0.0.1:PORT`
    /// with a port that is free now, so that `restart` binds the same address
    /// again: clients keep their server address across restarts. The port is
    /// taken from below the kernel's ephemeral range, so the client sockets
    /// that other tests bind to port 0 meanwhile cannot take it while the
    /// server is down.
    pub fn fixed_port(self) -> ServerBuilder {
        let port = free_fixed_port();
        self.binds(&[&format!("127.0.0.1:{port}")])
    }

    /// Leaves out `--plugins`, so the config file or the default decides.
    pub fn without_plugins_flag(mut self) -> ServerBuilder {
        self.launch.plugins_flag = false;
        self
    }

    /// Leaves out `--data-dir`, so the config file or the default decides
    /// (the default is relative to the server's working directory, `dir`).
    pub fn without_data_dir_flag(mut self) -> ServerBuilder {
        self.launch.data_dir_flag = false;
        self
    }

    /// Writes `config.toml` and passes `--config`. `{plugins}` in the text is
    /// replaced by the plugins folder's path, `{data}` by the data directory's.
    pub fn config(mut self, toml: &str) -> ServerBuilder {
        let plugins = self.plugins_path().display().to_string();
        let data = self.data_path().display().to_string();
        self.launch.config = Some(toml.replace("{plugins}", &plugins).replace("{data}", &data));
        self
    }

    pub fn arg(mut self, arg: impl Into<String>) -> ServerBuilder {
        self.launch.args.push(arg.into());
        self
    }

    /// Makes `start` (and `restart`) return once the sockets listen, without
    /// waiting for the plugins to load: requests may then find them loading.
    pub fn without_waiting_for_plugins(mut self) -> ServerBuilder {
        self.launch.wait_for_plugins = false;
        self
    }

    /// How many `listening on` lines to wait for, when not one per `--bind`.
    pub fn sockets(mut self, count: usize) -> ServerBuilder {
        self.launch.sockets = Some(count);
        self
    }

    pub fn plugins_path(&self) -> PathBuf {
        self.dir.path().join("plugins")
    }

    /// The directory passed by `--data-dir`.
    pub fn data_path(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Starts the server and waits until every socket is listening and
    /// (see `without_waiting_for_plugins`) its plugins have loaded.
    pub fn start(self) -> Server {
        let (child, stderr, stdout) = spawn(self.dir.path(), &self.launch);
        let mut server = Server {
            child,
            addrs: Vec::new(),
            coaps_addrs: Vec::new(),
            http_addrs: Vec::new(),
            stderr,
            stdout,
            plugins_loaded: None,
            launch: self.launch,
            earlier_logs: String::new(),
            dir: self.dir,
        };
        server.wait_started();
        server
    }

    /// Runs the server expecting it to exit by itself within `within`.
    pub fn run_to_exit(self, within: Duration) -> Exited {
        let mut child = command(self.dir.path(), &self.launch)
            .spawn()
            .expect("spawn coapwasm");
        let stderr = collect(child.stderr.take().unwrap());
        let stdout = collect(child.stdout.take().unwrap());
        let status = wait_bounded(&mut child, within);
        let Some(status) = status else {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the server was expected to exit but still ran after {within:?}; log:\n{}",
                String::from_utf8_lossy(&stderr.lock().unwrap())
            );
        };
        // Let the reader threads drain what the process wrote before exiting.
        thread::sleep(Duration::from_millis(100));
        let stdout = String::from_utf8_lossy(&stdout.lock().unwrap()).into_owned();
        let stderr = String::from_utf8_lossy(&stderr.lock().unwrap()).into_owned();
        Exited {
            status,
            stdout,
            stderr,
        }
    }
}

/// A UDP port on 127.0.0.1 that is free now and lies below the ephemeral
/// range (`/proc/sys/net/ipv4/ip_local_port_range`), tried in a pseudo-random
/// order so that tests running at once pick different ones.
pub fn free_fixed_port() -> u16 {
    static PICKS: AtomicU32 = AtomicU32::new(0);
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse::<u32>().ok())
        .unwrap_or(32768);
    let (low, high) = (10_000u32, ephemeral_low.clamp(10_001, 65_535));
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let mut state = (nanos
        ^ std::process::id().rotate_left(16)
        ^ PICKS
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_mul(0x9e37_79b9))
        | 1;
    for _ in 0..200 {
        // xorshift32: cheap, and good enough to spread the picks.
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let port = (low + state % (high - low)) as u16;
        if std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free UDP port found in 127.0.0.1:{low}..{high} after 200 tries");
}

/// The `coapwasm serve` command line for a server in `dir`.
fn command(dir: &Path, launch: &Launch) -> Command {
    let mut command = Command::new(artifacts::binary());
    command.arg("serve");
    if let Some(toml) = &launch.config {
        let path = dir.join("config.toml");
        std::fs::write(&path, toml).unwrap();
        command.arg("--config").arg(path);
    }
    if launch.plugins_flag {
        command.arg("--plugins").arg(dir.join("plugins"));
    }
    if launch.data_dir_flag {
        command.arg("--data-dir").arg(dir.join("data"));
    }
    for bind in &launch.binds {
        command.arg("--bind").arg(bind);
    }
    command
        .args(&launch.args)
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .envs(launch.env.iter().map(|(key, value)| (key, value)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Starts the process, collecting its log and reading its stdout by line.
fn spawn(dir: &Path, launch: &Launch) -> (Child, Arc<Mutex<Vec<u8>>>, Receiver<String>) {
    let mut child = command(dir, launch).spawn().expect("spawn coapwasm");
    let stderr = collect(child.stderr.take().unwrap());
    let stdout = lines(child.stdout.take().unwrap());
    (child, stderr, stdout)
}

fn wait_bounded(child: &mut Child, within: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// Appends everything `source` produces to a shared buffer, on its own thread.
fn collect(mut source: impl Read + Send + 'static) -> Arc<Mutex<Vec<u8>>> {
    let text = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&text);
    thread::spawn(move || {
        let mut buffer = [0u8; 8192];
        while let Ok(n) = source.read(&mut buffer) {
            if n == 0 {
                break;
            }
            sink.lock().unwrap().extend_from_slice(&buffer[..n]);
        }
    });
    text
}

/// Sends each line `source` produces through a channel, on its own thread.
fn lines(source: impl Read + Send + 'static) -> Receiver<String> {
    let (sender, receiver) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(source).lines() {
            let Ok(line) = line else { break };
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    receiver
}
