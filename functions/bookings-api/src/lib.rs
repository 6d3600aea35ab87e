//! Mock exams and booking creation (seed 000): the routes and their HTTP shaping. The use
//! cases are `shared::bookings::service`: one transaction writes the booking, its active
//! marker, the counter (+1 below capacity, version +1) and the outbox record, so the counter
//! cannot drift; the outbox hands the HubSpot counter sync to SQS right after the commit.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post, put};
use axum::Router;
use serde::Deserialize;
use serde_json::json;
use shared::http::Path;

use axum::body::Body;
use shared::bookings::ports::BookingTransition;
use shared::bookings::service::{self, CreateBooking};
use shared::bookings::{BookingStatus, ExamInput};
use shared::http::{
    parse_json, read_body, success, Auth, EarlyAuth, JsonBody, OptionalJsonBody, QueryMap, MAX_BODY,
};
use shared::paging::{parse_limit, Pagination};
use shared::{App, AppError, AppResult};

pub fn router(app: App) -> Router {
    let routes = Router::new()
        .route("/api/mock-exams", get(list_exams))
        .route("/api/mock-exams/{id}", put(put_exam).get(get_exam))
        .route("/api/mock-exams/{id}/bookings", get(list_exam_bookings))
        .route("/api/bookings", post(create_booking))
        .route("/api/bookings/create", post(create_booking))
        .route("/api/bookings/{id}", get(get_booking))
        .route("/api/bookings/{id}/complete", post(complete_booking))
        .route("/api/bookings/{id}/qr/scan", post(scan_qr))
        .route("/api/bookings/{id}/qr/validate", post(validate_qr));
    shared::http::finish_router(routes, app)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExamBody {
    name: String,
    capacity: i64,
    #[serde(default)]
    exam_date: Option<String>,
}

async fn put_exam(
    State(app): State<App>,
    auth: Auth,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<ExamBody>,
) -> AppResult<Response> {
    let input = ExamInput {
        name: body.name,
        capacity: body.capacity,
        exam_date: body.exam_date,
    };
    let exam = service::put_exam(&app, &auth.workspace_id, &id, input).await?;
    Ok(success(StatusCode::OK, json!({ "mockExam": exam })))
}

async fn get_exam(
    State(app): State<App>,
    auth: Auth,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let exam = service::load_exam(&app, &auth.workspace_id, &id).await?;
    Ok(success(StatusCode::OK, json!({ "mockExam": exam })))
}

/// The workspace's exams (the console's list), in id order.
async fn list_exams(State(app): State<App>, auth: Auth, q: QueryMap) -> AppResult<Response> {
    let limit = parse_limit(q.get("limit"))?;
    let page = app
        .bookings
        .list_exams(&auth.workspace_id, q.cursor(), limit)
        .await?;
    Ok(success(
        StatusCode::OK,
        json!({ "mockExams": page.items, "pagination": Pagination::of(&page, limit) }),
    ))
}

/// An exam's bookings, newest first, optionally of one `status`.
async fn list_exam_bookings(
    State(app): State<App>,
    auth: Auth,
    Path(id): Path<String>,
    q: QueryMap,
) -> AppResult<Response> {
    let ws = auth.workspace_id.as_str();
    let status = q.parsed(
        "status",
        BookingStatus::parse,
        "status must be one of active, cancelled, completed",
    )?;
    let limit = parse_limit(q.get("limit"))?;
    let exam = service::load_exam(&app, ws, &id).await?;
    let page = app
        .bookings
        .list_exam_bookings(ws, &exam.id, status, q.cursor(), limit)
        .await?;
    Ok(success(
        StatusCode::OK,
        json!({ "bookings": page.items, "pagination": Pagination::of(&page, limit) }),
    ))
}

/// Seed 000 sends snake_case; our API speaks camelCase. Both are accepted.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateBookingBody {
    #[serde(alias = "mock_exam_id")]
    mock_exam_id: String,
    #[serde(alias = "contact_id")]
    contact_id: String,
}

fn idempotency_key(headers: &HeaderMap) -> AppResult<Option<String>> {
    let Some(v) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let v = v
        .to_str()
        .map_err(|_| AppError::validation("Idempotency-Key must be visible ASCII"))?
        .trim();
    if v.is_empty() || v.len() > 255 || !v.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(AppError::validation(
            "Idempotency-Key must be 1 to 255 visible ASCII characters",
        ));
    }
    Ok(Some(v.to_owned()))
}

/// 201 with the new booking; 200 when an `Idempotency-Key` replays an earlier one. The key
/// check runs beside the first reads ([`EarlyAuth`]); the body is read and checked inside, so
/// a bad key still answers 401 before anything about the body.
async fn create_booking(
    State(app): State<App>,
    auth: EarlyAuth,
    headers: HeaderMap,
    body: Body,
) -> AppResult<Response> {
    let app = &app;
    let created = auth
        .run(app, |ws, key| async move {
            let request = async {
                let bytes = read_body(body, &headers, MAX_BODY).await?;
                let body: CreateBookingBody = parse_json(&bytes)?;
                AppResult::Ok(CreateBooking {
                    mock_exam_id: body.mock_exam_id,
                    contact_id: body.contact_id,
                    idempotency_key: idempotency_key(&headers)?,
                })
            };
            match request.await {
                Ok(request) => service::create_booking(app, &ws, request, key).await,
                // A rejected body waits for the key's verdict, which comes first.
                Err(e) => {
                    key.passed().await?;
                    Err(e)
                }
            }
        })
        .await?;
    let status = if created.replayed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok(success(
        status,
        json!({ "booking": created.booking, "totalBookings": created.total_bookings }),
    ))
}

async fn get_booking(
    State(app): State<App>,
    auth: Auth,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let booking = service::load_booking(&app, &auth.workspace_id, &id).await?;
    Ok(success(StatusCode::OK, json!({ "booking": booking })))
}

async fn transition(
    app: &App,
    auth: &Auth,
    id: &str,
    transition: BookingTransition,
    scanned_by: Option<&str>,
) -> AppResult<Response> {
    let booking = service::transition(app, &auth.workspace_id, id, transition, scanned_by).await?;
    Ok(success(StatusCode::OK, json!({ "booking": booking })))
}

async fn complete_booking(
    State(app): State<App>,
    auth: Auth,
    Path(id): Path<String>,
) -> AppResult<Response> {
    transition(&app, &auth, &id, BookingTransition::Complete, None).await
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ScanBody {
    scanned_by: String,
}

async fn scan_qr(
    State(app): State<App>,
    auth: Auth,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<ScanBody>,
) -> AppResult<Response> {
    let by = body.scanned_by.trim();
    if by.is_empty() || by.chars().count() > 200 {
        return Err(AppError::validation(
            "scannedBy must be 1 to 200 characters",
        ));
    }
    transition(&app, &auth, &id, BookingTransition::QrScan, Some(by)).await
}

async fn validate_qr(
    State(app): State<App>,
    auth: Auth,
    Path(id): Path<String>,
    OptionalJsonBody(_body): OptionalJsonBody<serde_json::Value>,
) -> AppResult<Response> {
    transition(&app, &auth, &id, BookingTransition::QrValidate, None).await
}
