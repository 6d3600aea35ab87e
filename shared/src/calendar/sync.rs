//! One sync run for a calendar event: take the mapping's send lease, then call GHL step by
//! step ([`super::plan`]) until it holds the event's current revision, a call fails, or the
//! time budget is spent. The API runs it inline (short budget) right after the local commit;
//! the delivery-queue consumer runs it for retries.

use std::time::{Duration, Instant};

use super::{ghl, plan, CalendarEvent, GhlState, StatusUpdate, SyncMapping, SyncStatus, SyncStep};
use crate::app::App;
use crate::error::{AppError, AppResult};
use crate::integrations::{Integration, IntegrationKind};
use crate::outbound::Attempt;
use crate::queue::QueueMessage;

/// Steps per lease hold (create + update + a re-plan after a concurrent change).
const MAX_ROUNDS: u32 = 4;
/// Below this, no call is started: what is left goes to the queue.
const MIN_CALL_BUDGET: Duration = Duration::from_millis(200);
/// The lease outlives the run's budget by this much (a lost holder frees it after that).
const LEASE_MARGIN: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, PartialEq)]
pub enum RunOutcome {
    /// GHL holds the current state, or the event does not concern GHL (any more).
    Done,
    /// Another run holds the lease: try again shortly.
    Busy,
    /// Still `pending`: the next try is due after this delay.
    Retry(Duration),
    /// The last allowed call failed (`failed`), or the mapping was already failed.
    Failed,
    /// No such event or mapping.
    Gone,
}

/// Runs the sync of `event_id` within `budget` (each call at most `call_timeout`).
pub async fn run(
    app: &App,
    ws: &str,
    event_id: &str,
    call_timeout: Duration,
    budget: Duration,
) -> AppResult<RunOutcome> {
    let deadline = Instant::now() + budget;
    let owner = crate::ids::new_id("lease");
    match app
        .calendar
        .claim_sync(ws, event_id, &owner, budget + LEASE_MARGIN)
        .await
    {
        Ok(Some(_)) => {}
        Ok(None) => return Ok(RunOutcome::Busy),
        Err(AppError::NotFound(_)) => return Ok(RunOutcome::Gone),
        Err(e) => return Err(e),
    }
    let result = run_holding_lease(app, ws, event_id, &owner, call_timeout, deadline).await;
    if let Err(e) = app.calendar.release_sync(ws, event_id, &owner).await {
        // The lease expires on its own.
        tracing::warn!(error = %e.log_detail(), "could not release the calendar sync lease");
    }
    result
}

async fn run_holding_lease(
    app: &App,
    ws: &str,
    id: &str,
    owner: &str,
    call_timeout: Duration,
    deadline: Instant,
) -> AppResult<RunOutcome> {
    let integration = app
        .integrations
        .get_integration(ws, IntegrationKind::Ghl)
        .await?
        .filter(|i| i.enabled);
    for _ in 0..MAX_ROUNDS {
        let Some(mapping) = app.calendar.get_sync_mapping(ws, id).await? else {
            return Ok(RunOutcome::Gone);
        };
        let Some(event) = app.calendar.get_calendar_event(ws, id).await? else {
            return Ok(RunOutcome::Gone);
        };
        if event.revision != mapping.version {
            // A change committed between the two reads: read again.
            continue;
        }
        let Some(integration) = &integration else {
            let done = finish(app, ws, id, owner, &mapping, SyncStatus::NotApplicable).await?;
            if done {
                return Ok(RunOutcome::Done);
            }
            continue;
        };
        if mapping.sync_status == SyncStatus::Failed {
            // Failed mappings wait for a new local change or a manual retry.
            return Ok(RunOutcome::Failed);
        }
        let step = plan(&event, &mapping);
        if step == SyncStep::Done {
            let status = super::done_status(&event, &mapping);
            if finish(app, ws, id, owner, &mapping, status).await? {
                return Ok(RunOutcome::Done);
            }
            continue;
        }
        if let Some(wait) = mapping.throttled_for(crate::time::now()) {
            // GHL asked for a pause (Retry-After): this run makes no call before it ends.
            return Ok(RunOutcome::Retry(wait));
        }
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining < MIN_CALL_BUDGET {
            return Ok(RunOutcome::Retry(Duration::ZERO));
        }
        let attempt = send(
            app,
            ws,
            integration,
            step,
            &event,
            &mapping,
            call_timeout.min(remaining),
        )
        .await;
        let now = crate::time::now_string();
        match ghl::read_reply(step, &attempt) {
            Ok(appointment_id) => {
                let state = GhlState {
                    ghl_appointment_id: match step {
                        SyncStep::Create => appointment_id,
                        _ => mapping.ghl_appointment_id.clone(),
                    },
                    ghl_deleted: step == SyncStep::Delete,
                    synced_version: event.revision,
                    last_sync_attempt: now,
                };
                record_attempt(app, ws, None).await;
                if !app.calendar.record_ghl_state(ws, id, owner, &state).await? {
                    tracing::warn!(event_id = id, "calendar sync lease lost mid-run");
                    return Ok(RunOutcome::Busy);
                }
            }
            Err(reason) => {
                record_attempt(app, ws, Some(&reason)).await;
                let failure = FailedCall {
                    step,
                    reason,
                    retry_after: attempt.retry_after(),
                };
                return failed_call(app, ws, id, owner, integration, &mapping, failure, now).await;
            }
        }
    }
    // The event kept changing: continue in a fresh run rather than hold the lease longer.
    Ok(RunOutcome::Retry(Duration::ZERO))
}

/// The final status write of a run; false when a change landed since `mapping` was read.
async fn finish(
    app: &App,
    ws: &str,
    id: &str,
    owner: &str,
    mapping: &SyncMapping,
    status: SyncStatus,
) -> AppResult<bool> {
    if mapping.sync_status == status && mapping.sync_error.is_none() {
        return Ok(true);
    }
    app.calendar
        .set_sync_status(
            ws,
            id,
            owner,
            mapping.version,
            &StatusUpdate {
                status,
                attempts: None,
                sync_error: None,
                last_sync_attempt: None,
                now: crate::time::now_string(),
                retry_at: None,
            },
        )
        .await
}

/// A GHL call that did not succeed.
struct FailedCall {
    step: SyncStep,
    reason: String,
    /// A 429/503 asked for this pause.
    retry_after: Option<Duration>,
}

#[allow(clippy::too_many_arguments)]
async fn failed_call(
    app: &App,
    ws: &str,
    id: &str,
    owner: &str,
    integration: &Integration,
    mapping: &SyncMapping,
    failure: FailedCall,
    now: String,
) -> AppResult<RunOutcome> {
    let FailedCall {
        step,
        reason,
        retry_after,
    } = failure;
    let attempts = mapping.attempts + 1;
    let exhausted = attempts > integration.retry_attempts;
    let status = if exhausted {
        SyncStatus::Failed
    } else {
        SyncStatus::Pending
    };
    tracing::info!(
        event_id = id,
        action = step.action(),
        attempts,
        status = status.as_str(),
        error = %reason,
        "GHL sync call failed"
    );
    let alert = exhausted.then(|| crate::alerts::Alert::ghl_sync_failed(id, &reason));
    let delay = crate::outbound::retry_after::next_delay_for(
        crate::retry::backoff(
            integration.retry_delay,
            attempts,
            app.config.retry_delay_scale,
        ),
        retry_after,
    );
    let retry_at = (retry_after.is_some() && !exhausted).then(|| {
        crate::time::format(
            crate::time::now() + chrono::Duration::from_std(delay).unwrap_or_default(),
        )
    });
    let written = app
        .calendar
        .set_sync_status(
            ws,
            id,
            owner,
            mapping.version,
            &StatusUpdate {
                status,
                attempts: Some(attempts),
                sync_error: Some(reason),
                last_sync_attempt: Some(now.clone()),
                now,
                retry_at,
            },
        )
        .await?;
    let first_retry =
        || crate::retry::backoff(integration.retry_delay, 1, app.config.retry_delay_scale);
    if !written {
        // A local change reset the mapping meanwhile; it has its own attempt and retry.
        return Ok(RunOutcome::Retry(first_retry()));
    }
    if exhausted {
        tracing::error!(
            event_id = id,
            calls = attempts,
            "GHL sync failed on its last attempt"
        );
        if let Some(alert) = alert {
            crate::alerts::raise::raise(app, ws, alert).await;
        }
        return Ok(RunOutcome::Failed);
    }
    Ok(RunOutcome::Retry(delay))
}

/// One signed POST of the step's payload (DESIGN §5 headers with the integration's secret).
async fn send(
    app: &App,
    ws: &str,
    integration: &Integration,
    step: SyncStep,
    event: &CalendarEvent,
    mapping: &SyncMapping,
    timeout: Duration,
) -> Attempt {
    let body = ghl::payload(step, event, mapping).to_string().into_bytes();
    let now = crate::time::now();
    let mut headers = crate::signing::outbound_headers(
        &integration.secret,
        integration.previous_secret_at(now),
        &ghl::delivery_id(event, step),
        ghl::event_type(step),
        now.timestamp(),
        &body,
    );
    headers.push(("content-type".to_owned(), "application/json".to_owned()));
    let attempt = app
        .http
        .post(&integration.webhook_url, &headers, body, timeout)
        .await;
    tracing::info!(
        workspace_id = ws,
        event_id = %event.id,
        action = step.action(),
        status_code = attempt.status_code,
        duration_ms = attempt.duration_ms,
        "GHL sync call"
    );
    attempt
}

/// Counts the call in the GHL integration's 24 h statistics (`GET /api/integrations`).
async fn record_attempt(app: &App, ws: &str, error: Option<&str>) {
    if let Err(e) = app
        .integrations
        .record_attempt(ws, IntegrationKind::Ghl, &crate::time::now_string(), error)
        .await
    {
        tracing::warn!(error = %e.log_detail(), "could not record the GHL attempt");
    }
    crate::telemetry::emit_metrics(
        "BookingSync",
        &[("Integration", "ghl")],
        &[
            (
                "WebhookSuccess",
                if error.is_none() { 1.0 } else { 0.0 },
                "Count",
            ),
            ("WebhookAttempts", 1.0, "Count"),
        ],
    );
}

/// Queues a sync run of `event_id` after `delay` on the delivery queue. SQS delays stop at
/// 900 s: longer waits carry `notBefore` and are chained by the consumer.
pub async fn schedule(
    app: &App,
    ws: &str,
    event_id: &str,
    attempt: u32,
    delay: Duration,
) -> AppResult<()> {
    let message = QueueMessage::CalendarSync {
        workspace_id: ws.to_owned(),
        event_id: event_id.to_owned(),
        attempt,
    };
    crate::queue::schedule(app, message, delay).await
}
