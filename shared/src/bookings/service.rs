//! The booking use cases: put/read an exam, create a booking (idempotent, one transaction
//! with the counter and the outbox), and the complete / QR transitions. Routers shape HTTP
//! around these; nothing here knows about requests or status codes.

use super::events;
use super::ports::{BookingTransition, CreateBookingOutcome, NewBooking};
use super::{Booking, BookingStatus, ExamInput, IdempotencyRecord, MockExam, QrCode};
use crate::http::sha256_hex;
use crate::ids::{self, validate_external_id, BookingId};
use crate::outbox::OutboxRecord;
use crate::tenancy::seen::KeyCheck;
use crate::{App, AppError, AppResult};

/// Idempotency records live a day.
const IDEMPOTENCY_TTL_SECS: i64 = 24 * 3600;

/// Checks an exam's id and settings: name 1..=200 characters (trimmed), capacity
/// 0..=1,000,000, `examDate` a date or an RFC 3339 timestamp.
pub fn validate_exam(id: &str, mut input: ExamInput) -> AppResult<ExamInput> {
    validate_external_id("id", id)?;
    input.name = input.name.trim().to_owned();
    if input.name.is_empty() || input.name.chars().count() > 200 {
        return Err(AppError::validation("name must be 1 to 200 characters"));
    }
    if !(0..=1_000_000).contains(&input.capacity) {
        return Err(AppError::validation(
            "capacity must be an integer from 0 to 1000000",
        ));
    }
    if let Some(d) = &input.exam_date {
        let ok = chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").is_ok()
            || crate::time::parse(d).is_some();
        if !ok {
            return Err(AppError::validation(
                "examDate must be a date (YYYY-MM-DD) or an RFC 3339 timestamp",
            ));
        }
    }
    Ok(input)
}

/// Creates or replaces an exam's settings (never its counter). Changing an existing exam's
/// name, capacity or examDate emits `mock_exam.updated` in the same transaction (conditioned
/// on the values read); with HubSpot's `syncProperties`, a capacity change also moves the
/// exam's version and queues a counter sync, so HubSpot gets the new capacity.
pub async fn put_exam(app: &App, ws: &str, id: &str, input: ExamInput) -> AppResult<MockExam> {
    let input = validate_exam(id, input)?;
    let changed = crate::retry::on_conflict(&app.config, || async {
        let now = crate::time::now_string();
        let Some(before) = app.bookings.get_exam(ws, id).await? else {
            // A new exam: created, nothing to announce.
            return Ok(Err(app.bookings.put_exam(ws, id, &input, &now).await?));
        };
        let changes = events::exam_changes(&before, &input);
        if changes.is_empty() {
            return Ok(Err(before));
        }
        let bump = changes.contains_key("capacity") && hubspot_syncs_properties(app, ws).await?;
        let mut after = before.clone();
        after.name = input.name.clone();
        after.capacity = input.capacity;
        after.exam_date = input.exam_date.clone();
        after.updated_at = now.clone();
        if bump {
            after.version += 1;
        }
        let mut outbox = OutboxRecord::new(ws, &now);
        outbox
            .events
            .push(events::mock_exam_updated(&after, changes, &now));
        if bump {
            outbox.counter_sync = Some(id.to_owned());
        }
        app.bookings
            .update_exam(ws, &before, &input, bump, &outbox, &now)
            .await?;
        Ok(Ok((after, outbox)))
    })
    .await?;
    match changed {
        Ok((after, outbox)) => {
            crate::outbox::hand_off(app, &outbox).await;
            Ok(after)
        }
        Err(unchanged_or_created) => Ok(unchanged_or_created),
    }
}

/// Whether the workspace's HubSpot integration is on and sends properties beside the count.
async fn hubspot_syncs_properties(app: &App, ws: &str) -> AppResult<bool> {
    Ok(app
        .integrations
        .get_integration(ws, crate::integrations::IntegrationKind::Hubspot)
        .await?
        .is_some_and(|i| i.enabled && i.sync_properties))
}

/// The exam, or `NotFound` (also for an id that could never be stored).
pub async fn load_exam(app: &App, ws: &str, id: &str) -> AppResult<MockExam> {
    if validate_external_id("id", id).is_err() {
        return Err(AppError::NotFound("mock exam"));
    }
    app.bookings
        .get_exam(ws, id)
        .await?
        .ok_or(AppError::NotFound("mock exam"))
}

/// The booking, or `NotFound` (also for an id that is not a `bk_` id).
pub async fn load_booking(app: &App, ws: &str, id: &str) -> AppResult<Booking> {
    BookingId::parse(id)?;
    app.bookings
        .get_booking(ws, id)
        .await?
        .ok_or(AppError::NotFound("booking"))
}

/// A booking request: the exam, the contact, and the client's `Idempotency-Key` if any.
#[derive(Debug, Clone)]
pub struct CreateBooking {
    pub mock_exam_id: String,
    pub contact_id: String,
    pub idempotency_key: Option<String>,
}

/// The booking and the exam's count read right after; `replayed` when an `Idempotency-Key`
/// answered with the booking it created before.
#[derive(Debug, Clone)]
pub struct BookingCreated {
    pub booking: Booking,
    pub total_bookings: i64,
    pub replayed: bool,
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

/// One transaction (booking, active marker, counter +1 below capacity, outbox, idempotency
/// record), retried on `TransactionConflict`; then the outbox hand-off. Same key + same body
/// replays the original booking; same key + another body is `IdempotencyKeyReused`.
///
/// Calls in sequence (issue 16): {key check, idempotency record, user, exam} → the
/// transaction → {hand-off, the exam's total for the answer}. Nothing is written before
/// `key` has passed.
pub async fn create_booking(
    app: &App,
    ws: &str,
    req: CreateBooking,
    key: KeyCheck,
) -> AppResult<BookingCreated> {
    let request_hash = sha256_hex(format!("{}\n{}", req.mock_exam_id, req.contact_id).as_bytes());
    let idem_hash = req
        .idempotency_key
        .as_deref()
        .map(|k| sha256_hex(k.as_bytes()));
    let reads = async {
        validate_external_id("mockExamId", &req.mock_exam_id)?;
        validate_external_id("contactId", &req.contact_id)?;
        let idempotency = async {
            match &idem_hash {
                Some(hash) => app.bookings.get_idempotency(ws, hash).await,
                None => Ok(None),
            }
        };
        // `booking.created` carries the user whose id is the contactId (null otherwise).
        let (idempotency, user, exam) = tokio::join!(
            idempotency,
            crate::users::user_snapshot(app, ws, &req.contact_id),
            app.bookings.get_exam(ws, &req.mock_exam_id)
        );
        AppResult::Ok((idempotency?, user, exam))
    };
    let (passed, reads) = tokio::join!(key.passed(), reads);
    passed?;
    let (idempotency, user, exam) = reads?;
    // A replay must not need the exam to still have room (nor the exam read to succeed). The
    // exam read beside the record gives its count (same body → same exam), so a replay makes
    // one more call, the booking's read.
    if let Some(rec) = idempotency {
        let total = exam.as_ref().ok().map(|read| total_of(read.as_ref()));
        return replay(app, ws, &rec, &request_hash, &req.mock_exam_id, total).await;
    }
    // The first attempt uses the exam read above; a retry after a conflict reads it again.
    let (req, user, idem_hash, request_hash) = (&req, &user, &idem_hash, &request_hash);
    let outcome = crate::retry::on_conflict_after(&app.config, exam, |first| async move {
        let exam = match first {
            Some(read) => read?,
            None => app.bookings.get_exam(ws, &req.mock_exam_id).await?,
        }
        .ok_or(AppError::NotFound("mock exam"))?;
        let now_t = crate::time::now();
        let now = crate::time::format(now_t);
        let booking = new_booking(&req.mock_exam_id, &req.contact_id, &now);
        let outbox = events::counter_change_outbox(
            ws,
            &req.mock_exam_id,
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
            // The answer's total is read while the hand-off goes out (no extra wait).
            let (_, total) = tokio::join!(
                crate::outbox::hand_off(app, &outbox),
                current_total(app, ws, &booking.mock_exam_id)
            );
            let total = total?;
            tracing::info!(booking_id = %booking.id, mock_exam_id = %booking.mock_exam_id, total_bookings = total, "booking created");
            Ok(BookingCreated {
                booking,
                total_bookings: total,
                replayed: false,
            })
        }
        (CreateBookingOutcome::IdempotencyKeyExists(rec), _, _) => {
            replay(app, ws, &rec, request_hash, &req.mock_exam_id, None).await
        }
    }
}

/// An exam's count as answers report it: 0 for an exam that is not (or no longer) there.
fn total_of(exam: Option<&MockExam>) -> i64 {
    exam.map(|e| e.total_bookings).unwrap_or_default()
}

async fn current_total(app: &App, ws: &str, exam_id: &str) -> AppResult<i64> {
    Ok(total_of(app.bookings.get_exam(ws, exam_id).await?.as_ref()))
}

/// The original booking of a matching `Idempotency-Key` with the exam's count: `total` when the
/// caller has just read it, else read beside the booking. The request hash covers the exam id,
/// so a matching record's booking is on `exam_id`.
async fn replay(
    app: &App,
    ws: &str,
    rec: &IdempotencyRecord,
    request_hash: &str,
    exam_id: &str,
    total: Option<i64>,
) -> AppResult<BookingCreated> {
    if rec.request_hash != request_hash {
        return Err(AppError::IdempotencyKeyReused);
    }
    let total = async {
        match total {
            Some(t) => Ok(t),
            None => current_total(app, ws, exam_id).await,
        }
    };
    let (booking, total) = tokio::join!(app.bookings.get_booking(ws, &rec.booking_id), total);
    let booking = booking?
        .ok_or_else(|| AppError::internal_msg("idempotency record points to a missing booking"))?;
    let total = total?;
    Ok(BookingCreated {
        booking,
        total_bookings: total,
        replayed: true,
    })
}

/// Complete / QR scan / QR validate, with its event in the same transaction, retried on
/// `TransactionConflict`; then the outbox hand-off.
pub async fn transition(
    app: &App,
    ws: &str,
    id: &str,
    transition: BookingTransition,
    scanned_by: Option<&str>,
) -> AppResult<Booking> {
    let user = match load_booking(app, ws, id).await?.contact_id {
        Some(contact) => crate::users::user_snapshot(app, ws, &contact).await,
        None => None,
    };
    let (booking, outbox) = crate::retry::on_conflict(&app.config, || async {
        let before = load_booking(app, ws, id).await?;
        let now = crate::time::now_string();
        // Build the event from the state the transition will produce.
        let mut after = before.clone();
        super::apply_transition(&mut after, transition, scanned_by, &now)?;
        let event = match transition {
            BookingTransition::Complete => {
                events::booking_only(events::BOOKING_COMPLETED, &after, &now)
            }
            BookingTransition::QrScan => events::qr_scanned(&after, user.clone(), &now),
            BookingTransition::QrValidate => events::qr_validated(&after, user.clone(), &now),
        };
        let mut outbox = OutboxRecord::new(ws, &now);
        outbox.events.push(event);
        // A QR change is also a booking change (complete has its own event).
        if transition != BookingTransition::Complete {
            let changes = events::changes(&before, &after);
            if !changes.is_empty() {
                outbox
                    .events
                    .push(events::booking_updated(&after, changes, &now));
            }
        }
        let booking = app
            .bookings
            .transition_booking(ws, id, transition, scanned_by, &outbox, &now)
            .await?;
        Ok((booking, outbox))
    })
    .await?;
    crate::outbox::hand_off(app, &outbox).await;
    Ok(booking)
}
