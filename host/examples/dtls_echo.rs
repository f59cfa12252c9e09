//! A coaps responder on the DTLS engine alone, for trying real clients
//! against it (the server proper wires the engine into its socket loop):
//! every request gets 2.05 Content naming the peer's identity and path.
//!
//! ```text
//! cargo run --release -p coapwasm --example dtls_echo -- 127.0.0.1:5684
//! coap-client-openssl -u device-001 -k super-secret-key-12345 coaps://127.0.0.1/x
//! ```

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use coap_lite::{MessageClass, MessageType, Packet, ResponseType};
use coapwasm::transport::dtls::{DtlsConfig, DtlsEndpoint, DtlsEvent};

fn main() -> anyhow::Result<()> {
    let address = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:5684".into());
    let socket = UdpSocket::bind(&address)?;
    let mut endpoint = DtlsEndpoint::new(DtlsConfig {
        psk: vec![("device-001".into(), b"super-secret-key-12345".to_vec())],
        ..DtlsConfig::default()
    })?;
    eprintln!("dtls_echo on {}", socket.local_addr()?);
    let mut buffer = [0u8; 2048];
    let mut events = Vec::new();
    loop {
        let wait = endpoint
            .next_deadline()
            .map_or(Duration::from_secs(1), |at| {
                at.saturating_duration_since(Instant::now())
            });
        socket.set_read_timeout(Some(wait.max(Duration::from_millis(1))))?;
        match socket.recv_from(&mut buffer) {
            Ok((n, peer)) => endpoint.on_datagram(peer, &buffer[..n], Instant::now(), &mut events),
            Err(error)
                if matches!(
                    error.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(error) => return Err(error.into()),
        }
        endpoint.on_timeout(Instant::now(), &mut events);
        while !events.is_empty() {
            for event in std::mem::take(&mut events) {
                match event {
                    DtlsEvent::Transmit(peer, datagram) => {
                        socket.send_to(&datagram, peer)?;
                    }
                    DtlsEvent::Deliver(peer, message) => {
                        let Ok(request) = Packet::from_bytes(&message) else {
                            continue;
                        };
                        let identity = endpoint
                            .identity(peer)
                            .map(ToString::to_string)
                            .unwrap_or_default();
                        let path: Vec<String> = request
                            .get_option(coap_lite::CoapOption::UriPath)
                            .map(|segments| {
                                segments
                                    .iter()
                                    .map(|s| String::from_utf8_lossy(s).into_owned())
                                    .collect()
                            })
                            .unwrap_or_default();
                        eprintln!("{peer} {identity} /{}", path.join("/"));
                        let mut response = Packet::new();
                        response.header.set_type(
                            if request.header.get_type() == MessageType::Confirmable {
                                MessageType::Acknowledgement
                            } else {
                                MessageType::NonConfirmable
                            },
                        );
                        response.header.message_id = request.header.message_id;
                        response.header.code = MessageClass::Response(ResponseType::Content);
                        response.set_token(request.get_token().to_vec());
                        response.payload = format!("{identity} /{}\n", path.join("/")).into_bytes();
                        if let Ok(bytes) = response.to_bytes() {
                            endpoint.send(peer, &bytes, &mut events);
                        }
                    }
                    DtlsEvent::Closed(peer) => eprintln!("{peer} closed"),
                }
            }
        }
    }
}
