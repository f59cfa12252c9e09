//! Waiting for any of the generator's sockets to become readable: epoll,
//! level-triggered, whose cost per wait does not grow with the number of
//! sockets as poll(2)'s does.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

pub struct Poller {
    epoll: OwnedFd,
}

impl Poller {
    /// A poller for the sockets `fds`; an event's `u64` is the socket's index.
    pub fn new(fds: &[RawFd]) -> io::Result<Poller> {
        // SAFETY: epoll_create1 returns a new descriptor or -1.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh descriptor that nothing else owns.
        let epoll = unsafe { OwnedFd::from_raw_fd(fd) };
        for (index, &fd) in fds.iter().enumerate() {
            let mut event = libc::epoll_event {
                events: libc::EPOLLIN as u32,
                u64: index as u64,
            };
            // SAFETY: both descriptors are open; event outlives the call.
            let result =
                unsafe { libc::epoll_ctl(epoll.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut event) };
            if result < 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(Poller { epoll })
    }

    /// Waits at most `timeout` (rounded up to a millisecond) and returns how
    /// many of `events` were filled.
    pub fn wait(&self, events: &mut [libc::epoll_event], timeout: Duration) -> io::Result<usize> {
        let millis = timeout.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
        // SAFETY: events is a live buffer of as many entries as passed.
        let ready = unsafe {
            libc::epoll_wait(
                self.epoll.as_raw_fd(),
                events.as_mut_ptr(),
                events.len() as i32,
                millis,
            )
        };
        if ready < 0 {
            let error = io::Error::last_os_error();
            if error.kind() == io::ErrorKind::Interrupted {
                return Ok(0);
            }
            return Err(error);
        }
        Ok(ready as usize)
    }
}
