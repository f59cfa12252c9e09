//! The time a plugin's call spends running: the sum of the polls of its
//! future, without the time it waits between them (a yield at an epoch
//! tick while other tasks run, a permit, a timer).
//!
//! It stands for the call's CPU time: a poll of a wasm call runs guest code
//! on the polling thread until it returns or yields. A thread descheduled by
//! the operating system mid-poll counts that time too; a per-thread CPU
//! clock would not, but reading one is a system call per poll (and an
//! expensive one under a sandbox such as gVisor), where `Instant::now` is a
//! vDSO read.

use std::future::Future;
use std::time::{Duration, Instant};

/// Runs `future`, adding the time spent polling it to `busy` at every
/// poll: a call dropped unfinished (past its timeout) has its time counted.
pub async fn timed<F: Future>(future: F, busy: &mut Duration) -> F::Output {
    let mut future = std::pin::pin!(future);
    std::future::poll_fn(|cx| {
        let started = Instant::now();
        let poll = future.as_mut().poll(cx);
        *busy += started.elapsed();
        poll
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waiting_is_not_busy_but_running_is() {
        let mut busy = Duration::ZERO;
        timed(tokio::time::sleep(Duration::from_millis(50)), &mut busy).await;
        assert!(busy < Duration::from_millis(20), "{busy:?}");
        let mut busy = Duration::ZERO;
        timed(
            async {
                let started = Instant::now();
                while started.elapsed() < Duration::from_millis(30) {
                    std::hint::spin_loop();
                }
            },
            &mut busy,
        )
        .await;
        assert!(busy >= Duration::from_millis(30), "{busy:?}");
    }
}
