//! Time as the service stores it (milliseconds since the Unix epoch) and answers it
//! (RFC 3339 UTC with millisecond precision and a `Z`).

use chrono::{DateTime, SecondsFormat, Utc};

pub type Millis = i64;

pub fn now_millis() -> Millis {
    Utc::now().timestamp_millis()
}

pub fn format_millis(ms: Millis) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc_with_milliseconds_and_z() {
        assert_eq!(format_millis(1_795_599_000_123), "2026-11-25T09:30:00.123Z");
        assert_eq!(format_millis(0), "1970-01-01T00:00:00.000Z");
    }
}
