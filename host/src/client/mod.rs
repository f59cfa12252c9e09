//! The CoAP client behind `coapwasm get|put|post|delete|fetch|patch|ipatch|
//! observe|discover`. It shares the server's protocol core: the codec
//! (coap-lite), the message layer's classification, retransmission timer,
//! message ids and tokens ([`crate::message`]), block-wise
//! ([`crate::exchange::blockwise`]) and the DTLS session
//! ([`crate::transport::dtls`]). What is the client's own:
//!
//! - [`uri`]: a coap:// or coaps:// URI into options (RFC 7252 §6.4);
//! - [`exchange`]: the client side of one exchange, sans-I/O;
//! - [`connection`]: the socket, plain or DTLS, and the loop that drives an
//!   exchange with it;
//! - [`driver`]: the same exchange driven over a tokio socket, for the
//!   HTTP cross-proxy, over plain UDP or [`driver_dtls`]'s DTLS session;
//! - [`content_format`], [`presentation`], [`link_format`]: what a payload
//!   is and how it is shown;
//! - [`command`]: the command line.

pub mod command;
pub mod connection;
pub mod content_format;
pub mod driver;
pub mod driver_dtls;
pub mod exchange;
pub mod link_format;
pub mod presentation;
pub mod uri;
