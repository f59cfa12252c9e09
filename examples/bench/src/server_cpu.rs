//! The CPU time of the server under test, read from /proc/PID/stat (proc(5):
//! utime and stime, fields 14 and 15, in clock ticks), so that its cost per
//! request is measured over exactly the generator's measurement window.

use std::time::Duration;

/// User plus system time of every thread of process `pid`, if readable.
pub fn server_cpu(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; fields resume after ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split(' ').skip(11); // field 3 is the first here
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Some(Duration::from_nanos(
        (utime + stime) * 1_000_000_000 / ticks,
    ))
}

/// The resident memory (VmRSS, kB) of process `pid`, if readable.
pub fn server_rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_its_own_process() {
        assert!(server_cpu(std::process::id()).is_some());
        assert!(server_cpu(u32::MAX).is_none());
        assert!(server_rss_kb(std::process::id()).is_some_and(|kb| kb > 0));
    }
}
