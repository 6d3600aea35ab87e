//! The cancellation use cases: one booking, a batch, or bookings of one exam. Each cancel is
//! one transaction (booking → cancelled, marker removed, counter −1, outbox) and idempotent:
//! a cancelled booking never decrements twice. One bad id never fails a batch.

use futures::StreamExt;

use super::events;
use super::ports::CancelOutcome;
use super::service::load_booking;
use super::{Booking, BookingStatus};
use crate::ids::validate_external_id;
use crate::tenancy::seen::KeyCheck;
use crate::{App, AppError, AppResult};

/// Largest batch accepted by the batch routes.
pub const MAX_BATCH: usize = 100;
/// Cancels of one batch run this many at a time (they contend on one counter item).
const BATCH_CONCURRENCY: usize = 4;

/// What a cancel did, and the exam's count read right after.
#[derive(Debug, Clone)]
pub struct Cancelled {
    pub outcome: CancelOutcome,
    pub total_bookings: i64,
}

impl Cancelled {
    pub fn booking(&self) -> &Booking {
        match &self.outcome {
            CancelOutcome::Cancelled(b) | CancelOutcome::AlreadyCancelled(b) => b,
        }
    }

    /// True when this call cancelled it (false: it was cancelled before).
    pub fn newly(&self) -> bool {
        matches!(self.outcome, CancelOutcome::Cancelled(_))
    }
}

/// Cancels one booking (retrying transaction conflicts) and hands its outbox to SQS. The
/// booking's first read runs beside `key`, which must pass before anything is written.
pub async fn cancel_booking(
    app: &App,
    ws: &str,
    booking_id: &str,
    key: KeyCheck,
) -> AppResult<Cancelled> {
    let (passed, read) = tokio::join!(key.passed(), load_booking(app, ws, booking_id));
    passed?;
    cancel_read(app, ws, read?).await
}

/// Cancels `read`, the booking as just read: the first attempt's transaction is conditioned
/// on it; a retry after a conflict reads the booking again.
async fn cancel_read(app: &App, ws: &str, read: Booking) -> AppResult<Cancelled> {
    let booking_id = read.id.clone();
    let booking_id = booking_id.as_str();
    let (outcome, outbox) =
        crate::retry::on_conflict_after(&app.config, read, |first| async move {
            let before = match first {
                Some(before) => before,
                None => load_booking(app, ws, booking_id).await?,
            };
            let now = crate::time::now_string();
            let mut after = before.clone();
            after.status = BookingStatus::Cancelled;
            after.cancelled_at = Some(now.clone());
            after.updated_at = Some(now.clone());
            let mut evts = vec![events::booking_only(
                events::BOOKING_CANCELLED,
                &after,
                &now,
            )];
            if let Some(exam) = app.bookings.get_exam(ws, &before.mock_exam_id).await? {
                evts.push(events::bookings_changed(
                    &events::exam_after(&exam, -1, &now),
                    &now,
                ));
            }
            let outbox = events::counter_change_outbox(ws, &before.mock_exam_id, evts, &now);
            let outcome = app
                .bookings
                .cancel_booking(ws, &before, &outbox, &now)
                .await?;
            Ok((outcome, outbox))
        })
        .await?;
    let mut done = Cancelled {
        outcome,
        total_bookings: 0,
    };
    let exam_id = done.booking().mock_exam_id.clone();
    let total = async {
        AppResult::Ok(
            app.bookings
                .get_exam(ws, &exam_id)
                .await?
                .map(|e| e.total_bookings)
                .unwrap_or_default(),
        )
    };
    // The answer's total is read while the hand-off goes out (no extra wait).
    let total = if let CancelOutcome::Cancelled(b) = &done.outcome {
        tracing::info!(booking_id = %b.id, mock_exam_id = %b.mock_exam_id, "booking cancelled");
        tokio::join!(crate::outbox::hand_off(app, &outbox), total).1
    } else {
        total.await
    };
    done.total_bookings = total?;
    Ok(done)
}

/// 1 to `MAX_BATCH` ids.
pub fn validate_batch(ids: &[String]) -> AppResult<()> {
    if ids.is_empty() || ids.len() > MAX_BATCH {
        return Err(AppError::validation(format!(
            "bookingIds must hold 1 to {MAX_BATCH} ids"
        )));
    }
    Ok(())
}

/// Cancels each id (only bookings of `exam_filter` when given); results in input order.
pub async fn cancel_many(
    app: &App,
    ws: &str,
    ids: Vec<String>,
    exam_filter: Option<&str>,
) -> Vec<(String, AppResult<Cancelled>)> {
    futures::stream::iter(ids)
        .map(|id| async move {
            let result = async {
                let read = load_booking(app, ws, &id).await?;
                // Only bookings of this exam may be cancelled through its route.
                if exam_filter.is_some_and(|exam| read.mock_exam_id != exam) {
                    return Err(AppError::NotFound("booking"));
                }
                cancel_read(app, ws, read).await
            }
            .await;
            if let Err(e) = &result {
                if e.status().is_server_error() {
                    tracing::error!(booking_id = %id, error = %e.log_detail(), "batch cancel item failed");
                }
            }
            (id, result)
        })
        .buffered(BATCH_CONCURRENCY)
        .collect()
        .await
}

/// Which bookings of an exam to cancel: the listed ones, or every active one.
#[derive(Debug, Clone)]
pub enum ExamSelection {
    Ids(Vec<String>),
    AllActive,
}

/// Cancels bookings of one exam (`NotFound` for an unknown exam).
pub async fn cancel_exam_bookings(
    app: &App,
    ws: &str,
    exam_id: &str,
    selection: ExamSelection,
) -> AppResult<Vec<(String, AppResult<Cancelled>)>> {
    if let ExamSelection::Ids(ids) = &selection {
        validate_batch(ids)?;
    }
    if validate_external_id("id", exam_id).is_err()
        || app.bookings.get_exam(ws, exam_id).await?.is_none()
    {
        return Err(AppError::NotFound("mock exam"));
    }
    let ids = match selection {
        ExamSelection::Ids(ids) => ids,
        ExamSelection::AllActive => app
            .bookings
            .list_active_bookings(ws, exam_id)
            .await?
            .into_iter()
            .map(|r| r.booking_id)
            .collect(),
    };
    Ok(cancel_many(app, ws, ids, Some(exam_id)).await)
}
