//! Reading the datagrams waiting on a socket in one system call:
//! `recvmmsg(2)` on Linux, one `recvfrom(2)` elsewhere. Under load a wake-up
//! finds a burst of requests; one call takes them all, and the turn's
//! responses can leave before the call that finds the queue empty.

use std::io;
use std::net::SocketAddr;

use tokio::net::UdpSocket;

/// Datagrams taken from the kernel in one call at most.
pub const RECEIVE_BATCH: usize = 32;

/// Room for one batch: a slot of the largest datagram for each, so none is
/// cut. Pages of a slot become resident only when a datagram fills them.
pub struct ReceiveBuffers {
    slots: Box<[u8]>,
    slot_size: usize,
    received: Vec<(usize, SocketAddr)>,
}

impl ReceiveBuffers {
    /// Buffers for datagrams of up to `max_datagram` bytes.
    pub fn new(max_datagram: usize) -> Self {
        ReceiveBuffers {
            slots: vec![0u8; max_datagram * RECEIVE_BATCH].into_boxed_slice(),
            slot_size: max_datagram,
            received: Vec::with_capacity(RECEIVE_BATCH),
        }
    }

    /// How many datagrams the last call received.
    pub fn len(&self) -> usize {
        self.received.len()
    }

    /// The `i`th datagram of the last call, and its source.
    pub fn datagram(&self, i: usize) -> (&[u8], SocketAddr) {
        let (len, from) = self.received[i];
        let start = i * self.slot_size;
        (&self.slots[start..start + len], from)
    }
}

/// Receives the datagrams waiting, up to [`RECEIVE_BATCH`], into `buffers`.
/// `WouldBlock` means none was waiting.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub fn receive_some(socket: &UdpSocket, buffers: &mut ReceiveBuffers) -> io::Result<()> {
    use std::os::fd::AsRawFd;

    use socket2::{SockAddr, SockAddrStorage};
    use tokio::io::Interest;

    buffers.received.clear();
    let slot_size = buffers.slot_size;
    let mut addresses: [SockAddrStorage; RECEIVE_BATCH] =
        std::array::from_fn(|_| SockAddrStorage::zeroed());
    // SAFETY (for the zeroed values): iovec and mmsghdr are plain C structs
    // for which all-zero is a valid value.
    let mut slices: [libc::iovec; RECEIVE_BATCH] = unsafe { std::mem::zeroed() };
    let mut headers: [libc::mmsghdr; RECEIVE_BATCH] = unsafe { std::mem::zeroed() };
    for (i, slot) in buffers.slots.chunks_exact_mut(slot_size).enumerate() {
        slices[i].iov_base = slot.as_mut_ptr().cast();
        slices[i].iov_len = slot_size;
        headers[i].msg_hdr.msg_namelen = addresses[i].size_of();
        // SAFETY: a sockaddr_storage is what SockAddrStorage wraps.
        headers[i].msg_hdr.msg_name = unsafe { addresses[i].view_as::<libc::sockaddr_storage>() }
            as *mut libc::sockaddr_storage
            as *mut libc::c_void;
        headers[i].msg_hdr.msg_iov = &mut slices[i];
        headers[i].msg_hdr.msg_iovlen = 1;
    }
    let count = socket.try_io(Interest::READABLE, || {
        // SAFETY: every header points at a live slot and address storage of
        // the sizes given, which outlive the call.
        let count = unsafe {
            libc::recvmmsg(
                socket.as_raw_fd(),
                headers.as_mut_ptr(),
                RECEIVE_BATCH as libc::c_uint,
                0,
                std::ptr::null_mut(),
            )
        };
        if count < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(count as usize)
        }
    })?;
    for (header, address) in headers.iter().zip(addresses).take(count) {
        // SAFETY: the kernel wrote an address of this length.
        let address = unsafe { SockAddr::new(address, header.msg_hdr.msg_namelen) };
        // A datagram always comes from an IP endpoint on a UDP socket.
        if let Some(from) = address.as_socket() {
            let len = (header.msg_len as usize).min(slot_size);
            buffers.received.push((len, from));
        }
    }
    Ok(())
}

/// Receives one datagram, if one is waiting.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub fn receive_some(socket: &UdpSocket, buffers: &mut ReceiveBuffers) -> io::Result<()> {
    buffers.received.clear();
    let slot_size = buffers.slot_size;
    let (len, from) = socket.try_recv_from(&mut buffers.slots[..slot_size])?;
    buffers.received.push((len, from));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_burst_arrives_in_one_call_whole_and_in_order() {
        let receiver = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let to = receiver.local_addr().unwrap();
        let sizes = [1usize, 700, 1, 1400, 5000];
        for (i, &size) in sizes.iter().enumerate() {
            sender.send_to(&vec![i as u8; size], to).unwrap();
        }
        let mut buffers = ReceiveBuffers::new(65_535);
        let mut received = Vec::new();
        for _ in 0..100 {
            if received.len() == sizes.len() {
                break;
            }
            receiver.readable().await.unwrap();
            match receive_some(&receiver, &mut buffers) {
                Ok(()) => {
                    for i in 0..buffers.len() {
                        let (datagram, from) = buffers.datagram(i);
                        assert_eq!(from, sender.local_addr().unwrap());
                        received.push(datagram.to_vec());
                    }
                }
                Err(error) => assert_eq!(error.kind(), io::ErrorKind::WouldBlock),
            }
        }
        assert_eq!(received.len(), sizes.len());
        for (i, datagram) in received.iter().enumerate() {
            assert_eq!(datagram, &vec![i as u8; sizes[i]]);
        }
    }
}
