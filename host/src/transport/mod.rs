//! Transports under the message layer: plain UDP (socket.rs) and DTLS.

pub mod dtls;
