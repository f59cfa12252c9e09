//! The in-memory transport under one session's `SSL`: OpenSSL reads
//! datagrams the endpoint queued and writes datagrams the endpoint collects.
//! DTLS needs datagram semantics from its BIO: each read returns exactly one
//! datagram and each write is one datagram (RFC 6347 §4.1.1).

use std::collections::VecDeque;
use std::io::{self, Read, Write};

use bytes::Bytes;

/// Datagrams in from the peer, datagrams out to it.
#[derive(Default)]
pub(crate) struct DatagramPipe {
    inbound: VecDeque<Vec<u8>>,
    outbound: Vec<Bytes>,
}

impl DatagramPipe {
    /// Queues a datagram from the peer for the next read.
    pub(crate) fn push_inbound(&mut self, datagram: &[u8]) {
        self.inbound.push_back(datagram.to_vec());
    }

    /// Takes every datagram written since the last call, in order.
    pub(crate) fn take_outbound(&mut self) -> std::vec::Drain<'_, Bytes> {
        self.outbound.drain(..)
    }

    /// Drops queued input OpenSSL did not read (it only reads on demand).
    pub(crate) fn clear_inbound(&mut self) {
        self.inbound.clear();
    }
}

impl Read for DatagramPipe {
    /// One whole datagram per read, or `WouldBlock` when none is queued.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.inbound.pop_front() {
            Some(datagram) => {
                let n = datagram.len().min(buf.len());
                buf[..n].copy_from_slice(&datagram[..n]);
                Ok(n)
            }
            None => Err(io::ErrorKind::WouldBlock.into()),
        }
    }
}

impl Write for DatagramPipe {
    /// One datagram per write.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.outbound.push(Bytes::copy_from_slice(buf));
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
