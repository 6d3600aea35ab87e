//! Sync-job input: the create, PATCH, replay and test bodies of the Bearer API, their validation,
//! and the job they make. `signingSecret` is write-only; a stripe or close job needs it before
//! it can be enabled; a generic job gets a generated Standard Webhooks secret.

use serde::Deserialize;

use super::domain::{
    monotonic_id, SigningSecret, Source, SyncJob, WebhookConfig, MAX_AUTO_RETRY_ATTEMPTS,
    MAX_AUTO_RETRY_DELAY_SECONDS, MAX_BATCH_SIZE, MAX_BATCH_WAIT_SECONDS, MAX_TOLERANCE_SECONDS,
    MIN_AUTO_RETRY_DELAY_SECONDS,
};
use crate::error::{AppError, AppResult};
use crate::ids;
use crate::patch::Patch;
use crate::signing::WebhookSecret;
use crate::time::Timestamp;

// --- webhookConfig and the shared rules --------------------------------------------------------

/// `webhookConfig` of a create or PATCH body: absent fields keep their value.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ConfigInput {
    #[serde(default)]
    event_filters: Option<Vec<String>>,
    #[serde(default)]
    signing_secret: Patch<String>,
    #[serde(default)]
    tolerance_seconds: Option<i64>,
    #[serde(default)]
    batch_size: Option<i64>,
    #[serde(default)]
    batch_wait_seconds: Option<i64>,
    #[serde(default)]
    auto_retry: Option<AutoRetryInput>,
    /// jq; null removes it.
    #[serde(default)]
    filter: Patch<String>,
    /// jq; null removes it.
    #[serde(default)]
    transform: Patch<String>,
}

/// `webhookConfig.autoRetry`: absent fields keep their value.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AutoRetryInput {
    #[serde(default)]
    attempts: Option<i64>,
    #[serde(default)]
    delay_seconds: Option<i64>,
}

/// A jq field of `webhookConfig`: compiled now, so a mistake is a 400 on save.
fn jq_field(field: &str, value: &Patch<String>, slot: &mut Option<String>) -> AppResult<()> {
    match value {
        Patch::Absent => {}
        Patch::Null => *slot = None,
        Patch::Value(code) => {
            super::jq::check(&format!("webhookConfig.{field}"), code)?;
            *slot = Some(code.clone());
        }
    }
    Ok(())
}

fn check_kind(kind: Option<&str>) -> AppResult<()> {
    match kind {
        None | Some("webhook") | Some(super::backfill::SCHEDULED) => Ok(()),
        Some(_) => Err(AppError::validation(
            "type must be \"webhook\" or \"scheduled\"",
        )),
    }
}

fn check_name(name: &str) -> AppResult<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(AppError::validation("name must be 1 to 200 characters"));
    }
    Ok(name.to_owned())
}

fn in_range(field: &str, v: i64, min: i64, max: i64) -> AppResult<i64> {
    if (min..=max).contains(&v) {
        Ok(v)
    } else {
        Err(AppError::validation(format!(
            "webhookConfig.{field} must be an integer from {min} to {max}"
        )))
    }
}

/// Applies the given settings onto `config` (absent fields keep their value).
fn merge_config(config: &mut WebhookConfig, input: &ConfigInput) -> AppResult<()> {
    if let Some(f) = &input.event_filters {
        config.event_filters = f.iter().map(|s| s.trim().to_owned()).collect();
    }
    if let Some(t) = input.tolerance_seconds {
        config.tolerance_seconds = in_range("toleranceSeconds", t, 0, MAX_TOLERANCE_SECONDS)?;
    }
    if let Some(b) = input.batch_size {
        config.batch_size = in_range("batchSize", b, 1, i64::from(MAX_BATCH_SIZE))? as u32;
    }
    if let Some(w) = input.batch_wait_seconds {
        config.batch_wait_seconds =
            in_range("batchWaitSeconds", w, 0, i64::from(MAX_BATCH_WAIT_SECONDS))? as u32;
    }
    if let Some(r) = &input.auto_retry {
        if let Some(a) = r.attempts {
            config.auto_retry.attempts = in_range(
                "autoRetry.attempts",
                a,
                0,
                i64::from(MAX_AUTO_RETRY_ATTEMPTS),
            )? as u32;
        }
        if let Some(d) = r.delay_seconds {
            config.auto_retry.delay_seconds = in_range(
                "autoRetry.delaySeconds",
                d,
                i64::from(MIN_AUTO_RETRY_DELAY_SECONDS),
                i64::from(MAX_AUTO_RETRY_DELAY_SECONDS),
            )? as u32;
        }
    }
    jq_field("filter", &input.filter, &mut config.filter)?;
    jq_field("transform", &input.transform, &mut config.transform)?;
    config.validate()
}

/// `toleranceSeconds: 0` turns the timestamp check off: Close only (its timestamps may be
/// replayed by its own retries); Stripe and Standard Webhooks jobs take 1..86400 (DESIGN §8).
fn check_tolerance(source: Source, config: &WebhookConfig) -> AppResult<()> {
    if config.tolerance_seconds == 0 && source != Source::Close {
        return Err(AppError::validation(format!(
            "webhookConfig.toleranceSeconds 0 (no timestamp check) is allowed for Close jobs only; \
             {} jobs take 1 to {MAX_TOLERANCE_SECONDS}",
            source.as_str()
        )));
    }
    Ok(())
}

// --- create ------------------------------------------------------------------------------------

/// The body of `POST …/sync-jobs`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateBody {
    name: String,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    source: String,
    #[serde(default)]
    enabled: Option<bool>,
    #[serde(default)]
    webhook_config: Option<ConfigInput>,
    /// `schedule`, `apiKey`, `backfillFrom` (scheduled) or `backfill` (webhook), DESIGN §8.
    #[serde(flatten)]
    pub backfill: super::backfill::BackfillInput,
    /// Checked by `destination::parse` (it needs the config).
    #[serde(default)]
    pub destination: Option<serde_json::Value>,
}

/// A new job of `ws`, validated; not yet stored. A generic job without a secret of its own
/// gets a generated one, returned once beside the job.
pub fn new_job(
    ws: &str,
    body: CreateBody,
    now: &str,
) -> AppResult<(SyncJob, Option<WebhookSecret>)> {
    check_kind(body.kind.as_deref())?;
    let name = check_name(&body.name)?;
    let source = Source::parse(body.source.trim())?;
    let kind = body.kind.as_deref().unwrap_or("webhook").to_owned();
    super::backfill::check_new_kind(&kind, source)?;
    let input = body.webhook_config.unwrap_or_default();
    let mut config = WebhookConfig::default();
    merge_config(&mut config, &input)?;
    check_tolerance(source, &config)?;
    let given = input
        .signing_secret
        .into_value()
        .map(|s| SigningSecret::validate(source, &s))
        .transpose()?;
    // A generic job signs with a secret we generate, unless the sender brings its own.
    let generated = (source == Source::Generic && given.is_none()).then(WebhookSecret::generate);
    let signing_secret =
        given.or_else(|| generated.as_ref().map(|g| SigningSecret::new(g.expose())));
    let job = SyncJob {
        id: monotonic_id(ids::SYNC_JOB),
        workspace_id: ws.to_owned(),
        name,
        kind,
        source,
        enabled: body.enabled.unwrap_or(true),
        webhook_config: config,
        signing_secret,
        previous_signing_secret: None,
        previous_secret_expires_at: None,
        destination: Default::default(),
        version: 1,
        created_at: now.to_owned(),
        updated_at: now.to_owned(),
    };
    job.check_enable()?;
    Ok((job, generated))
}

// --- PATCH -------------------------------------------------------------------------------------

/// The body of `PATCH …/sync-jobs/{jobId}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PatchBody {
    #[serde(default)]
    name: Option<String>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    enabled: Option<bool>,
    #[serde(default)]
    webhook_config: Option<ConfigInput>,
    /// The backfill fields (see [`CreateBody::backfill`]).
    #[serde(flatten)]
    pub backfill: super::backfill::BackfillInput,
    /// Replaces the destination; fields it leaves out keep their value while its type stays.
    #[serde(default)]
    pub destination: Option<serde_json::Value>,
}

/// The patched job (version bumped), validated; not yet stored.
pub fn patched(mut job: SyncJob, body: &PatchBody, now: &str) -> AppResult<SyncJob> {
    check_kind(body.kind.as_deref())?;
    if body.kind.as_deref().is_some_and(|k| k != job.kind) {
        return Err(AppError::validation(
            "type cannot be changed; create a new sync job",
        ));
    }
    if let Some(src) = &body.source {
        if Source::parse(src.trim())? != job.source {
            return Err(AppError::validation(
                "source cannot be changed; create a new sync job",
            ));
        }
    }
    if let Some(name) = &body.name {
        job.name = check_name(name)?;
    }
    if let Some(enabled) = body.enabled {
        job.enabled = enabled;
    }
    if let Some(input) = &body.webhook_config {
        merge_config(&mut job.webhook_config, input)?;
        if input.tolerance_seconds.is_some() {
            check_tolerance(job.source, &job.webhook_config)?;
        }
        match &input.signing_secret {
            Patch::Absent => {}
            Patch::Value(s) => {
                let secret = SigningSecret::validate(job.source, s)?;
                let at = crate::time::parse(now).unwrap_or_else(crate::time::now);
                job.rotate_secret(secret, at);
            }
            Patch::Null if job.source == Source::Generic => {
                return Err(AppError::validation(
                    "webhookConfig.signingSecret of a generic job cannot be removed; use POST …/webhook/regenerate-secret",
                ))
            }
            Patch::Null => {
                job.signing_secret = None;
                job.previous_signing_secret = None;
                job.previous_secret_expires_at = None;
            }
        }
    }
    job.check_enable()?;
    job.version += 1;
    job.updated_at = now.to_owned();
    Ok(job)
}

// --- replay and test ---------------------------------------------------------------------------

/// The body of `POST …/webhook/replay`: a receive-time window.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplayBody {
    since: String,
    #[serde(default)]
    until: Option<String>,
    /// `nextCursor` of a previous call that answered `hasMore`.
    #[serde(default)]
    cursor: Option<String>,
}

impl ReplayBody {
    /// Where a previous call stopped.
    pub fn cursor(&self) -> Option<&str> {
        self.cursor.as_deref()
    }

    /// `[since, until]` (until defaults to now), checked.
    pub fn window(&self) -> AppResult<(Timestamp, Timestamp)> {
        let since = crate::time::parse(&self.since)
            .ok_or_else(|| AppError::validation("since must be an RFC 3339 timestamp"))?;
        let until = match &self.until {
            Some(u) => crate::time::parse(u)
                .ok_or_else(|| AppError::validation("until must be an RFC 3339 timestamp"))?,
            None => crate::time::now(),
        };
        if since > until {
            return Err(AppError::validation("since must not be after until"));
        }
        Ok((since, until))
    }
}

/// The optional body of `POST /api/webhooks/{ws}/{job}/test`.
#[derive(Debug, Clone, Deserialize, Default)]
pub struct TestBody {
    #[serde(default, rename = "type")]
    kind: Option<String>,
}

impl TestBody {
    /// The event type asked for, if any: 1 to 200 visible ASCII characters.
    pub fn event_type(self) -> AppResult<Option<String>> {
        if let Some(k) = &self.kind {
            let ok = !k.is_empty() && k.len() <= 200 && k.bytes().all(|b| b.is_ascii_graphic());
            if !ok {
                return Err(AppError::validation(
                    "type must be 1 to 200 visible ASCII characters",
                ));
            }
        }
        Ok(self.kind)
    }
}
