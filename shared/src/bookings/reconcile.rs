//! Hourly reconcile (EventBridge `rate(1 hour)`, DESIGN §6 "Schedules"): for every workspace
//! and mock exam, count the exam's active bookings with a consistent Query on the base table,
//! fix a drifted counter only if its `version` is unchanged since it was read, and queue a
//! HubSpot counter sync for every corrected exam and every exam HubSpot is behind on
//! (`lastSyncedVersion < version`).
//!
//! Why the conditional fix is safe against concurrent bookings: every booking/cancel writes
//! its active marker and bumps the counter's `version` in ONE transaction. The counter (with
//! its version `v`) is read BEFORE the markers are counted; if the version is still `v` when
//! the fix is written, no marker changed between the counter read and the fix, so the count
//! is the true number at version `v`. Otherwise the fix is refused and the exam is left to
//! the next run (the change that moved the version queued its own sync). The listing comes
//! from GSI1 and may be a little stale: a stale version only makes the fix refuse.
//!
//! "Missing counter" drift, decided here: the exam item exists but `totalBookings` is missing
//! or not a number. It is listed (never an error, see `BookingStore::list_exam_counters`),
//! repaired to the counted value and synced. An exam item whose `version` is missing or
//! garbled cannot be fixed conditionally: it is logged as an error, counted in `errors`, and
//! left alone (a `PUT /api/mock-exams/{id}` restores the version). Active markers whose exam
//! item was deleted are not reachable from the exam index (exams are never deleted by the API;
//! finding them would need a full table Scan) and are out of scope.
//!
//! Scale: exams are walked page by page (100 per Query page) by one task while up to
//! [`CONCURRENCY`] exams are counted and fixed at once; memory stays bounded by the channel.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::bookings::ports::ExamCounter;
use crate::queue::QueueMessage;
use crate::{App, AppResult};
use futures::StreamExt;
use serde::Serialize;
use tokio::sync::mpsc;

/// Exams counted and fixed at once (each is one Query, maybe one UpdateItem and one SendMessage).
pub const CONCURRENCY: usize = 16;
/// Items per listing page (workspaces and exams).
pub const PAGE_SIZE: u32 = 100;

/// What one run did; logged, emitted as EMF metrics and returned to the invoker.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub workspaces: u64,
    pub exams_checked: u64,
    /// Counters set to the counted value (includes `missing_counters_fixed`).
    pub drift_fixed: u64,
    /// Of those, counters that were missing or not a number.
    pub missing_counters_fixed: u64,
    /// Drift seen but the version moved before the fix: left to the next run.
    pub skipped_version_moved: u64,
    /// Exams in sync with their markers but ahead of HubSpot (`lastSyncedVersion < version`).
    pub hubspot_behind: u64,
    /// Counter syncs queued (every fixed exam plus every exam HubSpot is behind on).
    pub syncs_queued: u64,
    /// Exams that could not be checked, fixed or synced (details in the logs).
    pub errors: u64,
    pub duration_ms: u64,
}

/// Reconciles every exam of every workspace. Errors of single exams are logged and counted;
/// an error listing workspaces or exams ends the run with that error (after logging what was
/// done), so the Lambda fails and no "reconcile ran" metric is emitted.
pub async fn run(app: &App) -> AppResult<Summary> {
    let started = Instant::now();
    let now: Arc<str> = crate::time::now_string().into();
    let tally = Arc::new(Mutex::new(Summary::default()));
    let (tx, rx) = mpsc::channel::<(String, ExamCounter)>(2 * PAGE_SIZE as usize);

    let walk = walk(app, tx);
    // Workers own what they use (an `App` clone is an `Arc`): the run's future stays `Send`.
    let work = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    })
    .for_each_concurrent(CONCURRENCY, |(ws, exam)| {
        let (app, tally, now) = (app.clone(), tally.clone(), now.clone());
        async move { reconcile_exam(&app, &ws, &exam, &now, &tally).await }
    });
    let (walked, ()) = tokio::join!(walk, work);

    let mut summary = lock(&tally).clone();
    summary.duration_ms = started.elapsed().as_millis() as u64;
    match walked {
        Ok(workspaces) => {
            summary.workspaces = workspaces;
            log_summary(&summary, true);
            emit_summary_metrics(&summary);
            Ok(summary)
        }
        Err(e) => {
            log_summary(&summary, false);
            tracing::error!(error = %e.log_detail(), "reconcile could not list workspaces or exams");
            Err(e)
        }
    }
}

/// Pages through workspaces and their exams, handing each exam to the workers. Returns the
/// number of workspaces.
async fn walk(app: &App, tx: mpsc::Sender<(String, ExamCounter)>) -> AppResult<u64> {
    let mut workspaces = 0u64;
    let mut ws_cursor: Option<String> = None;
    loop {
        let page = app
            .workspaces
            .list_workspaces(ws_cursor.as_deref(), PAGE_SIZE)
            .await?;
        for ws in page.items {
            workspaces += 1;
            let mut cursor: Option<String> = None;
            loop {
                let exams = app
                    .bookings
                    .list_exam_counters(&ws.id, cursor.as_deref(), PAGE_SIZE)
                    .await?;
                for exam in exams.items {
                    if tx.send((ws.id.clone(), exam)).await.is_err() {
                        return Ok(workspaces); // workers gone: nothing left to hand over
                    }
                }
                match exams.next_cursor {
                    Some(c) => cursor = Some(c),
                    None => break,
                }
            }
        }
        match page.next_cursor {
            Some(c) => ws_cursor = Some(c),
            None => return Ok(workspaces),
        }
    }
}

fn lock(tally: &Mutex<Summary>) -> std::sync::MutexGuard<'_, Summary> {
    tally.lock().unwrap_or_else(|p| p.into_inner())
}

async fn reconcile_exam(
    app: &App,
    ws: &str,
    exam: &ExamCounter,
    now: &str,
    tally: &Mutex<Summary>,
) {
    lock(tally).exams_checked += 1;
    if let Err(e) = check_exam(app, ws, exam, now, tally).await {
        lock(tally).errors += 1;
        tracing::warn!(
            workspace_id = ws,
            mock_exam_id = %exam.exam_id,
            error = %e.log_detail(),
            "reconcile of exam failed; the next run retries it"
        );
    }
}

async fn check_exam(
    app: &App,
    ws: &str,
    exam: &ExamCounter,
    now: &str,
    tally: &Mutex<Summary>,
) -> AppResult<()> {
    // The counter was read (listing) before this consistent count: see the module docs.
    let count = app
        .bookings
        .list_active_bookings(ws, &exam.exam_id)
        .await?
        .len() as i64;
    let Some(version) = exam.version else {
        lock(tally).errors += 1;
        tracing::error!(
            workspace_id = ws,
            mock_exam_id = %exam.exam_id,
            counted = count,
            "exam item has no numeric version: its counter cannot be fixed conditionally"
        );
        return Ok(());
    };
    if exam.total_bookings == Some(count) {
        if exam.last_synced_version < version {
            enqueue_sync(app, ws, &exam.exam_id).await?;
            let mut t = lock(tally);
            t.hubspot_behind += 1;
            t.syncs_queued += 1;
            drop(t);
            tracing::info!(
                workspace_id = ws,
                mock_exam_id = %exam.exam_id,
                version,
                last_synced_version = exam.last_synced_version,
                "hubspot is behind; counter sync queued"
            );
        }
        return Ok(());
    }
    if !app
        .bookings
        .fix_counter(ws, &exam.exam_id, version, count, now)
        .await?
    {
        lock(tally).skipped_version_moved += 1;
        tracing::info!(
            workspace_id = ws,
            mock_exam_id = %exam.exam_id,
            version,
            counted = count,
            "counter changed while reconciling; left to the next run"
        );
        return Ok(());
    }
    {
        let mut t = lock(tally);
        t.drift_fixed += 1;
        if exam.total_bookings.is_none() {
            t.missing_counters_fixed += 1;
        }
    }
    log_correction(ws, exam, version, count);
    enqueue_sync(app, ws, &exam.exam_id).await?;
    lock(tally).syncs_queued += 1;
    Ok(())
}

/// One structured JSON line per correction, with the counter and version before and after.
fn log_correction(ws: &str, exam: &ExamCounter, version: i64, count: i64) {
    match exam.total_bookings {
        Some(before) => tracing::warn!(
            workspace_id = ws,
            mock_exam_id = %exam.exam_id,
            before,
            after = count,
            drift = count - before,
            version_before = version,
            version_after = version + 1,
            reason = "drift",
            "reconcile corrected a booking counter"
        ),
        None => tracing::warn!(
            workspace_id = ws,
            mock_exam_id = %exam.exam_id,
            before = "missing",
            after = count,
            version_before = version,
            version_after = version + 1,
            reason = "missing_counter",
            "reconcile corrected a booking counter"
        ),
    }
}

async fn enqueue_sync(app: &App, ws: &str, exam_id: &str) -> AppResult<()> {
    let message = QueueMessage::CounterSync {
        workspace_id: ws.to_owned(),
        mock_exam_id: exam_id.to_owned(),
        attempt: 0,
        delivery_id: None,
    };
    crate::queue::schedule(app, message, Duration::ZERO).await
}

fn log_summary(s: &Summary, completed: bool) {
    tracing::info!(
        completed,
        workspaces = s.workspaces,
        exams_checked = s.exams_checked,
        drift_fixed = s.drift_fixed,
        missing_counters_fixed = s.missing_counters_fixed,
        skipped_version_moved = s.skipped_version_moved,
        hubspot_behind = s.hubspot_behind,
        syncs_queued = s.syncs_queued,
        errors = s.errors,
        duration_ms = s.duration_ms,
        "reconcile run summary"
    );
}

/// EMF namespace and dimension of the run metrics (template.yaml's alarms watch these).
pub const METRICS_NAMESPACE: &str = "BookingSync";
pub const METRICS_DIMENSION: (&str, &str) = ("Function", "reconcile");

/// `ReconcileRuns` = 1 per completed run: the "reconcile not run for 2 h" alarm watches its sum.
fn emit_summary_metrics(s: &Summary) {
    crate::telemetry::emit_metrics(
        METRICS_NAMESPACE,
        &[METRICS_DIMENSION],
        &[
            ("ReconcileRuns", 1.0, "Count"),
            ("ExamsChecked", s.exams_checked as f64, "Count"),
            ("DriftFixed", s.drift_fixed as f64, "Count"),
            ("SyncsQueued", s.syncs_queued as f64, "Count"),
            ("ReconcileErrors", s.errors as f64, "Count"),
            ("ReconcileDurationMs", s.duration_ms as f64, "Milliseconds"),
        ],
    );
}
