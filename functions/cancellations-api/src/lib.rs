//! Cancellations: single, batch, and an admin cancelling bookings of one exam — the routes
//! and their HTTP shaping over `shared::bookings::cancel`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{delete, post};
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};
use shared::http::Path;

use shared::bookings::cancel::{self, Cancelled, ExamSelection};
use shared::http::{success, Auth, EarlyAuth, JsonBody};
use shared::{App, AppError, AppResult};

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

/// The key check runs beside the booking's read ([`EarlyAuth`]); a bad key answers 401 before
/// anything about the path.
async fn cancel_single(
    State(app): State<App>,
    auth: EarlyAuth,
    id: Result<Path<String>, AppError>,
) -> AppResult<Response> {
    let app = &app;
    let done = auth
        .run(app, |ws, key| async move {
            match id {
                Ok(Path(id)) => cancel::cancel_booking(app, &ws, &id, key).await,
                Err(e) => {
                    key.passed().await?;
                    Err(e)
                }
            }
        })
        .await?;
    Ok(success(
        StatusCode::OK,
        json!({ "booking": done.booking(), "totalBookings": done.total_bookings }),
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BatchBody {
    booking_ids: Vec<String>,
}

/// Per-item results in input order and the number this call cancelled.
fn batch_response(results: Vec<(String, AppResult<Cancelled>)>) -> Response {
    let cancelled = results
        .iter()
        .filter(|(_, r)| r.as_ref().is_ok_and(Cancelled::newly))
        .count();
    let results: Vec<Value> = results
        .into_iter()
        .map(|(id, result)| match result {
            Ok(done) => json!({
                "id": id,
                "success": true,
                "alreadyCancelled": !done.newly(),
                "booking": done.booking(),
                "totalBookings": done.total_bookings,
            }),
            Err(e) => json!({ "id": id, "success": false, "error": e.body() }),
        })
        .collect();
    success(
        StatusCode::OK,
        json!({ "results": results, "cancelled": cancelled }),
    )
}

async fn batch_cancel(
    State(app): State<App>,
    auth: Auth,
    JsonBody(body): JsonBody<BatchBody>,
) -> AppResult<Response> {
    cancel::validate_batch(&body.booking_ids)?;
    let results = cancel::cancel_many(&app, &auth.workspace_id, body.booking_ids, None).await;
    Ok(batch_response(results))
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
    let selection = match (body.booking_ids, body.all) {
        (Some(ids), None | Some(false)) => ExamSelection::Ids(ids),
        (None, Some(true)) => ExamSelection::AllActive,
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
    let results =
        cancel::cancel_exam_bookings(&app, &auth.workspace_id, &exam_id, selection).await?;
    Ok(batch_response(results))
}
