//! Sliding-window counters kept in memory, keyed by email, address or user.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::AuthError;

/// Keys are first swept for staleness when there are this many.
const FIRST_SWEEP_AT: usize = 10_000;

pub struct SlidingWindow {
    limit: usize,
    window: Duration,
    state: Mutex<Keys>,
}

struct Keys {
    hits: HashMap<String, VecDeque<Instant>>,
    /// The key count that triggers the next sweep: twice what survived the last
    /// one, so sweeping stays amortised O(1) per hit however many keys are live.
    sweep_at: usize,
}

impl SlidingWindow {
    pub fn new(limit: usize, window: Duration) -> Self {
        Self::with_first_sweep_at(limit, window, FIRST_SWEEP_AT)
    }

    fn with_first_sweep_at(limit: usize, window: Duration, sweep_at: usize) -> Self {
        Self {
            limit,
            window,
            state: Mutex::new(Keys {
                hits: HashMap::new(),
                sweep_at,
            }),
        }
    }

    /// Fails when the key has used up its window, without counting this call.
    ///
    /// # Errors
    /// `RateLimited` with the seconds until the oldest hit leaves the window.
    pub fn check(&self, key: &str) -> Result<(), AuthError> {
        let now = Instant::now();
        let mut keys = self.lock();
        match keys.hits.get_mut(key) {
            Some(queue) => self.check_queue(queue, now),
            None => Ok(()),
        }
    }

    /// Counts one hit.
    pub fn record(&self, key: &str) {
        let now = Instant::now();
        let mut keys = self.lock();
        let queue = self.queue_for(&mut keys, key, now);
        prune(queue, now, self.window);
        queue.push_back(now);
    }

    /// Checks and counts in one step.
    ///
    /// # Errors
    /// `RateLimited` when the window is full (the refused call is not counted).
    pub fn hit(&self, key: &str) -> Result<(), AuthError> {
        let now = Instant::now();
        let mut keys = self.lock();
        let queue = self.queue_for(&mut keys, key, now);
        self.check_queue(queue, now)?;
        queue.push_back(now);
        Ok(())
    }

    pub fn clear(&self, key: &str) {
        self.lock().hits.remove(key);
    }

    /// The key's hits, created if needed; sweeps keys with no hit left in the
    /// window first when the map has grown enough.
    fn queue_for<'k>(
        &self,
        keys: &'k mut Keys,
        key: &str,
        now: Instant,
    ) -> &'k mut VecDeque<Instant> {
        if keys.hits.len() >= keys.sweep_at {
            let window = self.window;
            keys.hits
                .retain(|_, q| q.back().is_some_and(|t| now.duration_since(*t) < window));
            keys.sweep_at = (keys.hits.len() * 2).max(keys.sweep_at);
        }
        keys.hits.entry(key.to_owned()).or_default()
    }

    fn check_queue(&self, queue: &mut VecDeque<Instant>, now: Instant) -> Result<(), AuthError> {
        prune(queue, now, self.window);
        if queue.len() < self.limit {
            return Ok(());
        }
        let oldest = queue.front().copied().unwrap_or(now);
        let wait = self.window.saturating_sub(now.duration_since(oldest));
        Err(AuthError::RateLimited {
            retry_after_secs: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Keys> {
        // A panic while holding this lock cannot leave the map inconsistent.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn prune(queue: &mut VecDeque<Instant>, now: Instant, window: Duration) {
    while queue
        .front()
        .is_some_and(|t| now.duration_since(*t) >= window)
    {
        queue.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hit_after_the_limit_is_refused_with_a_retry_after() {
        let limiter = SlidingWindow::new(3, Duration::from_secs(60));
        for _ in 0..3 {
            limiter.hit("k").unwrap();
        }
        match limiter.hit("k") {
            Err(AuthError::RateLimited { retry_after_secs }) => {
                assert!((59..=60).contains(&retry_after_secs))
            }
            other => panic!("expected RateLimited, got {other:?}"),
        }
        limiter.hit("other key").unwrap();
    }

    #[test]
    fn hits_leave_the_window_after_it_passes() {
        let limiter = SlidingWindow::new(1, Duration::from_millis(20));
        limiter.hit("k").unwrap();
        assert!(limiter.hit("k").is_err());
        std::thread::sleep(Duration::from_millis(30));
        assert!(limiter.hit("k").is_ok());
    }

    #[test]
    fn keys_without_hits_in_the_window_are_swept_once_the_map_grows() {
        let limiter = SlidingWindow::with_first_sweep_at(5, Duration::from_millis(10), 100);
        for i in 0..100 {
            limiter.hit(&format!("old{i}")).unwrap();
        }
        std::thread::sleep(Duration::from_millis(20));
        limiter.hit("new").unwrap();
        assert_eq!(limiter.lock().hits.len(), 1, "stale keys swept");
    }

    #[test]
    fn check_does_not_count_and_record_does() {
        let limiter = SlidingWindow::new(2, Duration::from_secs(60));
        limiter.check("k").unwrap();
        limiter.record("k");
        limiter.record("k");
        assert!(limiter.check("k").is_err());
        limiter.clear("k");
        assert!(limiter.check("k").is_ok());
    }
}
