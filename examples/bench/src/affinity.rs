//! Pinning the process to one CPU, so that the generator and the server under
//! test do not share a core.

use std::io;

/// Restricts this thread (the only one) to CPU `cpu`.
pub fn pin_to(cpu: usize) -> io::Result<()> {
    // SAFETY: the set is zeroed, then one bit set within its size.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}
