//! Scheduled jobs and backfills (DESIGN §8): a `type:"scheduled"` job, or a webhook job's
//! `backfill {schedule, apiKey}`, reads the provider's event log since its cursor and stores
//! each event through the receiver's own path ([`super::receive::store_event`]), so an event
//! that also arrived by webhook is a duplicate, never a second apply.
//!
//! - the plan ([`BackfillPlan`], port `BackfillStore`): schedule, write-only apiKey, cursor and
//!   the next due run (an index entry, so the scheduler never scans);
//! - input: the create/PATCH fields and their validation ([`BackfillInput`]);
//! - use cases: [`start`] (`POST …/backfill`), [`run`] (the worker, under the job's lease),
//!   [`schedule_due_at`] (the EventBridge schedule).
//!
//! Crash safety: the cursor advances only after every event read is stored; a run that dies
//! half way leaves the cursor where it was, and the re-read is absorbed by the dedup.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::domain::{monotonic_id, truncate_error, Execution, ExecutionKind, Source, SyncJob};
use crate::error::{AppError, AppResult};
use crate::ids;
use crate::lease::Lease;
use crate::patch::Patch;
use crate::queue::QueueMessage;
use crate::App;

/// The `type` of a job that pulls instead of receiving.
pub const SCHEDULED: &str = "scheduled";
/// Stripe keeps events 30 days: a cursor never starts further back.
pub const MAX_BACKFILL_DAYS: i64 = 30;
/// A new job's cursor without `backfillFrom`: 24 h before its creation.
pub const DEFAULT_BACKFILL_HOURS: i64 = 24;
/// The shortest schedule.
pub const MIN_INTERVAL_SECS: u64 = 300;
/// How long a run's lease holds if its worker dies: above the delivery worker's 60 s timeout,
/// short enough that a crashed run does not block "Sync now" for long.
pub const RUN_LEASE: Duration = Duration::from_secs(5 * 60);
/// Stored with each backfilled event: the run that read it.
pub const BACKFILL_HEADER: &str = "x-sync-backfill-execution";

// --- schedule and apiKey ---------------------------------------------------------------------

/// An EventBridge `rate(N unit)` expression of at least 5 minutes; the singular unit only
/// with 1, as EventBridge requires.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Debug)]
#[serde(transparent)]
pub struct Schedule(String);

impl Schedule {
    pub fn parse(field: &str, s: &str) -> AppResult<Self> {
        let bad = || {
            AppError::validation(format!(
                "{field} must be rate(N minute|minutes|hour|hours|day|days), e.g. rate(15 minutes)"
            ))
        };
        let inner = s
            .trim()
            .strip_prefix("rate(")
            .and_then(|r| r.strip_suffix(')'))
            .ok_or_else(bad)?;
        let (n, unit) = inner.trim().split_once(' ').ok_or_else(bad)?;
        if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) || n.starts_with('0') {
            return Err(bad());
        }
        let n: u64 = n.parse().map_err(|_| bad())?;
        let per = match unit.trim() {
            "minute" | "minutes" => 60,
            "hour" | "hours" => 3_600,
            "day" | "days" => 86_400,
            _ => return Err(bad()),
        };
        let singular = !unit.trim().ends_with('s');
        if singular != (n == 1) {
            return Err(AppError::validation(format!(
                "{field}: use the singular unit with 1 and the plural otherwise (rate(1 hour), rate(5 minutes)), as EventBridge does"
            )));
        }
        let secs = n.checked_mul(per).ok_or_else(bad)?;
        if secs < MIN_INTERVAL_SECS {
            return Err(AppError::validation(format!(
                "{field} must be at least 5 minutes"
            )));
        }
        if secs > 365 * 86_400 {
            return Err(AppError::validation(format!(
                "{field} must be at most 365 days"
            )));
        }
        Ok(Self(format!("rate({n} {})", unit.trim())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The interval in seconds (a stored schedule was validated when saved).
    pub fn interval_secs(&self) -> i64 {
        self.0
            .strip_prefix("rate(")
            .and_then(|r| r.strip_suffix(')'))
            .and_then(|inner| inner.split_once(' '))
            .and_then(|(n, unit)| {
                let n: i64 = n.parse().ok()?;
                let per = match unit {
                    "minute" | "minutes" => 60,
                    "hour" | "hours" => 3_600,
                    "day" | "days" => 86_400,
                    _ => return None,
                };
                Some(n * per)
            })
            .unwrap_or(3_600)
    }
}

/// The provider API key a backfill reads with (Stripe secret/restricted key, Close API key).
/// Write-only: shown as `hasApiKey`, never printed or logged.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ProviderApiKey(String);

impl ProviderApiKey {
    pub fn validate(field: &str, v: &str) -> AppResult<Self> {
        let v = v.trim();
        if v.is_empty() || v.len() > 512 || !v.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(AppError::validation(format!(
                "{field} must be the provider's API key: 1 to 512 visible ASCII characters"
            )));
        }
        Ok(Self(v.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ProviderApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ProviderApiKey([redacted])")
    }
}

// --- the plan --------------------------------------------------------------------------------

/// A job's backfill: what to read, with which key, from where, and when next.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BackfillPlan {
    pub workspace_id: String,
    pub job_id: String,
    pub source: Source,
    pub schedule: Schedule,
    pub api_key: ProviderApiKey,
    /// RFC 3339: the newest event time stored so far (runs read strictly after it).
    pub cursor: String,
    /// Unix seconds of the next scheduled run; `None`: not in the due index.
    #[serde(default)]
    pub next_run_at: Option<i64>,
    pub created_at: String,
    pub updated_at: String,
}

impl fmt::Debug for BackfillPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BackfillPlan")
            .field("workspace_id", &self.workspace_id)
            .field("job_id", &self.job_id)
            .field("schedule", &self.schedule)
            .field("cursor", &self.cursor)
            .field("next_run_at", &self.next_run_at)
            .finish_non_exhaustive()
    }
}

impl BackfillPlan {
    /// What the API shows (never the key).
    pub fn view(&self) -> Value {
        json!({
            "schedule": self.schedule.as_str(),
            "hasApiKey": true,
            "cursor": self.cursor,
            "nextRunAt": self.next_run_at.map(unix_to_string),
        })
    }
}

fn unix_to_string(t: i64) -> String {
    crate::time::format(DateTime::from_timestamp(t, 0).unwrap_or_default())
}

// --- runs as executions ----------------------------------------------------------------------

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    Running,
    Succeeded,
    Failed,
}

/// A backfill run's result, kept on its [`Execution`]: `new + duplicates = read`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BackfillRun {
    pub status: RunStatus,
    /// `manual` (`POST …/backfill`) or `schedule`.
    pub trigger: String,
    pub read: u32,
    pub new: u32,
    pub duplicates: u32,
    /// The cursor after the run (unchanged by a failed one).
    pub cursor: String,
    #[serde(default)]
    pub error: Option<String>,
}

impl BackfillRun {
    pub fn view(&self, x: &Execution) -> Value {
        json!({
            "id": x.id,
            "kind": "backfill",
            "status": self.status,
            "trigger": self.trigger,
            "startedAt": x.started_at,
            "finishedAt": (self.status != RunStatus::Running).then_some(&x.finished_at),
            "durationMs": x.duration_ms,
            "read": self.read,
            "new": self.new,
            "duplicates": self.duplicates,
            "cursor": self.cursor,
            "error": self.error,
        })
    }
}

// --- input -----------------------------------------------------------------------------------

/// `backfill` of a webhook job's body.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct BackfillFields {
    #[serde(default)]
    schedule: Option<String>,
    #[serde(default)]
    api_key: Option<ProviderApiKey>,
    #[serde(default)]
    backfill_from: Option<String>,
}

/// The backfill fields of a create or PATCH body (flattened into it): a scheduled job's
/// `schedule`, `apiKey`, `backfillFrom`; a webhook job's `backfill {schedule, apiKey}`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct BackfillInput {
    #[serde(default)]
    schedule: Option<String>,
    #[serde(default)]
    api_key: Patch<ProviderApiKey>,
    #[serde(default)]
    backfill_from: Option<String>,
    #[serde(default)]
    backfill: Patch<BackfillFields>,
}

/// The checked settings of a body: field by field, absent = keep.
#[derive(Debug, Clone, Default)]
struct Settings {
    schedule: Option<Schedule>,
    api_key: Option<ProviderApiKey>,
    from: Option<DateTime<Utc>>,
    /// PATCH `backfill: null`.
    remove: bool,
}

fn check_from(field: &str, s: &str, now: DateTime<Utc>) -> AppResult<DateTime<Utc>> {
    let t = crate::time::parse(s)
        .ok_or_else(|| AppError::validation(format!("{field} must be an RFC 3339 timestamp")))?;
    if t > now {
        return Err(AppError::validation(format!(
            "{field} must not be in the future"
        )));
    }
    if t < now - chrono::Duration::days(MAX_BACKFILL_DAYS) {
        return Err(AppError::validation(format!(
            "{field} must be within the last {MAX_BACKFILL_DAYS} days (Stripe keeps events 30 days)"
        )));
    }
    Ok(t)
}

impl BackfillInput {
    /// Whether the body names any backfill field.
    fn is_empty(&self) -> bool {
        self.schedule.is_none()
            && self.api_key.is_absent()
            && self.backfill_from.is_none()
            && self.backfill.is_absent()
    }

    /// Checks the fields against the job's type and source.
    fn settings(&self, job: &SyncJob, now: DateTime<Utc>) -> AppResult<Settings> {
        if self.is_empty() {
            return Ok(Settings::default());
        }
        if job.is_scheduled() {
            if !self.backfill.is_absent() {
                return Err(AppError::validation(
                    "backfill is for webhook jobs; a scheduled job takes schedule and apiKey at the top level",
                ));
            }
            let api_key = match &self.api_key {
                Patch::Absent => None,
                Patch::Null => {
                    return Err(AppError::validation(
                        "apiKey of a scheduled job cannot be removed (PATCH a new one, or disable the job)",
                    ))
                }
                Patch::Value(k) => Some(ProviderApiKey::validate("apiKey", k.expose())?),
            };
            return Ok(Settings {
                schedule: self
                    .schedule
                    .as_deref()
                    .map(|s| Schedule::parse("schedule", s))
                    .transpose()?,
                api_key,
                from: self
                    .backfill_from
                    .as_deref()
                    .map(|s| check_from("backfillFrom", s, now))
                    .transpose()?,
                remove: false,
            });
        }
        if self.schedule.is_some() || !self.api_key.is_absent() {
            return Err(AppError::validation(
                "schedule and apiKey belong to scheduled jobs; a webhook job takes them as backfill {schedule, apiKey}",
            ));
        }
        let from_top = self
            .backfill_from
            .as_deref()
            .map(|s| check_from("backfillFrom", s, now))
            .transpose()?;
        match &self.backfill {
            Patch::Absent => Ok(Settings {
                from: from_top,
                ..Settings::default()
            }),
            Patch::Null => Ok(Settings {
                remove: true,
                ..Settings::default()
            }),
            Patch::Value(b) => {
                if job.source == Source::Generic {
                    return Err(AppError::validation(
                        "backfill needs a stripe or close job (a generic sender has no event log to read)",
                    ));
                }
                let from_inner = b
                    .backfill_from
                    .as_deref()
                    .map(|s| check_from("backfill.backfillFrom", s, now))
                    .transpose()?;
                Ok(Settings {
                    schedule: b
                        .schedule
                        .as_deref()
                        .map(|s| Schedule::parse("backfill.schedule", s))
                        .transpose()?,
                    api_key: b
                        .api_key
                        .as_ref()
                        .map(|k| ProviderApiKey::validate("backfill.apiKey", k.expose()))
                        .transpose()?,
                    from: from_top.or(from_inner),
                    remove: false,
                })
            }
        }
    }
}

/// Checks a new job's type and source (a scheduled job reads Stripe or Close).
pub fn check_new_kind(kind: &str, source: Source) -> AppResult<()> {
    if kind == SCHEDULED && source == Source::Generic {
        return Err(AppError::validation(
            "source of a scheduled job must be stripe or close",
        ));
    }
    Ok(())
}

/// The plan of a new job (validated; not stored), if it has one. A scheduled job needs
/// `schedule` and `apiKey`; a webhook job's `backfill` needs both too.
pub fn plan_for_new_job(
    job: &SyncJob,
    input: &BackfillInput,
    now: DateTime<Utc>,
) -> AppResult<Option<BackfillPlan>> {
    let settings = input.settings(job, now)?;
    let (field_schedule, field_key) = if job.is_scheduled() {
        ("schedule", "apiKey")
    } else {
        ("backfill.schedule", "backfill.apiKey")
    };
    if !job.is_scheduled() && input.backfill.is_absent() {
        if settings.from.is_some() {
            return Err(AppError::validation(
                "backfillFrom needs backfill {schedule, apiKey} on a webhook job",
            ));
        }
        return Ok(None);
    }
    let schedule = settings
        .schedule
        .ok_or_else(|| AppError::validation(format!("{field_schedule} is required")))?;
    let api_key = settings
        .api_key
        .ok_or_else(|| AppError::validation(format!("{field_key} is required")))?;
    let from = settings
        .from
        .unwrap_or(now - chrono::Duration::hours(DEFAULT_BACKFILL_HOURS));
    let now_s = crate::time::format(now);
    Ok(Some(BackfillPlan {
        workspace_id: job.workspace_id.clone(),
        job_id: job.id.clone(),
        source: job.source,
        next_run_at: Some(now.timestamp() + schedule.interval_secs()),
        schedule,
        api_key,
        cursor: crate::time::format(from),
        created_at: now_s.clone(),
        updated_at: now_s,
    }))
}

/// Validates a PATCH's backfill fields against the job before anything is written.
pub fn check_patch(job: &SyncJob, input: &BackfillInput) -> AppResult<()> {
    input.settings(job, crate::time::now()).map(|_| ())
}

/// Applies a PATCH's backfill fields to the job's plan (after the job itself was saved).
pub async fn apply_patch(app: &App, job: &SyncJob, input: &BackfillInput) -> AppResult<()> {
    let now = crate::time::now();
    let settings = input.settings(job, now)?;
    if settings.remove {
        return app
            .backfills
            .delete_backfill(&job.workspace_id, &job.id)
            .await;
    }
    if settings.schedule.is_none() && settings.api_key.is_none() && settings.from.is_none() {
        return Ok(());
    }
    let existing = app
        .backfills
        .get_backfill(&job.workspace_id, &job.id)
        .await?;
    let plan = match existing {
        Some(mut plan) => {
            if let Some(s) = settings.schedule {
                plan.next_run_at = Some(now.timestamp() + s.interval_secs());
                plan.schedule = s;
            }
            if let Some(k) = settings.api_key {
                plan.api_key = k;
            }
            if let Some(f) = settings.from {
                plan.cursor = crate::time::format(f);
            }
            plan.updated_at = crate::time::format(now);
            plan
        }
        None => {
            let field = if job.is_scheduled() { "" } else { "backfill." };
            let schedule = settings.schedule.ok_or_else(|| {
                AppError::validation(format!("{field}schedule is required to add a backfill"))
            })?;
            let api_key = settings.api_key.ok_or_else(|| {
                AppError::validation(format!("{field}apiKey is required to add a backfill"))
            })?;
            let from = settings
                .from
                .unwrap_or(now - chrono::Duration::hours(DEFAULT_BACKFILL_HOURS));
            BackfillPlan {
                workspace_id: job.workspace_id.clone(),
                job_id: job.id.clone(),
                source: job.source,
                next_run_at: Some(now.timestamp() + schedule.interval_secs()),
                schedule,
                api_key,
                cursor: crate::time::format(from),
                created_at: crate::time::format(now),
                updated_at: crate::time::format(now),
            }
        }
    };
    app.backfills.put_backfill(&plan).await
}

/// Adds the plan to a job's view: a scheduled job shows `schedule`, `hasApiKey`, `cursor`,
/// `nextRunAt` at the top level (and no `webhookUrl`: nothing posts to it); a webhook job shows
/// them as `backfill`.
pub fn decorate(job: &SyncJob, plan: Option<&BackfillPlan>, view: &mut Value) {
    let Value::Object(m) = view else { return };
    if job.is_scheduled() {
        m.remove("webhookUrl");
        let plan_view = plan.map(BackfillPlan::view).unwrap_or_else(
            || json!({ "schedule": null, "hasApiKey": false, "cursor": null, "nextRunAt": null }),
        );
        if let Value::Object(p) = plan_view {
            m.extend(p);
        }
    } else {
        m.insert(
            "backfill".into(),
            plan.map(BackfillPlan::view).unwrap_or(Value::Null),
        );
    }
}

/// A job's view with its plan.
pub async fn view(app: &App, job: &SyncJob, base_url: &str) -> AppResult<Value> {
    let plan = app
        .backfills
        .get_backfill(&job.workspace_id, &job.id)
        .await?;
    let mut v = job.view(base_url);
    decorate(job, plan.as_ref(), &mut v);
    Ok(v)
}

/// Views of many jobs (their plans read concurrently).
pub async fn views(app: &App, jobs: &[SyncJob], base_url: &str) -> AppResult<Vec<Value>> {
    futures::future::try_join_all(jobs.iter().map(|j| view(app, j, base_url))).await
}

// --- runs ------------------------------------------------------------------------------------

fn new_execution(
    ws: &str,
    job_id: &str,
    id: &str,
    trigger: &str,
    cursor: &str,
    app: &App,
) -> Execution {
    let now = crate::time::now();
    let ttl_days = i64::from(app.config.inbound_event_ttl_days.max(1));
    Execution {
        id: id.to_owned(),
        workspace_id: ws.to_owned(),
        job_id: job_id.to_owned(),
        started_at: crate::time::format(now),
        finished_at: crate::time::format(now),
        duration_ms: 0,
        batch_size: 0,
        applied: 0,
        unchanged: 0,
        skipped: 0,
        failed: 0,
        expires_at: crate::time::ttl_after(now, ttl_days * 86_400),
        kind: ExecutionKind::Backfill,
        backfill: Some(BackfillRun {
            status: RunStatus::Running,
            trigger: trigger.to_owned(),
            read: 0,
            new: 0,
            duplicates: 0,
            cursor: cursor.to_owned(),
            error: None,
        }),
    }
}

/// `POST …/sync-jobs/{jobId}/backfill`: takes the job's lease for a new execution, records it
/// as running and queues the run. 409 while one runs; 400 for a job without an apiKey.
pub async fn start(app: &App, ws: &str, job_id: &str) -> AppResult<Execution> {
    let job = super::service::load_job(app, ws, job_id).await?;
    if !job.enabled {
        return Err(AppError::JobDisabled);
    }
    let plan = app.backfills.get_backfill(ws, job_id).await?.ok_or_else(|| {
        AppError::validation(
            "this sync job has no apiKey to read the provider's event log: PATCH backfill {schedule, apiKey} first",
        )
    })?;
    let id = monotonic_id(ids::EXECUTION);
    let lease = Lease::backfill(ws, job_id);
    if !app.leases.try_acquire(&lease, &id, RUN_LEASE).await? {
        return Err(AppError::BackfillRunning);
    }
    let execution = new_execution(ws, job_id, &id, "manual", &plan.cursor, app);
    let queued = async {
        app.sync_executions.put_execution(&execution).await?;
        crate::queue::schedule(
            app,
            QueueMessage::Backfill {
                workspace_id: ws.to_owned(),
                job_id: job_id.to_owned(),
                execution_id: id.clone(),
                leased: true,
            },
            Duration::ZERO,
        )
        .await
    }
    .await;
    if let Err(e) = queued {
        let _ = app.leases.release(&lease, &id).await;
        return Err(e);
    }
    tracing::info!(workspace_id = ws, job_id, execution_id = %id, "backfill queued");
    Ok(execution)
}

/// The worker's run of one backfill. `leased`: [`start`] holds the lease for this execution
/// already; a scheduled run takes it (and is skipped while another run holds it). Provider
/// failures end the run `failed` with the cursor unchanged; they are not retried by SQS (the
/// next run reads from the same cursor).
pub async fn run(
    app: &App,
    ws: &str,
    job_id: &str,
    execution_id: &str,
    leased: bool,
) -> AppResult<()> {
    let lease = Lease::backfill(ws, job_id);
    if !leased
        && !app
            .leases
            .try_acquire(&lease, execution_id, RUN_LEASE)
            .await?
    {
        tracing::info!(
            workspace_id = ws,
            job_id,
            "scheduled backfill skipped: another run holds the job"
        );
        return Ok(());
    }
    let trigger = if leased { "manual" } else { "schedule" };
    let result = run_leased(app, ws, job_id, execution_id, trigger).await;
    if let Err(e) = app.leases.release(&lease, execution_id).await {
        tracing::warn!(error = %e.log_detail(), "could not release the backfill lease");
    }
    result
}

async fn run_leased(
    app: &App,
    ws: &str,
    job_id: &str,
    execution_id: &str,
    trigger: &str,
) -> AppResult<()> {
    let clock = std::time::Instant::now();
    let Some(job) = app.sync_jobs.get_sync_job(ws, job_id).await? else {
        tracing::info!(
            workspace_id = ws,
            job_id,
            "backfill of a deleted job dropped"
        );
        return Ok(());
    };
    let Some(plan) = app.backfills.get_backfill(ws, job_id).await? else {
        tracing::info!(
            workspace_id = ws,
            job_id,
            "backfill of a job without a plan dropped"
        );
        return Ok(());
    };
    let mut execution = new_execution(ws, job_id, execution_id, trigger, &plan.cursor, app);
    let outcome = if job.enabled {
        read_and_store(app, &job, &plan, execution_id).await
    } else {
        Err(RunFailure::Provider("the sync job is disabled".to_owned()))
    };
    let run = execution.backfill.as_mut().map(|r| (r, &outcome));
    if let Some((run, outcome)) = run {
        match outcome {
            Ok(done) => {
                run.status = RunStatus::Succeeded;
                run.read = done.new + done.duplicates;
                run.new = done.new;
                run.duplicates = done.duplicates;
                run.cursor = done.cursor.clone();
            }
            Err(RunFailure::Provider(msg)) => {
                run.status = RunStatus::Failed;
                run.error = Some(truncate_error(msg));
            }
            Err(RunFailure::Store {
                read,
                new,
                duplicates,
            }) => {
                run.status = RunStatus::Failed;
                run.read = *read;
                run.new = *new;
                run.duplicates = *duplicates;
                run.error = Some(
                    "storing the events failed; the next run reads again from the same cursor"
                        .to_owned(),
                );
            }
        }
    }
    execution.finished_at = crate::time::now_string();
    execution.duration_ms = clock.elapsed().as_millis() as u64;
    app.sync_executions.put_execution(&execution).await?;
    if let Some(run) = &execution.backfill {
        tracing::info!(
            workspace_id = ws, job_id, execution_id, status = ?run.status, read = run.read,
            new = run.new, duplicates = run.duplicates, "backfill run finished"
        );
    }
    Ok(())
}

/// The delivery worker's last-receive hook: a run that failed on every receive (an internal
/// error, logged) is recorded `failed` with the cursor unchanged and frees the job.
pub async fn fail_after_last_receive(app: &App, message: &QueueMessage) {
    let QueueMessage::Backfill {
        workspace_id,
        job_id,
        execution_id,
        leased,
    } = message
    else {
        return;
    };
    let cursor = match app.backfills.get_backfill(workspace_id, job_id).await {
        Ok(Some(plan)) => plan.cursor,
        _ => String::new(),
    };
    let trigger = if *leased { "manual" } else { "schedule" };
    let mut execution = new_execution(workspace_id, job_id, execution_id, trigger, &cursor, app);
    if let Some(run) = execution.backfill.as_mut() {
        run.status = RunStatus::Failed;
        run.error = Some(
            "the run failed on every attempt (internal error); the next run reads from the same cursor"
                .to_owned(),
        );
    }
    if let Err(e) = app.sync_executions.put_execution(&execution).await {
        tracing::error!(error = %e.log_detail(), "could not mark the backfill run failed");
    }
    let lease = Lease::backfill(workspace_id, job_id);
    if let Err(e) = app.leases.release(&lease, execution_id).await {
        tracing::warn!(error = %e.log_detail(), "could not release the backfill lease");
    }
}

struct Done {
    new: u32,
    duplicates: u32,
    cursor: String,
}

enum RunFailure {
    /// The provider (or its answer) failed: a message for the operator.
    Provider(String),
    /// Our store failed part way (logged); counts so far.
    Store {
        read: u32,
        new: u32,
        duplicates: u32,
    },
}

async fn read_and_store(
    app: &App,
    job: &SyncJob,
    plan: &BackfillPlan,
    execution_id: &str,
) -> Result<Done, RunFailure> {
    let since = crate::time::parse(&plan.cursor)
        .unwrap_or_else(|| crate::time::now() - chrono::Duration::hours(DEFAULT_BACKFILL_HOURS));
    let events = super::providers::read_since(app, plan.source, plan.api_key.expose(), since)
        .await
        .map_err(|e| RunFailure::Provider(e.0))?;
    let (mut new, mut duplicates) = (0u32, 0u32);
    let mut newest = since;
    for (i, ev) in events.iter().enumerate() {
        let head = super::mapping::parse_head(job.source, "", ev.body.as_bytes()).map_err(|e| {
            RunFailure::Provider(format!(
                "event {i} of the provider's log is not usable: {e}"
            ))
        })?;
        let headers = BTreeMap::from([(BACKFILL_HEADER.to_owned(), execution_id.to_owned())]);
        match super::receive::store_event(app, job, head, &ev.body, headers).await {
            Ok(r) if r.duplicate => duplicates += 1,
            Ok(_) => new += 1,
            Err(e) => {
                tracing::error!(error = %e.log_detail(), "backfill could not store an event");
                return Err(RunFailure::Store {
                    read: new + duplicates,
                    new,
                    duplicates,
                });
            }
        }
        newest = newest.max(ev.at);
    }
    let cursor = crate::time::format(newest);
    // Only now, with every event stored, does the cursor move.
    if cursor != plan.cursor {
        app.backfills
            .set_backfill_cursor(&job.workspace_id, &job.id, &cursor)
            .await
            .map_err(|e| {
                tracing::error!(error = %e.log_detail(), "backfill could not store its cursor");
                RunFailure::Store {
                    read: new + duplicates,
                    new,
                    duplicates,
                }
            })?;
    }
    Ok(Done {
        new,
        duplicates,
        cursor,
    })
}

// --- the schedule ----------------------------------------------------------------------------

/// What one scheduler run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleSummary {
    /// Due plans seen.
    pub due: u32,
    /// Runs queued.
    pub enqueued: u32,
    /// Due plans of disabled or deleted jobs (moved on without a run).
    pub skipped: u32,
}

/// Due plans per index page.
const DUE_PAGE: u32 = 100;
/// Pages per scheduler run (the rest are due at the next tick).
const MAX_DUE_PAGES: usize = 20;

/// Queues one run per plan due at `now` (unix seconds): each plan is claimed by moving its
/// next run one interval on (conditional on the value read, so overlapping schedulers queue it
/// once), then its run is queued.
pub async fn schedule_due_at(app: &App, now: i64) -> AppResult<ScheduleSummary> {
    let mut summary = ScheduleSummary::default();
    for _ in 0..MAX_DUE_PAGES {
        let due = app.backfills.list_due_backfills(now, DUE_PAGE).await?;
        let last_page = (due.len() as u32) < DUE_PAGE;
        for plan in due {
            summary.due += 1;
            let next = now + plan.schedule.interval_secs();
            let (ws, job_id) = (plan.workspace_id.as_str(), plan.job_id.as_str());
            if !app
                .backfills
                .reschedule_backfill(ws, job_id, plan.next_run_at, Some(next))
                .await?
            {
                continue;
            }
            match app.sync_jobs.get_sync_job(ws, job_id).await? {
                None => {
                    app.backfills.delete_backfill(ws, job_id).await?;
                    summary.skipped += 1;
                }
                Some(job) if !job.enabled => summary.skipped += 1,
                Some(_) => {
                    crate::queue::schedule(
                        app,
                        QueueMessage::Backfill {
                            workspace_id: ws.to_owned(),
                            job_id: job_id.to_owned(),
                            execution_id: monotonic_id(ids::EXECUTION),
                            leased: false,
                        },
                        Duration::ZERO,
                    )
                    .await?;
                    summary.enqueued += 1;
                }
            }
        }
        if last_page {
            break;
        }
    }
    tracing::info!(
        due = summary.due,
        enqueued = summary.enqueued,
        skipped = summary.skipped,
        "backfill schedule ran"
    );
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_follow_eventbridge_rate_syntax() {
        for ok in [
            "rate(5 minutes)",
            "rate(1 hour)",
            "rate(2 hours)",
            "rate(1 day)",
            "rate(30 days)",
        ] {
            assert!(Schedule::parse("schedule", ok).is_ok(), "{ok}");
        }
        for bad in [
            "rate(4 minutes)",
            "rate(1 minute)",
            "rate(5 minute)",
            "rate(1 hours)",
            "rate(0 hours)",
            "rate(05 minutes)",
            "rate(-5 minutes)",
            "cron(0 * * * ? *)",
            "rate(5 weeks)",
            "every 5 minutes",
            "",
        ] {
            let e = Schedule::parse("schedule", bad).unwrap_err().to_string();
            assert!(e.contains("schedule"), "{bad}: {e}");
        }
        assert_eq!(
            Schedule::parse("s", "rate(15 minutes)")
                .unwrap()
                .interval_secs(),
            900
        );
        assert_eq!(
            Schedule::parse("s", "rate(1 day)").unwrap().interval_secs(),
            86_400
        );
    }

    #[test]
    fn api_keys_never_print() {
        let k = ProviderApiKey::validate("apiKey", "sk_test_secret").unwrap();
        assert!(!format!("{k:?}").contains("secret"));
        assert!(ProviderApiKey::validate("apiKey", "has space").is_err());
    }

    #[test]
    fn backfill_from_is_bounded_to_thirty_days() {
        let now = crate::time::now();
        let old = crate::time::format(now - chrono::Duration::days(31));
        let e = check_from("backfillFrom", &old, now)
            .unwrap_err()
            .to_string();
        assert!(e.contains("backfillFrom") && e.contains("30 days"), "{e}");
        let future = crate::time::format(now + chrono::Duration::hours(1));
        assert!(check_from("backfillFrom", &future, now).is_err());
        assert!(check_from("backfillFrom", "yesterday", now).is_err());
        let ok = crate::time::format(now - chrono::Duration::days(29));
        assert!(check_from("backfillFrom", &ok, now).is_ok());
    }
}
