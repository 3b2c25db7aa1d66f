//! Mood counts over months and the journal's summary, in the caller's time zone.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use chrono_tz::Tz;

use super::list_query::parse_plain_date;
use super::time::Millis;
use super::week::local_midnight_in_utc;
use super::{FieldErrors, ValidationError};

const MAX_BUCKETS: usize = 366;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    Day,
    Week,
    Month,
}

impl Bucket {
    fn parse(text: &str) -> Result<Self, String> {
        match text {
            "day" => Ok(Self::Day),
            "week" => Ok(Self::Week),
            "month" => Ok(Self::Month),
            _ => Err("must be one of day, week, month".into()),
        }
    }

    /// The first day of the bucket that holds `date` (weeks start on Monday).
    fn start_of(self, date: NaiveDate) -> NaiveDate {
        match self {
            Self::Day => date,
            Self::Week => date - Duration::days(i64::from(date.weekday().num_days_from_monday())),
            Self::Month => date.with_day(1).unwrap_or(date),
        }
    }

    fn next(self, start: NaiveDate) -> NaiveDate {
        match self {
            Self::Day => start + Duration::days(1),
            Self::Week => start + Duration::days(7),
            Self::Month => start
                .checked_add_months(chrono::Months::new(1))
                .unwrap_or(start + Duration::days(31)),
        }
    }
}

/// An IANA zone, UTC when not given.
pub fn parse_tz(query: &HashMap<String, String>, errors: &mut FieldErrors) -> Option<Tz> {
    match query.get("tz") {
        None => Some(Tz::UTC),
        Some(name) => errors.take(
            "tz",
            name.parse::<Tz>()
                .map_err(|_| "must be an IANA time zone such as Europe/Berlin".to_string()),
        ),
    }
}

/// `GET /api/analytics/moods`: local days, ISO weeks or months from the bucket
/// holding `from` to the one holding `to`, as UTC millisecond boundaries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoodsQuery {
    /// The first local day of each bucket.
    pub starts: Vec<NaiveDate>,
    /// `starts.len() + 1` instants: bucket `i` is `[bounds[i], bounds[i + 1])`.
    pub bounds: Vec<Millis>,
}

impl MoodsQuery {
    /// # Errors
    /// 422 for a missing or malformed date, `from` after `to`, an unknown bucket or
    /// zone, or more than 366 buckets.
    pub fn parse(query: &HashMap<String, String>) -> Result<Self, ValidationError> {
        let mut errors = FieldErrors::default();
        let date = |name: &'static str, errors: &mut FieldErrors| match query.get(name) {
            None => errors.take::<NaiveDate>(name, Err("is required (YYYY-MM-DD)".into())),
            Some(text) => errors.take(
                name,
                parse_plain_date(text)
                    .ok_or_else(|| "must be a date written YYYY-MM-DD".to_string()),
            ),
        };
        let from = date("from", &mut errors);
        let to = date("to", &mut errors);
        let bucket = match query.get("bucket") {
            None => Some(Bucket::Week),
            Some(text) => errors.take("bucket", Bucket::parse(text)),
        };
        let tz = parse_tz(query, &mut errors);
        if let (Some(from), Some(to)) = (from, to) {
            if from > to {
                errors.take::<()>("from", Err("must not be later than to".into()));
            }
        }
        let ((from, to), (bucket, tz)) = errors.finish(from.zip(to).zip(bucket.zip(tz)))?;
        let mut starts = vec![bucket.start_of(from)];
        let last = bucket.start_of(to);
        while let Some(&current) = starts.last() {
            if current >= last {
                break;
            }
            if starts.len() >= MAX_BUCKETS {
                return Err(ValidationError::field(
                    "bucket",
                    format!("from and to span more than {MAX_BUCKETS} buckets"),
                ));
            }
            starts.push(bucket.next(current));
        }
        let mut bounds: Vec<Millis> = starts
            .iter()
            .map(|d| local_midnight_in_utc(tz, *d))
            .collect();
        let after_last = starts.last().map_or(from, |d| bucket.next(*d));
        bounds.push(local_midnight_in_utc(tz, after_last));
        Ok(Self { starts, bounds })
    }

    /// Counts per mood per bucket from `(bucket index, mood, count)` rows.
    pub fn collect(&self, rows: Vec<(usize, String, u64)>) -> Vec<HashMap<String, u64>> {
        let mut buckets = vec![HashMap::new(); self.starts.len()];
        for (index, mood, count) in rows {
            if let Some(bucket) = buckets.get_mut(index) {
                bucket.insert(mood, count);
            }
        }
        buckets
    }
}

/// Streaks of consecutive local days with at least one entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Streaks {
    pub days_journaled: u64,
    pub current: u64,
    pub longest: u64,
}

/// Streaks from entry times in `tz`; the current streak counts while its last day
/// is today or yesterday there.
pub fn streaks(times: &[Millis], tz: Tz, now: DateTime<Utc>) -> Streaks {
    let mut days: Vec<NaiveDate> = times
        .iter()
        .filter_map(|ms| DateTime::<Utc>::from_timestamp_millis(*ms))
        .map(|at| at.with_timezone(&tz).date_naive())
        .collect();
    days.sort_unstable();
    days.dedup();
    let mut longest = 0;
    let mut run = 0;
    let mut previous: Option<NaiveDate> = None;
    for day in &days {
        run = match previous {
            Some(before) if *day == before + Duration::days(1) => run + 1,
            _ => 1,
        };
        longest = longest.max(run);
        previous = Some(*day);
    }
    let today = now.with_timezone(&tz).date_naive();
    let current = match previous {
        Some(last) if last == today || last + Duration::days(1) == today => run,
        _ => 0,
    };
    Streaks {
        days_journaled: days.len() as u64,
        current,
        longest,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::test_query as query;

    #[test]
    fn weeks_start_on_monday_and_cover_from_and_to() {
        let q = MoodsQuery::parse(&query(&[
            ("from", "2026-11-18"),
            ("to", "2026-11-30"),
            ("bucket", "week"),
        ]))
        .unwrap();
        let starts: Vec<String> = q.starts.iter().map(|d| d.to_string()).collect();
        assert_eq!(starts, ["2026-11-16", "2026-11-23", "2026-11-30"]);
        assert_eq!(q.bounds.len(), 4);
    }

    #[test]
    fn months_cross_year_ends_and_short_months() {
        let q = MoodsQuery::parse(&query(&[
            ("from", "2026-01-31"),
            ("to", "2027-02-01"),
            ("bucket", "month"),
        ]))
        .unwrap();
        assert_eq!(q.starts.len(), 14);
        assert_eq!(q.starts[1].to_string(), "2026-02-01");
        assert_eq!(q.starts[13].to_string(), "2027-02-01");
    }

    #[test]
    fn a_day_bucket_across_a_dst_change_is_23_hours_long() {
        let q = MoodsQuery::parse(&query(&[
            ("from", "2026-03-28"),
            ("to", "2026-03-30"),
            ("bucket", "day"),
            ("tz", "Europe/Berlin"),
        ]))
        .unwrap();
        assert_eq!(
            q.bounds[2] - q.bounds[1],
            23 * 3_600_000,
            "29 March has 23 hours in Berlin"
        );
    }

    #[test]
    fn bad_parameters_are_refused() {
        for pairs in [
            vec![("to", "2026-01-01")],
            vec![("from", "2026-1-1"), ("to", "2026-01-02")],
            vec![("from", "2026-02-01"), ("to", "2026-01-01")],
            vec![
                ("from", "2026-01-01"),
                ("to", "2026-01-02"),
                ("bucket", "year"),
            ],
            vec![
                ("from", "2026-01-01"),
                ("to", "2026-01-02"),
                ("tz", "Mars/Olympus"),
            ],
            vec![
                ("from", "2020-01-01"),
                ("to", "2026-01-02"),
                ("bucket", "day"),
            ],
        ] {
            assert!(MoodsQuery::parse(&query(&pairs)).is_err(), "{pairs:?}");
        }
        assert!(
            MoodsQuery::parse(&query(&[
                ("from", "2026-01-01"),
                ("to", "2027-01-01"),
                ("bucket", "day")
            ]))
            .is_ok(),
            "366 days"
        );
    }

    #[test]
    fn streaks_follow_local_days() {
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().timestamp_millis();
        let tz: Tz = "Pacific/Kiritimati".parse().unwrap();
        // 10:30 UTC is 00:30 the next day at UTC+14.
        let times = [
            at("2026-11-20T09:00:00Z"),
            at("2026-11-20T10:30:00Z"),
            at("2026-11-21T10:30:00Z"),
        ];
        let now = DateTime::parse_from_rfc3339("2026-11-22T11:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let s = streaks(&times, tz, now);
        assert_eq!((s.days_journaled, s.longest, s.current), (3, 3, 3));
        let utc = streaks(&times, Tz::UTC, now);
        assert_eq!((utc.days_journaled, utc.longest, utc.current), (2, 2, 2));
        let later = DateTime::parse_from_rfc3339("2026-11-25T11:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(streaks(&times, tz, later).current, 0);
        assert_eq!(streaks(&[], tz, now), Streaks::default());
    }
}
