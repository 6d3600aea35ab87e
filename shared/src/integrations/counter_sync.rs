//! HubSpot counter sync (DESIGN §1.1): HubSpot always ends on the current number.
//!
//! - At most one sync per exam is in flight: a lease item taken with a conditional write. A
//!   message that finds it taken is retried shortly, not dropped.
//! - The count and version are read at send time; after a 2xx `lastSyncedVersion` records what
//!   HubSpot has, and the exam is re-read: if the version moved, the new count is sent too.
//! - A failed call is retried through SQS with backoff (at most 1 + retryAttempts calls, the
//!   same `webhook-id` on every attempt). After the last one, reconcile re-syncs hourly. A
//!   429/503 with `Retry-After` waits at least that long (capped at 1 h).

use crate::integrations::IntegrationKind;

use crate::bookings::MockExam;
use crate::lease::Lease;
use crate::outbound::Attempt;
use crate::outbound::AttemptOutcome;
use crate::queue::QueueMessage;
use crate::{ids, App, AppError, AppResult};

/// Sends in one lease hold before handing over to a fresh message (bounded work per record).
const MAX_ROUNDS: u32 = 5;

pub async fn run(
    app: &App,
    ws: &str,
    exam_id: &str,
    failed_calls: u32,
    delivery_id: Option<String>,
) -> AppResult<()> {
    let Some(integration) = app
        .integrations
        .get_integration(ws, IntegrationKind::Hubspot)
        .await?
    else {
        tracing::info!(
            mock_exam_id = exam_id,
            "no hubspot integration: nothing to sync"
        );
        return Ok(());
    };
    if !integration.enabled {
        tracing::info!(
            mock_exam_id = exam_id,
            "hubspot integration disabled: sync skipped"
        );
        return Ok(());
    }
    let lease = Lease::counter_sync(ws, exam_id);
    let owner = ids::new_id("lease");
    if !app
        .leases
        .try_acquire(&lease, &owner, app.config.sync_lease)
        .await?
    {
        tracing::info!(
            mock_exam_id = exam_id,
            "counter sync in flight elsewhere: retrying shortly"
        );
        return crate::queue::schedule(
            app,
            QueueMessage::CounterSync {
                workspace_id: ws.to_owned(),
                mock_exam_id: exam_id.to_owned(),
                attempt: failed_calls,
                delivery_id,
            },
            app.config.lease_busy_retry_delay,
        )
        .await;
    }
    let result =
        sync_holding_lease(app, ws, exam_id, &integration, failed_calls, delivery_id).await;
    if let Err(e) = app.leases.release(&lease, &owner).await {
        // The lease expires on its own; the next sync waits at most `sync_lease`.
        tracing::warn!(error = %e.log_detail(), "could not release counter-sync lease");
    }
    result
}

async fn sync_holding_lease(
    app: &App,
    ws: &str,
    exam_id: &str,
    integration: &crate::integrations::Integration,
    failed_calls: u32,
    delivery_id: Option<String>,
) -> AppResult<()> {
    let delivery_id = delivery_id.unwrap_or_else(|| ids::new_id(ids::DELIVERY));
    for _ in 0..MAX_ROUNDS {
        let Some(exam) = app.bookings.get_exam(ws, exam_id).await? else {
            tracing::warn!(
                mock_exam_id = exam_id,
                "exam no longer exists: sync dropped"
            );
            return Ok(());
        };
        if exam.last_synced_version >= exam.version {
            return Ok(());
        }
        let attempt = crate::integrations::hubspot::send_count(
            app,
            ws,
            integration,
            &exam,
            &delivery_id,
            app.config.hubspot_timeout,
        )
        .await;
        if attempt.outcome == AttemptOutcome::Success {
            app.bookings.mark_synced(ws, exam_id, exam.version).await?;
            continue;
        }
        let failed = failed_calls + 1;
        if failed > integration.retry_attempts {
            tracing::error!(
                mock_exam_id = exam_id,
                calls = failed,
                "hubspot counter sync failed on its last attempt; reconcile will re-sync"
            );
            let error = super::hubspot::failure_message(&attempt).unwrap_or_default();
            let alert = crate::alerts::Alert::hubspot_sync_failing(exam_id, failed, &error);
            crate::alerts::raise::raise(app, ws, alert).await;
            return Ok(());
        }
        let delay = crate::outbound::retry_after::next_delay(
            crate::retry::backoff(
                integration.retry_delay,
                failed,
                app.config.retry_delay_scale,
            ),
            &attempt,
        );
        return crate::queue::schedule(
            app,
            QueueMessage::CounterSync {
                workspace_id: ws.to_owned(),
                mock_exam_id: exam_id.to_owned(),
                attempt: failed,
                delivery_id: Some(delivery_id),
            },
            delay,
        )
        .await;
    }
    // The count kept moving: continue in a fresh message rather than hold the lease longer.
    crate::queue::schedule(
        app,
        QueueMessage::CounterSync {
            workspace_id: ws.to_owned(),
            mock_exam_id: exam_id.to_owned(),
            attempt: 0,
            delivery_id: None,
        },
        std::time::Duration::ZERO,
    )
    .await
}

// --- on request ----------------------------------------------------------------------------

/// Seed 000's test script as a use case: sends the exam's current count to HubSpot now (not
/// through the queue) and records `lastSyncedVersion` when HubSpot took it. Returns the
/// attempt and the exam as read.
pub async fn send_current_count(
    app: &App,
    ws: &str,
    mock_exam_id: &str,
) -> AppResult<(Attempt, MockExam)> {
    ids::validate_external_id("mockExamId", mock_exam_id)?;
    let integration = app
        .integrations
        .get_integration(ws, IntegrationKind::Hubspot)
        .await?
        .ok_or(AppError::NotFound("hubspot integration"))?;
    let exam = app
        .bookings
        .get_exam(ws, mock_exam_id)
        .await?
        .ok_or(AppError::NotFound("mock exam"))?;
    let attempt = super::hubspot::send_count(
        app,
        ws,
        &integration,
        &exam,
        &ids::new_id(ids::DELIVERY),
        app.config.hubspot_timeout,
    )
    .await;
    if attempt.outcome == AttemptOutcome::Success {
        app.bookings.mark_synced(ws, &exam.id, exam.version).await?;
    }
    Ok((attempt, exam))
}
