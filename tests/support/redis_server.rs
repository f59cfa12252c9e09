//! A real `redis-server` (Debian's package, installed by examples/setup.sh)
//! on a loopback port of its own, with its files in a temporary folder,
//! killed when the test is done. Stopped and started again on the same
//! port and folder, it is what a host sees of a Redis restart.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::temp_dir::TempDir;

/// How long redis-server may take to answer PING after it was started
/// (with an append-only file to load, too).
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// Whether and how Redis keeps what it acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Persistence {
    /// `--save '' --appendonly no`: memory only; a restart loses everything.
    None,
    /// `--appendonly yes --appendfsync always`: every write is in the
    /// append-only file, fsync'ed, before Redis answers it. (`everysec`
    /// lets Redis answer writes it has not written yet while a background
    /// fsync is slow, which a crash then loses.)
    AppendOnly,
}

pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    persistence: Persistence,
    dir: TempDir,
}

impl RedisServer {
    /// Starts redis-server on 127.0.0.1 and a port that was free, and waits
    /// until it answers.
    pub fn start(persistence: Persistence) -> RedisServer {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free TCP port on 127.0.0.1")
            .port();
        let mut server = RedisServer {
            child: None,
            port,
            persistence,
            dir: TempDir::new(),
        };
        server.start_again();
        server
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills the server (SIGKILL: no chance to save anything more), and
    /// waits until it is gone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again, on the same port and files, and waits until it
    /// answers PING (after loading its append-only file, if any).
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "redis-server is running already");
        let mut command = Command::new("redis-server");
        command
            .arg("--port")
            .arg(self.port.to_string())
            .args(["--bind", "127.0.0.1", "--save", "", "--dir"])
            .arg(self.dir.path())
            .args(["--protected-mode", "no", "--logfile", "redis.log"]);
        match self.persistence {
            Persistence::None => command.args(["--appendonly", "no"]),
            Persistence::AppendOnly => {
                command.args(["--appendonly", "yes", "--appendfsync", "always"])
            }
        };
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server: install it with `bash examples/setup.sh` (Debian's redis-server)");
        self.child = Some(child);
        let deadline = Instant::now() + START_TIMEOUT;
        while !self.answers_ping() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not answer PING on port {} within {START_TIMEOUT:?}:\n{}",
                self.port,
                self.log()
            );
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the process (SIGSTOP) without closing anything: connections
    /// stay open and requests go unanswered, a stalled Redis.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Lets a paused server go on (SIGCONT).
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().expect("redis-server is running").id();
        let status = Command::new("kill")
            .arg(signal)
            .arg(pid.to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill {signal} {pid}");
    }

    /// Runs one command given as RESP parts and returns Redis's raw reply.
    pub fn command(&self, parts: &[&str]) -> String {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect to redis");
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut request = format!("*{}\r\n", parts.len());
        for part in parts {
            request.push_str(&format!("${}\r\n{part}\r\n", part.len()));
        }
        stream.write_all(request.as_bytes()).unwrap();
        let mut reply = vec![0u8; 65536];
        let n = stream.read(&mut reply).unwrap_or(0);
        String::from_utf8_lossy(&reply[..n]).into_owned()
    }

    fn answers_ping(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
        if stream.write_all(b"*1\r\n$4\r\nPING\r\n").is_err() {
            return false;
        }
        let mut reply = [0u8; 64];
        // LOADING while it reads its append-only file: not up yet.
        matches!(stream.read(&mut reply), Ok(n) if reply[..n].starts_with(b"+PONG"))
    }

    /// Its log file so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("redis.log")).unwrap_or_default()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}
