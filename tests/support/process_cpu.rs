//! The CPU time a process has used, from `/proc/PID/stat` (utime + stime,
//! proc(5)), to tell whether a server keeps burning CPU when it should not.

use std::time::{Duration, Instant};

/// Clock ticks per second of `/proc/PID/stat`: USER_HZ, 100 on Linux.
const TICKS_PER_SECOND: u64 = 100;

/// CPU time used by process `pid` so far.
pub fn cpu_time(pid: u32) -> Duration {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    // The command name is in parentheses and may hold spaces: count fields
    // after its closing one. utime and stime are fields 14 and 15.
    let after = &stat[stat.rfind(')').expect("a (comm) field") + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    Duration::from_millis(ticks * 1000 / TICKS_PER_SECOND)
}

/// The share of one core process `pid` used over `window` from now (1.0 is
/// a whole core).
pub fn cpu_share_over(pid: u32, window: Duration) -> f64 {
    let (cpu_before, started) = (cpu_time(pid), Instant::now());
    std::thread::sleep(window);
    let used = cpu_time(pid).saturating_sub(cpu_before);
    used.as_secs_f64() / started.elapsed().as_secs_f64()
}
