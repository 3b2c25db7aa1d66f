use std::collections::HashMap;

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;

use super::time::Millis;
use super::{FieldErrors, ValidationError};

/// One ISO week in one time zone, as the half-open UTC interval `[start, end)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeekQuery {
    pub start: Millis,
    pub end: Millis,
}

impl WeekQuery {
    /// `tz` (IANA name, default UTC) and `week` (`YYYY-Www`, default the current week there).
    ///
    /// # Errors
    /// 422 for an unknown zone or a week that does not exist.
    pub fn parse(
        query: &HashMap<String, String>,
        now: chrono::DateTime<Utc>,
    ) -> Result<Self, ValidationError> {
        let mut errors = FieldErrors::default();
        let tz = super::parse_tz(query, &mut errors);
        let monday = match query.get("week") {
            Some(text) => errors.take("week", parse_iso_week(text)),
            None => tz.map(|tz| {
                let today = now.with_timezone(&tz).date_naive();
                today - Duration::days(i64::from(today.weekday().num_days_from_monday()))
            }),
        };
        let (tz, monday) = errors.finish(tz.zip(monday))?;
        Ok(Self::for_week(tz, monday))
    }

    fn for_week(tz: Tz, monday: NaiveDate) -> Self {
        let next_monday = monday + Duration::days(7);
        Self {
            start: local_midnight_in_utc(tz, monday),
            end: local_midnight_in_utc(tz, next_monday),
        }
    }
}

/// `2026-W47` to that week's Monday; weeks that do not exist are refused.
fn parse_iso_week(text: &str) -> Result<NaiveDate, String> {
    let invalid = || "must be an ISO week such as 2026-W47".to_string();
    let (year, week) = text.split_once("-W").ok_or_else(invalid)?;
    if year.len() != 4
        || week.len() != 2
        || !year.bytes().chain(week.bytes()).all(|b| b.is_ascii_digit())
    {
        return Err(invalid());
    }
    let year: i32 = year.parse().map_err(|_| invalid())?;
    let week: u32 = week.parse().map_err(|_| invalid())?;
    NaiveDate::from_isoywd_opt(year, week, Weekday::Mon)
        .ok_or_else(|| format!("{text} does not exist"))
}

/// The instant a local day begins. Where midnight falls in a daylight-saving gap
/// the day begins at the first local time that exists.
pub(super) fn local_midnight_in_utc(tz: Tz, date: NaiveDate) -> Millis {
    let midnight: NaiveDateTime = date.and_hms_opt(0, 0, 0).unwrap_or_default();
    (0..=24 * 4)
        .map(|quarter| midnight + Duration::minutes(15 * quarter))
        .find_map(|local| tz.from_local_datetime(&local).earliest())
        .map(|dt| dt.timestamp_millis())
        .unwrap_or_else(|| midnight.and_utc().timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn week(pairs: &[(&str, &str)]) -> Result<WeekQuery, ValidationError> {
        let query = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        WeekQuery::parse(
            &query,
            Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap(),
        )
    }

    fn utc(y: i32, m: u32, d: u32, h: u32) -> Millis {
        Utc.with_ymd_and_hms(y, m, d, h, 0, 0)
            .unwrap()
            .timestamp_millis()
    }

    #[test]
    fn the_current_utc_week_runs_monday_to_monday() {
        let w = week(&[]).unwrap();
        assert_eq!(
            (w.start, w.end),
            (utc(2026, 11, 23, 0), utc(2026, 11, 30, 0))
        );
    }

    #[test]
    fn a_named_week_in_new_york_is_shifted_by_its_offset() {
        let w = week(&[("week", "2026-W47"), ("tz", "America/New_York")]).unwrap();
        assert_eq!(
            (w.start, w.end),
            (utc(2026, 11, 16, 5), utc(2026, 11, 23, 5))
        );
    }

    #[test]
    fn a_week_with_a_daylight_saving_change_has_bounds_in_both_offsets() {
        // 2026-03-08: New York moves from UTC-5 to UTC-4.
        let w = week(&[("week", "2026-W10"), ("tz", "America/New_York")]).unwrap();
        assert_eq!((w.start, w.end), (utc(2026, 3, 2, 5), utc(2026, 3, 9, 4)));
        assert_eq!(w.end - w.start, (7 * 24 - 1) * 3_600_000);
    }

    #[test]
    fn weeks_that_do_not_exist_are_rejected() {
        for bad in [
            "2021-W53", "2026-W00", "2026-W54", "2026-47", "2026-W7", "26-W07", "2026-Wxx",
        ] {
            assert!(week(&[("week", bad)]).is_err(), "{bad}");
        }
        assert!(week(&[("week", "2020-W53")]).is_ok());
    }

    #[test]
    fn an_unknown_time_zone_is_rejected() {
        assert!(week(&[("tz", "Mars/Olympus")]).is_err());
    }
}
