//! What a client may send for a subscription: the create and PATCH bodies, their field rules
//! and defaults (seed 001), the `since` of a recover request and the delivery log's filters. Each rule answers 400
//! `validation_error` naming the field.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::Subscription;
use crate::app::App;
use crate::error::{AppError, AppResult};
use crate::patch::Patch;
use crate::signing::WebhookSecret;
use crate::subscriptions::{DeliveryFilter, DeliveryStatus, SubscriptionPatch};

pub const DEFAULT_RETRY_ATTEMPTS: u32 = 3;
pub const DEFAULT_RETRY_DELAY: u32 = 60;
pub const DEFAULT_TIMEOUT_MS: u32 = 10_000;
pub const DEFAULT_MAX_CONSECUTIVE_FAILURES: u32 = 5;
const MAX_URL_CHARS: usize = 2048;
const MAX_NAME_CHARS: usize = 200;
const MAX_DESCRIPTION_CHARS: usize = 2000;

// --- field rules -----------------------------------------------------------------------------

fn validate_name(name: &str) -> AppResult<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(AppError::validation(format!(
            "name must be 1 to {MAX_NAME_CHARS} characters"
        )));
    }
    Ok(name.to_owned())
}

fn validate_url(app: &App, url: &str) -> AppResult<String> {
    let url = url.trim();
    if url.chars().count() > MAX_URL_CHARS {
        return Err(AppError::validation(format!(
            "url must be at most {MAX_URL_CHARS} characters"
        )));
    }
    crate::outbound::validate_target_url(url, app.config.allow_private_targets)
        .map_err(|e| AppError::validation(e.to_string()))?;
    Ok(url.to_owned())
}

fn validate_description(d: String) -> AppResult<String> {
    if d.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(AppError::validation(format!(
            "description must be at most {MAX_DESCRIPTION_CHARS} characters"
        )));
    }
    Ok(d)
}

fn in_range(field: &str, value: i64, min: u32, max: u32, unit: &str) -> AppResult<u32> {
    match u32::try_from(value) {
        Ok(v) if (min..=max).contains(&v) => Ok(v),
        _ => Err(AppError::validation(format!(
            "{field} must be an integer from {min} to {max}{unit}"
        ))),
    }
}

fn retry_attempts(v: i64) -> AppResult<u32> {
    in_range("retryAttempts", v, 0, 10, "")
}
fn retry_delay(v: i64) -> AppResult<u32> {
    in_range("retryDelay", v, 1, 3600, " seconds")
}
fn timeout_ms(v: i64) -> AppResult<u32> {
    in_range("timeoutMs", v, 1000, 25_000, " ms")
}
fn max_consecutive_failures(v: i64) -> AppResult<u32> {
    in_range("maxConsecutiveFailures", v, 1, 1000, "")
}
fn rate_limit_per_second(v: i64) -> AppResult<u32> {
    in_range("rateLimitPerSecond", v, 1, 1000, " (or null for no limit)")
}
fn headers(v: serde_json::Value) -> AppResult<BTreeMap<String, String>> {
    match v {
        serde_json::Value::Object(map) => crate::outbound::headers::validate(&map),
        _ => Err(AppError::validation(
            "headers must be an object of header name to value",
        )),
    }
}

// --- create ----------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateBody {
    pub name: String,
    pub url: String,
    pub events: Vec<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub retry_attempts: Option<i64>,
    #[serde(default)]
    pub retry_delay: Option<i64>,
    #[serde(default)]
    pub timeout_ms: Option<i64>,
    #[serde(default)]
    pub max_consecutive_failures: Option<i64>,
    #[serde(default)]
    pub active: Option<bool>,
    #[serde(default)]
    pub rate_limit_per_second: Option<i64>,
    #[serde(default)]
    pub headers: Option<serde_json::Value>,
}

/// A new subscription from a create body: every field checked, defaults filled in, a fresh
/// id and secret.
pub fn new_subscription(
    app: &App,
    workspace_id: &str,
    body: CreateBody,
) -> AppResult<Subscription> {
    let now = crate::time::now_string();
    Ok(Subscription {
        id: crate::ids::new_id(crate::ids::WEBHOOK),
        workspace_id: workspace_id.to_owned(),
        name: validate_name(&body.name)?,
        url: validate_url(app, &body.url)?,
        events: super::validate_patterns(&body.events)?,
        description: body.description.map(validate_description).transpose()?,
        retry_attempts: body
            .retry_attempts
            .map(retry_attempts)
            .transpose()?
            .unwrap_or(DEFAULT_RETRY_ATTEMPTS),
        retry_delay: body
            .retry_delay
            .map(retry_delay)
            .transpose()?
            .unwrap_or(DEFAULT_RETRY_DELAY),
        timeout_ms: body
            .timeout_ms
            .map(timeout_ms)
            .transpose()?
            .unwrap_or(DEFAULT_TIMEOUT_MS),
        max_consecutive_failures: body
            .max_consecutive_failures
            .map(max_consecutive_failures)
            .transpose()?
            .unwrap_or(DEFAULT_MAX_CONSECUTIVE_FAILURES),
        active: body.active.unwrap_or(true),
        disabled_reason: None,
        secret: WebhookSecret::generate(),
        previous_secret: None,
        previous_secret_expires_at: None,
        success_count: 0,
        failed_count: 0,
        consecutive_failures: 0,
        last_delivery_status: None,
        last_delivery_at: None,
        created_at: now.clone(),
        updated_at: now,
        rate_limit_per_second: body
            .rate_limit_per_second
            .map(rate_limit_per_second)
            .transpose()?,
        headers: body.headers.map(headers).transpose()?.unwrap_or_default(),
    })
}

// --- PATCH -----------------------------------------------------------------------------------

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct PatchBody {
    #[serde(default)]
    pub name: Patch<String>,
    #[serde(default)]
    pub url: Patch<String>,
    #[serde(default)]
    pub events: Patch<Vec<String>>,
    #[serde(default)]
    pub description: Patch<String>,
    #[serde(default)]
    pub retry_attempts: Patch<i64>,
    #[serde(default)]
    pub retry_delay: Patch<i64>,
    #[serde(default)]
    pub timeout_ms: Patch<i64>,
    #[serde(default)]
    pub max_consecutive_failures: Patch<i64>,
    #[serde(default)]
    pub active: Patch<bool>,
    #[serde(default)]
    pub rate_limit_per_second: Patch<i64>,
    #[serde(default)]
    pub headers: Patch<serde_json::Value>,
}

pub fn validate_patch(app: &App, body: PatchBody) -> AppResult<SubscriptionPatch> {
    Ok(SubscriptionPatch {
        name: body
            .name
            .not_null("name")?
            .map(|n| validate_name(&n))
            .transpose()?,
        url: body
            .url
            .not_null("url")?
            .map(|u| validate_url(app, &u))
            .transpose()?,
        events: body
            .events
            .not_null("events")?
            .map(|e| super::validate_patterns(&e))
            .transpose()?,
        description: body.description.try_map(validate_description)?,
        retry_attempts: body
            .retry_attempts
            .not_null("retryAttempts")?
            .map(retry_attempts)
            .transpose()?,
        retry_delay: body
            .retry_delay
            .not_null("retryDelay")?
            .map(retry_delay)
            .transpose()?,
        timeout_ms: body
            .timeout_ms
            .not_null("timeoutMs")?
            .map(timeout_ms)
            .transpose()?,
        max_consecutive_failures: body
            .max_consecutive_failures
            .not_null("maxConsecutiveFailures")?
            .map(max_consecutive_failures)
            .transpose()?,
        active: body.active.not_null("active")?,
        rate_limit_per_second: body.rate_limit_per_second.try_map(rate_limit_per_second)?,
        headers: body.headers.try_map(headers)?,
    })
}

// --- recover ---------------------------------------------------------------------------------

/// `since` of a recover request: RFC 3339, or a date (midnight UTC).
pub fn parse_since(since: &str) -> AppResult<crate::time::Timestamp> {
    let since = since.trim();
    if let Some(t) = crate::time::parse(since) {
        return Ok(t);
    }
    chrono::NaiveDate::parse_from_str(since, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|dt| dt.and_utc())
        .ok_or_else(|| {
            AppError::validation("since must be an RFC 3339 timestamp or a date (YYYY-MM-DD)")
        })
}

// --- the delivery log's query ------------------------------------------------------------

/// The filters of a delivery log request (DESIGN §8): `status`, `event`, `since`, `until`
/// and, on the workspace-wide log, `webhookId`. An empty value is no filter; a bad one is a
/// 400 naming it. `get` reads one query parameter.
pub fn delivery_filter<'a>(
    get: impl Fn(&str) -> Option<&'a str>,
    workspace_wide: bool,
) -> AppResult<DeliveryFilter> {
    let value = |name: &str| get(name).map(str::trim).filter(|v| !v.is_empty());
    let status = value("status")
        .map(|s| {
            DeliveryStatus::parse(s).ok_or_else(|| {
                AppError::validation("status must be one of pending, success, failed")
            })
        })
        .transpose()?;
    let event = value("event")
        .map(|e| {
            if e == super::TEST_EVENT || super::validate_patterns(&[e.to_owned()]).is_ok() {
                Ok(e.to_owned())
            } else {
                Err(AppError::validation(
                    "event must be an event type (e.g. booking.created) or a prefix.* pattern",
                ))
            }
        })
        .transpose()?;
    let time = |name: &'static str| {
        value(name)
            .map(|v| {
                crate::time::parse(v).ok_or_else(|| {
                    AppError::validation(format!("{name} must be an RFC 3339 timestamp"))
                })
            })
            .transpose()
    };
    let (since, until) = (time("since")?, time("until")?);
    if let (Some(s), Some(u)) = (since, until) {
        if u < s {
            return Err(AppError::validation("until must not be before since"));
        }
    }
    let subscription_id = match value("webhookId") {
        Some(id) if workspace_wide => Some(
            crate::ids::WebhookId::parse(id)
                .map_err(|_| AppError::validation("webhookId must be a webhook id (wh_…)"))?
                .into_string(),
        ),
        _ => None,
    };
    Ok(DeliveryFilter {
        subscription_id,
        status,
        event,
        since,
        until,
    })
}
