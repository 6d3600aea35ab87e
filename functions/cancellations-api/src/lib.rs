//! Cancellations: single, batch, and an admin cancelling bookings of one exam. Each cancel is
//! one transaction (booking → cancelled, marker removed, counter −1, outbox) and idempotent: a
//! cancelled booking never decrements twice. One bad id never fails a batch.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{delete, post};
use axum::Router;
use futures::StreamExt;
use serde::Deserialize;
use serde_json::{json, Value};

use shared::bookings::Booking;

use shared::bookings::events;
use shared::bookings::ports::CancelOutcome;
use shared::http::{success, Auth, JsonBody};
use shared::ids;
use shared::ids::validate_external_id;
use shared::{App, AppError, AppResult};

/// Largest batch accepted by the batch routes.
pub const MAX_BATCH: usize = 100;
/// Cancels of one batch run this many at a time (they contend on one counter item).
const BATCH_CONCURRENCY: usize = 4;

pub fn router(app: App) -> Router {
    let routes = Router::new()
        .route("/api/bookings/{id}", delete(cancel_single))
        .route("/api/admin/bookings/batch-cancel", post(batch_cancel))
        .route("/api/bookings/batch-cancel", post(batch_cancel))
        .route(
            "/api/admin/mock-exams/{id}/cancel-bookings",
            post(cancel_exam_bookings),
        );
    shared::http::finish_router(routes, app)
}

/// Cancels one booking (retrying transaction conflicts) and hands its outbox to SQS.
pub async fn cancel_booking(
    app: &App,
    ws: &str,
    booking_id: &str,
) -> AppResult<(CancelOutcome, i64)> {
    if !ids::is_valid(ids::BOOKING, booking_id) {
        return Err(AppError::NotFound("booking"));
    }
    let (outcome, outbox) = shared::retry::on_conflict(&app.config, || async {
        let before = app
            .bookings
            .get_booking(ws, booking_id)
            .await?
            .ok_or(AppError::NotFound("booking"))?;
        let now = shared::time::now_string();
        let mut after = before.clone();
        after.status = shared::bookings::BookingStatus::Cancelled;
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
            .cancel_booking(ws, booking_id, &outbox, &now)
            .await?;
        Ok((outcome, outbox))
    })
    .await?;
    if let CancelOutcome::Cancelled(b) = &outcome {
        shared::outbox::dispatch_after_commit(app, &outbox).await;
        tracing::info!(booking_id = %b.id, mock_exam_id = %b.mock_exam_id, "booking cancelled");
    }
    let booking = outcome_booking(&outcome);
    let total = app
        .bookings
        .get_exam(ws, &booking.mock_exam_id)
        .await?
        .map(|e| e.total_bookings)
        .unwrap_or_default();
    Ok((outcome, total))
}

fn outcome_booking(o: &CancelOutcome) -> &Booking {
    match o {
        CancelOutcome::Cancelled(b) | CancelOutcome::AlreadyCancelled(b) => b,
    }
}

async fn cancel_single(
    State(app): State<App>,
    auth: Auth,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let (outcome, total) = cancel_booking(&app, &auth.workspace_id, &id).await?;
    Ok(success(
        StatusCode::OK,
        json!({ "booking": outcome_booking(&outcome), "totalBookings": total }),
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BatchBody {
    booking_ids: Vec<String>,
}

fn validate_batch(ids: &[String]) -> AppResult<()> {
    if ids.is_empty() || ids.len() > MAX_BATCH {
        return Err(AppError::validation(format!(
            "bookingIds must hold 1 to {MAX_BATCH} ids"
        )));
    }
    Ok(())
}

/// Cancels each id; per-item results in input order and the number newly cancelled.
async fn cancel_many(
    app: &App,
    ws: &str,
    ids: Vec<String>,
    exam_filter: Option<&str>,
) -> (Vec<Value>, usize) {
    let results: Vec<(Value, bool)> = futures::stream::iter(ids)
        .map(|id| async move {
            let result = async {
                if let Some(exam) = exam_filter {
                    // Only bookings of this exam may be cancelled through its route.
                    let b = app
                        .bookings
                        .get_booking(ws, &id)
                        .await?
                        .filter(|b| b.mock_exam_id == exam)
                        .ok_or(AppError::NotFound("booking"))?;
                    drop(b);
                }
                cancel_booking(app, ws, &id).await
            }
            .await;
            match result {
                Ok((outcome, total)) => {
                    let newly = matches!(outcome, CancelOutcome::Cancelled(_));
                    (
                        json!({
                            "id": id,
                            "success": true,
                            "alreadyCancelled": !newly,
                            "booking": outcome_booking(&outcome),
                            "totalBookings": total,
                        }),
                        newly,
                    )
                }
                Err(e) => {
                    if e.status().is_server_error() {
                        tracing::error!(booking_id = %id, error = %e.log_detail(), "batch cancel item failed");
                    }
                    (json!({ "id": id, "success": false, "error": e.body() }), false)
                }
            }
        })
        .buffered(BATCH_CONCURRENCY)
        .collect()
        .await;
    let cancelled = results.iter().filter(|(_, newly)| *newly).count();
    (results.into_iter().map(|(v, _)| v).collect(), cancelled)
}

async fn batch_cancel(
    State(app): State<App>,
    auth: Auth,
    JsonBody(body): JsonBody<BatchBody>,
) -> AppResult<Response> {
    validate_batch(&body.booking_ids)?;
    let (results, cancelled) = cancel_many(&app, &auth.workspace_id, body.booking_ids, None).await;
    Ok(success(
        StatusCode::OK,
        json!({ "results": results, "cancelled": cancelled }),
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExamCancelBody {
    #[serde(default)]
    booking_ids: Option<Vec<String>>,
    #[serde(default)]
    all: Option<bool>,
}

async fn cancel_exam_bookings(
    State(app): State<App>,
    auth: Auth,
    Path(exam_id): Path<String>,
    JsonBody(body): JsonBody<ExamCancelBody>,
) -> AppResult<Response> {
    let ws = auth.workspace_id.as_str();
    let ids = match (body.booking_ids, body.all) {
        (Some(ids), None | Some(false)) => {
            validate_batch(&ids)?;
            ids
        }
        (None, Some(true)) => Vec::new(),
        (Some(_), Some(true)) => {
            return Err(AppError::validation(
                "give either bookingIds or all:true, not both",
            ))
        }
        _ => {
            return Err(AppError::validation(
                "bookingIds (1 to 100 ids) or all:true is required",
            ))
        }
    };
    if validate_external_id("id", &exam_id).is_err()
        || app.bookings.get_exam(ws, &exam_id).await?.is_none()
    {
        return Err(AppError::NotFound("mock exam"));
    }
    let ids = if ids.is_empty() {
        app.bookings
            .list_active_bookings(ws, &exam_id)
            .await?
            .into_iter()
            .map(|r| r.booking_id)
            .collect()
    } else {
        ids
    };
    let (results, cancelled) = cancel_many(&app, ws, ids, Some(&exam_id)).await;
    Ok(success(
        StatusCode::OK,
        json!({ "results": results, "cancelled": cancelled }),
    ))
}
