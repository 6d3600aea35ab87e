//! The sync-job use cases behind the Bearer API: create, patch, delete and regenerate the
//! secret of a job (by id: they reload it when a concurrent change wins); load a job, then its
//! events, records, executions, stats or a test event (malformed ids are 404 like unknown
//! ones). Routers shape HTTP around these (and check that the path's workspace is the
//! caller's); nothing here knows about requests or status codes.

use super::domain::{
    event_id_at, EventCounts, EventStatus, Execution, InboundEvent, Record, SigningSecret, Source,
    SyncJob,
};
use super::input::{new_job, patched, CreateBody, PatchBody, TestBody};
use super::receive::{send_test_event, Received};
use crate::ids::{InboundEventId, SyncJobId};
use crate::paging::Page;
use crate::signing::WebhookSecret;
use crate::{App, AppError, AppResult};

/// Events shown by the stats.
const RECENT_EVENTS: u32 = 10;

// --- loading -----------------------------------------------------------------------------------

/// A job of `ws`; malformed ids are 404 like unknown ones.
pub async fn load_job(app: &App, ws: &str, job_id: &str) -> AppResult<SyncJob> {
    SyncJobId::parse(job_id)?;
    app.sync_jobs
        .get_sync_job(ws, job_id)
        .await?
        .ok_or(AppError::NotFound("sync job"))
}

/// An event of a loaded job by its `iev_` id, with its raw body.
pub async fn load_event(app: &App, job: &SyncJob, event_id: &str) -> AppResult<InboundEvent> {
    InboundEventId::parse(event_id)?;
    app.inbound_events
        .find_event(
            &job.workspace_id,
            &job.id,
            event_id,
            crate::time::now().timestamp(),
        )
        .await?
        .ok_or(AppError::NotFound("event"))
}

/// A record of a loaded job; object types and ids that could never be stored are 404.
pub async fn load_record(
    app: &App,
    job: &SyncJob,
    object_type: &str,
    object_id: &str,
) -> AppResult<Record> {
    let valid_type = !object_type.is_empty()
        && object_type.len() <= 64
        && object_type
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !valid_type || object_id.is_empty() || object_id.len() > 255 {
        return Err(AppError::NotFound("record"));
    }
    app.records
        .get_record(&job.workspace_id, &job.id, object_type, object_id)
        .await?
        .ok_or(AppError::NotFound("record"))
}

// --- jobs --------------------------------------------------------------------------------------

/// Stores a new job; a generated secret (generic jobs) is returned beside it, to be shown once.
pub async fn create_job(
    app: &App,
    ws: &str,
    body: CreateBody,
) -> AppResult<(SyncJob, Option<WebhookSecret>)> {
    let (job, generated, _) = create_job_with_destination(app, ws, body).await?;
    Ok((job, generated))
}

/// [`create_job`] that also returns a webhook destination's generated secret (shown once).
pub async fn create_job_with_destination(
    app: &App,
    ws: &str,
    mut body: CreateBody,
) -> AppResult<(SyncJob, Option<WebhookSecret>, Option<WebhookSecret>)> {
    let destination = body.destination.take();
    let now = crate::time::now();
    let backfill = body.backfill.clone();
    let (mut job, generated) = new_job(ws, body, &crate::time::format(now))?;
    let mut destination_secret = None;
    if let Some(input) = destination.filter(|v| !v.is_null()) {
        let (d, secret) = super::destination::parse(app, &input, None)?;
        job.destination = d;
        destination_secret = secret;
    }
    // The backfill plan first: a plan whose job was never stored is dropped by the scheduler,
    // while a job stored without its plan would silently never run.
    let plan = super::backfill::plan_for_new_job(&job, &backfill, now)?;
    if let Some(plan) = &plan {
        app.backfills.put_backfill(plan).await?;
    }
    app.sync_jobs.create_sync_job(&job).await?;
    tracing::info!(job_id = %job.id, source = job.source.as_str(), destination = job.destination.kind(), "sync job created");
    Ok((job, generated, destination_secret))
}

/// Applies a PATCH: read-modify-write conditional on the version; a concurrent change is
/// retried.
pub async fn patch_job(app: &App, ws: &str, job_id: &str, body: &PatchBody) -> AppResult<SyncJob> {
    Ok(patch_job_with_destination(app, ws, job_id, body).await?.0)
}

/// [`patch_job`] that also returns the generated secret of a destination that became a
/// webhook with this PATCH (shown once, in its answer).
pub async fn patch_job_with_destination(
    app: &App,
    ws: &str,
    job_id: &str,
    body: &PatchBody,
) -> AppResult<(SyncJob, Option<WebhookSecret>)> {
    let now = crate::time::now_string();
    let job = crate::retry::on_conflict(&app.config, || async {
        let job = load_job(app, ws, job_id).await?;
        super::backfill::check_patch(&job, &body.backfill)?;
        let current = job.destination.clone();
        let mut job = patched(job, body, &now)?;
        let mut secret = None;
        if let Some(input) = body.destination.as_ref().filter(|v| !v.is_null()) {
            let (d, s) = super::destination::parse(app, input, Some(&current))?;
            job.destination = d;
            secret = s;
        }
        app.sync_jobs.update_sync_job(&job).await?;
        Ok((job, secret))
    })
    .await?;
    super::backfill::apply_patch(app, &job.0, &body.backfill).await?;
    Ok(job)
}

/// Deletes the job and returns what it was; its records, events and executions are purged in
/// the background (requested before the delete: a purge that finds the job alive does nothing).
pub async fn delete_job(app: &App, ws: &str, job_id: &str) -> AppResult<SyncJob> {
    load_job(app, ws, job_id).await?;
    super::purge::request(app, ws, job_id).await?;
    let job = app
        .sync_jobs
        .delete_sync_job(ws, job_id)
        .await?
        .ok_or(AppError::NotFound("sync job"))?;
    app.backfills.delete_backfill(ws, job_id).await?;
    tracing::info!(job_id = %job.id, "sync job deleted");
    Ok(job)
}

/// A new Standard Webhooks secret for a generic job (stripe and close jobs verify with the
/// provider's own secret, set by PATCH).
pub async fn regenerate_secret(
    app: &App,
    ws: &str,
    job_id: &str,
) -> AppResult<(SyncJob, WebhookSecret)> {
    let secret = WebhookSecret::generate();
    let job = crate::retry::on_conflict(&app.config, || async {
        let mut job = load_job(app, ws, job_id).await?;
        if job.source != Source::Generic {
            return Err(AppError::validation(format!(
                "a {} job verifies with the provider's own secret: PATCH webhookConfig.signingSecret instead",
                job.source.as_str()
            )));
        }
        let now = crate::time::now();
        job.rotate_secret(SigningSecret::new(secret.expose()), now);
        job.version += 1;
        job.updated_at = crate::time::format(now);
        app.sync_jobs.update_sync_job(&job).await?;
        Ok(job)
    })
    .await?;
    tracing::info!(job_id = %job.id, "sync job secret regenerated");
    Ok((job, secret))
}

// --- monitoring --------------------------------------------------------------------------------

/// A loaded job's unexpired events, newest first, optionally of one status (no raw bodies).
pub async fn list_events(
    app: &App,
    job: &SyncJob,
    status: Option<EventStatus>,
    cursor: Option<&str>,
    limit: u32,
) -> AppResult<Page<InboundEvent>> {
    let now = crate::time::now().timestamp();
    app.inbound_events
        .list_events(&job.workspace_id, &job.id, status, cursor, limit, now)
        .await
}

/// A loaded job's unexpired executions, newest first.
pub async fn list_executions(
    app: &App,
    job: &SyncJob,
    cursor: Option<&str>,
    limit: u32,
) -> AppResult<Page<Execution>> {
    let now = crate::time::now().timestamp();
    app.sync_executions
        .list_executions(&job.workspace_id, &job.id, cursor, limit, now)
        .await
}

/// What `…/webhook/stats` shows: counts per status (and of today, UTC), the newest events.
#[derive(Debug, Clone, PartialEq)]
pub struct Stats {
    pub counts: EventCounts,
    pub recent: Vec<InboundEvent>,
}

pub async fn stats(app: &App, job: &SyncJob) -> AppResult<Stats> {
    let ws = job.workspace_id.as_str();
    let now = crate::time::now();
    let midnight = now
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .map(|d| d.and_utc())
        .unwrap_or(now);
    let counts = app
        .inbound_events
        .count_events(ws, &job.id, &event_id_at(midnight, false), now.timestamp())
        .await?;
    let recent = app
        .inbound_events
        .list_events(ws, &job.id, None, None, RECENT_EVENTS, now.timestamp())
        .await?;
    Ok(Stats {
        counts,
        recent: recent.items,
    })
}

/// A synthetic event signed with the job's secret, through the real receiver pipeline.
pub async fn send_test(app: &App, job: &SyncJob, body: TestBody) -> AppResult<Received> {
    let event_type = body.event_type()?;
    send_test_event(app, job, event_type.as_deref()).await
}
