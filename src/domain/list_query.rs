use std::collections::HashMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use super::time::Millis;
use super::{FieldErrors, ValidationError};

const DEFAULT_LIMIT: u32 = 50;
const MAX_LIMIT: u32 = 200;
const MILLIS_PER_DAY: i64 = 86_400_000;

/// The position after the last entry of a page: entries are ordered by
/// `(created_at, id)` descending, so the next page starts strictly below it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub created_at: Millis,
    pub id: String,
}

impl Cursor {
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}|{}", self.created_at, self.id))
    }

    /// # Errors
    /// A message for the `cursor` parameter.
    pub fn decode(text: &str) -> Result<Self, String> {
        let invalid = || "is not a valid cursor".to_string();
        let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| invalid())?;
        let text = String::from_utf8(bytes).map_err(|_| invalid())?;
        let (millis, id) = text.split_once('|').ok_or_else(invalid)?;
        let created_at = millis.parse().map_err(|_| invalid())?;
        let id = Uuid::parse_str(id)
            .map_err(|_| invalid())?
            .hyphenated()
            .to_string();
        Ok(Self { created_at, id })
    }
}

/// `GET /api/entries` parameters, with inclusive millisecond bounds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    pub from: Option<Millis>,
    pub to: Option<Millis>,
    pub limit: u32,
    pub cursor: Option<Cursor>,
    /// `q`, `tag` and `mood`, read from the repeated parameters (see [`EntryFilter`]).
    pub filter: super::EntryFilter,
}

impl ListQuery {
    /// # Errors
    /// 422 naming each bad parameter.
    pub fn parse(query: &HashMap<String, String>) -> Result<Self, ValidationError> {
        let mut errors = FieldErrors::default();
        let from = query
            .get("from")
            .and_then(|v| errors.take("from", parse_bound(v, Bound::Start)));
        let to = query
            .get("to")
            .and_then(|v| errors.take("to", parse_bound(v, Bound::End)));
        let limit = match query.get("limit") {
            None => Some(DEFAULT_LIMIT),
            Some(v) => errors.take("limit", parse_limit(v)),
        };
        let cursor = query
            .get("cursor")
            .and_then(|v| errors.take("cursor", Cursor::decode(v)));
        if let (Some(from), Some(to)) = (from, to) {
            if from > to {
                errors.take::<()>("from", Err("must not be later than to".into()));
            }
        }
        errors.into_result()?;
        Ok(Self {
            from,
            to,
            limit: limit.unwrap_or(DEFAULT_LIMIT),
            cursor,
            filter: super::EntryFilter::default(),
        })
    }
}

#[derive(Clone, Copy)]
enum Bound {
    Start,
    End,
}

/// A date covers its whole UTC day; a datetime must carry an offset and is exact
/// to the millisecond (rounded inwards, so the bound stays inclusive of what it names).
fn parse_bound(text: &str, bound: Bound) -> Result<Millis, String> {
    if let Some(date) = parse_plain_date(text) {
        let start = date
            .and_hms_opt(0, 0, 0)
            .map(|dt| dt.and_utc().timestamp_millis())
            .ok_or_else(|| "is not a valid date".to_string())?;
        return Ok(match bound {
            Bound::Start => start,
            Bound::End => start + MILLIS_PER_DAY - 1,
        });
    }
    let instant = DateTime::parse_from_rfc3339(text)
        .map_err(|_| {
            "must be a date (YYYY-MM-DD) or an RFC 3339 datetime with an offset".to_string()
        })?
        .with_timezone(&Utc);
    let millis = instant.timestamp_millis();
    let has_sub_millis = instant.timestamp_subsec_nanos() % 1_000_000 != 0;
    Ok(match bound {
        Bound::Start if has_sub_millis => millis + 1,
        _ => millis,
    })
}

/// A date written exactly `YYYY-MM-DD` (chrono alone would take `2026-1-1`).
pub(crate) fn parse_plain_date(text: &str) -> Option<NaiveDate> {
    let bytes = text.as_bytes();
    let shaped = bytes.len() == 10
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes
            .iter()
            .enumerate()
            .all(|(i, b)| i == 4 || i == 7 || b.is_ascii_digit());
    shaped
        .then(|| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok())
        .flatten()
}

fn parse_limit(text: &str) -> Result<u32, String> {
    match text.parse::<u32>() {
        Ok(limit) if (1..=MAX_LIMIT).contains(&limit) => Ok(limit),
        _ => Err(format!("must be a whole number from 1 to {MAX_LIMIT}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::test_query as query;

    #[test]
    fn dates_must_be_written_exactly_yyyy_mm_dd() {
        assert!(parse_plain_date("2026-01-01").is_some());
        for loose in [
            "2026-1-1",
            "2026-01-1",
            "+2026-01-01",
            "2026-01-01 ",
            "２０２６-01-01",
            "2026-02-30",
        ] {
            assert!(parse_plain_date(loose).is_none(), "{loose}");
            assert!(parse_bound(loose, Bound::Start).is_err(), "{loose}");
        }
    }

    #[test]
    fn defaults_are_no_bounds_and_fifty_entries() {
        let q = ListQuery::parse(&query(&[])).unwrap();
        assert_eq!((q.from, q.to, q.limit, q.cursor), (None, None, 50, None));
    }

    #[test]
    fn a_date_covers_its_whole_utc_day() {
        let q = ListQuery::parse(&query(&[("from", "2026-11-20"), ("to", "2026-11-20")])).unwrap();
        assert_eq!(q.from, Some(1_795_132_800_000));
        assert_eq!(q.to, Some(1_795_132_800_000 + MILLIS_PER_DAY - 1));
    }

    #[test]
    fn a_datetime_with_an_offset_is_exact() {
        let q = ListQuery::parse(&query(&[("from", "2026-11-20T01:00:00.250+01:00")])).unwrap();
        assert_eq!(q.from, Some(1_795_132_800_250));
    }

    #[test]
    fn a_datetime_without_an_offset_is_rejected() {
        assert!(ListQuery::parse(&query(&[("from", "2026-11-20T10:00:00")])).is_err());
    }

    #[test]
    fn limits_outside_one_to_two_hundred_are_rejected() {
        for bad in ["0", "201", "-1", "ten", ""] {
            assert!(
                ListQuery::parse(&query(&[("limit", bad)])).is_err(),
                "{bad}"
            );
        }
        assert_eq!(
            ListQuery::parse(&query(&[("limit", "200")])).unwrap().limit,
            200
        );
    }

    #[test]
    fn a_cursor_round_trips_and_garbage_is_rejected() {
        let cursor = Cursor {
            created_at: 1_795_132_800_250,
            id: "6f9619ff-8b86-4011-b42d-00c04fc964ff".into(),
        };
        assert_eq!(Cursor::decode(&cursor.encode()).unwrap(), cursor);
        for bad in [
            "",
            "!!!",
            "bm90LWEtY3Vyc29y",
            &URL_SAFE_NO_PAD.encode("12|not-a-uuid"),
        ] {
            assert!(Cursor::decode(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn from_after_to_is_rejected() {
        assert!(ListQuery::parse(&query(&[("from", "2026-11-21"), ("to", "2026-11-20")])).is_err());
    }
}
