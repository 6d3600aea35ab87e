//! The calendar's use cases: create, change and delete an event (committed first, then one
//! inline GHL attempt within `GHL_INLINE_BUDGET_MS` with a retry already queued), and the
//! manual retries of the mappings dashboard (seed 002's "Retry failed syncs").

use std::time::Duration;

use serde_json::{Map, Value};

use super::sync::RunOutcome;
use super::{status_after_change, CalendarEvent, SyncMapping, SyncStatus};
use crate::app::App;
use crate::error::{AppError, AppResult};
use crate::ids::CalendarEventId;
use crate::integrations::{Integration, IntegrationKind};

/// Failed mappings one `retry-failed` call re-queues (the answer says when more are left).
pub const MAX_BULK_RETRY: usize = 500;

// --- sync after a change -------------------------------------------------------------------

async fn enabled_ghl(app: &App, ws: &str) -> AppResult<Option<Integration>> {
    Ok(app
        .integrations
        .get_integration(ws, IntegrationKind::Ghl)
        .await?
        .filter(|i| i.enabled))
}

/// After a committed change: queue the first retry (so a crash mid-call loses nothing), then
/// one inline attempt within the budget. Never fails the request; answers the mapping as it
/// stands afterwards.
async fn sync_inline(
    app: &App,
    ws: &str,
    id: &str,
    integration: &Integration,
) -> Option<SyncMapping> {
    let first_retry =
        crate::retry::backoff(integration.retry_delay, 1, app.config.retry_delay_scale);
    let queued = match super::sync::schedule(app, ws, id, 1, first_retry).await {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(event_id = id, error = %e.log_detail(), "could not queue the GHL retry");
            false
        }
    };
    let budget = app.config.ghl_inline_budget;
    let follow_up = match super::sync::run(app, ws, id, budget, budget).await {
        // The create (or another change) is in flight: this change waits for its mapping.
        Ok(RunOutcome::Busy) => Some((0, app.config.lease_busy_retry_delay)),
        Ok(RunOutcome::Retry(delay)) if !queued => Some((1, delay)),
        Ok(_) => None,
        Err(e) => {
            tracing::warn!(event_id = id, error = %e.log_detail(), "inline GHL sync failed");
            (!queued).then_some((1, first_retry))
        }
    };
    if let Some((attempt, delay)) = follow_up {
        if let Err(e) = super::sync::schedule(app, ws, id, attempt, delay).await {
            tracing::warn!(event_id = id, error = %e.log_detail(), "could not queue the GHL retry");
        }
    }
    match app.calendar.get_sync_mapping(ws, id).await {
        Ok(m) => m,
        Err(e) => {
            tracing::warn!(event_id = id, error = %e.log_detail(), "could not re-read the mapping");
            None
        }
    }
}

// --- events ----------------------------------------------------------------------------------

/// Creates an event and its mapping in one transaction, then syncs it when GHL is involved.
pub async fn create(
    app: &App,
    ws: &str,
    body: &Map<String, Value>,
) -> AppResult<(CalendarEvent, SyncMapping)> {
    let event = super::input::new_event(ws, body)?;
    let integration = enabled_ghl(app, ws).await?;
    let status = status_after_change(integration.is_some(), None, &event, None);
    let mapping = SyncMapping::new(&event, status, &event.created_at);
    crate::retry::on_conflict(&app.config, || {
        app.calendar.create_calendar_event(&event, &mapping)
    })
    .await?;
    let mapping = match (&integration, status) {
        (Some(i), SyncStatus::Pending) => {
            sync_inline(app, ws, &event.id, i).await.unwrap_or(mapping)
        }
        _ => mapping,
    };
    Ok((event, mapping))
}

/// A live event and its mapping.
pub async fn get(
    app: &App,
    ws: &str,
    id: &CalendarEventId,
) -> AppResult<(CalendarEvent, SyncMapping)> {
    let event = app
        .calendar
        .get_calendar_event(ws, id)
        .await?
        .filter(|e| !e.is_deleted())
        .ok_or(AppError::NotFound("calendar event"))?;
    let mapping = app
        .calendar
        .get_sync_mapping(ws, id)
        .await?
        .ok_or(AppError::NotFound("calendar event"))?;
    Ok((event, mapping))
}

/// A PATCH or DELETE: read, change, commit conditionally on the revision read (re-read on a
/// concurrent change), then sync.
async fn change(
    app: &App,
    ws: &str,
    id: &CalendarEventId,
    change: &(dyn Fn(&mut CalendarEvent, &str) -> AppResult<()> + Sync),
) -> AppResult<(CalendarEvent, SyncMapping)> {
    let integration = enabled_ghl(app, ws).await?;
    let (event, mapping) = crate::retry::on_conflict(&app.config, || async {
        let current = app
            .calendar
            .get_calendar_event(ws, id)
            .await?
            .filter(|e| !e.is_deleted())
            .ok_or(AppError::NotFound("calendar event"))?;
        let before = app.calendar.get_sync_mapping(ws, id).await?;
        let now = crate::time::now_string();
        let mut next = current.clone();
        change(&mut next, &now)?;
        next.revision = current.revision + 1;
        next.updated_at = now.clone();
        let status = status_after_change(
            integration.is_some(),
            Some(&current),
            &next,
            before.as_ref(),
        );
        let mapping = app
            .calendar
            .update_calendar_event(&next, status, &now)
            .await?;
        Ok((next, mapping))
    })
    .await?;
    let mapping = match (&integration, mapping.sync_status) {
        (Some(i), SyncStatus::Pending) => sync_inline(app, ws, id, i).await.unwrap_or(mapping),
        _ => mapping,
    };
    Ok((event, mapping))
}

/// Applies the fields of a PATCH body.
pub async fn patch(
    app: &App,
    ws: &str,
    id: &CalendarEventId,
    body: &Map<String, Value>,
) -> AppResult<(CalendarEvent, SyncMapping)> {
    change(app, ws, id, &|event, _now| {
        super::input::apply(event, body, false)
    })
    .await
}

/// Marks the event deleted (a tombstone the sync turns into a GHL delete).
pub async fn delete(
    app: &App,
    ws: &str,
    id: &CalendarEventId,
) -> AppResult<(CalendarEvent, SyncMapping)> {
    change(app, ws, id, &|event, now| {
        event.deleted_at = Some(now.to_owned());
        Ok(())
    })
    .await
}

// --- manual retries (the dashboard of seed 002) -------------------------------------------

/// Re-queues one mapping that is `pending` or `failed` (fresh attempts, immediate run).
async fn requeue(
    app: &App,
    ws: &str,
    id: &str,
    from: &[SyncStatus],
) -> AppResult<Option<SyncMapping>> {
    let now = crate::time::now_string();
    let Some(mapping) = app.calendar.requeue_sync(ws, id, from, &now).await? else {
        return Ok(None);
    };
    super::sync::schedule(app, ws, id, 0, Duration::ZERO).await?;
    Ok(Some(mapping))
}

/// Re-queues up to `MAX_BULK_RETRY` failed mappings; `true` when more are left.
pub async fn retry_failed(app: &App, ws: &str) -> AppResult<(Vec<SyncMapping>, bool)> {
    let mut retried = Vec::new();
    let mut cursor: Option<String> = None;
    let mut has_more = false;
    loop {
        let page = app
            .calendar
            .list_sync_mappings(ws, Some(SyncStatus::Failed), cursor.as_deref(), 100)
            .await?;
        for m in &page.items {
            if retried.len() == MAX_BULK_RETRY {
                has_more = true;
                break;
            }
            // Only what is still failed: a mapping synced meanwhile is left alone.
            if let Some(m) = requeue(app, ws, &m.sentra_event_id, &[SyncStatus::Failed]).await? {
                retried.push(m);
            }
        }
        match page.next_cursor {
            Some(c) if !has_more => cursor = Some(c),
            _ => break,
        }
    }
    Ok((retried, has_more))
}

/// Re-queues one `failed` or `pending` mapping; a synced one is answered as it is, with
/// `false`.
pub async fn retry_one(
    app: &App,
    ws: &str,
    id: &CalendarEventId,
) -> AppResult<(SyncMapping, bool)> {
    let requeued = match requeue(app, ws, id, &[SyncStatus::Failed, SyncStatus::Pending]).await {
        Err(AppError::NotFound(_)) => return Err(AppError::NotFound("sync mapping")),
        other => other?,
    };
    match requeued {
        Some(m) => Ok((m, true)),
        // Synced or not applicable: nothing to retry.
        None => Ok((
            app.calendar
                .get_sync_mapping(ws, id)
                .await?
                .ok_or(AppError::NotFound("sync mapping"))?,
            false,
        )),
    }
}
