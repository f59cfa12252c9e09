//! A trivial CoAP responder: every request gets a fixed 2.05 Content with a
//! small payload, piggybacked on an ACK for a CON or as a NON for a NON
//! (RFC 7252 §5.2). No parsing beyond the header, no state: the floor any
//! server's per-request cost is compared with, and the ceiling of the
//! generator on this machine.

use std::io;
use std::net::{SocketAddr, UdpSocket};

use crate::request::{ACK, CON, NON};

/// 2.05 Content.
const CONTENT: u8 = (2 << 5) | 5;

/// Answers forever on `address`, after printing `listening on ADDR`.
pub fn run(address: SocketAddr) -> io::Result<()> {
    let socket = UdpSocket::bind(address)?;
    println!("listening on {}", socket.local_addr()?);
    let mut request = vec![0u8; 65_536];
    let mut response = Vec::with_capacity(64);
    let mut message_id: u16 = 0;
    loop {
        let (len, from) = match socket.recv_from(&mut request) {
            Ok(received) => received,
            Err(_) => continue,
        };
        let request = &request[..len];
        if len < 4 || request[0] >> 6 != 1 || request[1] == 0 || request[1] >> 5 != 0 {
            continue; // not a request: empty messages and responses get nothing
        }
        let token_length = usize::from(request[0] & 0x0F);
        if token_length > 8 || len < 4 + token_length {
            continue;
        }
        response.clear();
        match (request[0] >> 4) & 3 {
            CON => {
                response.extend_from_slice(&[0x40 | (ACK << 4) | token_length as u8, CONTENT]);
                response.extend_from_slice(&request[2..4]);
            }
            NON => {
                message_id = message_id.wrapping_add(1);
                response.extend_from_slice(&[0x40 | (NON << 4) | token_length as u8, CONTENT]);
                response.extend_from_slice(&message_id.to_be_bytes());
            }
            _ => continue,
        }
        response.extend_from_slice(&request[4..4 + token_length]);
        response.extend_from_slice(&[0xC0, 0xFF]); // Content-Format 0 (text/plain)
        response.extend_from_slice(b"{\"state\":\"off\"}");
        let _ = socket.send_to(&response, from);
    }
}
