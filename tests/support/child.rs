//! Waiting for a client process without ever hanging a test.

use std::process::{Child, ExitStatus};
use std::thread;
use std::time::{Duration, Instant};

/// Waits for `child` to exit. Past `deadline` it is killed and the test fails
/// with `described` and what `context` returns (its output so far).
pub fn wait_bounded(
    child: &mut Child,
    deadline: Instant,
    described: &str,
    context: impl Fn() -> String,
) -> ExitStatus {
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{described} was still running at its deadline; killed it\n{}",
                context()
            );
        }
        thread::sleep(Duration::from_millis(20));
    }
}
