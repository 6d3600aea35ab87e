//! `Retry-After` on a throttling answer (DESIGN §8 "Outbound additions"): one rule for every
//! sender (subscriptions, HubSpot, GHL, alerts).
//!
//! - Only a 429 or a 503 is read; the header is delta-seconds or an HTTP date (IMF-fixdate,
//!   and the obsolete RFC 850 and asctime forms a server may still send, RFC 9110 §10.2.3).
//!   A date in the past or an unreadable value is no deferral.
//! - The next attempt waits max(schedule, Retry-After), the Retry-After part capped at 1 h: a
//!   target cannot park a delivery for a day, and a longer backoff is never shortened.
//! - The attempt still counts against the retry budget, but a throttled answer is not the
//!   target failing: it does not count toward `maxConsecutiveFailures`.

use std::time::Duration;

use chrono::{NaiveDateTime, TimeZone, Utc};

use super::Attempt;
use crate::time::Timestamp;

/// The longest deferral a `Retry-After` may ask for.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// Whether `status` is a throttling answer whose `Retry-After` is honoured.
pub fn is_throttle(status: u16) -> bool {
    status == 429 || status == 503
}

/// The wait a `Retry-After` value asks for at `now`, capped at [`MAX_RETRY_AFTER`]; `None`
/// when it is unreadable or already past.
pub fn parse(value: &str, now: Timestamp) -> Option<Duration> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    let wait = if value.bytes().all(|b| b.is_ascii_digit()) {
        // Longer than u64 is "very long": the cap applies.
        Duration::from_secs(value.parse::<u64>().unwrap_or(u64::MAX))
    } else {
        let at = http_date(value)?;
        (at - now).to_std().ok()?
    };
    (!wait.is_zero()).then(|| wait.min(MAX_RETRY_AFTER))
}

/// An HTTP date in any of the three forms RFC 9110 asks recipients to accept.
fn http_date(value: &str) -> Option<Timestamp> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc2822(value) {
        return Some(t.with_timezone(&Utc));
    }
    ["%A, %d-%b-%y %H:%M:%S GMT", "%a %b %e %H:%M:%S %Y"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(value, f).ok())
        .map(|naive| Utc.from_utc_datetime(&naive))
}

/// The delay before the next attempt after `attempt`: `schedule` (the sender's backoff), or
/// longer when the target throttled with a `Retry-After`.
pub fn next_delay(schedule: Duration, attempt: &Attempt) -> Duration {
    next_delay_for(schedule, attempt.retry_after())
}

/// [`next_delay`] with the throttled wait already read from the attempt.
pub fn next_delay_for(schedule: Duration, retry_after: Option<Duration>) -> Duration {
    match retry_after {
        Some(wait) => schedule.max(wait.min(MAX_RETRY_AFTER)),
        None => schedule,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbound::AttemptOutcome;

    fn now() -> Timestamp {
        crate::time::parse("2015-10-21T07:28:00Z").unwrap()
    }

    #[test]
    fn delta_seconds() {
        assert_eq!(parse("120", now()), Some(Duration::from_secs(120)));
        assert_eq!(parse(" 7 ", now()), Some(Duration::from_secs(7)));
        assert_eq!(parse("0", now()), None);
        assert_eq!(parse("-5", now()), None);
        assert_eq!(parse("1.5", now()), None);
        assert_eq!(parse("", now()), None);
        assert_eq!(parse("soon", now()), None);
    }

    #[test]
    fn long_waits_are_capped_at_one_hour() {
        assert_eq!(parse("86400", now()), Some(MAX_RETRY_AFTER));
        assert_eq!(
            parse("99999999999999999999999", now()),
            Some(MAX_RETRY_AFTER)
        );
        assert_eq!(
            parse("Thu, 22 Oct 2015 07:28:00 GMT", now()),
            Some(MAX_RETRY_AFTER)
        );
    }

    #[test]
    fn http_dates_in_all_three_forms() {
        let ninety = Some(Duration::from_secs(90));
        assert_eq!(parse("Wed, 21 Oct 2015 07:29:30 GMT", now()), ninety);
        assert_eq!(parse("Wednesday, 21-Oct-15 07:29:30 GMT", now()), ninety);
        assert_eq!(parse("Wed Oct 21 07:29:30 2015", now()), ninety);
        // A date already past asks for no wait.
        assert_eq!(parse("Wed, 21 Oct 2015 07:00:00 GMT", now()), None);
    }

    fn throttled(status: u16, retry_after_ms: Option<u64>) -> Attempt {
        Attempt {
            status_code: Some(status),
            duration_ms: 1,
            response_body: String::new(),
            error: Some(format!("http status {status}")),
            outcome: AttemptOutcome::Failure,
            retry_after_ms,
        }
    }

    #[test]
    fn next_delay_is_the_longer_of_schedule_and_retry_after() {
        let secs = Duration::from_secs;
        let a = throttled(429, Some(30_000));
        assert_eq!(next_delay(secs(5), &a), secs(30));
        assert_eq!(next_delay(secs(300), &a), secs(300));
        assert_eq!(
            next_delay(Duration::ZERO, &throttled(503, None)),
            Duration::ZERO
        );
        assert!(a.is_throttled());
        assert!(!throttled(500, None).is_throttled());
    }
}
