//! The domain events of DESIGN §4 (events table) and their `data` shapes. Built before the
//! transaction that commits the change, and written to the outbox inside it.

use serde_json::{json, Map, Value};

use crate::bookings::{Booking, ExamInput, MockExam};

use crate::outbox::{DomainEvent, OutboxRecord};

pub const BOOKING_CREATED: &str = "booking.created";
pub const BOOKING_CANCELLED: &str = "booking.cancelled";
pub const BOOKING_COMPLETED: &str = "booking.completed";
pub const QR_SCANNED: &str = "qr.scanned";
pub const QR_VALIDATED: &str = "qr.validated";
pub const MOCK_EXAM_BOOKINGS_CHANGED: &str = "mock_exam.bookings_changed";
pub const BOOKING_UPDATED: &str = "booking.updated";
pub const MOCK_EXAM_UPDATED: &str = "mock_exam.updated";

/// `{booking, changes:{field:{old,new}}}`: a booking changed other than by create, cancel or
/// complete (today: QR scan and QR validate).
pub fn booking_updated(booking: &Booking, changes: Map<String, Value>, now: &str) -> DomainEvent {
    DomainEvent::new(
        BOOKING_UPDATED,
        json!({ "booking": booking, "changes": changes }),
        now,
    )
}

/// `{mockExam, changes}`: a PUT changed an existing exam's name, capacity or examDate.
pub fn mock_exam_updated(exam: &MockExam, changes: Map<String, Value>, now: &str) -> DomainEvent {
    DomainEvent::new(
        MOCK_EXAM_UPDATED,
        json!({ "mockExam": exam, "changes": changes }),
        now,
    )
}

/// `{field:{old,new}}` of the top-level fields of the API shape that differ between `before`
/// and `after` (as `user.updated` does), leaving out `updatedAt`, which every change moves.
pub fn changes<T: serde::Serialize>(before: &T, after: &T) -> Map<String, Value> {
    let (Ok(Value::Object(a)), Ok(Value::Object(b))) =
        (serde_json::to_value(before), serde_json::to_value(after))
    else {
        return Map::new();
    };
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut out = Map::new();
    for key in keys {
        if key == "updatedAt" {
            continue;
        }
        let (old, new) = (a.get(key), b.get(key));
        if old != new {
            out.insert(
                key.clone(),
                json!({ "old": old.cloned().unwrap_or(Value::Null), "new": new.cloned().unwrap_or(Value::Null) }),
            );
        }
    }
    out
}

/// What a PUT changes of an exam's settings: name, capacity, examDate.
pub fn exam_changes(before: &MockExam, input: &ExamInput) -> Map<String, Value> {
    let mut out = Map::new();
    if before.name != input.name {
        out.insert(
            "name".into(),
            json!({ "old": before.name, "new": input.name }),
        );
    }
    if before.capacity != input.capacity {
        out.insert(
            "capacity".into(),
            json!({ "old": before.capacity, "new": input.capacity }),
        );
    }
    if before.exam_date != input.exam_date {
        out.insert(
            "examDate".into(),
            json!({ "old": before.exam_date, "new": input.exam_date }),
        );
    }
    out
}

pub fn booking_created(booking: &Booking, user: Option<Value>, now: &str) -> DomainEvent {
    DomainEvent::new(
        BOOKING_CREATED,
        json!({ "booking": booking, "user": user.unwrap_or(Value::Null) }),
        now,
    )
}

pub fn booking_only(event_type: &str, booking: &Booking, now: &str) -> DomainEvent {
    DomainEvent::new(event_type, json!({ "booking": booking }), now)
}

pub fn qr_scanned(booking: &Booking, user: Option<Value>, now: &str) -> DomainEvent {
    DomainEvent::new(
        QR_SCANNED,
        json!({
            "qrCode": booking.qr_code,
            "user": user.unwrap_or(Value::Null),
            "scannedBy": booking.qr_code.scanned_by,
        }),
        now,
    )
}

pub fn qr_validated(booking: &Booking, user: Option<Value>, now: &str) -> DomainEvent {
    DomainEvent::new(
        QR_VALIDATED,
        json!({ "qrCode": booking.qr_code, "user": user.unwrap_or(Value::Null) }),
        now,
    )
}

/// `{mockExam}` as known when the change is committed: the counter moved by `delta` from
/// the state read before the transaction (the exact value after concurrent changes is what
/// the counter sync reads at send time).
pub fn bookings_changed(exam: &MockExam, now: &str) -> DomainEvent {
    DomainEvent::new(MOCK_EXAM_BOOKINGS_CHANGED, json!({ "mockExam": exam }), now)
}

/// The exam as it is right after a change of `delta` bookings to the state read before it.
pub fn exam_after(exam: &MockExam, delta: i64, now: &str) -> MockExam {
    let mut e = exam.clone();
    e.total_bookings += delta;
    e.version += 1;
    e.updated_at = now.to_owned();
    e
}

/// The outbox record of a change to an exam's bookings: counter sync + events.
pub fn counter_change_outbox(
    workspace_id: &str,
    exam_id: &str,
    events: Vec<DomainEvent>,
    now: &str,
) -> OutboxRecord {
    let mut record = OutboxRecord::new(workspace_id, now);
    record.counter_sync = Some(exam_id.to_owned());
    record.events = events;
    record
}
