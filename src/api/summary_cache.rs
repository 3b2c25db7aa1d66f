//! Journal summaries, kept per (user, zone) until the user's entries change or the
//! local day turns: a summary reads every entry time of the journal, and people
//! look at it far more often than they write.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::NaiveDate;
use serde_json::Value;

/// Summaries kept at most; the cache starts over when it is full.
const MAX_SUMMARIES: usize = 10_000;

struct Kept {
    generation: u64,
    local_day: NaiveDate,
    summary: Value,
}

#[derive(Default)]
pub struct SummaryCache {
    kept: Mutex<HashMap<(String, String), Kept>>,
}

impl SummaryCache {
    /// The summary kept for this user and zone, if it was made from the same
    /// write generation on the same local day.
    pub fn get(
        &self,
        user_id: &str,
        tz: &str,
        generation: u64,
        local_day: NaiveDate,
    ) -> Option<Value> {
        let kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        kept.get(&(user_id.to_owned(), tz.to_owned()))
            .filter(|k| k.generation == generation && k.local_day == local_day)
            .map(|k| k.summary.clone())
    }

    pub fn put(
        &self,
        user_id: &str,
        tz: &str,
        generation: u64,
        local_day: NaiveDate,
        summary: Value,
    ) {
        let mut kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        if kept.len() >= MAX_SUMMARIES {
            kept.clear();
        }
        kept.insert(
            (user_id.to_owned(), tz.to_owned()),
            Kept {
                generation,
                local_day,
                summary,
            },
        );
    }
}
