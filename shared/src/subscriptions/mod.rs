//! Outbound webhook subscriptions (seed 001, DESIGN §4 "Outbound webhook subscriptions", §5,
//! §6): the domain types of a subscription and its deliveries, the event pattern rules, the
//! payload every delivery carries, the two store ports, and one signed attempt.
//!
//! - A subscription holds its target, its event patterns, its retry policy and its counters
//!   (`successCount`, `failedCount`, `consecutiveFailures`, …), updated atomically per
//!   finished delivery.
//! - A delivery is one (event, subscription) pair. Its id is derived from both, so fanning the
//!   same event out twice finds the same item (conditional put) instead of sending twice. It
//!   keeps the exact payload bytes (byte-identical across retries), every attempt, and the
//!   state of its retries. SQS carries only `{workspaceId, deliveryId}`.

pub mod delivery;
pub mod fanout;
pub mod input;
pub mod pacing;
mod ports;
pub mod service;

pub use ports::*;

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::app::App;
use crate::error::{AppError, AppResult};
use crate::event_pattern;
use crate::outbound::Attempt;
use crate::outbox::DomainEvent;
use crate::patch::Patch;
use crate::signing::WebhookSecret;
use crate::time::Timestamp;

/// Every event a subscription can name (DESIGN §4 events table).
pub const EVENT_TYPES: &[&str] = &[
    "user.created",
    "user.updated",
    "user.deleted",
    "booking.created",
    "booking.updated",
    "booking.cancelled",
    "booking.completed",
    "qr.scanned",
    "qr.validated",
    "tag.added",
    "tag.removed",
    "customfield.updated",
    "mock_exam.bookings_changed",
    "mock_exam.updated",
    "webhook.test",
];

/// The event `POST …/{id}/test` sends; never fanned out.
pub const TEST_EVENT: &str = "webhook.test";
/// Most patterns one subscription may hold.
pub const MAX_EVENT_PATTERNS: usize = 50;
/// Deliveries shown by `GET /api/admin/webhooks/{id}` (seed 001).
pub const RECENT_DELIVERIES: u32 = 50;
/// `metadata.source` of payloads: where the change came from.
pub const SOURCE_API: &str = "api";
pub const SOURCE_TEST: &str = "webhook_test";

// --- subscriptions ---------------------------------------------------------------------------

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Subscription {
    /// `wh_…`
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    pub url: String,
    /// Exact event names, `*`, or `prefix.*` (any depth below the prefix).
    pub events: Vec<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// Retries after the first call (0..=10): at most 1 + retryAttempts calls per delivery.
    pub retry_attempts: u32,
    /// Seconds before the first retry (1..=3600); doubles per retry.
    pub retry_delay: u32,
    /// Per-call timeout, 1000..=25000 ms.
    pub timeout_ms: u32,
    /// Failed deliveries in a row that disable the subscription.
    pub max_consecutive_failures: u32,
    pub active: bool,
    #[serde(default)]
    pub disabled_reason: Option<String>,
    pub secret: WebhookSecret,
    #[serde(default)]
    pub previous_secret: Option<WebhookSecret>,
    #[serde(default)]
    pub previous_secret_expires_at: Option<String>,
    #[serde(default)]
    pub success_count: u64,
    #[serde(default)]
    pub failed_count: u64,
    #[serde(default)]
    pub consecutive_failures: u32,
    #[serde(default)]
    pub last_delivery_status: Option<DeliveryStatus>,
    #[serde(default)]
    pub last_delivery_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    /// Calls per second this target accepts (1..=1000); `None`: no pacing.
    #[serde(default)]
    pub rate_limit_per_second: Option<u32>,
    /// Extra headers sent on every call; names keep their case (see [`headers`]).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

impl Subscription {
    /// Whether any of the subscription's patterns matches `event`.
    pub fn subscribes_to(&self, event: &str) -> bool {
        self.events.iter().any(|p| event_pattern::matches(p, event))
    }

    /// The old secret signs too while its overlap lasts.
    pub fn previous_secret_at(&self, now: Timestamp) -> Option<&WebhookSecret> {
        crate::signing::previous_secret_at(
            self.previous_secret.as_ref(),
            self.previous_secret_expires_at.as_deref(),
            now,
        )
    }

    /// The API representation. The secret appears only when `with_secret` (create, rotate).
    pub fn view(&self, with_secret: bool) -> Value {
        let mut v = json!({
            "id": self.id,
            "name": self.name,
            "url": self.url,
            "events": self.events,
            "description": self.description,
            "active": self.active,
            "disabledReason": self.disabled_reason,
            "retryAttempts": self.retry_attempts,
            "retryDelay": self.retry_delay,
            "timeoutMs": self.timeout_ms,
            "maxConsecutiveFailures": self.max_consecutive_failures,
            "successCount": self.success_count,
            "failedCount": self.failed_count,
            "consecutiveFailures": self.consecutive_failures,
            "lastDeliveryStatus": self.last_delivery_status,
            "lastDeliveryAt": self.last_delivery_at,
            "previousSecretExpiresAt": self.previous_secret_expires_at,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "rateLimitPerSecond": self.rate_limit_per_second,
            "headers": crate::outbound::headers::masked(&self.headers),
        });
        if with_secret {
            v["secret"] = json!(self.secret.expose());
        }
        v
    }
}

/// A PATCH: `None` = leave as is. `description: Patch::Null` clears it. `active: Some(true)`
/// also clears `disabledReason` and resets `consecutiveFailures` (DESIGN §4).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SubscriptionPatch {
    pub name: Option<String>,
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    pub description: Patch<String>,
    pub retry_attempts: Option<u32>,
    pub retry_delay: Option<u32>,
    pub timeout_ms: Option<u32>,
    pub max_consecutive_failures: Option<u32>,
    pub active: Option<bool>,
    /// `null` removes the limit.
    pub rate_limit_per_second: Patch<u32>,
    /// Replaces the whole set; `null` removes every header.
    pub headers: Patch<BTreeMap<String, String>>,
}

/// What counting one finished delivery did to its subscription.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutcomeEffect {
    /// The streak after this delivery.
    pub consecutive_failures: u32,
    /// This delivery's failure reached `maxConsecutiveFailures` and disabled the subscription.
    pub disabled: bool,
}

/// `disabledReason` of an auto-disable.
pub fn streak_reason(failures: u32) -> String {
    format!("disabled after {failures} consecutive failed deliveries")
}

/// `disabledReason` after a 410.
pub const GONE_REASON: &str = "the endpoint answered 410 Gone";

// --- event patterns ----------------------------------------------------------------------------

/// Checks a subscription's `events`: 1..=50 patterns, each `*`, a known event, or `prefix.*`
/// covering at least one known event. Returns them trimmed and de-duplicated, in order.
pub fn validate_patterns(events: &[String]) -> AppResult<Vec<String>> {
    if events.is_empty() {
        return Err(AppError::validation("events must list at least one event"));
    }
    let mut out: Vec<String> = Vec::new();
    for (i, raw) in events.iter().enumerate() {
        let p = raw.trim();
        let known = p == "*"
            || EVENT_TYPES.contains(&p)
            || (event_pattern::is_wildcard(p)
                && EVENT_TYPES.iter().any(|e| event_pattern::matches(p, e)));
        if !known {
            return Err(AppError::validation(format!(
                "events[{i}]: unknown event {p:?}; use \"*\", \"prefix.*\" or one of: {}",
                EVENT_TYPES.join(", ")
            )));
        }
        if !out.iter().any(|e| e == p) {
            out.push(p.to_owned());
        }
    }
    if out.len() > MAX_EVENT_PATTERNS {
        return Err(AppError::validation(format!(
            "events must list at most {MAX_EVENT_PATTERNS} patterns"
        )));
    }
    Ok(out)
}

// --- deliveries -----------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    Pending,
    Success,
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Success => "success",
            Self::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Pending, Self::Success, Self::Failed]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

/// One HTTP call of a delivery, as logged.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AttemptRecord {
    /// 1-based, across the whole life of the delivery (manual retries continue the count).
    pub attempt: u32,
    pub status_code: Option<u16>,
    /// At most 1 KiB.
    pub response_body: String,
    pub error: Option<String>,
    pub duration_ms: u64,
    /// When the call started.
    pub at: String,
    pub completed_at: String,
    /// A 429/503 asked to wait this long before the next call (`Retry-After`, capped at 1 h).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_seconds: Option<u64>,
}

impl AttemptRecord {
    pub fn from_attempt(number: u32, attempt: &Attempt, started: Timestamp) -> Self {
        let completed = started
            + chrono::Duration::milliseconds(i64::try_from(attempt.duration_ms).unwrap_or(0));
        Self {
            attempt: number,
            status_code: attempt.status_code,
            response_body: attempt.response_body.clone(),
            error: crate::integrations::hubspot::failure_message(attempt),
            duration_ms: attempt.duration_ms,
            at: crate::time::format(started),
            completed_at: crate::time::format(completed),
            retry_after_seconds: attempt.retry_after().map(|d| d.as_secs()),
        }
    }

    pub fn view(&self) -> Value {
        json!({
            "attempt": self.attempt,
            "statusCode": self.status_code,
            "error": self.error,
            "durationMs": self.duration_ms,
            "at": self.at,
            "completedAt": self.completed_at,
            "responseBody": self.response_body,
            "retryAfterSeconds": self.retry_after_seconds,
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    /// `dlv_…`; also the `webhook-id` of every attempt.
    pub id: String,
    pub workspace_id: String,
    pub subscription_id: String,
    /// `msg_…` of the domain event.
    pub event_id: String,
    /// The event type, e.g. `booking.created`.
    pub event: String,
    /// The exact body sent on every attempt.
    pub payload: String,
    pub status: DeliveryStatus,
    /// HTTP calls made so far.
    pub attempts: u32,
    /// `attempts` when the current round of retries started (a manual retry starts a new one).
    #[serde(default)]
    pub round_start: u32,
    #[serde(default)]
    pub status_code: Option<u16>,
    #[serde(default)]
    pub response_body: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub duration_ms: Option<u64>,
    #[serde(default)]
    pub attempt_log: Vec<AttemptRecord>,
    pub created_at: String,
    pub updated_at: String,
    /// When the next call is due (pending only).
    #[serde(default)]
    pub next_attempt_at: Option<String>,
    #[serde(default)]
    pub last_attempt_at: Option<String>,
    /// A `POST …/test` send: kept in the log, not counted in the subscription's statistics.
    #[serde(default)]
    pub test: bool,
    /// Unix seconds after which the delivery is gone (TTL; reads ignore it from then on).
    #[serde(rename = "expires_at")]
    pub expires_at: i64,
    /// Unix ms until which one consumer holds the right to make the next call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim_until: Option<i64>,
}

impl Delivery {
    /// A new pending delivery of `event` to `subscription`, due now.
    pub fn pending(
        workspace_id: &str,
        subscription_id: &str,
        event: &DomainEvent,
        payload: String,
        now: Timestamp,
        ttl_days: u32,
    ) -> Self {
        Self::pending_as(
            delivery_id_for(&event.id, subscription_id),
            workspace_id,
            subscription_id,
            &event.id,
            &event.event_type,
            payload,
            now,
            ttl_days,
        )
    }

    /// A new pending delivery with its id and event given (sync-job destinations derive theirs
    /// from the inbound event), due now.
    #[allow(clippy::too_many_arguments)]
    pub fn pending_as(
        id: String,
        workspace_id: &str,
        subscription_id: &str,
        event_id: &str,
        event_type: &str,
        payload: String,
        now: Timestamp,
        ttl_days: u32,
    ) -> Self {
        let now_s = crate::time::format(now);
        Self {
            id,
            workspace_id: workspace_id.to_owned(),
            subscription_id: subscription_id.to_owned(),
            event_id: event_id.to_owned(),
            event: event_type.to_owned(),
            payload,
            status: DeliveryStatus::Pending,
            attempts: 0,
            round_start: 0,
            status_code: None,
            response_body: None,
            error: None,
            duration_ms: None,
            attempt_log: Vec::new(),
            created_at: now_s.clone(),
            updated_at: now_s.clone(),
            next_attempt_at: Some(now_s),
            last_attempt_at: None,
            test: false,
            expires_at: expires_at(now, ttl_days),
            claim_until: None,
        }
    }

    /// The API representation (DESIGN §4): the last attempt's values at top level.
    pub fn view(&self) -> Value {
        json!({
            "id": self.id,
            "webhookId": self.subscription_id,
            "event": self.event,
            "eventId": self.event_id,
            "status": self.status,
            "attempts": self.attempts,
            "statusCode": self.status_code,
            "responseBody": self.response_body,
            "error": self.error,
            "durationMs": self.duration_ms,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "lastAttemptAt": self.last_attempt_at,
            "nextAttemptAt": self.next_attempt_at,
            "test": self.test,
            "payload": serde_json::from_str::<Value>(&self.payload).unwrap_or(Value::Null),
            "attemptLog": self.attempt_log.iter().map(AttemptRecord::view).collect::<Vec<_>>(),
        })
    }

    /// Whether the TTL has passed (DynamoDB deletes expired items only eventually).
    pub fn is_expired(&self, now_secs: i64) -> bool {
        self.expires_at <= now_secs
    }
}

// --- the delivery log's filters ------------------------------------------------------------

/// Which deliveries a log lists (DESIGN §8 "Delivery log filters"): every field that is set
/// must hold. The log is newest first; `since`/`until` are a range of delivery ids, which sort
/// by their event's time.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeliveryFilter {
    /// One subscription's log; `None`: the whole workspace's.
    pub subscription_id: Option<String>,
    pub status: Option<DeliveryStatus>,
    /// An event type, or a `prefix.*` pattern.
    pub event: Option<String>,
    /// Events at or after this time.
    pub since: Option<Timestamp>,
    /// Events at or before this time.
    pub until: Option<Timestamp>,
}

impl DeliveryFilter {
    /// One subscription's whole log.
    pub fn subscription(id: &str) -> Self {
        Self {
            subscription_id: Some(id.to_owned()),
            ..Self::default()
        }
    }

    /// The inclusive range of delivery ids that `since`/`until` span.
    pub fn id_range(&self) -> (String, String) {
        let low = self
            .since
            .map(delivery_id_floor)
            .unwrap_or_else(|| format!("{}_", crate::ids::DELIVERY));
        let high = self
            .until
            .map(delivery_id_ceiling)
            // '~' sorts after every character of an id.
            .unwrap_or_else(|| format!("{}_~", crate::ids::DELIVERY));
        (low, high)
    }

    /// Whether `d` is listed (the fake's whole filter; the adapter's check after its query).
    pub fn matches(&self, d: &Delivery) -> bool {
        self.subscription_id
            .as_deref()
            .is_none_or(|s| s == d.subscription_id)
            && self.status.is_none_or(|s| s == d.status)
            && self
                .event
                .as_deref()
                .is_none_or(|p| event_pattern::matches(p, &d.event))
            && self.since.is_none_or(|t| d.id >= delivery_id_floor(t))
            && self.until.is_none_or(|t| d.id <= delivery_id_ceiling(t))
    }
}

/// An id above every delivery id of an event at or before `t` (the end of an `until` range).
fn delivery_id_ceiling(t: Timestamp) -> String {
    delivery_id_floor(t + chrono::Duration::milliseconds(1))
}

/// The TTL of a delivery log entry written at `now`.
pub fn expires_at(now: Timestamp, ttl_days: u32) -> i64 {
    now.timestamp() + i64::from(ttl_days) * 24 * 3600
}

/// How a recorded attempt leaves the delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptResult {
    pub status: DeliveryStatus,
    /// Set when `status` is pending: when the retry is due.
    pub next_attempt_at: Option<String>,
}

/// The delivery id of (event, subscription): a ULID whose time is the event's and whose
/// random part is a hash of both ids, so ids sort by event time and a repeated fan-out
/// computes the same id.
pub fn delivery_id_for(event_id: &str, subscription_id: &str) -> String {
    let ms = event_id
        .strip_prefix(crate::ids::EVENT)
        .and_then(|rest| rest.strip_prefix('_'))
        .and_then(|body| ulid::Ulid::from_string(&body.to_ascii_uppercase()).ok())
        .map(|u| u.timestamp_ms())
        .unwrap_or(0);
    let digest = Sha256::digest(format!("{event_id}\n{subscription_id}").as_bytes());
    let mut first = [0u8; 16];
    first.copy_from_slice(&digest[..16]);
    // A ULID's random part is 80 bits.
    let random = u128::from_be_bytes(first) >> 48;
    let ulid = ulid::Ulid::from_parts(ms, random);
    format!(
        "{}_{}",
        crate::ids::DELIVERY,
        ulid.to_string().to_ascii_lowercase()
    )
}

/// The smallest delivery id created at or after `t` (for "since" ranges over ids).
pub fn delivery_id_floor(t: Timestamp) -> String {
    let ms = u64::try_from(t.timestamp_millis()).unwrap_or(0);
    let ulid = ulid::Ulid::from_parts(ms, 0);
    format!(
        "{}_{}",
        crate::ids::DELIVERY,
        ulid.to_string().to_ascii_lowercase()
    )
}

#[derive(Serialize)]
struct PayloadMetadata<'a> {
    source: &'a str,
    action: &'a str,
    #[serde(rename = "workspaceId")]
    workspace_id: &'a str,
    #[serde(rename = "eventId")]
    event_id: &'a str,
}

#[derive(Serialize)]
struct Payload<'a> {
    event: &'a str,
    timestamp: &'a str,
    data: &'a Value,
    metadata: PayloadMetadata<'a>,
}

/// The body of every delivery of `event` (DESIGN §5, seed 001):
/// `{"event","timestamp","data","metadata":{"source","action","workspaceId","eventId"}}`.
pub fn payload_body(workspace_id: &str, event: &DomainEvent, source: &str) -> AppResult<String> {
    Ok(serde_json::to_string(&Payload {
        event: &event.event_type,
        timestamp: &event.timestamp,
        data: &event.data,
        metadata: PayloadMetadata {
            source,
            action: &event.action,
            workspace_id,
            event_id: &event.id,
        },
    })?)
}

/// One signed call of a delivery at `now`: the Standard Webhooks headers are signed afresh
/// with THIS attempt's timestamp (receivers reject timestamps older than 5 minutes), the
/// legacy headers too; the body is the stored payload, byte for byte.
pub async fn send_attempt(
    app: &App,
    subscription: &Subscription,
    delivery_id: &str,
    event: &str,
    payload: &str,
    now: Timestamp,
    timeout: Duration,
) -> Attempt {
    let mut headers = crate::signing::outbound_headers(
        &subscription.secret,
        subscription.previous_secret_at(now),
        delivery_id,
        event,
        now.timestamp(),
        payload.as_bytes(),
    );
    // Reserved names are refused when saved, so these never replace a signature header.
    headers.extend(
        subscription
            .headers
            .iter()
            .map(|(name, value)| (name.clone(), value.clone())),
    );
    app.http
        .post(
            &subscription.url,
            &headers,
            bytes::Bytes::copy_from_slice(payload.as_bytes()),
            timeout,
        )
        .await
}

/// The per-call timeout of a subscription.
pub fn call_timeout(subscription: &Subscription) -> Duration {
    Duration::from_millis(u64::from(subscription.timeout_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_table() {
        let table: &[(&str, &str, bool)] = &[
            ("*", "booking.created", true),
            ("*", "mock_exam.bookings_changed", true),
            ("booking.created", "booking.created", true),
            ("booking.created", "booking.cancelled", false),
            ("booking.*", "booking.created", true),
            ("booking.*", "booking.qr.scanned", true),
            ("booking.*", "booking", false),
            ("booking.*", "bookings.created", false),
            ("booking.*", "qr.scanned", false),
            ("booking.qr.*", "booking.qr.scanned", true),
            ("booking.qr.*", "booking.created", false),
            ("mock_exam.*", "mock_exam.bookings_changed", true),
            ("user.*", "user.deleted", true),
            ("qr.*", "qr.", false),
            ("booking", "booking.created", false),
        ];
        for (pattern, event, expected) in table {
            assert_eq!(
                event_pattern::matches(pattern, event),
                *expected,
                "{pattern} vs {event}"
            );
        }
    }

    #[test]
    fn patterns_are_validated_against_the_catalog() {
        let ok = validate_patterns(&[
            "booking.*".into(),
            " user.created ".into(),
            "booking.*".into(),
            "*".into(),
        ])
        .unwrap();
        assert_eq!(ok, vec!["booking.*", "user.created", "*"]);
        let err = validate_patterns(&["booking.created".into(), "bookng.created".into()])
            .unwrap_err()
            .to_string();
        assert!(err.contains("events[1]"), "{err}");
        assert!(validate_patterns(&[]).is_err());
        assert!(validate_patterns(&["nothing.*".into()]).is_err());
        assert!(validate_patterns(&[".*".into()]).is_err());
    }

    #[test]
    fn delivery_ids_are_deterministic_per_event_and_subscription() {
        let event = crate::ids::new_id(crate::ids::EVENT);
        let a = delivery_id_for(&event, "wh_1");
        assert_eq!(a, delivery_id_for(&event, "wh_1"));
        assert_ne!(a, delivery_id_for(&event, "wh_2"));
        assert!(crate::ids::is_valid(crate::ids::DELIVERY, &a), "{a}");
        std::thread::sleep(std::time::Duration::from_millis(2));
        let later = crate::ids::new_id(crate::ids::EVENT);
        assert!(delivery_id_for(&later, "wh_1") > a);
        // Ids of events after `t` sort at or after the floor of `t`.
        let floor = delivery_id_floor(crate::time::now() - chrono::Duration::seconds(1));
        assert!(a > floor);
        assert!(delivery_id_floor(crate::time::now() + chrono::Duration::seconds(5)) > a);
    }

    #[test]
    fn payload_has_the_seed_shape_in_order() {
        let mut event = DomainEvent::new(
            "booking.created",
            json!({"booking": {"id": "bk_1"}, "user": null}),
            "2026-01-01T00:00:00.000Z",
        );
        event.id = "msg_1".into();
        let body = payload_body("ws_1", &event, SOURCE_API).unwrap();
        assert_eq!(
            body,
            r#"{"event":"booking.created","timestamp":"2026-01-01T00:00:00.000Z","data":{"booking":{"id":"bk_1"},"user":null},"metadata":{"source":"api","action":"created","workspaceId":"ws_1","eventId":"msg_1"}}"#
        );
    }

    #[test]
    fn previous_secret_signs_only_during_the_overlap() {
        let now = crate::time::now();
        let mut s = Subscription {
            id: "wh_1".into(),
            workspace_id: "ws".into(),
            name: "n".into(),
            url: "https://example.com".into(),
            events: vec!["*".into()],
            description: None,
            retry_attempts: 3,
            retry_delay: 60,
            timeout_ms: 10_000,
            max_consecutive_failures: 5,
            active: true,
            disabled_reason: None,
            secret: WebhookSecret::generate(),
            previous_secret: Some(WebhookSecret::generate()),
            previous_secret_expires_at: Some(crate::time::format(now + chrono::Duration::hours(1))),
            success_count: 0,
            failed_count: 0,
            consecutive_failures: 0,
            last_delivery_status: None,
            last_delivery_at: None,
            created_at: "t".into(),
            updated_at: "t".into(),
            rate_limit_per_second: None,
            headers: BTreeMap::new(),
        };
        assert!(s.previous_secret_at(now).is_some());
        s.previous_secret_expires_at =
            Some(crate::time::format(now - chrono::Duration::seconds(1)));
        assert!(s.previous_secret_at(now).is_none());
        assert!(s.view(false).get("secret").is_none());
        assert!(s.view(true)["secret"]
            .as_str()
            .unwrap()
            .starts_with("whsec_"));
    }
}
