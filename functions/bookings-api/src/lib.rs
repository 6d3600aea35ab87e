//! Mock exams and booking creation (seed 000): one transaction writes the booking, its active
//! marker, the counter (+1 below capacity, version +1) and the outbox record, so the counter
//! cannot drift; the outbox hands the HubSpot counter sync to SQS right after the commit.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post, put};
use axum::Router;
use serde::Deserialize;
use serde_json::json;

use shared::bookings::{Booking, BookingStatus, ExamInput, IdempotencyRecord, MockExam, QrCode};

use shared::bookings::events;
use shared::bookings::ports::{BookingTransition, CreateBookingOutcome, NewBooking};
use shared::http::{sha256_hex, success, Auth, JsonBody, OptionalJsonBody};
use shared::ids;
use shared::ids::validate_external_id;
use shared::{App, AppError, AppResult};

/// Idempotency records live a day.
const IDEMPOTENCY_TTL_SECS: i64 = 24 * 3600;

pub fn router(app: App) -> Router {
    let routes = Router::new()
        .route("/api/mock-exams/{id}", put(put_exam).get(get_exam))
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

fn validate_exam(id: &str, body: ExamBody) -> AppResult<ExamInput> {
    validate_external_id("id", id)?;
    let name = body.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(AppError::validation("name must be 1 to 200 characters"));
    }
    if !(0..=1_000_000).contains(&body.capacity) {
        return Err(AppError::validation(
            "capacity must be an integer from 0 to 1000000",
        ));
    }
    if let Some(d) = &body.exam_date {
        let ok = chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").is_ok()
            || shared::time::parse(d).is_some();
        if !ok {
            return Err(AppError::validation(
                "examDate must be a date (YYYY-MM-DD) or an RFC 3339 timestamp",
            ));
        }
    }
    Ok(ExamInput {
        name,
        capacity: body.capacity,
        exam_date: body.exam_date,
    })
}

async fn put_exam(
    State(app): State<App>,
    auth: Auth,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<ExamBody>,
) -> AppResult<Response> {
    let input = validate_exam(&id, body)?;
    let exam = app
        .bookings
        .put_exam(&auth.workspace_id, &id, &input, &shared::time::now_string())
        .await?;
    Ok(success(StatusCode::OK, json!({ "mockExam": exam })))
}

async fn load_exam(app: &App, ws: &str, id: &str) -> AppResult<MockExam> {
    if validate_external_id("id", id).is_err() {
        return Err(AppError::NotFound("mock exam"));
    }
    app.bookings
        .get_exam(ws, id)
        .await?
        .ok_or(AppError::NotFound("mock exam"))
}

async fn get_exam(
    State(app): State<App>,
    auth: Auth,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let exam = load_exam(&app, &auth.workspace_id, &id).await?;
    Ok(success(StatusCode::OK, json!({ "mockExam": exam })))
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

fn new_booking(exam_id: &str, contact_id: &str, now: &str) -> Booking {
    Booking {
        id: ids::new_id(ids::BOOKING),
        mock_exam_id: exam_id.to_owned(),
        contact_id: Some(contact_id.to_owned()),
        status: BookingStatus::Active,
        created_at: now.to_owned(),
        updated_at: None,
        cancelled_at: None,
        completed_at: None,
        qr_code: QrCode {
            id: ids::new_id(ids::QR_CODE),
            code: ids::new_id("code")
                .trim_start_matches("code_")
                .to_ascii_uppercase(),
            scanned_at: None,
            scanned_by: None,
            validated_at: None,
        },
    }
}

async fn create_booking(
    State(app): State<App>,
    auth: Auth,
    headers: HeaderMap,
    JsonBody(body): JsonBody<CreateBookingBody>,
) -> AppResult<Response> {
    validate_external_id("mockExamId", &body.mock_exam_id)?;
    validate_external_id("contactId", &body.contact_id)?;
    let idem_key = idempotency_key(&headers)?;
    let ws = auth.workspace_id.as_str();
    let request_hash = sha256_hex(format!("{}\n{}", body.mock_exam_id, body.contact_id).as_bytes());
    let idem_hash = idem_key.as_deref().map(|k| sha256_hex(k.as_bytes()));

    // A replay must not need the exam to still have room: answer it before anything else.
    if let Some(hash) = &idem_hash {
        if let Some(rec) = app.bookings.get_idempotency(ws, hash).await? {
            return replay(&app, ws, &rec, &request_hash).await;
        }
    }

    // `booking.created` carries the user whose id is the contactId (null otherwise).
    let user = shared::users::user_snapshot(&app, ws, &body.contact_id).await;
    let outcome = shared::retry::on_conflict(&app.config, || async {
        let exam = app
            .bookings
            .get_exam(ws, &body.mock_exam_id)
            .await?
            .ok_or(AppError::NotFound("mock exam"))?;
        let now_t = shared::time::now();
        let now = shared::time::format(now_t);
        let booking = new_booking(&body.mock_exam_id, &body.contact_id, &now);
        let outbox = events::counter_change_outbox(
            ws,
            &body.mock_exam_id,
            vec![
                events::booking_created(&booking, user.clone(), &now),
                events::bookings_changed(&events::exam_after(&exam, 1, &now), &now),
            ],
            &now,
        );
        let new = NewBooking {
            workspace_id: ws.to_owned(),
            booking: booking.clone(),
            idempotency: idem_hash.as_ref().map(|h| {
                (
                    h.clone(),
                    IdempotencyRecord {
                        request_hash: request_hash.clone(),
                        booking_id: booking.id.clone(),
                        expires_at: now_t.timestamp() + IDEMPOTENCY_TTL_SECS,
                    },
                )
            }),
            outbox: outbox.clone(),
            now,
        };
        let result = app.bookings.create_booking(&new).await?;
        Ok((result, booking, outbox))
    })
    .await?;

    match outcome {
        (CreateBookingOutcome::Created, booking, outbox) => {
            shared::outbox::dispatch_after_commit(&app, &outbox).await;
            let total = current_total(&app, ws, &booking.mock_exam_id).await?;
            tracing::info!(booking_id = %booking.id, mock_exam_id = %booking.mock_exam_id, total_bookings = total, "booking created");
            Ok(success(
                StatusCode::CREATED,
                json!({ "booking": booking, "totalBookings": total }),
            ))
        }
        (CreateBookingOutcome::IdempotencyKeyExists(rec), _, _) => {
            replay(&app, ws, &rec, &request_hash).await
        }
    }
}

async fn current_total(app: &App, ws: &str, exam_id: &str) -> AppResult<i64> {
    Ok(app
        .bookings
        .get_exam(ws, exam_id)
        .await?
        .map(|e| e.total_bookings)
        .unwrap_or_default())
}

/// Same key + same body → 200 with the original booking; same key + other body → 422.
async fn replay(
    app: &App,
    ws: &str,
    rec: &IdempotencyRecord,
    request_hash: &str,
) -> AppResult<Response> {
    if rec.request_hash != request_hash {
        return Err(AppError::IdempotencyKeyReused);
    }
    let booking = app
        .bookings
        .get_booking(ws, &rec.booking_id)
        .await?
        .ok_or_else(|| AppError::internal_msg("idempotency record points to a missing booking"))?;
    let total = current_total(app, ws, &booking.mock_exam_id).await?;
    Ok(success(
        StatusCode::OK,
        json!({ "booking": booking, "totalBookings": total }),
    ))
}

async fn load_booking(app: &App, ws: &str, id: &str) -> AppResult<Booking> {
    if !ids::is_valid(ids::BOOKING, id) {
        return Err(AppError::NotFound("booking"));
    }
    app.bookings
        .get_booking(ws, id)
        .await?
        .ok_or(AppError::NotFound("booking"))
}

async fn get_booking(
    State(app): State<App>,
    auth: Auth,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let booking = load_booking(&app, &auth.workspace_id, &id).await?;
    Ok(success(StatusCode::OK, json!({ "booking": booking })))
}

async fn transition(
    app: &App,
    auth: &Auth,
    id: &str,
    transition: BookingTransition,
    scanned_by: Option<&str>,
) -> AppResult<Response> {
    let ws = auth.workspace_id.as_str();
    let user = match load_booking(app, ws, id).await?.contact_id {
        Some(contact) => shared::users::user_snapshot(app, ws, &contact).await,
        None => None,
    };
    let booking = shared::retry::on_conflict(&app.config, || async {
        let before = load_booking(app, ws, id).await?;
        let now = shared::time::now_string();
        // Build the event from the state the transition will produce.
        let mut after = before.clone();
        shared::bookings::apply_transition(&mut after, transition, scanned_by, &now)?;
        let event = match transition {
            BookingTransition::Complete => {
                events::booking_only(events::BOOKING_COMPLETED, &after, &now)
            }
            BookingTransition::QrScan => events::qr_scanned(&after, user.clone(), &now),
            BookingTransition::QrValidate => events::qr_validated(&after, user.clone(), &now),
        };
        let mut outbox = shared::outbox::OutboxRecord::new(ws, &now);
        outbox.events.push(event);
        let booking = app
            .bookings
            .transition_booking(ws, id, transition, scanned_by, &outbox, &now)
            .await?;
        Ok((booking, outbox))
    })
    .await;
    let (booking, outbox) = booking?;
    shared::outbox::dispatch_after_commit(app, &outbox).await;
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
