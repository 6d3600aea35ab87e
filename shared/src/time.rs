//! Timestamps are RFC 3339 UTC with milliseconds (`2026-11-29T08:49:04.123Z`): the format of
//! seed 001's payloads. Fixed width, so they also sort lexicographically in DynamoDB keys.

use chrono::{DateTime, SecondsFormat, Utc};

pub type Timestamp = DateTime<Utc>;

pub fn now() -> Timestamp {
    Utc::now()
}

pub fn format(t: Timestamp) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub fn now_string() -> String {
    format(now())
}

pub fn parse(s: &str) -> Option<Timestamp> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

/// Unix seconds `secs` from now, for DynamoDB TTL attributes.
pub fn ttl_after(now: Timestamp, secs: i64) -> i64 {
    now.timestamp() + secs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_is_fixed_width_millis_utc() {
        let t = parse("2025-11-06T10:30:00Z").unwrap();
        assert_eq!(format(t), "2025-11-06T10:30:00.000Z");
        assert_eq!(parse("garbage"), None);
    }
}
