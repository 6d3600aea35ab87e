//! Outbox sweeper (EventBridge `rate(5 minutes)`, DESIGN §6): re-sends outbox records older
//! than two minutes that were never handed to SQS, and re-drives GHL sync mappings and
//! webhook deliveries stuck in `pending` whose queue message was lost.
//!
//! Overlapping runs (a slow run still going when the next one starts, or EventBridge's
//! at-least-once invocation) re-send each record once: a run first claims the record with a
//! conditional lease write (`Lease::OutboxResend`), then re-reads it consistently and
//! skips it if another run has meanwhile marked it `enqueuedAt`. Consumers are idempotent
//! anyway (DESIGN §6), so this only keeps duplicates out of the normal path.
//!
//!
//! Stuck webhook deliveries: a `pending` delivery whose next call is more than
//! [`DELIVERY_STUCK_GRACE`] overdue lost its queue message (a retry whose send failed after
//! the attempt was recorded, a message dropped by hand from the DLQ, …); it is queued again,
//! at most once per grace period (claim `Lease::DeliveryRedrive`). A duplicate of a
//! message that was only late is harmless: the consumer claims each call on the call count.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::calendar::{SyncMapping, SyncStatus};
use crate::integrations::IntegrationKind;
use crate::lease::Lease;
use crate::outbox::OutboxRecord;
use crate::queue::QueueMessage;
use crate::{App, AppResult};
use futures::StreamExt;
use serde::Serialize;

/// Records younger than this are still being handed off by the function that wrote them.
pub const OUTBOX_MIN_AGE: Duration = Duration::from_secs(120);
/// Records (and mappings) handled at once.
pub const CONCURRENCY: usize = 8;
/// Workspaces swept at once (each with up to [`CONCURRENCY`] re-drives in flight).
pub const WORKSPACE_CONCURRENCY: usize = 4;
/// Records per listing page.
pub const PAGE_SIZE: u32 = 100;
/// At most this many pages per run (the next run takes the rest).
pub const MAX_PAGES: u32 = 50;
/// A claim outlives the function's timeout (template: 120 s): a run never loses its claim
/// while it still works on the record, and a crashed run's claim frees itself.
pub const CLAIM_TTL: Duration = Duration::from_secs(300);
/// A pending mapping is stuck when nothing happened for its expected retry delay plus this.
pub const MAPPING_STUCK_GRACE: Duration = Duration::from_secs(600);
/// A pending delivery is stuck when its next call is this much overdue.
pub const DELIVERY_STUCK_GRACE: Duration = Duration::from_secs(600);
/// At most this many deliveries re-driven per workspace per run (the next run takes the rest).
pub const MAX_DELIVERY_REDRIVES: usize = 1000;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// Outbox records handed to SQS by this run.
    pub outbox_resent: u64,
    /// Records another run claimed or had already handed off.
    pub outbox_skipped: u64,
    pub outbox_errors: u64,
    /// Stuck `pending` GHL mappings queued for another sync run.
    pub mappings_redriven: u64,
    pub mapping_errors: u64,
    /// Overdue `pending` webhook deliveries queued again.
    pub deliveries_redriven: u64,
    /// Overdue deliveries another run had just re-driven.
    pub deliveries_skipped: u64,
    pub delivery_errors: u64,
    pub duration_ms: u64,
}

pub async fn run(app: &App) -> AppResult<Summary> {
    let started = Instant::now();
    let owner = crate::ids::new_id("sweep");
    let tally = Mutex::new(Summary::default());
    let outbox = sweep_outbox(app, &owner, &tally).await;
    let stuck = redrive_stuck(app, &owner, &tally).await;
    let mut summary = tally.into_inner().unwrap_or_else(|p| p.into_inner());
    summary.duration_ms = started.elapsed().as_millis() as u64;
    tracing::info!(
        outbox_resent = summary.outbox_resent,
        outbox_skipped = summary.outbox_skipped,
        outbox_errors = summary.outbox_errors,
        mappings_redriven = summary.mappings_redriven,
        mapping_errors = summary.mapping_errors,
        deliveries_redriven = summary.deliveries_redriven,
        deliveries_skipped = summary.deliveries_skipped,
        delivery_errors = summary.delivery_errors,
        duration_ms = summary.duration_ms,
        "outbox sweep summary"
    );
    crate::telemetry::emit_metrics(
        "BookingSync",
        &[("Function", "sweeper")],
        &[
            ("OutboxResent", summary.outbox_resent as f64, "Count"),
            ("OutboxSweepErrors", summary.outbox_errors as f64, "Count"),
            (
                "MappingsRedriven",
                summary.mappings_redriven as f64,
                "Count",
            ),
            (
                "DeliveriesRedriven",
                summary.deliveries_redriven as f64,
                "Count",
            ),
            (
                "SweepDurationMs",
                summary.duration_ms as f64,
                "Milliseconds",
            ),
        ],
    );
    outbox?;
    stuck?;
    Ok(summary)
}

fn lock(tally: &Mutex<Summary>) -> std::sync::MutexGuard<'_, Summary> {
    tally.lock().unwrap_or_else(|p| p.into_inner())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resend {
    Sent,
    Skipped,
    Failed,
}

async fn sweep_outbox(app: &App, owner: &str, tally: &Mutex<Summary>) -> AppResult<()> {
    let cutoff = crate::time::format(
        crate::time::now() - chrono::Duration::from_std(OUTBOX_MIN_AGE).unwrap_or_default(),
    );
    for _ in 0..MAX_PAGES {
        // Sent records leave the pending index, so each listing starts with what is left.
        let page = app.outbox.list_unenqueued(&cutoff, PAGE_SIZE).await?;
        let full = page.len() == PAGE_SIZE as usize;
        let results: Vec<Resend> = futures::stream::iter(page)
            .map(|record| resend(app, owner, record))
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        let sent = results.iter().filter(|r| **r == Resend::Sent).count();
        {
            let mut t = lock(tally);
            t.outbox_resent += sent as u64;
            t.outbox_skipped += results.iter().filter(|r| **r == Resend::Skipped).count() as u64;
            t.outbox_errors += results.iter().filter(|r| **r == Resend::Failed).count() as u64;
        }
        // A short page is the end; a full page that moved nothing would only repeat itself.
        if !full || sent == 0 {
            break;
        }
    }
    Ok(())
}

/// Takes the sweeper's claim on one item for `ttl`: `Err(Skipped)` when another run holds it,
/// `Err(Failed)` when it could not be written.
async fn take_claim(app: &App, claim: &Lease, owner: &str, ttl: Duration) -> Result<(), Resend> {
    match app.leases.try_acquire(claim, owner, ttl).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(Resend::Skipped),
        Err(e) => {
            tracing::warn!(claim = %claim, error = %e.log_detail(), "could not take the sweeper's claim");
            Err(Resend::Failed)
        }
    }
}

async fn resend(app: &App, owner: &str, listed: OutboxRecord) -> Resend {
    let claim = Lease::outbox_resend(&listed.id);
    if let Err(skip) = take_claim(app, &claim, owner, CLAIM_TTL).await {
        return skip;
    }
    let outcome = match app.outbox.get_outbox(&listed.id).await {
        // Another run (or the late original hand-off) finished it meanwhile, or it expired.
        Ok(None) => Resend::Skipped,
        Ok(Some(r)) if r.enqueued_at.is_some() => Resend::Skipped,
        Ok(Some(record)) => match crate::outbox::dispatch(app, &record).await {
            Ok(()) => {
                tracing::info!(
                    outbox_id = %record.id,
                    workspace_id = %record.workspace_id,
                    created_at = %record.created_at,
                    "outbox record re-sent by the sweeper"
                );
                Resend::Sent
            }
            Err(e) => {
                tracing::warn!(outbox_id = %record.id, error = %e.log_detail(), "outbox re-send failed; the next sweep retries");
                Resend::Failed
            }
        },
        Err(e) => {
            tracing::warn!(outbox_id = %listed.id, error = %e.log_detail(), "could not read outbox record");
            Resend::Failed
        }
    };
    // Sent records are marked, so releasing is safe; a failed one is free for the next run.
    if let Err(e) = app.leases.release(&claim, owner).await {
        tracing::warn!(outbox_id = %listed.id, error = %e.log_detail(), "could not release outbox claim (it expires)");
    }
    outcome
}

/// Walks every workspace: its stuck `pending` GHL mappings and overdue webhook deliveries.
/// One workspace failing does not stop the others (the first error is returned at the end).
async fn redrive_stuck(app: &App, owner: &str, tally: &Mutex<Summary>) -> AppResult<()> {
    let mut first_error = None;
    let mut ws_cursor: Option<String> = None;
    loop {
        let page = app
            .workspaces
            .list_workspaces(ws_cursor.as_deref(), PAGE_SIZE)
            .await?;
        // A few workspaces at a time: thousands of them still fit in one run.
        let results: Vec<(String, AppResult<()>, AppResult<()>)> =
            futures::stream::iter(page.items)
                .map(|ws| async move {
                    let mappings = redrive_mappings(app, owner, &ws.id, tally).await;
                    let deliveries = redrive_deliveries(app, owner, &ws.id, tally).await;
                    (ws.id, mappings, deliveries)
                })
                .buffer_unordered(WORKSPACE_CONCURRENCY)
                .collect()
                .await;
        for (ws, mappings, deliveries) in results {
            for e in [mappings.err(), deliveries.err()].into_iter().flatten() {
                tracing::warn!(workspace_id = %ws, error = %e.log_detail(), "sweep of workspace failed");
                first_error.get_or_insert(e);
            }
        }
        match page.next_cursor {
            Some(c) => ws_cursor = Some(c),
            None => break,
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// Queues a sync run for each of the workspace's stuck `pending` GHL mappings.
async fn redrive_mappings(
    app: &App,
    owner: &str,
    ws: &str,
    tally: &Mutex<Summary>,
) -> AppResult<()> {
    let now = crate::time::now();
    let mut retry_delay: Option<u32> = None;
    let mut cursor: Option<String> = None;
    loop {
        let mappings = app
            .calendar
            .list_sync_mappings(ws, Some(SyncStatus::Pending), cursor.as_deref(), PAGE_SIZE)
            .await?;
        if !mappings.items.is_empty() && retry_delay.is_none() {
            retry_delay = Some(ghl_retry_delay(app, ws).await?);
        }
        let delay = retry_delay.unwrap_or(0);
        let stuck: Vec<SyncMapping> = mappings
            .items
            .into_iter()
            .filter(|m| is_stuck(m, delay, app.config.retry_delay_scale, now))
            .collect();
        let results: Vec<Resend> = futures::stream::iter(stuck)
            .map(|m| redrive(app, owner, m))
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        {
            let mut t = lock(tally);
            t.mappings_redriven += results.iter().filter(|r| **r == Resend::Sent).count() as u64;
            t.mapping_errors += results.iter().filter(|r| **r == Resend::Failed).count() as u64;
        }
        match mappings.next_cursor {
            Some(c) => cursor = Some(c),
            None => return Ok(()),
        }
    }
}

/// Queues the workspace's webhook deliveries whose next call is overdue by more than
/// [`DELIVERY_STUCK_GRACE`] again.
async fn redrive_deliveries(
    app: &App,
    owner: &str,
    ws: &str,
    tally: &Mutex<Summary>,
) -> AppResult<()> {
    let grace = chrono::Duration::from_std(DELIVERY_STUCK_GRACE).unwrap_or_default();
    let due_before = crate::time::format(crate::time::now() - grace);
    let mut cursor: Option<String> = None;
    let mut seen = 0;
    while seen < MAX_DELIVERY_REDRIVES {
        let page = app
            .deliveries
            .overdue_deliveries(ws, &due_before, cursor.as_deref(), PAGE_SIZE)
            .await?;
        seen += page.items.len();
        let results: Vec<Resend> = futures::stream::iter(page.items)
            .map(|d| redrive_delivery(app, owner, d))
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        {
            let mut t = lock(tally);
            for r in results {
                match r {
                    Resend::Sent => t.deliveries_redriven += 1,
                    Resend::Skipped => t.deliveries_skipped += 1,
                    Resend::Failed => t.delivery_errors += 1,
                }
            }
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    Ok(())
}

async fn redrive_delivery(app: &App, owner: &str, d: crate::subscriptions::Delivery) -> Resend {
    let (ws, id) = (d.workspace_id.as_str(), d.id.as_str());
    // Kept (not released): overlapping sweeps queue one message per delivery per grace period.
    let claim = Lease::delivery_redrive(ws, id);
    if let Err(skip) = take_claim(app, &claim, owner, DELIVERY_STUCK_GRACE).await {
        return skip;
    }
    let message = QueueMessage::Delivery {
        workspace_id: ws.to_owned(),
        delivery_id: id.to_owned(),
    };
    match crate::queue::schedule(app, message, Duration::ZERO).await {
        Ok(()) => {
            tracing::info!(
                workspace_id = ws,
                delivery_id = id,
                webhook_id = %d.subscription_id,
                attempts = d.attempts,
                next_attempt_at = d.next_attempt_at.as_deref().unwrap_or(""),
                "overdue pending webhook delivery re-driven"
            );
            Resend::Sent
        }
        Err(e) => {
            tracing::warn!(workspace_id = ws, delivery_id = id, error = %e.log_detail(), "could not re-drive delivery");
            let _ = app.leases.release(&claim, owner).await;
            Resend::Failed
        }
    }
}

/// The workspace's GHL retry delay (seconds); without an integration the longest wait applies.
async fn ghl_retry_delay(app: &App, ws: &str) -> AppResult<u32> {
    Ok(app
        .integrations
        .get_integration(ws, IntegrationKind::Ghl)
        .await?
        .map(|i| i.retry_delay)
        .unwrap_or(crate::retry::MAX_BACKOFF.as_secs() as u32))
}

/// Pending, and quiet for longer than the retry it may be waiting for (+20 % jitter, capped
/// at 10 h, scaled like the consumer's delays) plus a grace period.
pub fn is_stuck(
    m: &SyncMapping,
    retry_delay_secs: u32,
    scale: f64,
    now: crate::time::Timestamp,
) -> bool {
    if m.sync_status != SyncStatus::Pending {
        return false;
    }
    let last = m.last_sync_attempt.as_deref().unwrap_or(&m.updated_at);
    let last = match (crate::time::parse(last), crate::time::parse(&m.updated_at)) {
        (Some(a), Some(b)) => a.max(b),
        (Some(a), None) | (None, Some(a)) => a,
        (None, None) => return false,
    };
    let waiting = if m.attempts == 0 {
        0.0
    } else {
        let exp = 2f64.powi(m.attempts.saturating_sub(1).min(30) as i32);
        (f64::from(retry_delay_secs) * exp * 1.2).min(crate::retry::MAX_BACKOFF.as_secs_f64())
            * scale.max(0.0)
    };
    let quiet_for = Duration::from_secs_f64(waiting) + MAPPING_STUCK_GRACE;
    let quiet_for = chrono::Duration::from_std(quiet_for).unwrap_or(chrono::Duration::MAX);
    now - last > quiet_for
}

async fn redrive(app: &App, owner: &str, m: SyncMapping) -> Resend {
    let ws = m.workspace_id.as_str();
    let id = m.sentra_event_id.as_str();
    // Overlapping sweeps queue one run per mapping per grace period.
    let claim = Lease::sync_mapping_redrive(ws, id);
    if let Err(skip) = take_claim(app, &claim, owner, MAPPING_STUCK_GRACE).await {
        return skip;
    }
    match crate::calendar::sync::schedule(app, ws, id, m.attempts, Duration::ZERO).await {
        Ok(()) => {
            tracing::info!(
                workspace_id = ws,
                event_id = id,
                attempts = m.attempts,
                last_sync_attempt = m.last_sync_attempt.as_deref().unwrap_or(""),
                "stuck pending GHL mapping re-driven"
            );
            Resend::Sent
        }
        Err(e) => {
            tracing::warn!(workspace_id = ws, event_id = id, error = %e.log_detail(), "could not re-drive sync mapping");
            // Free it for the next sweep.
            let _ = app.leases.release(&claim, owner).await;
            Resend::Failed
        }
    }
}
