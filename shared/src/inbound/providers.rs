//! Reading a provider's event log for backfills (DESIGN §8), through the project's outbound
//! client (timeouts, no redirects, address rules, bounded responses):
//! - Stripe `GET /v1/events?created[gt]=…&limit=100[&starting_after=…]`, Bearer key, newest
//!   first, `has_more`;
//! - Close `GET /api/v1/event/?date_updated__gt=…[&_cursor=…]`, Basic auth `key:`, newest first,
//!   `cursor_next`.
//!
//! Both logs are read to their end before anything is stored, then handed back oldest first,
//! so the cursor can advance to the newest time read once every event is stored.

use std::time::Duration;

use base64::Engine;
use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::{json, Value};

use super::domain::Source;
use crate::App;

/// Stripe's page size (its maximum).
pub const STRIPE_PAGE_LIMIT: u32 = 100;
/// A run reads at most this many pages (Stripe: 50,000 events); a longer log fails the run
/// with a message instead of holding a function for its whole timeout.
pub const MAX_PAGES: usize = 500;
/// Largest provider response accepted (100 events of up to ~80 KiB each).
pub const MAX_PAGE_BYTES: usize = 8 * 1024 * 1024;

/// One event of a provider's log: the body the worker maps (Stripe's event as is; Close's
/// wrapped as its webhook wraps it, `{"event":…}`), and its time (the cursor's unit).
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderEvent {
    pub body: String,
    pub at: DateTime<Utc>,
}

/// Why a read failed: a sentence for the execution (never the key).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ProviderError(pub String);

fn fail(msg: impl Into<String>) -> ProviderError {
    ProviderError(msg.into())
}

/// Every event after `since`, oldest first.
pub async fn read_since(
    app: &App,
    source: Source,
    api_key: &str,
    since: DateTime<Utc>,
) -> Result<Vec<ProviderEvent>, ProviderError> {
    let mut events = match source {
        Source::Stripe => read_stripe(app, api_key, since).await?,
        Source::Close => read_close(app, api_key, since).await?,
        Source::Generic => {
            return Err(fail(
                "a generic (Standard Webhooks) job has no event log to read",
            ))
        }
    };
    // Both logs list newest first; equal times keep the log's order reversed (oldest first).
    events.reverse();
    events.sort_by_key(|e| e.at);
    Ok(events)
}

/// GETs one page and parses it as JSON; a non-2xx answer is a [`ProviderError`] that says what
/// the operator should do.
async fn get_json(
    app: &App,
    provider: &str,
    url: &url::Url,
    authorization: String,
) -> Result<Value, ProviderError> {
    let timeout: Duration = app.config.provider_timeout;
    let headers = [
        ("authorization".to_owned(), authorization),
        ("accept".to_owned(), "application/json".to_owned()),
    ];
    let fetched = app
        .http
        .get(url.as_str(), &headers, timeout, MAX_PAGE_BYTES)
        .await
        .map_err(|e| fail(format!("{provider} event log request failed: {e}")))?;
    match fetched.status {
        200..=299 => {}
        401 | 403 => {
            return Err(fail(format!(
                "{provider} rejected the apiKey ({}): set a valid key on the sync job",
                fetched.status
            )))
        }
        429 => {
            return Err(fail(format!(
                "{provider} is rate limiting the apiKey (429); the next run reads from the same cursor"
            )))
        }
        s => {
            return Err(fail(format!(
                "{provider} answered HTTP {s} to the event log request; the next run reads from the same cursor"
            )))
        }
    }
    serde_json::from_slice(&fetched.body)
        .map_err(|_| fail(format!("{provider} answered a body that is not JSON")))
}

fn base_url(base: &str, path: &str) -> Result<url::Url, ProviderError> {
    url::Url::parse(&format!("{}{path}", base.trim_end_matches('/')))
        .map_err(|_| fail("the provider API base URL is invalid"))
}

async fn read_stripe(
    app: &App,
    api_key: &str,
    since: DateTime<Utc>,
) -> Result<Vec<ProviderEvent>, ProviderError> {
    let mut out = Vec::new();
    let mut starting_after: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let mut url = base_url(&app.config.stripe_api_base, "/v1/events")?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("limit", &STRIPE_PAGE_LIMIT.to_string());
            // `created` has one-second resolution: an event of the cursor's own second may be
            // listed after a run read that second, so each run re-reads it (a duplicate).
            q.append_pair("created[gt]", &(since.timestamp() - 1).to_string());
            if let Some(after) = &starting_after {
                q.append_pair("starting_after", after);
            }
        }
        let page = get_json(app, "Stripe", &url, format!("Bearer {api_key}")).await?;
        let data = page
            .get("data")
            .and_then(Value::as_array)
            .ok_or_else(|| fail("Stripe answered a list without data"))?;
        for (i, ev) in data.iter().enumerate() {
            let id = ev.get("id").and_then(Value::as_str);
            let created = ev.get("created").and_then(Value::as_i64);
            let (Some(id), Some(created)) = (id, created) else {
                return Err(fail(format!(
                    "Stripe event {i} of a page has no id or created"
                )));
            };
            let at = DateTime::from_timestamp(created, 0)
                .ok_or_else(|| fail(format!("Stripe event {id} has an invalid created")))?;
            out.push(ProviderEvent {
                body: ev.to_string(),
                at,
            });
            starting_after = Some(id.to_owned());
        }
        let has_more = page
            .get("has_more")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        if !has_more || data.is_empty() {
            return Ok(out);
        }
    }
    Err(fail(format!(
        "Stripe's event log since the cursor holds more than {MAX_PAGES} pages of 100 events: PATCH a later backfillFrom"
    )))
}

/// Close's times: naive ISO 8601 in UTC (`2019-01-01T13:33:00.842000`) or with an offset.
pub fn parse_close_time(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|n| n.and_utc())
}

async fn read_close(
    app: &App,
    api_key: &str,
    since: DateTime<Utc>,
) -> Result<Vec<ProviderEvent>, ProviderError> {
    let auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{api_key}:"))
    );
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let mut url = base_url(&app.config.close_api_base, "/api/v1/event/")?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair(
                "date_updated__gt",
                &since.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string(),
            );
            if let Some(c) = &cursor {
                q.append_pair("_cursor", c);
            }
        }
        let page = get_json(app, "Close", &url, auth.clone()).await?;
        let data = page
            .get("data")
            .and_then(Value::as_array)
            .ok_or_else(|| fail("Close answered a list without data"))?;
        for (i, ev) in data.iter().enumerate() {
            let at = ev
                .get("date_updated")
                .or_else(|| ev.get("date_created"))
                .and_then(Value::as_str)
                .and_then(parse_close_time);
            let Some(at) = at else {
                return Err(fail(format!(
                    "Close event {i} of a page has no readable date_updated"
                )));
            };
            // The same envelope as Close's webhooks, so the mapping rules are the receiver's.
            out.push(ProviderEvent {
                body: json!({ "event": ev }).to_string(),
                at,
            });
        }
        match page.get("cursor_next").and_then(Value::as_str) {
            Some(next) if !next.is_empty() && !data.is_empty() => cursor = Some(next.to_owned()),
            _ => return Ok(out),
        }
    }
    Err(fail(format!(
        "Close's event log since the cursor holds more than {MAX_PAGES} pages: PATCH a later backfillFrom"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_times_parse_naive_and_with_offset() {
        let a = parse_close_time("2019-01-01T13:33:00.842000").unwrap();
        let b = parse_close_time("2019-01-01T13:33:00.842000+00:00").unwrap();
        assert_eq!(a, b);
        assert!(parse_close_time("yesterday").is_none());
    }
}
