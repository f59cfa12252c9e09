//! Sending a loop turn's datagrams in as few system calls as the kernel
//! allows: `sendmmsg(2)` on Linux, one `sendto(2)` each elsewhere. Under load
//! a turn answers a burst of requests; one call for all of them saves a
//! kernel entry and exit per response.

use std::io;
use std::net::SocketAddr;

use bytes::Bytes;
use tokio::net::UdpSocket;

/// Datagrams handed to the kernel in one call at most.
pub const SEND_BATCH: usize = 32;

/// Sends the first of `datagrams`, and as many after it as one call takes
/// (at most [`SEND_BATCH`]); returns how many were sent, at least one.
/// `WouldBlock` means none was: the socket's send buffer is full.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub fn send_some(socket: &UdpSocket, datagrams: &[(SocketAddr, Bytes)]) -> io::Result<usize> {
    use std::os::fd::AsRawFd;

    use socket2::SockAddr;
    use tokio::io::Interest;

    let batch = &datagrams[..datagrams.len().min(SEND_BATCH)];
    let addresses: [Option<SockAddr>; SEND_BATCH] =
        std::array::from_fn(|i| batch.get(i).map(|(to, _)| SockAddr::from(*to)));
    // SAFETY (for the zeroed values): iovec and mmsghdr are plain C structs
    // for which all-zero is a valid value.
    let mut buffers: [libc::iovec; SEND_BATCH] = unsafe { std::mem::zeroed() };
    let mut headers: [libc::mmsghdr; SEND_BATCH] = unsafe { std::mem::zeroed() };
    for (i, (_, datagram)) in batch.iter().enumerate() {
        let address = addresses[i].as_ref().expect("one address per datagram");
        // The kernel only reads through these pointers.
        buffers[i].iov_base = datagram.as_ptr().cast_mut().cast();
        buffers[i].iov_len = datagram.len();
        headers[i].msg_hdr.msg_name = address.as_ptr().cast_mut().cast();
        headers[i].msg_hdr.msg_namelen = address.len();
        headers[i].msg_hdr.msg_iov = &mut buffers[i];
        headers[i].msg_hdr.msg_iovlen = 1;
    }
    socket.try_io(Interest::WRITABLE, || {
        // SAFETY: `headers[..batch.len()]` point at live buffers and
        // addresses of the lengths given, which outlive the call.
        let sent = unsafe {
            libc::sendmmsg(
                socket.as_raw_fd(),
                headers.as_mut_ptr(),
                batch.len() as libc::c_uint,
                0,
            )
        };
        if sent < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(sent as usize)
        }
    })
}

/// Sends the first of `datagrams`; returns 1.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub fn send_some(socket: &UdpSocket, datagrams: &[(SocketAddr, Bytes)]) -> io::Result<usize> {
    let (to, datagram) = &datagrams[0];
    socket.try_send_to(datagram, *to).map(|_| 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_datagram_arrives_whole_and_in_order() {
        let sender = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let first = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let second = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let datagrams: Vec<(SocketAddr, Bytes)> = (0..40u8)
            .map(|i| {
                let to = if i % 2 == 0 { &first } else { &second };
                (
                    to.local_addr().unwrap(),
                    Bytes::from(vec![i; usize::from(i) + 1]),
                )
            })
            .collect();
        let mut sent = 0;
        for _ in 0..100 {
            if sent == datagrams.len() {
                break;
            }
            // Readiness is learnt from the reactor: the first try may not go.
            sender.writable().await.unwrap();
            match send_some(&sender, &datagrams[sent..]) {
                Ok(count) => sent += count,
                Err(error) => assert_eq!(error.kind(), io::ErrorKind::WouldBlock),
            }
        }
        assert_eq!(sent, datagrams.len());
        let mut buffer = [0u8; 64];
        for (i, (to, datagram)) in datagrams.iter().enumerate() {
            let socket = if i % 2 == 0 { &first } else { &second };
            assert_eq!(*to, socket.local_addr().unwrap());
            let (len, from) = tokio::time::timeout(
                std::time::Duration::from_secs(5),
                socket.recv_from(&mut buffer),
            )
            .await
            .expect("the datagram arrives")
            .unwrap();
            assert_eq!(from, sender.local_addr().unwrap());
            assert_eq!(&buffer[..len], &datagram[..]);
        }
    }
}
