//! Support for the end-to-end tests: the real `coapwasm` binary on a loopback
//! port, spoken to with hand-made datagrams and with libcoap's coap-client.

use std::time::Duration;

pub mod aiocoap;
pub mod artifacts;
pub mod blocks;
pub mod certificates;
pub mod child;
pub mod coap_client;
pub mod command;
pub mod curl;
pub mod datagram;
pub mod event_stream;
pub mod latency_probe;
pub mod link_format;
pub mod lossy_relay;
pub mod peer;
pub mod plugins_folder;
pub mod process_cpu;
pub mod rebuild;
pub mod redis_server;
pub mod resource_directory;
pub mod rfc3339;
pub mod round_trip;
pub mod server;
pub mod temp_dir;
pub mod testkit;

pub use coap_client::CoapClient;
pub use datagram::{Code, Message, Type, option};
pub use latency_probe::{LatencyProbe, ProbeReport};
pub use peer::Peer;
pub use plugins_folder::PluginsFolder;
pub use server::Server;

/// How long a server may take to start listening and load its plugins.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// How long any request may take to be answered before the test fails; far
/// beyond what a working server needs, so it never turns into a speed target.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// How long to listen before concluding the server stays silent.
pub const SILENCE: Duration = Duration::from_millis(700);
