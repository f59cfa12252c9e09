//! Start-up time: a request every millisecond until the first success (2.xx)
//! response, which prints the wall-clock time it came (nanoseconds since the
//! Unix epoch), for a script that noted when it started the server. The host
//! listens before its plugins are loaded, and answers 5.03 for their paths
//! until then: not yet the answer the time is about.

use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::request::RequestTemplate;

/// The time of the first success response and its code byte, or None if
/// none came within `limit`.
pub fn run(
    server: SocketAddr,
    template: &RequestTemplate,
    limit: Duration,
) -> std::io::Result<Option<(u128, u8)>> {
    let local: SocketAddr = if server.is_ipv6() {
        "[::]:0"
    } else {
        "0.0.0.0:0"
    }
    .parse()
    .expect("an address");
    let socket = UdpSocket::bind(local)?;
    socket.connect(server)?;
    socket.set_read_timeout(Some(Duration::from_millis(1)))?;
    let mut request = Vec::new();
    let mut response = vec![0u8; 65_536];
    let deadline = Instant::now() + limit;
    let mut message_id: u16 = 0;
    while Instant::now() < deadline {
        message_id = message_id.wrapping_add(1);
        template.write(&mut request, message_id, u32::from(message_id));
        // Refused until the server binds: ICMP port unreachable, ignored.
        let _ = socket.send(&request);
        match socket.recv(&mut response) {
            Ok(len) if len >= 4 && response[1] >> 5 == 2 => {
                let at = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos());
                return Ok(Some((at, response[1])));
            }
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => std::thread::sleep(Duration::from_millis(1)),
        }
    }
    Ok(None)
}
