//! A raw UDP CoAP endpoint: sends hand-made datagrams to the server and reads
//! what comes back, always with a bounded wait.

use crate::REPLY_TIMEOUT;
use crate::datagram::{Code, Message, Type, hex, option};
use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

/// One client socket on the loopback address of the server's family, connected
/// to the server so that only its datagrams are read.
pub struct Peer {
    socket: UdpSocket,
    server: SocketAddr,
    next_mid: u16,
    next_token: u32,
}

impl Peer {
    pub fn new(server: SocketAddr) -> Peer {
        let local = if server.is_ipv6() {
            "[::1]:0"
        } else {
            "127.0.0.1:0"
        };
        let socket = UdpSocket::bind(local).expect("bind a loopback client socket");
        socket.connect(server).expect("connect the client socket");
        // Start the MIDs and tokens somewhere per-socket so that two peers of one
        // test never look alike to the server.
        let port = socket.local_addr().unwrap().port();
        Peer {
            socket,
            server,
            next_mid: port.wrapping_mul(7919),
            next_token: u32::from(port) << 8,
        }
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.socket.local_addr().unwrap()
    }

    pub fn server(&self) -> SocketAddr {
        self.server
    }

    pub fn mid(&mut self) -> u16 {
        self.next_mid = self.next_mid.wrapping_add(1);
        self.next_mid
    }

    /// A fresh 4-byte token.
    pub fn token(&mut self) -> Vec<u8> {
        self.next_token = self.next_token.wrapping_add(1);
        self.next_token.to_be_bytes().to_vec()
    }

    /// A CON request with a fresh MID and token.
    pub fn con(&mut self, code: Code, target: &str) -> Message {
        let (mid, token) = (self.mid(), self.token());
        Message::request(Type::Con, code, mid, &token, target)
    }

    /// A NON request with a fresh MID and token.
    pub fn non(&mut self, code: Code, target: &str) -> Message {
        let (mid, token) = (self.mid(), self.token());
        Message::request(Type::Non, code, mid, &token, target)
    }

    pub fn send(&self, message: &Message) {
        self.send_raw(&message.encode());
    }

    pub fn send_raw(&self, bytes: &[u8]) {
        let sent = self.socket.send(bytes).expect("send a datagram");
        assert_eq!(sent, bytes.len(), "datagram sent in part");
    }

    /// The next datagram from the server, or None if none arrives `within`.
    pub fn recv_raw(&self, within: Duration) -> Option<Vec<u8>> {
        let deadline = Instant::now() + within;
        let mut buffer = vec![0u8; 65536];
        // One read normally suffices; the loop only resumes after EINTR.
        for _ in 0..100 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            self.socket
                .set_read_timeout(Some(left.max(Duration::from_millis(1))))
                .unwrap();
            match self.socket.recv(&mut buffer) {
                Ok(n) => return Some(buffer[..n].to_vec()),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    return None;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => panic!("reading from {}: {e} (is the server gone?)", self.server),
            }
        }
        None
    }

    /// The next message from the server; panics if it is not valid CoAP.
    pub fn recv(&self, within: Duration) -> Option<Message> {
        self.recv_raw(within).map(|bytes| {
            Message::decode(&bytes).unwrap_or_else(|e| {
                panic!("server sent a malformed datagram ({e}): {}", hex(&bytes))
            })
        })
    }

    /// Like `recv_raw`, but a missing datagram fails the test, saying `what` was awaited.
    pub fn expect_raw(&self, within: Duration, what: &str) -> Vec<u8> {
        self.recv_raw(within)
            .unwrap_or_else(|| panic!("no datagram within {within:?}: expected {what}"))
    }

    /// Like `recv`, but a missing message fails the test, saying `what` was awaited.
    pub fn expect(&self, within: Duration, what: &str) -> Message {
        self.recv(within)
            .unwrap_or_else(|| panic!("no datagram within {within:?}: expected {what}"))
    }

    /// Fails the test if the server sends anything `during` this long.
    pub fn expect_silence(&self, during: Duration, after: &str) {
        if let Some(bytes) = self.recv_raw(during) {
            let shown = Message::decode(&bytes)
                .map(|m| m.to_string())
                .unwrap_or_else(|e| format!("malformed ({e})"));
            panic!(
                "expected silence after {after}, got {} = {shown}",
                hex(&bytes)
            );
        }
    }

    /// Sends `request` and returns the response to it: a piggybacked ACK, or
    /// after an empty ACK a separate response, which is acknowledged if CON
    /// (RFC 7252 §5.2). Anything else fails the test.
    pub fn exchange(&self, request: &Message) -> Message {
        self.send(request);
        let deadline = Instant::now() + REPLY_TIMEOUT;
        // A request gets at most an empty ACK and then a response.
        for _ in 0..2 {
            let left = deadline.saturating_duration_since(Instant::now());
            let Some(reply) = self.recv(left) else { break };
            match reply.mtype {
                Type::Ack if reply.mid == request.mid && reply.code == Code::EMPTY => continue,
                Type::Ack if reply.mid == request.mid => {
                    assert_eq!(reply.token, request.token, "token not echoed in {reply}");
                    return reply;
                }
                Type::Con | Type::Non if reply.token == request.token => {
                    if reply.mtype == Type::Con {
                        self.send(&Message::new(Type::Ack, Code::EMPTY, reply.mid));
                    }
                    return reply;
                }
                _ => panic!("unexpected reply to {request}: {reply}"),
            }
        }
        panic!("no response to {request} within {REPLY_TIMEOUT:?}")
    }

    /// A CON request with fresh MID and token, answered through `exchange`.
    pub fn call(&mut self, code: Code, target: &str) -> Message {
        let request = self.con(code, target);
        self.exchange(&request)
    }

    pub fn get(&mut self, target: &str) -> Message {
        self.call(Code::GET, target)
    }

    /// Sends `request` and, as a client does (RFC 7959 §2.4), fetches the
    /// rest of a response that came block-wise: the same request without
    /// Observe, for each next block at the size the host chose. Returns the
    /// first response with the whole body as its payload.
    pub fn fetch(&mut self, request: &Message) -> Message {
        let mut first = self.exchange(request);
        let mut block = first.uint_option_value(option::BLOCK2);
        // 64 KiB in the smallest blocks; nothing here is larger.
        for _ in 0..4096 {
            let Some(value) = block.filter(|value| value & 0x8 != 0) else {
                return first;
            };
            let (num, szx) = (value >> 4, value & 0x7);
            let mut next = request.clone();
            next.mid = self.mid();
            next.options
                .retain(|(number, _)| *number != option::BLOCK2 && *number != option::OBSERVE);
            next = next.uint_option(option::BLOCK2, ((num + 1) << 4) | szx);
            let response = self.exchange(&next);
            assert_eq!(response.code, first.code, "block {}: {response}", num + 1);
            first.payload.extend_from_slice(&response.payload);
            block = response.uint_option_value(option::BLOCK2);
        }
        panic!("no last block within 4096 blocks of {request}")
    }
}
