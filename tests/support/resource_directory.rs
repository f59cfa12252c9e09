//! Runs a real Resource Directory (RFC 9176) on a loopback port: aiocoap's
//! `aiocoap-rd` (PyPI, installed with aiocoap by `examples/setup.sh`) or
//! libcoap's `coap-rd-notls` (Debian's libcoap3-bin), and looks registrations
//! up with libcoap's coap-client.

use crate::coap_client::CoapClient;
use crate::link_format::{self, Link};
use crate::temp_dir::TempDir;
use std::io::Read;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// How long a directory may take to answer its first discovery request
/// (Python's start-up included).
const READY_WAIT: Duration = Duration::from_secs(20);

/// Which implementation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Implementation {
    /// aiocoap-rd: registration, update, removal and both lookups.
    Aiocoap,
    /// libcoap 4.3.1's coap-rd: registration only (no lookup interface, no
    /// update, and a DELETE crashes it).
    Libcoap,
}

/// A running directory. Dropping it kills the process.
pub struct ResourceDirectory {
    child: Child,
    address: SocketAddr,
    log: TempDir,
}

impl ResourceDirectory {
    /// A loopback address with a port that is free now, for a directory to
    /// be started on later (a host may be told of it before it runs).
    pub fn free_address() -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], crate::server::free_fixed_port()))
    }

    /// Starts `implementation` on a free port and waits until it answers.
    pub fn start(implementation: Implementation) -> ResourceDirectory {
        ResourceDirectory::start_at(implementation, ResourceDirectory::free_address())
    }

    /// Starts `implementation` at `address` and waits until it answers.
    pub fn start_at(implementation: Implementation, address: SocketAddr) -> ResourceDirectory {
        let log = TempDir::new();
        let file = std::fs::File::create(log.path().join("rd.log")).unwrap();
        let mut command = match implementation {
            Implementation::Aiocoap => {
                let mut command = Command::new("aiocoap-rd");
                command.args(["--bind", &format!("[{}]:{}", address.ip(), address.port())]);
                command
            }
            Implementation::Libcoap => {
                let mut command = Command::new("coap-rd-notls");
                // -v 7 logs each request, so tests can see what was sent.
                command.args([
                    "-v",
                    "7",
                    "-A",
                    &address.ip().to_string(),
                    "-p",
                    &address.port().to_string(),
                ]);
                command
            }
        };
        let child = command
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run {implementation:?}'s resource directory ({e}): run \
                     `bash examples/setup.sh` (aiocoap-rd comes with pip's aiocoap, \
                     coap-rd-notls with Debian's libcoap3-bin)"
                )
            });
        let mut directory = ResourceDirectory {
            child,
            address,
            log,
        };
        let deadline = Instant::now() + READY_WAIT;
        loop {
            if let Some(status) = directory.child.try_wait().unwrap() {
                panic!("the directory exited ({status}):\n{}", directory.log());
            }
            let output = CoapClient::get(&directory.uri("/.well-known/core?rt=core.rd"))
                .wait(1)
                .run();
            if output.received.iter().any(|m| m.code == "2.05") {
                return directory;
            }
            assert!(
                Instant::now() < deadline,
                "the directory did not answer within {READY_WAIT:?}:\n{}",
                directory.log()
            );
            thread::sleep(Duration::from_millis(200));
        }
    }

    /// `coap://ADDRESS` for `--rd`.
    pub fn base(&self) -> String {
        format!("coap://{}", self.address)
    }

    /// `coap://ADDRESS/path`.
    pub fn uri(&self, path_and_query: &str) -> String {
        format!("coap://{}{path_and_query}", self.address)
    }

    /// The path of the resource with resource type `rt` (such as
    /// `core.rd-lookup-res`), from the directory's discovery (§4.3).
    pub fn discover(&self, rt: &str) -> String {
        let output = CoapClient::get(&self.uri(&format!("/.well-known/core?rt={rt}"))).run();
        output.assert_code("2.05");
        let links = link_format::parse(output.payload_text()).unwrap();
        links
            .first()
            .unwrap_or_else(|| panic!("the directory has no {rt}: {}", output.payload_text()))
            .target
            .clone()
    }

    /// GET of `path_and_query` at the directory: the links of a 2.05.
    pub fn links(&self, path_and_query: &str) -> Vec<Link> {
        let output = CoapClient::get(&self.uri(path_and_query)).run();
        output.assert_code("2.05");
        link_format::parse(output.payload_text()).unwrap()
    }

    /// Polls `path_and_query` every 200 ms until `done` holds for its links,
    /// and returns them; fails the test after `within`.
    pub fn await_links(
        &self,
        path_and_query: &str,
        within: Duration,
        described: &str,
        done: impl Fn(&[Link]) -> bool,
    ) -> Vec<Link> {
        let deadline = Instant::now() + within;
        loop {
            let links = self.links(path_and_query);
            if done(&links) {
                return links;
            }
            assert!(
                Instant::now() < deadline,
                "{described}: not within {within:?}; GET {path_and_query} has {links:?}\n\
                 directory log:\n{}",
                self.log()
            );
            thread::sleep(Duration::from_millis(200));
        }
    }

    /// What the directory printed so far.
    pub fn log(&self) -> String {
        let mut text = String::new();
        if let Ok(mut file) = std::fs::File::open(self.log.path().join("rd.log")) {
            let _ = file.read_to_string(&mut text);
        }
        text
    }
}

impl Drop for ResourceDirectory {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
