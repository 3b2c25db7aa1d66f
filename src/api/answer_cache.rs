//! Answers read from a whole journal (the summary, mood buckets over months), kept
//! per user and question until the user's entries change, and, for an answer that
//! depends on today, until the local day turns. People look at these far more
//! often than they write, and each one reads many rows.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::NaiveDate;
use serde_json::Value;

/// Answers kept at most, and their total size; the cache starts over when either is reached.
const MAX_ANSWERS: usize = 10_000;
const MAX_BYTES: usize = 16 * 1024 * 1024;

struct Kept {
    generation: u64,
    local_day: Option<NaiveDate>,
    answer: Value,
}

#[derive(Default)]
struct Answers {
    by_question: HashMap<(String, String), Kept>,
    bytes: usize,
}

#[derive(Default)]
pub struct AnswerCache {
    kept: Mutex<Answers>,
}

impl AnswerCache {
    /// The answer kept for this user and question, if it was made from the same
    /// write generation (and on the same local day, when it depends on one).
    pub fn get(
        &self,
        user_id: &str,
        question: &str,
        generation: u64,
        local_day: Option<NaiveDate>,
    ) -> Option<Value> {
        let kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        kept.by_question
            .get(&(user_id.to_owned(), question.to_owned()))
            .filter(|k| k.generation == generation && k.local_day == local_day)
            .map(|k| k.answer.clone())
    }

    pub fn put(
        &self,
        user_id: &str,
        question: &str,
        generation: u64,
        local_day: Option<NaiveDate>,
        answer: Value,
    ) {
        let size = user_id.len() + question.len() + answer.to_string().len();
        let mut kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        if kept.by_question.len() >= MAX_ANSWERS || kept.bytes + size > MAX_BYTES {
            *kept = Answers::default();
        }
        kept.bytes += size;
        kept.by_question.insert(
            (user_id.to_owned(), question.to_owned()),
            Kept {
                generation,
                local_day,
                answer,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_is_kept_until_a_write_or_a_new_day() {
        let cache = AnswerCache::default();
        let day = NaiveDate::from_ymd_opt(2026, 11, 26);
        let next = NaiveDate::from_ymd_opt(2026, 11, 27);
        cache.put("ada", "summary Europe/Berlin", 7, day, Value::from(1));
        assert_eq!(
            cache.get("ada", "summary Europe/Berlin", 7, day),
            Some(Value::from(1))
        );
        assert_eq!(cache.get("ada", "summary Europe/Berlin", 8, day), None);
        assert_eq!(cache.get("ada", "summary Europe/Berlin", 7, next), None);
        assert_eq!(cache.get("bob", "summary Europe/Berlin", 7, day), None);
        assert_eq!(cache.get("ada", "summary Asia/Tokyo", 7, day), None);
    }

    #[test]
    fn a_flood_of_questions_never_holds_more_than_the_bounds() {
        let cache = AnswerCache::default();
        let big = Value::String("x".repeat(64 * 1024));
        for i in 0..1_000 {
            cache.put("ada", &format!("moods {i}"), 1, None, big.clone());
        }
        let kept = cache.kept.lock().unwrap();
        assert!(kept.bytes <= MAX_BYTES);
        assert!(kept.by_question.len() <= MAX_BYTES / (64 * 1024));
    }
}
