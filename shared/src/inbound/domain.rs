//! Inbound sync jobs (seed 003): the job, the stored raw event, the destination record with its
//! `_sync_metadata`, the worker's executions and the inbound-queue message.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::{AppError, AppResult};
use crate::event_pattern;

/// A new prefixed id that is strictly increasing within this process, even inside one
/// millisecond (monotonic ULIDs; across instances the millisecond decides). `iev_` ids are the
/// arrival order of equal-time events (DESIGN §4), and lists sort by id.
pub fn monotonic_id(prefix: &str) -> String {
    static GENERATOR: std::sync::Mutex<ulid::Generator> =
        std::sync::Mutex::new(ulid::Generator::new());
    let next = GENERATOR
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .generate()
        .ok();
    let ulid = match next {
        Some(u) => u,
        None => ulid::Ulid::new(),
    };
    format!("{prefix}_{}", ulid.to_string().to_ascii_lowercase())
}

/// The lowest (`high`: the highest) `iev_` id of anything received at `t`: ids are ULIDs, time
/// first, so a receive-time window is an id range.
pub fn event_id_at(t: chrono::DateTime<chrono::Utc>, high: bool) -> String {
    let ms = t.timestamp_millis().max(0) as u64;
    let random = if high { (1u128 << 80) - 1 } else { 0 };
    format!(
        "{}_{}",
        crate::ids::INBOUND_EVENT,
        ulid::Ulid::from_parts(ms, random)
            .to_string()
            .to_ascii_lowercase()
    )
}

/// Where a job's events come from; decides the signature scheme and the mapping rules.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Stripe,
    Close,
    /// Any Standard Webhooks sender.
    Generic,
}

impl Source {
    pub fn parse(s: &str) -> AppResult<Self> {
        match s {
            "stripe" => Ok(Self::Stripe),
            "close" => Ok(Self::Close),
            "generic" => Ok(Self::Generic),
            _ => Err(AppError::validation(
                "source must be one of stripe, close, generic",
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stripe => "stripe",
            Self::Close => "close",
            Self::Generic => "generic",
        }
    }
}

/// A job's signing secret. Stripe: the endpoint secret (`whsec_…`, used as UTF-8 bytes); Close:
/// the subscription's hex `signature_key`; generic: a Standard Webhooks `whsec_` secret. Never
/// printed; write-only in the API (responses show `hasSigningSecret`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SigningSecret(String);

impl SigningSecret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Checks the form the source's scheme needs, so a wrong paste fails on save (400), not
    /// on every delivery (401).
    pub fn validate(source: Source, value: &str) -> AppResult<Self> {
        const FIELD: &str = "webhookConfig.signingSecret";
        let v = value.trim();
        match source {
            Source::Stripe => {
                let ok = v.starts_with("whsec_")
                    && v.len() > "whsec_".len()
                    && v.len() <= 256
                    && v.bytes().all(|b| b.is_ascii_graphic());
                if !ok {
                    return Err(AppError::validation(format!(
                        "{FIELD} must be the Stripe endpoint's signing secret (whsec_…)"
                    )));
                }
            }
            Source::Close => {
                let ok = (16..=256).contains(&v.len())
                    && v.len().is_multiple_of(2)
                    && v.bytes().all(|b| b.is_ascii_hexdigit());
                if !ok {
                    return Err(AppError::validation(format!(
                        "{FIELD} must be the Close webhook's signature_key (hex)"
                    )));
                }
            }
            Source::Generic => {
                crate::signing::WebhookSecret::parse(v).map_err(|_| {
                    AppError::validation(format!(
                        "{FIELD} must be a Standard Webhooks secret: whsec_ + base64 of 24 to 64 bytes"
                    ))
                })?;
            }
        }
        Ok(Self(v.to_owned()))
    }
}

impl fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningSecret([redacted])")
    }
}

pub const DEFAULT_TOLERANCE_SECONDS: i64 = 300;
pub const MAX_TOLERANCE_SECONDS: i64 = 86_400;
pub const DEFAULT_BATCH_SIZE: u32 = 25;
pub const MAX_BATCH_SIZE: u32 = 100;
pub const MAX_BATCH_WAIT_SECONDS: u32 = 300;
pub const DEFAULT_AUTO_RETRY_ATTEMPTS: u32 = 3;
pub const MAX_AUTO_RETRY_ATTEMPTS: u32 = 10;
pub const DEFAULT_AUTO_RETRY_DELAY_SECONDS: u32 = 300;
pub const MIN_AUTO_RETRY_DELAY_SECONDS: u32 = 30;
pub const MAX_AUTO_RETRY_DELAY_SECONDS: u32 = 3600;
const MAX_FILTERS: usize = 100;
const MAX_FILTER_LEN: usize = 200;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct WebhookConfig {
    /// `*`, `prefix.*` (any depth below the prefix) or exact types; empty = every type.
    pub event_filters: Vec<String>,
    /// Allowed clock distance of the signed timestamp; 0 turns the check off.
    pub tolerance_seconds: i64,
    /// How many of this job's records one write group applies (DESIGN §6).
    pub batch_size: u32,
    /// Delay of the enqueue (SQS DelaySeconds), so bursts are applied together.
    pub batch_wait_seconds: u32,
    /// How a failed event is retried by itself before it stays `failed` (DESIGN §8).
    #[serde(default)]
    pub auto_retry: AutoRetry,
    /// jq on the provider event, yielding a boolean: `false` → the event is `ignored`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// jq on the provider event, yielding the record object to store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transform: Option<String>,
}

/// `webhookConfig.autoRetry`: a failed event is retried `attempts` times, the n-th after
/// `delaySeconds · 2^(n−1)` ±20 % (capped at 10 h: `crate::retry::backoff`), before it stays
/// `failed`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct AutoRetry {
    pub attempts: u32,
    pub delay_seconds: u32,
}

impl Default for AutoRetry {
    fn default() -> Self {
        Self {
            attempts: DEFAULT_AUTO_RETRY_ATTEMPTS,
            delay_seconds: DEFAULT_AUTO_RETRY_DELAY_SECONDS,
        }
    }
}

impl AutoRetry {
    pub fn validate(&self) -> AppResult<()> {
        if self.attempts > MAX_AUTO_RETRY_ATTEMPTS {
            return Err(AppError::validation(format!(
                "webhookConfig.autoRetry.attempts must be an integer from 0 to {MAX_AUTO_RETRY_ATTEMPTS}"
            )));
        }
        if !(MIN_AUTO_RETRY_DELAY_SECONDS..=MAX_AUTO_RETRY_DELAY_SECONDS)
            .contains(&self.delay_seconds)
        {
            return Err(AppError::validation(format!(
                "webhookConfig.autoRetry.delaySeconds must be an integer from {MIN_AUTO_RETRY_DELAY_SECONDS} to {MAX_AUTO_RETRY_DELAY_SECONDS}"
            )));
        }
        Ok(())
    }
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            event_filters: vec!["*".to_owned()],
            tolerance_seconds: DEFAULT_TOLERANCE_SECONDS,
            batch_size: DEFAULT_BATCH_SIZE,
            batch_wait_seconds: 0,
            auto_retry: AutoRetry::default(),
            filter: None,
            transform: None,
        }
    }
}

impl WebhookConfig {
    pub fn validate(&self) -> AppResult<()> {
        if self.event_filters.len() > MAX_FILTERS {
            return Err(AppError::validation(format!(
                "webhookConfig.eventFilters may hold at most {MAX_FILTERS} filters"
            )));
        }
        for (i, f) in self.event_filters.iter().enumerate() {
            validate_filter(f).map_err(|why| {
                AppError::validation(format!("webhookConfig.eventFilters[{i}] {why}"))
            })?;
        }
        if !(0..=MAX_TOLERANCE_SECONDS).contains(&self.tolerance_seconds) {
            return Err(AppError::validation(format!(
                "webhookConfig.toleranceSeconds must be an integer from 0 to {MAX_TOLERANCE_SECONDS}"
            )));
        }
        if !(1..=MAX_BATCH_SIZE).contains(&self.batch_size) {
            return Err(AppError::validation(format!(
                "webhookConfig.batchSize must be an integer from 1 to {MAX_BATCH_SIZE}"
            )));
        }
        if self.batch_wait_seconds > MAX_BATCH_WAIT_SECONDS {
            return Err(AppError::validation(format!(
                "webhookConfig.batchWaitSeconds must be an integer from 0 to {MAX_BATCH_WAIT_SECONDS}"
            )));
        }
        self.auto_retry.validate()?;
        Ok(())
    }

    /// Whether events of `event_type` pass the filters.
    pub fn accepts(&self, event_type: &str) -> bool {
        self.event_filters.is_empty()
            || self
                .event_filters
                .iter()
                .any(|f| event_pattern::matches(f, event_type))
    }
}

fn validate_filter(f: &str) -> Result<(), &'static str> {
    if f.is_empty() || f.len() > MAX_FILTER_LEN {
        return Err("must be 1 to 200 characters");
    }
    if !f.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("may contain only visible ASCII characters");
    }
    let stars = f.bytes().filter(|b| *b == b'*').count();
    let well_placed = event_pattern::is_wildcard(f);
    if stars > 1 || (stars == 1 && !well_placed) {
        return Err("may use * only alone or as a trailing .* (e.g. customer.*)");
    }
    Ok(())
}

#[derive(Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SyncJob {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    /// `webhook` (the provider posts) or `scheduled` (we pull its event log, DESIGN §8).
    #[serde(rename = "type")]
    pub kind: String,
    pub source: Source,
    pub enabled: bool,
    pub webhook_config: WebhookConfig,
    #[serde(default)]
    pub signing_secret: Option<SigningSecret>,
    /// The secret replaced by the last PATCH of `signingSecret` or `regenerate-secret`: it
    /// still verifies until `previous_secret_expires_at` (24 h, DESIGN §8).
    #[serde(default)]
    pub previous_signing_secret: Option<SigningSecret>,
    #[serde(default)]
    pub previous_secret_expires_at: Option<String>,
    /// Where applied records go (DESIGN §8); `records` for jobs stored before destinations.
    #[serde(default)]
    pub destination: super::destination::Destination,
    /// Bumped by every change; updates are conditional on it (no lost PATCHes).
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

impl fmt::Debug for SyncJob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SyncJob")
            .field("id", &self.id)
            .field("workspace_id", &self.workspace_id)
            .field("source", &self.source)
            .field("enabled", &self.enabled)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

impl SyncJob {
    /// A `type:"scheduled"` job: it pulls the provider's event log instead of receiving.
    pub fn is_scheduled(&self) -> bool {
        self.kind == super::backfill::SCHEDULED
    }

    /// The public receiver path of this job.
    pub fn webhook_path(&self) -> String {
        format!("/api/webhooks/{}/{}", self.workspace_id, self.id)
    }

    /// A stripe/close job can only be enabled once it has the provider's secret (a scheduled
    /// job pulls with its apiKey instead).
    pub fn check_enable(&self) -> AppResult<()> {
        if self.enabled && self.signing_secret.is_none() && !self.is_scheduled() {
            return Err(AppError::validation(format!(
                "webhookConfig.signingSecret is required to enable a {} sync job (set it, or create the job with enabled:false)",
                self.source.as_str()
            )));
        }
        Ok(())
    }

    /// Replaces the signing secret; the old one keeps verifying for 24 h from `now`.
    pub fn rotate_secret(&mut self, secret: SigningSecret, now: crate::time::Timestamp) {
        match self.signing_secret.take() {
            Some(old) if old != secret => {
                self.previous_signing_secret = Some(old);
                // Whole seconds: the receiver's clock is unix seconds (signature timestamps).
                let ends = crate::signing::overlap_ends(now).timestamp();
                let ends = chrono::DateTime::from_timestamp(ends, 0).unwrap_or_default();
                self.previous_secret_expires_at = Some(crate::time::format(ends));
            }
            _ => {}
        }
        self.signing_secret = Some(secret);
    }

    /// The previous secret while its overlap lasts.
    pub fn previous_secret_at(&self, now: crate::time::Timestamp) -> Option<&SigningSecret> {
        crate::signing::previous_secret_at(
            self.previous_signing_secret.as_ref(),
            self.previous_secret_expires_at.as_deref(),
            now,
        )
    }

    /// What the API shows: the secret only as `hasSigningSecret`.
    pub fn view(&self, base_url: &str) -> Value {
        json!({
            "id": self.id,
            "workspaceId": self.workspace_id,
            "name": self.name,
            "type": self.kind,
            "source": self.source,
            "enabled": self.enabled,
            "webhookConfig": {
                "eventFilters": self.webhook_config.event_filters,
                "hasSigningSecret": self.signing_secret.is_some(),
                "toleranceSeconds": self.webhook_config.tolerance_seconds,
                "batchSize": self.webhook_config.batch_size,
                "batchWaitSeconds": self.webhook_config.batch_wait_seconds,
                "autoRetry": self.webhook_config.auto_retry,
                "filter": self.webhook_config.filter,
                "transform": self.webhook_config.transform,
            },
            "previousSecretExpiresAt": self.previous_secret_at(crate::time::now())
                .and(self.previous_secret_expires_at.as_ref()),
            "webhookUrl": format!("{}{}", base_url.trim_end_matches('/'), self.webhook_path()),
            "destination": self.destination.view(),
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
        })
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum EventStatus {
    Pending,
    Processed,
    Failed,
    Ignored,
    Skipped,
}

impl EventStatus {
    pub const ALL: [EventStatus; 5] = [
        Self::Pending,
        Self::Processed,
        Self::Failed,
        Self::Ignored,
        Self::Skipped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Processed => "processed",
            Self::Failed => "failed",
            Self::Ignored => "ignored",
            Self::Skipped => "skipped",
        }
    }

    pub fn parse(s: &str) -> AppResult<Self> {
        Self::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| {
                AppError::validation(
                    "status must be one of pending, processed, failed, ignored, skipped",
                )
            })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct EventError {
    pub at: String,
    pub error: String,
}

/// Errors kept per event (the first ones); `lastError` always holds the latest.
pub const MAX_EVENT_ERRORS: usize = 10;
/// Longest error text stored.
pub const MAX_ERROR_LEN: usize = 500;

pub fn truncate_error(e: &str) -> String {
    if e.len() <= MAX_ERROR_LEN {
        return e.to_owned();
    }
    let mut end = MAX_ERROR_LEN;
    while !e.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &e[..end])
}

/// A stored inbound event: the raw body as received (after its signature was verified), the
/// headers minus credentials, and its processing state. Idempotent on
/// (workspace, job, `provider_event_id`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct InboundEvent {
    /// `iev_…`: ours; also the arrival sequence (ULID: receive time, then random).
    pub id: String,
    pub workspace_id: String,
    pub job_id: String,
    pub source: Source,
    pub provider_event_id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub status: EventStatus,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The exact body; stored apart from the other attributes (it may exceed one item).
    #[serde(skip)]
    pub raw_body: String,
    #[serde(default)]
    pub attempts: u32,
    #[serde(default)]
    pub last_error: Option<String>,
    #[serde(default)]
    pub errors: Vec<EventError>,
    /// Set by the worker once mapped.
    #[serde(default)]
    pub object_type: Option<String>,
    #[serde(default)]
    pub object_id: Option<String>,
    #[serde(default)]
    pub event_created: Option<String>,
    /// `applied`, `unchanged` (an equal or newer state was already stored), `deleted`,
    /// `skipped` (object type not kept).
    #[serde(default)]
    pub outcome: Option<String>,
    pub received_at: String,
    pub updated_at: String,
    #[serde(default)]
    pub processed_at: Option<String>,
    /// Automatic retries scheduled so far (`webhookConfig.autoRetry`).
    #[serde(default)]
    pub auto_retries: u32,
    /// When the next automatic retry runs; set only while one is scheduled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_retry_at: Option<String>,
    /// Unix seconds; reads treat the event as gone afterwards (DynamoDB TTL deletes later).
    pub expires_at: i64,
}

impl InboundEvent {
    pub fn is_expired(&self, now_unix: i64) -> bool {
        self.expires_at <= now_unix
    }

    /// The list view (no payload).
    pub fn summary(&self) -> Value {
        json!({
            "id": self.id,
            "providerEventId": self.provider_event_id,
            "type": self.event_type,
            "status": self.status,
            "objectType": self.object_type,
            "objectId": self.object_id,
            "attempts": self.attempts,
            "autoRetries": self.auto_retries,
            "nextRetryAt": self.next_retry_at,
            "lastError": self.last_error,
            "receivedAt": self.received_at,
            "processedAt": self.processed_at,
        })
    }

    /// The detail view: raw payload (as received and parsed), headers, errors, timestamps.
    pub fn detail(&self) -> Value {
        let mut v = self.summary();
        let payload: Value = serde_json::from_str(&self.raw_body).unwrap_or(Value::Null);
        if let Value::Object(m) = &mut v {
            m.insert("jobId".into(), json!(self.job_id));
            m.insert("source".into(), json!(self.source));
            m.insert("payload".into(), payload);
            m.insert("rawPayload".into(), json!(self.raw_body));
            m.insert("headers".into(), json!(self.headers));
            m.insert("errors".into(), json!(self.errors));
            m.insert("eventCreated".into(), json!(self.event_created));
            m.insert("outcome".into(), json!(self.outcome));
            m.insert("updatedAt".into(), json!(self.updated_at));
            m.insert(
                "expiresAt".into(),
                json!(crate::time::format(
                    chrono::DateTime::from_timestamp(self.expires_at, 0).unwrap_or_default(),
                )),
            );
        }
        v
    }
}

/// A status change of a stored event.
#[derive(Debug, Clone, PartialEq)]
pub struct EventChange {
    pub status: EventStatus,
    /// Applies only while the event is in this status (e.g. the worker finishing a pending
    /// event: a concurrent copy that finished first wins, this one changes nothing).
    pub expect_status: Option<EventStatus>,
    /// Counts one processing attempt.
    pub count_attempt: bool,
    pub error: Option<EventError>,
    pub object_type: Option<String>,
    pub object_id: Option<String>,
    pub event_created: Option<String>,
    pub outcome: Option<String>,
    pub processed_at: Option<String>,
    pub now: String,
    /// When an automatic retry is scheduled; every change without it clears a scheduled one.
    pub next_retry_at: Option<String>,
    /// Counts one scheduled automatic retry.
    pub count_auto_retry: bool,
}

impl EventChange {
    pub fn status(status: EventStatus, now: &str) -> Self {
        Self {
            status,
            expect_status: None,
            count_attempt: false,
            error: None,
            object_type: None,
            object_id: None,
            event_created: None,
            outcome: None,
            processed_at: None,
            now: now.to_owned(),
            next_retry_at: None,
            count_auto_retry: false,
        }
    }

    /// Applies the change to an in-memory copy (the fake, and tests).
    pub fn apply_to(&self, ev: &mut InboundEvent) {
        ev.status = self.status;
        ev.updated_at = self.now.clone();
        if self.count_attempt {
            ev.attempts += 1;
        }
        if let Some(e) = &self.error {
            ev.last_error = Some(e.error.clone());
            // The first errors are kept (they usually explain the rest); `lastError` is the newest.
            if ev.errors.len() < MAX_EVENT_ERRORS {
                ev.errors.push(e.clone());
            }
        }
        if self.object_type.is_some() {
            ev.object_type = self.object_type.clone();
        }
        if self.object_id.is_some() {
            ev.object_id = self.object_id.clone();
        }
        if self.event_created.is_some() {
            ev.event_created = self.event_created.clone();
        }
        if self.outcome.is_some() {
            ev.outcome = self.outcome.clone();
        }
        if self.processed_at.is_some() {
            ev.processed_at = self.processed_at.clone();
        }
        ev.next_retry_at = self.next_retry_at.clone();
        if self.count_auto_retry {
            ev.auto_retries += 1;
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EventCounts {
    pub pending: u64,
    pub processed: u64,
    pub failed: u64,
    pub ignored: u64,
    pub skipped: u64,
    /// Received since midnight UTC.
    pub today: u64,
}

impl EventCounts {
    pub fn total(&self) -> u64 {
        self.pending + self.processed + self.failed + self.ignored + self.skipped
    }

    /// Handled without error: processed or skipped.
    pub fn succeeded(&self) -> u64 {
        self.processed + self.skipped
    }

    /// Succeeded of finished (succeeded or failed); none before anything finished.
    pub fn success_rate(&self) -> Option<f64> {
        let finished = self.succeeded() + self.failed;
        (finished > 0).then(|| self.succeeded() as f64 / finished as f64)
    }

    pub fn add(&mut self, status: EventStatus, n: u64) {
        match status {
            EventStatus::Pending => self.pending += n,
            EventStatus::Processed => self.processed += n,
            EventStatus::Failed => self.failed += n,
            EventStatus::Ignored => self.ignored += n,
            EventStatus::Skipped => self.skipped += n,
        }
    }
}

/// `_sync_metadata` of a destination record (DESIGN §4).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SyncMetadata {
    pub source: Source,
    /// The provider's event id (`evt_…`, `ev_…`, `webhook-id`).
    pub event_id: String,
    /// Our stored event (`iev_…`); also the arrival order for equal `event_created`.
    pub inbound_event_id: String,
    pub event_type: String,
    /// RFC 3339 UTC, fixed width with microseconds, so it also orders as a string.
    pub event_created: String,
    pub synced_at: String,
    pub deleted: bool,
}

/// A destination record: the provider object (absent on a tombstone) and its metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub object_type: String,
    pub object_id: String,
    pub data: Option<Value>,
    pub meta: SyncMetadata,
}

impl Record {
    /// Whether this write may replace `stored` (DESIGN §4 ordering): an older event never
    /// does; at equal times the later arrival wins, except over a tombstone (a delete may
    /// still replace a tombstone — the result is the same).
    pub fn supersedes(&self, stored: Option<&SyncMetadata>) -> bool {
        let Some(old) = stored else {
            return true;
        };
        let new = &self.meta;
        match new.event_created.cmp(&old.event_created) {
            std::cmp::Ordering::Greater => true,
            std::cmp::Ordering::Less => false,
            std::cmp::Ordering::Equal => {
                new.inbound_event_id > old.inbound_event_id && (new.deleted || !old.deleted)
            }
        }
    }

    /// What `GET …/records/{type}/{id}` answers: the provider object's fields plus
    /// `_sync_metadata`; a tombstone keeps only `id` and the metadata.
    pub fn view(&self) -> Value {
        let mut out = match (&self.data, self.meta.deleted) {
            (Some(Value::Object(m)), false) => Value::Object(m.clone()),
            _ => json!({ "id": self.object_id }),
        };
        if let Value::Object(m) = &mut out {
            let mut meta = serde_json::to_value(&self.meta).unwrap_or(Value::Null);
            if let Value::Object(mm) = &mut meta {
                mm.insert("object_type".into(), json!(self.object_type));
                mm.insert("object_id".into(), json!(self.object_id));
            }
            m.insert("_sync_metadata".into(), meta);
        }
        out
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApplyOutcome {
    Applied,
    /// An equal or newer state (or a tombstone) was already stored: nothing changed.
    Unchanged,
}

/// One worker run over a write group of one job's records.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Execution {
    pub id: String,
    pub workspace_id: String,
    pub job_id: String,
    pub started_at: String,
    pub finished_at: String,
    pub duration_ms: u64,
    /// Records in the write group.
    pub batch_size: u32,
    pub applied: u32,
    pub unchanged: u32,
    pub skipped: u32,
    pub failed: u32,
    pub expires_at: i64,
    /// A worker run (the default of items stored before backfills existed) or a backfill.
    #[serde(default)]
    pub kind: ExecutionKind,
    /// The backfill's counts and cursor (kind `backfill` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backfill: Option<super::backfill::BackfillRun>,
}

/// What an execution was: the inbound worker applying a write group, or a backfill reading the
/// provider's event log.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ExecutionKind {
    #[default]
    Worker,
    Backfill,
}

impl Execution {
    pub fn view(&self) -> Value {
        if let Some(run) = &self.backfill {
            return run.view(self);
        }
        json!({
            "id": self.id,
            "kind": self.kind,
            "startedAt": self.started_at,
            "finishedAt": self.finished_at,
            "durationMs": self.duration_ms,
            "batchSize": self.batch_size,
            "applied": self.applied,
            "unchanged": self.unchanged,
            "skipped": self.skipped,
            "failed": self.failed,
        })
    }
}

/// Inbound-queue message: ids only (DESIGN §6); the event lives in DynamoDB.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct InboundMessage {
    pub workspace_id: String,
    pub job_id: String,
    pub provider_event_id: String,
    pub event_id: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(ec: &str, seq: &str, deleted: bool) -> SyncMetadata {
        SyncMetadata {
            source: Source::Stripe,
            event_id: "evt".into(),
            inbound_event_id: seq.into(),
            event_type: "customer.updated".into(),
            event_created: ec.into(),
            synced_at: "now".into(),
            deleted,
        }
    }

    fn rec(ec: &str, seq: &str, deleted: bool) -> Record {
        Record {
            object_type: "customer".into(),
            object_id: "cus_1".into(),
            data: None,
            meta: meta(ec, seq, deleted),
        }
    }

    #[test]
    fn filters_match_star_prefix_and_exact() {
        assert!(event_pattern::matches("*", "anything.at.all"));
        assert!(event_pattern::matches("customer.*", "customer.updated"));
        assert!(event_pattern::matches(
            "customer.*",
            "customer.subscription.deleted"
        ));
        assert!(!event_pattern::matches("customer.*", "customer"));
        assert!(!event_pattern::matches("customer.*", "customers.updated"));
        assert!(!event_pattern::matches("customer.*", "invoice.paid"));
        assert!(event_pattern::matches("invoice.paid", "invoice.paid"));
        assert!(!event_pattern::matches(
            "invoice.paid",
            "invoice.paid.extra"
        ));
        let cfg = WebhookConfig {
            event_filters: vec![],
            ..WebhookConfig::default()
        };
        assert!(cfg.accepts("x.y"));
    }

    #[test]
    fn filter_validation_names_the_filter() {
        for bad in ["", "cust*", "*.created", "a.*.*", "a b"] {
            let cfg = WebhookConfig {
                event_filters: vec!["ok.*".into(), bad.into()],
                ..WebhookConfig::default()
            };
            let e = cfg.validate().unwrap_err().to_string();
            assert!(e.contains("eventFilters[1]"), "{bad}: {e}");
        }
    }

    #[test]
    fn config_bounds_name_the_field() {
        let mut c = WebhookConfig {
            batch_size: 0,
            ..WebhookConfig::default()
        };
        assert!(c.validate().unwrap_err().to_string().contains("batchSize"));
        c.batch_size = 101;
        assert!(c.validate().unwrap_err().to_string().contains("batchSize"));
        c.batch_size = 100;
        c.batch_wait_seconds = 301;
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("batchWaitSeconds"));
        c.batch_wait_seconds = 0;
        c.tolerance_seconds = -1;
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("toleranceSeconds"));
    }

    #[test]
    fn auto_retry_bounds_name_the_field() {
        let r = AutoRetry {
            attempts: 3,
            delay_seconds: 300,
        };
        let mut c = WebhookConfig::default();
        assert_eq!(c.auto_retry, r);
        c.auto_retry.attempts = 11;
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("autoRetry.attempts"));
        c.auto_retry = AutoRetry {
            attempts: 0,
            delay_seconds: 29,
        };
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("autoRetry.delaySeconds"));
    }

    #[test]
    fn secrets_are_checked_per_source() {
        assert!(SigningSecret::validate(Source::Stripe, "whsec_abc").is_ok());
        assert!(SigningSecret::validate(Source::Stripe, "sk_live_abc").is_err());
        assert!(SigningSecret::validate(
            Source::Close,
            "b9260244ef33625f9b4b26a27db08758cdd39478b852c73f2d33ab042eb8abb4"
        )
        .is_ok());
        assert!(SigningSecret::validate(Source::Close, "not-hex-not-hex-").is_err());
        assert!(
            SigningSecret::validate(Source::Generic, "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD")
                .is_ok()
        );
        assert!(SigningSecret::validate(Source::Generic, "whsec_short").is_err());
        let s = SigningSecret::new("whsec_topsecret");
        assert!(!format!("{s:?}").contains("topsecret"));
    }

    #[test]
    fn older_event_never_supersedes() {
        let stored = meta("2024-01-01T00:00:02.000000Z", "iev_b", false);
        assert!(!rec("2024-01-01T00:00:01.000000Z", "iev_z", false).supersedes(Some(&stored)));
        assert!(rec("2024-01-01T00:00:03.000000Z", "iev_a", false).supersedes(Some(&stored)));
        assert!(rec("2024-01-01T00:00:00.000000Z", "iev_a", false).supersedes(None));
    }

    #[test]
    fn equal_times_later_arrival_wins_except_over_a_tombstone() {
        let t = "2024-01-01T00:00:02.000000Z";
        let live = meta(t, "iev_b", false);
        assert!(rec(t, "iev_c", false).supersedes(Some(&live)));
        assert!(!rec(t, "iev_a", false).supersedes(Some(&live)));
        assert!(
            !rec(t, "iev_b", false).supersedes(Some(&live)),
            "the same event twice is a no-op"
        );
        assert!(rec(t, "iev_c", true).supersedes(Some(&live)));
        let tomb = meta(t, "iev_b", true);
        assert!(!rec(t, "iev_c", false).supersedes(Some(&tomb)));
        // A strictly newer event applies, as the ordering rule says.
        assert!(rec("2024-01-01T00:00:03.000000Z", "iev_a", false).supersedes(Some(&tomb)));
    }

    #[test]
    fn tombstone_view_has_no_provider_data() {
        let mut r = rec("t", "iev_a", true);
        r.data = Some(json!({"id": "cus_1", "email": "x@example.com"}));
        let v = r.view();
        assert!(v.get("email").is_none());
        assert_eq!(v["_sync_metadata"]["deleted"], true);
        assert_eq!(v["id"], "cus_1");
    }
}
