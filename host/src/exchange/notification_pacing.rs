//! When an observed resource is rendered again for its observers (RFC 7641
//! §4.2), paced and coalesced. Pure state: the socket loop tells it what
//! happened and asks what to render; it holds no socket and reads no clock.
//!
//! - At most one rendering of a path is in flight: a change announced while
//!   the path is being rendered marks it dirty, and it is rendered once more
//!   after, not once per announcement.
//! - Renderings of one path start at least `min_interval` apart, so an
//!   observer receives at most one notification per interval from it, always
//!   of the newest state (§4.5.2: the server sends the current state, never
//!   a backlog). RFC 7641 §4.5.1 asks for no more than one non-confirmable
//!   notification per round-trip time to a client on average; without an RTT
//!   estimate the interval is that bound, set for the networks the host
//!   serves.

use std::collections::HashMap;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
struct PathState {
    // Renderings (one per Accept the observers asked for) not yet done.
    in_flight: usize,
    // A change came that the renderings in flight or the last may not show:
    // Some(important).
    dirty: Option<bool>,
    last_started: Instant,
}

/// The renderings of one socket's observed paths.
#[derive(Debug)]
pub struct NotificationPacing {
    paths: HashMap<String, PathState>,
    min_interval: Duration,
}

impl NotificationPacing {
    /// Renderings of a path start at least `min_interval` apart.
    pub fn new(min_interval: Duration) -> Self {
        NotificationPacing {
            paths: HashMap::new(),
            min_interval,
        }
    }

    /// `path`, which has observers, changed at `now`. Some(important) when
    /// it is to be rendered now; None when a rendering in flight or the
    /// interval holds it back, until [`due`](Self::due) gives it.
    pub fn changed(&mut self, path: &str, important: bool, now: Instant) -> Option<bool> {
        match self.paths.get_mut(path) {
            Some(state) if state.in_flight > 0 || now < state.last_started + self.min_interval => {
                state.dirty = Some(state.dirty.unwrap_or(false) || important);
                None
            }
            _ => Some(important),
        }
    }

    /// `renderings` of `path` started at `now` (none: nobody observes it).
    pub fn started(&mut self, path: &str, renderings: usize, now: Instant) {
        if renderings == 0 {
            self.paths.remove(path);
            return;
        }
        let state = PathState {
            in_flight: renderings,
            dirty: None,
            last_started: now,
        };
        self.paths.insert(path.to_owned(), state);
    }

    /// One rendering of `path` finished.
    pub fn rendered(&mut self, path: &str) {
        if let Some(state) = self.paths.get_mut(path) {
            state.in_flight = state.in_flight.saturating_sub(1);
        }
    }

    /// The paths whose pending change may be rendered at `now`, each with
    /// whether it was important. Paths with nothing pending whose interval
    /// is over are forgotten, so the state is bounded by the paths being
    /// observed and changed.
    pub fn due(&mut self, now: Instant) -> Vec<(String, bool)> {
        let interval = self.min_interval;
        let mut due = Vec::new();
        self.paths.retain(|path, state| {
            if state.in_flight > 0 || now < state.last_started + interval {
                return true;
            }
            if let Some(important) = state.dirty.take() {
                due.push((path.clone(), important));
            }
            false
        });
        due
    }

    /// When [`due`](Self::due) next has something to give, or to forget.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.paths
            .values()
            .filter(|state| state.in_flight == 0)
            .map(|state| state.last_started + self.min_interval)
            .min()
    }

    /// Forgets `path`: it is gone, or nobody observes it any more.
    pub fn forget(&mut self, path: &str) {
        self.paths.remove(path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INTERVAL: Duration = Duration::from_millis(100);

    #[test]
    fn a_change_of_an_idle_path_renders_at_once() {
        let mut pacing = NotificationPacing::new(INTERVAL);
        let now = Instant::now();
        assert_eq!(pacing.changed("/a", true, now), Some(true));
    }

    #[test]
    fn changes_during_a_rendering_make_one_more_rendering_after_it() {
        let mut pacing = NotificationPacing::new(INTERVAL);
        let t0 = Instant::now();
        assert_eq!(pacing.changed("/a", false, t0), Some(false));
        pacing.started("/a", 1, t0);
        for _ in 0..1000 {
            assert_eq!(pacing.changed("/a", false, t0), None);
        }
        assert_eq!(pacing.changed("/a", true, t0), None);
        // In flight: nothing due, whatever the time.
        assert!(pacing.due(t0 + INTERVAL * 10).is_empty());
        assert_eq!(pacing.next_deadline(), None);
        pacing.rendered("/a");
        assert_eq!(pacing.next_deadline(), Some(t0 + INTERVAL));
        assert!(pacing.due(t0 + INTERVAL / 2).is_empty());
        assert_eq!(pacing.due(t0 + INTERVAL), vec![("/a".to_owned(), true)]);
        // Given once.
        assert!(pacing.due(t0 + INTERVAL * 2).is_empty());
    }

    #[test]
    fn renderings_of_a_path_start_an_interval_apart() {
        let mut pacing = NotificationPacing::new(INTERVAL);
        let t0 = Instant::now();
        pacing.started("/a", 1, t0);
        pacing.rendered("/a");
        let soon = t0 + INTERVAL / 4;
        assert_eq!(pacing.changed("/a", false, soon), None);
        assert!(pacing.due(soon).is_empty());
        assert_eq!(pacing.due(t0 + INTERVAL), vec![("/a".to_owned(), false)]);
    }

    #[test]
    fn a_path_with_nothing_pending_is_forgotten_after_its_interval() {
        let mut pacing = NotificationPacing::new(INTERVAL);
        let t0 = Instant::now();
        pacing.started("/a", 2, t0);
        pacing.rendered("/a");
        pacing.rendered("/a");
        assert!(pacing.due(t0 + INTERVAL).is_empty());
        assert_eq!(pacing.next_deadline(), None);
        assert_eq!(pacing.changed("/a", false, t0 + INTERVAL), Some(false));
    }

    #[test]
    fn paths_are_paced_apart_from_each_other() {
        let mut pacing = NotificationPacing::new(INTERVAL);
        let t0 = Instant::now();
        pacing.started("/a", 1, t0);
        assert_eq!(pacing.changed("/b", false, t0), Some(false));
        pacing.forget("/a");
        assert_eq!(pacing.changed("/a", false, t0), Some(false));
    }
}
