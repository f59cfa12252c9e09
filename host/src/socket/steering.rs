//! Which of an address's socket loops serves a peer. The loops' sockets
//! share the address (`SO_REUSEPORT`); a classic BPF program attached to the
//! group (`SO_ATTACH_REUSEPORT_CBPF`) picks the socket from the datagram's
//! source address and port, and [`loop_of`] computes the same from a
//! `SocketAddr`. So every datagram of a peer reaches one loop, where its
//! message-layer state (deduplication, RFC 7252 §4.5), its observations
//! (RFC 7641), its block-wise transfers (RFC 7959) and its DTLS session
//! live, and an observation restored after a restart goes to the loop its
//! observer's acknowledgements and resets will reach.
//!
//! The kernel's own reuseport hash would keep a peer on one socket too, but
//! it is keyed by a boot-time secret: the host could not tell which loop
//! a restored observation belongs to.

use std::io;
use std::net::{IpAddr, SocketAddr};

/// A peer's loop among `loops`: the program's computation, over the low 32
/// bits of the source address (an IPv4 address, also when it arrives on a
/// dual-stack socket) and the source port.
pub fn loop_of(peer: SocketAddr, loops: usize) -> usize {
    if loops <= 1 {
        return 0;
    }
    let address = match peer.ip() {
        IpAddr::V4(v4) => u32::from(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => u32::from(v4),
            None => {
                let octets = v6.octets();
                u32::from_be_bytes([octets[12], octets[13], octets[14], octets[15]])
            }
        },
    };
    mix(address, peer.port(), loops as u32) as usize
}

/// The hash both sides compute; the multiplication spreads ports that
/// differ by a multiple of the loop count (a client's sockets).
fn mix(address: u32, port: u16, loops: u32) -> u32 {
    (address.wrapping_add(u32::from(port)).wrapping_mul(GOLDEN) >> 16) % loops
}

const GOLDEN: u32 = 0x9E37_79B1;

/// Attaches the steering program for `loops` sockets to `socket`'s
/// reuseport group. Sockets join the group in the order they are bound,
/// which is the order of their loops.
#[cfg(target_os = "linux")]
pub fn attach(socket: &socket2::Socket, loops: usize) -> io::Result<()> {
    use std::os::fd::AsRawFd;

    let program = program(loops as u32);
    let fprog = libc::sock_fprog {
        len: program.len() as u16,
        filter: program.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: fprog points at `program`, alive for the call; the kernel
    // copies the instructions.
    let result = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_ATTACH_REUSEPORT_CBPF,
            (&raw const fprog).cast(),
            std::mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
        )
    };
    if result == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
pub fn attach(_socket: &socket2::Socket, _loops: usize) -> io::Result<()> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

/// The program: for a reuseport group the kernel runs it with the data at
/// the UDP payload, so the headers are read at `SKF_NET_OFF`-relative
/// offsets. IPv6 is read without extension headers: a datagram that has
/// them is still steered, consistently, only not where [`loop_of`] says.
#[cfg(target_os = "linux")]
fn program(loops: u32) -> Vec<libc::sock_filter> {
    const NET: u32 = (-0x10_0000i32) as u32; // SKF_NET_OFF
    const LD: u16 = 0x00;
    const LDX: u16 = 0x01;
    const ST: u16 = 0x02;
    const ALU: u16 = 0x04;
    const JMP: u16 = 0x05;
    const RET: u16 = 0x06;
    const MISC: u16 = 0x07;
    const W: u16 = 0x00;
    const H: u16 = 0x08;
    const B: u16 = 0x10;
    const ABS: u16 = 0x20;
    const IND: u16 = 0x40;
    const MEM: u16 = 0x60;
    const ADD: u16 = 0x00;
    const MUL: u16 = 0x20;
    const AND: u16 = 0x50;
    const LSH: u16 = 0x60;
    const RSH: u16 = 0x70;
    const MOD: u16 = 0x90;
    const X: u16 = 0x08;
    const JA: u16 = 0x00;
    const JEQ: u16 = 0x10;
    const TAX: u16 = 0x00;
    const A: u16 = 0x10;
    let op = |code: u16, jt: u8, jf: u8, k: u32| libc::sock_filter { code, jt, jf, k };
    vec![
        op(LD | B | ABS, 0, 0, NET),      // A = first byte of the IP header
        op(ALU | RSH, 0, 0, 4),           // A = IP version
        op(JMP | JEQ, 8, 0, 6),           // IPv6: to the IPv6 loads
        op(LD | B | ABS, 0, 0, NET),      // IPv4: A = IHL
        op(ALU | AND, 0, 0, 0x0f),        //
        op(ALU | LSH, 0, 0, 2),           // A = IPv4 header length
        op(MISC | TAX, 0, 0, 0),          // X = A
        op(LD | H | IND, 0, 0, NET),      // A = UDP source port
        op(ST, 0, 0, 0),                  // M[0] = port
        op(LD | W | ABS, 0, 0, NET + 12), // A = IPv4 source address
        op(JMP | JA, 0, 0, 3),            // to the hash
        op(LD | H | ABS, 0, 0, NET + 40), // IPv6: A = UDP source port
        op(ST, 0, 0, 0),                  // M[0] = port
        op(LD | W | ABS, 0, 0, NET + 20), // A = low 32 bits of the source
        op(LDX | MEM, 0, 0, 0),           // X = port
        op(ALU | ADD | X, 0, 0, 0),       // A = address + port
        op(ALU | MUL, 0, 0, GOLDEN),      //
        op(ALU | RSH, 0, 0, 16),          //
        op(ALU | MOD, 0, 0, loops),       // A = the loop's index
        op(RET | A, 0, 0, 0),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_loop_takes_every_peer() {
        assert_eq!(loop_of("192.0.2.7:5683".parse().unwrap(), 1), 0);
    }

    #[test]
    fn an_ipv4_peer_on_a_dual_stack_socket_is_steered_as_over_ipv4() {
        for port in [5683, 40000, 40001] {
            let v4: SocketAddr = format!("192.0.2.7:{port}").parse().unwrap();
            let mapped: SocketAddr = format!("[::ffff:192.0.2.7]:{port}").parse().unwrap();
            assert_eq!(loop_of(v4, 4), loop_of(mapped, 4));
        }
    }

    #[test]
    fn a_clients_consecutive_ports_spread_over_the_loops() {
        for loops in [2, 3, 4, 8] {
            let mut per_loop = vec![0; loops];
            for port in 40_000..40_000 + 64 * loops as u16 {
                per_loop[loop_of(SocketAddr::from(([127, 0, 0, 1], port)), loops)] += 1;
            }
            for count in per_loop {
                assert!(
                    (32..=96).contains(&count),
                    "{loops} loops: {count} of 64 each"
                );
            }
        }
    }
}
