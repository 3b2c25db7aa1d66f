//! Sliding-window counters kept in memory, keyed by email, address or user, in
//! bounded memory whatever the traffic.
//!
//! - A key is stored as a 64-bit keyed hash (SipHash with a random per-process key),
//!   so a 60 KB "email" costs what a short one does, and nobody can aim collisions.
//! - Each map holds at most `max_keys` keys; a new key beyond that evicts the
//!   window touched least recently.
//! - Windows with no hit left in their time are swept as time passes, a few per
//!   call, not only when the map is full.
//! - An attempt can be *reserved* before the work it guards (bcrypt): in-flight
//!   attempts count against the limit, and the place is given back if the attempt
//!   turns out not to count (a successful login).

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, Hash, RandomState};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::AuthError;

/// Keys per map, the hard cap.
pub const MAX_KEYS: usize = 20_000;
/// Stale windows looked at per call; sweeping stays O(1) per call.
const SWEEP_PER_CALL: usize = 4;

pub struct SlidingWindow {
    limit: usize,
    window: Duration,
    max_keys: usize,
    hasher: RandomState,
    state: Mutex<Windows>,
}

#[derive(Default)]
struct Windows {
    slots: HashMap<u64, Slot>,
    /// `(key, touched)` for every touch, oldest first. A record is current while
    /// its key's slot still has that `touched`; older records of a key are
    /// skipped, and the queue is rebuilt when they outnumber the keys.
    order: VecDeque<(u64, Instant)>,
}

struct Slot {
    /// At most `limit` instants: a full window refuses instead of growing.
    hits: VecDeque<Instant>,
    touched: Instant,
}

/// A place taken in a window. Dropping it gives the place back, so an attempt
/// that fails for an unrelated reason (the client left, the database failed)
/// does not count; [`Reservation::keep`] makes it count.
#[must_use = "a reservation is given back when dropped"]
pub struct Reservation<'a> {
    window: &'a SlidingWindow,
    key: u64,
    at: Instant,
    kept: bool,
}

impl Reservation<'_> {
    /// Keeps the place: the attempt counts until it leaves the window.
    pub fn keep(mut self) {
        self.kept = true;
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if !self.kept {
            self.window.give_back(self.key, self.at);
        }
    }
}

impl SlidingWindow {
    pub fn new(limit: usize, window: Duration) -> Self {
        Self::with_max_keys(limit, window, MAX_KEYS)
    }

    pub fn with_max_keys(limit: usize, window: Duration, max_keys: usize) -> Self {
        Self {
            limit: limit.max(1),
            window,
            max_keys: max_keys.max(1),
            hasher: RandomState::new(),
            state: Mutex::new(Windows::default()),
        }
    }

    /// Fails when the key has used up its window, without counting this call.
    ///
    /// # Errors
    /// `RateLimited` with the seconds until the oldest hit leaves the window.
    pub fn check(&self, key: &(impl Hash + ?Sized)) -> Result<(), AuthError> {
        let key = self.hash(key);
        let now = Instant::now();
        let mut windows = self.lock();
        self.sweep(&mut windows, now);
        match windows.slots.get_mut(&key) {
            Some(slot) => self.refuse_if_full(slot, now),
            None => Ok(()),
        }
    }

    /// Takes a place in the key's window, or refuses when it is full.
    ///
    /// # Errors
    /// `RateLimited` when the window is full (the refused call takes no place).
    pub fn reserve(&self, key: &(impl Hash + ?Sized)) -> Result<Reservation<'_>, AuthError> {
        let key = self.hash(key);
        let at = self.take_place(key)?;
        Ok(Reservation {
            window: self,
            key,
            at,
            kept: false,
        })
    }

    /// Checks and counts in one step, for attempts that always count.
    ///
    /// # Errors
    /// `RateLimited` when the window is full (the refused call is not counted).
    pub fn hit(&self, key: &(impl Hash + ?Sized)) -> Result<(), AuthError> {
        self.take_place(self.hash(key)).map(|_| ())
    }

    /// Forgets every hit of a key.
    pub fn clear(&self, key: &(impl Hash + ?Sized)) {
        let key = self.hash(key);
        self.lock().slots.remove(&key);
    }

    /// How many keys the map holds now.
    pub fn len(&self) -> usize {
        self.lock().slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn take_place(&self, key: u64) -> Result<Instant, AuthError> {
        let now = Instant::now();
        let mut windows = self.lock();
        self.sweep(&mut windows, now);
        if !windows.slots.contains_key(&key) {
            while windows.slots.len() >= self.max_keys {
                if !evict_lightest_of_oldest(&mut windows, self.limit, now, self.window) {
                    // Every window near the front is full: refuse the newcomer rather
                    // than forget a lockout (a flood of keys must not reset one).
                    return Err(AuthError::RateLimited {
                        retry_after_secs: 1,
                    });
                }
            }
            windows.slots.insert(
                key,
                Slot {
                    hits: VecDeque::new(),
                    touched: now,
                },
            );
        }
        let Some(slot) = windows.slots.get_mut(&key) else {
            return Ok(now);
        };
        if let Err(refused) = self.refuse_if_full(slot, now) {
            // A key under attack stays the most recently used, never the first evicted.
            slot.touched = now;
            windows.order.push_back((key, now));
            compact_if_needed(&mut windows);
            return Err(refused);
        }
        slot.hits.push_back(now);
        slot.touched = now;
        windows.order.push_back((key, now));
        compact_if_needed(&mut windows);
        Ok(now)
    }

    fn give_back(&self, key: u64, at: Instant) {
        let mut windows = self.lock();
        if let Some(slot) = windows.slots.get_mut(&key) {
            if let Some(index) = slot.hits.iter().rposition(|hit| *hit == at) {
                slot.hits.remove(index);
            }
            // An attempt that did not count leaves no key behind.
            if slot.hits.is_empty() {
                windows.slots.remove(&key);
            }
        }
    }

    fn refuse_if_full(&self, slot: &mut Slot, now: Instant) -> Result<(), AuthError> {
        while slot
            .hits
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.window)
        {
            slot.hits.pop_front();
        }
        if slot.hits.len() < self.limit {
            return Ok(());
        }
        let oldest = slot.hits.front().copied().unwrap_or(now);
        let wait = self.window.saturating_sub(now.duration_since(oldest));
        Err(AuthError::RateLimited {
            retry_after_secs: (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1),
        })
    }

    /// Drops windows whose every hit has left the window, a few per call, oldest
    /// touched first.
    fn sweep(&self, windows: &mut Windows, now: Instant) {
        for _ in 0..SWEEP_PER_CALL {
            let Some(&(key, touched)) = windows.order.front() else {
                return;
            };
            let current = windows
                .slots
                .get(&key)
                .is_some_and(|s| s.touched == touched);
            if current && now.duration_since(touched) < self.window {
                return;
            }
            windows.order.pop_front();
            if current {
                windows.slots.remove(&key);
            }
        }
    }

    fn hash(&self, key: &(impl Hash + ?Sized)) -> u64 {
        self.hasher.hash_one(key)
    }

    fn lock(&self) -> MutexGuard<'_, Windows> {
        // A panic while holding this lock cannot leave the map inconsistent.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Windows looked at from the least recently used end when one must go.
const EVICTION_CANDIDATES: usize = 64;

/// Evicts, among the least recently used windows, the one with the fewest hits
/// still in its time; a full window (a lockout) is never evicted. Returns
/// whether a window was evicted.
fn evict_lightest_of_oldest(
    windows: &mut Windows,
    limit: usize,
    now: Instant,
    window: Duration,
) -> bool {
    let live = |slot: &Slot| {
        slot.hits
            .iter()
            .filter(|t| now.duration_since(**t) < window)
            .count()
    };
    let mut best: Option<(usize, u64)> = None;
    let mut seen = 0;
    for &(key, touched) in windows.order.iter() {
        let Some(slot) = windows.slots.get(&key).filter(|s| s.touched == touched) else {
            continue;
        };
        let hits = live(slot);
        if hits < limit && best.is_none_or(|(fewest, _)| hits < fewest) {
            best = Some((hits, key));
        }
        seen += 1;
        if seen >= EVICTION_CANDIDATES || best.is_some_and(|(fewest, _)| fewest == 0) {
            break;
        }
    }
    match best {
        Some((_, key)) => windows.slots.remove(&key).is_some(),
        None => false,
    }
}

/// Rebuilds the touch queue from the slots once outdated records outnumber the
/// keys, so it stays within twice the map (amortised O(log n) per touch).
fn compact_if_needed(windows: &mut Windows) {
    if windows.order.len() <= 2 * windows.slots.len() + 64 {
        return;
    }
    let mut current: Vec<(u64, Instant)> = windows
        .slots
        .iter()
        .map(|(key, slot)| (*key, slot.touched))
        .collect();
    current.sort_unstable_by_key(|(_, touched)| *touched);
    windows.order = current.into();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn retry_after(result: Result<(), AuthError>) -> u64 {
        match result {
            Err(AuthError::RateLimited { retry_after_secs }) => retry_after_secs,
            other => panic!("expected RateLimited, got {other:?}"),
        }
    }

    #[test]
    fn the_hit_after_the_limit_is_refused_with_a_retry_after() {
        let limiter = SlidingWindow::new(3, Duration::from_secs(60));
        for _ in 0..3 {
            limiter.hit("k").unwrap();
        }
        assert!((59..=60).contains(&retry_after(limiter.hit("k"))));
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
    fn reservations_count_while_held_and_are_given_back_when_dropped() {
        let limiter = SlidingWindow::new(2, Duration::from_secs(60));
        let first = limiter.reserve("k").unwrap();
        let second = limiter.reserve("k").unwrap();
        assert!(
            limiter.reserve("k").is_err(),
            "two in flight fill the window"
        );
        drop(second);
        let third = limiter.reserve("k").unwrap();
        first.keep();
        third.keep();
        assert!(limiter.check("k").is_err(), "kept places stay counted");
    }

    #[test]
    fn check_does_not_count() {
        let limiter = SlidingWindow::new(1, Duration::from_secs(60));
        limiter.check("k").unwrap();
        limiter.check("k").unwrap();
        limiter.hit("k").unwrap();
        assert!(limiter.check("k").is_err());
    }

    #[test]
    fn the_map_never_holds_more_than_its_cap_however_many_keys_arrive() {
        let limiter = SlidingWindow::with_max_keys(5, Duration::from_secs(60), 1_000);
        for i in 0..25_000 {
            limiter
                .hit(&format!("flood-{i}-{}", "x".repeat(200)))
                .unwrap();
        }
        assert_eq!(limiter.len(), 1_000);
        let state = limiter.lock();
        assert!(
            state.order.len() <= 2 * state.slots.len() + 64,
            "touch queue bounded"
        );
    }

    #[test]
    fn a_full_map_evicts_the_longest_untouched_window_first() {
        let limiter = SlidingWindow::with_max_keys(5, Duration::from_secs(60), 3);
        limiter.hit("a").unwrap();
        limiter.hit("b").unwrap();
        limiter.hit("c").unwrap();
        limiter.hit("a").unwrap(); // a is now newer than b and c
        limiter.hit("d").unwrap(); // evicts b
        limiter.hit("a").unwrap();
        limiter.hit("a").unwrap();
        limiter.hit("a").unwrap();
        assert!(limiter.hit("a").is_err(), "a kept its five hits");
        assert_eq!(limiter.len(), 3);
    }

    #[test]
    fn a_flood_of_new_keys_never_evicts_a_lockout() {
        let limiter = SlidingWindow::with_max_keys(5, Duration::from_secs(900), 3);
        for _ in 0..5 {
            limiter.reserve("victim").unwrap().keep();
        }
        for i in 0..1_000 {
            // Refused attempts (dropped reservations) leave nothing behind...
            drop(limiter.reserve(&format!("junk{i}")));
            // ...and counted ones never push the victim's lockout out.
            let _ = limiter.hit(&format!("counted{i}"));
        }
        assert!(limiter.check("victim").is_err(), "still locked");
        assert!(limiter.len() <= 3);
    }

    #[test]
    fn a_reservation_given_back_leaves_no_key() {
        let limiter = SlidingWindow::new(5, Duration::from_secs(60));
        drop(limiter.reserve("k").unwrap());
        assert!(limiter.is_empty());
    }

    #[test]
    fn stale_windows_are_swept_as_time_passes_not_only_when_full() {
        let limiter = SlidingWindow::with_max_keys(5, Duration::from_millis(10), 100_000);
        for i in 0..100 {
            limiter.hit(&format!("old{i}")).unwrap();
        }
        std::thread::sleep(Duration::from_millis(20));
        for _ in 0..30 {
            limiter.check("anything").unwrap();
        }
        assert_eq!(
            limiter.len(),
            0,
            "every stale window swept by ordinary calls"
        );
    }
}
