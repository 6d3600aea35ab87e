//! Contract of `BookingStore` (with the outbox records its transactions write): every
//! behaviour is written once and runs against the in-memory fake (`fake::…`) and the
//! DynamoDB adapter on moto (`dynamo::…`).

use std::collections::BTreeSet;

use shared::bookings::{
    ActiveBookingRef, Booking, BookingStatus, ExamInput, IdempotencyRecord, MockExam,
};

use shared::bookings::ports::BookingTransition::{self, Complete, QrScan, QrValidate};
use shared::bookings::ports::{BookingStore, CancelOutcome, CreateBookingOutcome, NewBooking};
use shared::error::AppError;
use shared::ids::{new_id, BOOKING};
use shared::outbox::ports::OutboxStore;
use shared::outbox::{DomainEvent, OutboxRecord};
use shared::time::now_string;
use shared_testkit::contract::all_pages;
use shared_testkit::fixtures;

shared_testkit::contract!(
    put_exam_creates_an_exam_with_zero_counters,
    put_exam_replaces_name_and_capacity_but_keeps_the_counter,
    a_capacity_lowered_below_the_count_refuses_new_bookings,
    create_booking_counts_and_writes_booking_marker_and_outbox,
    a_full_exam_refuses_and_writes_nothing,
    the_same_contact_cannot_book_an_exam_twice,
    booking_an_unknown_exam_is_not_found_and_writes_nothing,
    the_idempotency_key_is_claimed_with_the_booking,
    a_reused_idempotency_key_returns_its_record_and_writes_nothing,
    a_replayed_request_reports_the_key_before_already_booked,
    an_expired_idempotency_key_can_be_claimed_again,
    cancel_frees_the_seat,
    cancel_twice_decrements_once,
    cancelling_an_unknown_booking_is_not_found,
    a_completed_booking_cannot_be_cancelled,
    complete_keeps_the_seat_and_happens_once,
    qr_scan_records_when_and_by_whom,
    qr_validate_happens_once,
    a_cancelled_booking_accepts_no_transition,
    transition_of_an_unknown_booking_is_not_found,
    mark_synced_never_moves_backwards,
    fix_counter_applies_only_at_the_expected_version,
    listing_exams_page_by_page_sees_each_once,
    a_malformed_exam_cursor_is_a_validation_error,
    an_exams_bookings_are_listed_newest_first_by_status_page_by_page,
    exam_counters_are_listed_page_by_page_with_their_versions,
    another_workspace_sees_none_of_it,
    update_exam_changes_settings_with_its_outbox_only_from_the_values_read,
    update_exam_from_an_exam_without_a_date,
);

const WS: &str = "ws_contract";
const OTHER_WS: &str = "ws_other";
const EXAM: &str = "40577087837";

trait Store: BookingStore + OutboxStore {}
impl<T: BookingStore + OutboxStore + ?Sized> Store for T {}

async fn exam<S: Store + ?Sized>(s: &S, ws: &str, id: &str, capacity: i64) -> MockExam {
    let input = ExamInput {
        name: format!("Mock exam {id}"),
        capacity,
        exam_date: Some("2026-12-01".into()),
    };
    s.put_exam(ws, id, &input, &now_string()).await.unwrap()
}

async fn counter<S: Store + ?Sized>(s: &S, id: &str) -> (i64, i64) {
    let e = s.get_exam(WS, id).await.unwrap().expect("exam exists");
    (e.total_bookings, e.version)
}

fn outbox(exam: &str, event_type: &str) -> OutboxRecord {
    let now = now_string();
    let mut o = OutboxRecord::new(WS, &now);
    o.counter_sync = Some(exam.to_owned());
    o.events.push(DomainEvent::new(
        event_type,
        serde_json::json!({ "mockExamId": exam, "seats": 1, "tags": ["a"] }),
        &now,
    ));
    o
}

fn new_booking(exam: &str, contact: &str) -> NewBooking {
    let booking = fixtures::booking(exam, contact, &now_string());
    NewBooking {
        outbox: outbox(exam, "booking.created"),
        ..fixtures::new_booking(WS, booking)
    }
}

fn with_key(mut new: NewBooking, key_hash: &str, expires_at: i64) -> NewBooking {
    let record = IdempotencyRecord {
        request_hash: format!("req-{}", new.booking.id),
        booking_id: new.booking.id.clone(),
        expires_at,
    };
    new.idempotency = Some((key_hash.to_owned(), record));
    new
}

fn in_a_day() -> i64 {
    chrono::Utc::now().timestamp() + 86_400
}

/// Creates an active booking and returns it.
async fn book<S: Store + ?Sized>(s: &S, exam: &str, contact: &str) -> Booking {
    let new = new_booking(exam, contact);
    assert_eq!(
        s.create_booking(&new).await.unwrap(),
        CreateBookingOutcome::Created
    );
    new.booking
}

/// Asserts that a refused create left no trace of itself.
async fn assert_not_written<S: Store + ?Sized>(s: &S, refused: &NewBooking) {
    assert_eq!(s.get_booking(WS, &refused.booking.id).await.unwrap(), None);
    assert_eq!(s.get_outbox(&refused.outbox.id).await.unwrap(), None);
    let markers = s
        .list_active_bookings(WS, &refused.booking.mock_exam_id)
        .await
        .unwrap();
    assert!(
        markers.iter().all(|m| m.booking_id != refused.booking.id),
        "{markers:?}"
    );
}

fn contacts(markers: &[ActiveBookingRef]) -> BTreeSet<String> {
    markers.iter().map(|m| m.contact_id.clone()).collect()
}

async fn put_exam_creates_an_exam_with_zero_counters<S: Store + ?Sized>(s: &S) {
    let created = exam(s, WS, EXAM, 10).await;
    assert_eq!(created.id, EXAM);
    assert_eq!(created.name, format!("Mock exam {EXAM}"));
    assert_eq!(created.capacity, 10);
    assert_eq!(created.exam_date.as_deref(), Some("2026-12-01"));
    assert_eq!(
        (
            created.total_bookings,
            created.version,
            created.last_synced_version
        ),
        (0, 0, 0)
    );
    assert_eq!(s.get_exam(WS, EXAM).await.unwrap(), Some(created));
}

async fn put_exam_replaces_name_and_capacity_but_keeps_the_counter<S: Store + ?Sized>(s: &S) {
    let first = exam(s, WS, EXAM, 10).await;
    book(s, EXAM, "c-1").await;
    let input = ExamInput {
        name: "Renamed".into(),
        capacity: 3,
        exam_date: None,
    };
    let later = now_string();
    let replaced = s.put_exam(WS, EXAM, &input, &later).await.unwrap();
    assert_eq!(replaced.name, "Renamed");
    assert_eq!(replaced.capacity, 3);
    assert_eq!(replaced.exam_date, None);
    assert_eq!((replaced.total_bookings, replaced.version), (1, 1));
    assert_eq!(replaced.created_at, first.created_at);
    assert_eq!(replaced.updated_at, later);
    assert_eq!(s.get_exam(WS, EXAM).await.unwrap(), Some(replaced));
}

async fn a_capacity_lowered_below_the_count_refuses_new_bookings<S: Store + ?Sized>(s: &S) {
    exam(s, WS, EXAM, 5).await;
    book(s, EXAM, "c-1").await;
    book(s, EXAM, "c-2").await;
    exam(s, WS, EXAM, 1).await;
    let refused = new_booking(EXAM, "c-3");
    let err = s.create_booking(&refused).await.unwrap_err();
    assert!(matches!(err, AppError::CapacityExceeded), "{err:?}");
    assert_not_written(s, &refused).await;
    assert_eq!(counter(s, EXAM).await, (2, 2), "existing bookings are kept");
}

async fn create_booking_counts_and_writes_booking_marker_and_outbox<S: Store + ?Sized>(s: &S) {
    exam(s, WS, EXAM, 10).await;
    let new = new_booking(EXAM, "c-1");
    assert_eq!(
        s.create_booking(&new).await.unwrap(),
        CreateBookingOutcome::Created
    );
    assert_eq!(counter(s, EXAM).await, (1, 1));
    assert_eq!(
        s.get_booking(WS, &new.booking.id).await.unwrap(),
        Some(new.booking.clone())
    );
    assert_eq!(
        s.get_outbox(&new.outbox.id).await.unwrap(),
        Some(new.outbox.clone())
    );
    assert_eq!(
        s.list_active_bookings(WS, EXAM).await.unwrap(),
        vec![ActiveBookingRef {
            booking_id: new.booking.id.clone(),
            contact_id: "c-1".into(),
        }]
    );
    book(s, EXAM, "c-2").await;
    assert_eq!(counter(s, EXAM).await, (2, 2));
}

async fn a_full_exam_refuses_and_writes_nothing<S: Store + ?Sized>(s: &S) {
    exam(s, WS, EXAM, 1).await;
    book(s, EXAM, "c-1").await;
    let refused = new_booking(EXAM, "c-2");
    let err = s.create_booking(&refused).await.unwrap_err();
    assert!(matches!(err, AppError::CapacityExceeded), "{err:?}");
    assert_eq!(counter(s, EXAM).await, (1, 1));
    assert_not_written(s, &refused).await;
    assert_eq!(
        contacts(&s.list_active_bookings(WS, EXAM).await.unwrap()),
        BTreeSet::from(["c-1".into()])
    );
}

async fn the_same_contact_cannot_book_an_exam_twice<S: Store + ?Sized>(s: &S) {
    exam(s, WS, EXAM, 10).await;
    book(s, EXAM, "c-1").await;
    let again = new_booking(EXAM, "c-1");
    let err = s.create_booking(&again).await.unwrap_err();
    assert!(matches!(err, AppError::AlreadyBooked), "{err:?}");
    assert_eq!(counter(s, EXAM).await, (1, 1));
    assert_not_written(s, &again).await;
}

async fn booking_an_unknown_exam_is_not_found_and_writes_nothing<S: Store + ?Sized>(s: &S) {
    exam(s, WS, EXAM, 10).await;
    let new = new_booking("404", "c-1");
    let err = s.create_booking(&new).await.unwrap_err();
    assert!(matches!(err, AppError::NotFound(_)), "{err:?}");
    assert_eq!(s.get_exam(WS, "404").await.unwrap(), None);
    assert_not_written(s, &new).await;
}

async fn the_idempotency_key_is_claimed_with_the_booking<S: Store + ?Sized>(s: &S) {
    exam(s, WS, EXAM, 10).await;
    assert_eq!(s.get_idempotency(WS, "idem-1").await.unwrap(), None);
    let new = with_key(new_booking(EXAM, "c-1"), "idem-1", in_a_day());
    assert_eq!(
        s.create_booking(&new).await.unwrap(),
        CreateBookingOutcome::Created
    );
    let (_, record) = new.idempotency.clone().unwrap();
    assert_eq!(s.get_idempotency(WS, "idem-1").await.unwrap(), Some(record));
    assert_eq!(s.get_idempotency(WS, "idem-2").await.unwrap(), None);
}

async fn a_reused_idempotency_key_returns_its_record_and_writes_nothing<S: Store + ?Sized>(s: &S) {
    exam(s, WS, EXAM, 10).await;
    let first = with_key(new_booking(EXAM, "c-1"), "idem-1", in_a_day());
    s.create_booking(&first).await.unwrap();
    let second = with_key(new_booking(EXAM, "c-2"), "idem-1", in_a_day());
    let outcome = s.create_booking(&second).await.unwrap();
    let (_, record) = first.idempotency.clone().unwrap();
    assert_eq!(
        outcome,
        CreateBookingOutcome::IdempotencyKeyExists(record.clone())
    );
    assert_eq!(counter(s, EXAM).await, (1, 1));
    assert_not_written(s, &second).await;
    assert_eq!(s.get_idempotency(WS, "idem-1").await.unwrap(), Some(record));
}

async fn a_replayed_request_reports_the_key_before_already_booked<S: Store + ?Sized>(s: &S) {
    exam(s, WS, EXAM, 10).await;
    let first = with_key(new_booking(EXAM, "c-1"), "idem-1", in_a_day());
    s.create_booking(&first).await.unwrap();
    // The client retries the very same request: same key, same contact.
    let replay = with_key(new_booking(EXAM, "c-1"), "idem-1", in_a_day());
    let outcome = s.create_booking(&replay).await.unwrap();
    let (_, record) = first.idempotency.clone().unwrap();
    assert_eq!(outcome, CreateBookingOutcome::IdempotencyKeyExists(record));
    assert_eq!(counter(s, EXAM).await, (1, 1));
    assert_not_written(s, &replay).await;
}

async fn an_expired_idempotency_key_can_be_claimed_again<S: Store + ?Sized>(s: &S) {
    exam(s, WS, EXAM, 10).await;
    let long_ago = chrono::Utc::now().timestamp() - 60;
    let first = with_key(new_booking(EXAM, "c-1"), "idem-1", long_ago);
    s.create_booking(&first).await.unwrap();
    assert_eq!(
        s.get_idempotency(WS, "idem-1").await.unwrap(),
        None,
        "expired reads as absent"
    );
    let second = with_key(new_booking(EXAM, "c-2"), "idem-1", in_a_day());
    assert_eq!(
        s.create_booking(&second).await.unwrap(),
        CreateBookingOutcome::Created
    );
    let (_, record) = second.idempotency.clone().unwrap();
    assert_eq!(s.get_idempotency(WS, "idem-1").await.unwrap(), Some(record));
    assert_eq!(counter(s, EXAM).await, (2, 2));
}

async fn cancel_frees_the_seat<S: Store + ?Sized>(s: &S) {
    exam(s, WS, EXAM, 1).await;
    let booking = book(s, EXAM, "c-1").await;
    let ob = outbox(EXAM, "booking.cancelled");
    let now = now_string();
    let CancelOutcome::Cancelled(cancelled) =
        s.cancel_booking(WS, &booking, &ob, &now).await.unwrap()
    else {
        panic!("first cancel must cancel");
    };
    assert_eq!(cancelled.status, BookingStatus::Cancelled);
    assert_eq!(cancelled.cancelled_at.as_deref(), Some(now.as_str()));
    assert_eq!(cancelled.updated_at.as_deref(), Some(now.as_str()));
    assert_eq!(
        s.get_booking(WS, &booking.id).await.unwrap(),
        Some(cancelled)
    );
    assert_eq!(counter(s, EXAM).await, (0, 2));
    assert!(s.list_active_bookings(WS, EXAM).await.unwrap().is_empty());
    assert_eq!(s.get_outbox(&ob.id).await.unwrap(), Some(ob));
    // The seat and the contact are free again.
    book(s, EXAM, "c-1").await;
    assert_eq!(counter(s, EXAM).await, (1, 3));
}

async fn cancel_twice_decrements_once<S: Store + ?Sized>(s: &S) {
    exam(s, WS, EXAM, 10).await;
    let booking = book(s, EXAM, "c-1").await;
    book(s, EXAM, "c-2").await;
    let cancelled = cancel(s, &booking).await;
    let second_outbox = outbox(EXAM, "booking.cancelled");
    // Whether the caller saw it active (a stale read) or cancelled.
    let stale = s
        .cancel_booking(WS, &booking, &second_outbox, &now_string())
        .await
        .unwrap();
    assert_eq!(stale, CancelOutcome::AlreadyCancelled(cancelled.clone()));
    let again = s
        .cancel_booking(WS, &cancelled, &second_outbox, &now_string())
        .await
        .unwrap();
    assert_eq!(again, CancelOutcome::AlreadyCancelled(cancelled));
    assert_eq!(counter(s, EXAM).await, (1, 3));
    assert_eq!(s.get_outbox(&second_outbox.id).await.unwrap(), None);
    assert_eq!(
        contacts(&s.list_active_bookings(WS, EXAM).await.unwrap()),
        BTreeSet::from(["c-2".into()])
    );
}

async fn cancelling_an_unknown_booking_is_not_found<S: Store + ?Sized>(s: &S) {
    exam(s, WS, EXAM, 10).await;
    let ob = outbox(EXAM, "booking.cancelled");
    let mut unknown = new_booking(EXAM, "c-1").booking;
    unknown.id = new_id(BOOKING);
    let err = s
        .cancel_booking(WS, &unknown, &ob, &now_string())
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::NotFound(_)), "{err:?}");
    assert_eq!(s.get_outbox(&ob.id).await.unwrap(), None);
    assert_eq!(counter(s, EXAM).await, (0, 0));
}

/// Cancels `booking` (active) of WS now, writing a cancellation outbox record: the booking
/// after it.
async fn cancel<S: Store + ?Sized>(s: &S, booking: &Booking) -> Booking {
    let ob = outbox(EXAM, "booking.cancelled");
    match s.cancel_booking(WS, booking, &ob, &now_string()).await {
        Ok(CancelOutcome::Cancelled(cancelled)) => cancelled,
        other => panic!("first cancel must cancel: {other:?}"),
    }
}

/// Moves `booking` by `t` (scanned `by`) at `now`, writing `ob`: the booking after it.
async fn transition<S: Store + ?Sized>(
    s: &S,
    booking: &Booking,
    t: BookingTransition,
    by: Option<&str>,
    ob: &OutboxRecord,
    now: &str,
) -> Booking {
    s.transition_booking(WS, &booking.id, t, by, ob, now)
        .await
        .unwrap()
}

/// Asserts that `t` (scanned `by`) is refused for `booking` as a validation error that
/// changes nothing: the booking stays as it is and no outbox record is written.
async fn assert_refused<S: Store + ?Sized>(
    s: &S,
    booking: &Booking,
    t: BookingTransition,
    by: Option<&str>,
) {
    let ob = outbox(EXAM, "booking.updated");
    let err = s
        .transition_booking(WS, &booking.id, t, by, &ob, &now_string())
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::Validation(_)), "{t:?}: {err:?}");
    let stored = s.get_booking(WS, &booking.id).await.unwrap();
    assert_eq!(stored.as_ref(), Some(booking), "{t:?}");
    assert_eq!(s.get_outbox(&ob.id).await.unwrap(), None, "{t:?}");
}

async fn a_completed_booking_cannot_be_cancelled<S: Store + ?Sized>(s: &S) {
    exam(s, WS, EXAM, 10).await;
    let booking = book(s, EXAM, "c-1").await;
    let ob = outbox(EXAM, "booking.completed");
    let completed = transition(s, &booking, Complete, None, &ob, &now_string()).await;
    let ob = outbox(EXAM, "booking.cancelled");
    // Seen completed, or seen active by a caller that read it before it completed.
    let err = s
        .cancel_booking(WS, &completed, &ob, &now_string())
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::Validation(_)), "{err:?}");
    let err = s
        .cancel_booking(WS, &booking, &ob, &now_string())
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::TransactionConflict), "{err:?}");
    assert_eq!(
        s.get_booking(WS, &booking.id).await.unwrap(),
        Some(completed)
    );
    assert_eq!(counter(s, EXAM).await, (1, 1));
    assert_eq!(s.get_outbox(&ob.id).await.unwrap(), None);
}

async fn complete_keeps_the_seat_and_happens_once<S: Store + ?Sized>(s: &S) {
    exam(s, WS, EXAM, 10).await;
    let booking = book(s, EXAM, "c-1").await;
    let ob = outbox(EXAM, "booking.completed");
    let now = now_string();
    let completed = transition(s, &booking, Complete, None, &ob, &now).await;
    assert_eq!(completed.status, BookingStatus::Completed);
    assert_eq!(completed.completed_at.as_deref(), Some(now.as_str()));
    assert_eq!(completed.updated_at.as_deref(), Some(now.as_str()));
    assert_eq!(
        s.get_booking(WS, &booking.id).await.unwrap(),
        Some(completed.clone())
    );
    assert_eq!(s.get_outbox(&ob.id).await.unwrap(), Some(ob));
    assert_eq!(
        counter(s, EXAM).await,
        (1, 1),
        "a completed booking still holds its seat"
    );
    assert_eq!(s.list_active_bookings(WS, EXAM).await.unwrap().len(), 1);
    assert_refused(s, &completed, Complete, None).await;
}

async fn qr_scan_records_when_and_by_whom<S: Store + ?Sized>(s: &S) {
    exam(s, WS, EXAM, 10).await;
    let booking = book(s, EXAM, "c-1").await;
    let ob = outbox(EXAM, "booking.qr_scanned");
    let now = now_string();
    let scanned = transition(s, &booking, QrScan, Some("door-1"), &ob, &now).await;
    assert_eq!(scanned.status, BookingStatus::Active);
    assert_eq!(scanned.qr_code.scanned_at.as_deref(), Some(now.as_str()));
    assert_eq!(scanned.qr_code.scanned_by.as_deref(), Some("door-1"));
    assert_eq!(scanned.qr_code.validated_at, None);
    assert_eq!(s.get_booking(WS, &booking.id).await.unwrap(), Some(scanned));
    assert_eq!(s.get_outbox(&ob.id).await.unwrap(), Some(ob));
    // A later scan (also of a completed booking) records the latest one.
    let ob = outbox(EXAM, "booking.completed");
    transition(s, &booking, Complete, None, &ob, &now_string()).await;
    let later = now_string();
    let ob = outbox(EXAM, "booking.qr_scanned");
    let rescanned = transition(s, &booking, QrScan, None, &ob, &later).await;
    assert_eq!(rescanned.status, BookingStatus::Completed);
    assert_eq!(
        rescanned.qr_code.scanned_at.as_deref(),
        Some(later.as_str())
    );
    assert_eq!(rescanned.qr_code.scanned_by, None);
    assert_eq!(
        s.get_booking(WS, &booking.id).await.unwrap(),
        Some(rescanned)
    );
}

async fn qr_validate_happens_once<S: Store + ?Sized>(s: &S) {
    exam(s, WS, EXAM, 10).await;
    let booking = book(s, EXAM, "c-1").await;
    let now = now_string();
    let ob = outbox(EXAM, "booking.qr_validated");
    let validated = transition(s, &booking, QrValidate, None, &ob, &now).await;
    assert_eq!(
        validated.qr_code.validated_at.as_deref(),
        Some(now.as_str())
    );
    assert_eq!(
        s.get_booking(WS, &booking.id).await.unwrap(),
        Some(validated.clone())
    );
    assert_refused(s, &validated, QrValidate, None).await;
}

async fn a_cancelled_booking_accepts_no_transition<S: Store + ?Sized>(s: &S) {
    exam(s, WS, EXAM, 10).await;
    let booking = book(s, EXAM, "c-1").await;
    let cancelled = cancel(s, &booking).await;
    for t in [Complete, QrScan, QrValidate] {
        assert_refused(s, &cancelled, t, Some("door-1")).await;
    }
    assert_eq!(
        s.get_booking(WS, &booking.id).await.unwrap(),
        Some(cancelled)
    );
    assert_eq!(counter(s, EXAM).await, (0, 2));
}

async fn transition_of_an_unknown_booking_is_not_found<S: Store + ?Sized>(s: &S) {
    let ob = outbox(EXAM, "booking.completed");
    let err = s
        .transition_booking(WS, &new_id(BOOKING), Complete, None, &ob, &now_string())
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::NotFound(_)), "{err:?}");
    assert_eq!(s.get_outbox(&ob.id).await.unwrap(), None);
}

async fn synced<S: Store + ?Sized>(s: &S) -> i64 {
    s.get_exam(WS, EXAM)
        .await
        .unwrap()
        .unwrap()
        .last_synced_version
}

async fn mark_synced_never_moves_backwards<S: Store + ?Sized>(s: &S) {
    exam(s, WS, EXAM, 10).await;
    s.mark_synced(WS, EXAM, 3).await.unwrap();
    assert_eq!(synced(s).await, 3);
    s.mark_synced(WS, EXAM, 1).await.unwrap();
    assert_eq!(synced(s).await, 3);
    s.mark_synced(WS, EXAM, 3).await.unwrap();
    assert_eq!(synced(s).await, 3);
    s.mark_synced(WS, EXAM, 5).await.unwrap();
    assert_eq!(synced(s).await, 5);
    assert_eq!(counter(s, EXAM).await, (0, 0), "the counter is not touched");
    s.mark_synced(WS, "404", 1).await.unwrap();
    assert_eq!(
        s.get_exam(WS, "404").await.unwrap(),
        None,
        "no exam is created"
    );
}

async fn fix_counter_applies_only_at_the_expected_version<S: Store + ?Sized>(s: &S) {
    exam(s, WS, EXAM, 10).await;
    book(s, EXAM, "c-1").await;
    book(s, EXAM, "c-2").await;
    assert_eq!(counter(s, EXAM).await, (2, 2));
    // Someone booked after reconcile read version 1: the fix is refused.
    assert!(!s.fix_counter(WS, EXAM, 1, 7, &now_string()).await.unwrap());
    assert_eq!(counter(s, EXAM).await, (2, 2));
    let now = now_string();
    assert!(s.fix_counter(WS, EXAM, 2, 7, &now).await.unwrap());
    let fixed = s.get_exam(WS, EXAM).await.unwrap().unwrap();
    assert_eq!((fixed.total_bookings, fixed.version), (7, 3));
    assert_eq!(fixed.updated_at, now);
    assert!(!s.fix_counter(WS, "404", 0, 1, &now_string()).await.unwrap());
    assert_eq!(s.get_exam(WS, "404").await.unwrap(), None);
}

async fn listing_exams_page_by_page_sees_each_once<S: Store + ?Sized>(s: &S) {
    let created: BTreeSet<String> = ["101", "102", "103", "104", "105"].map(String::from).into();
    for id in &created {
        exam(s, WS, id, 5).await;
    }
    exam(s, OTHER_WS, "999", 5).await;
    let seen: Vec<String> = all_pages(
        2,
        async |c| s.list_exams(WS, c.as_deref(), 2).await.unwrap(),
        |e| e.id,
    )
    .await;
    let unique: BTreeSet<String> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len(), "no exam twice: {seen:?}");
    assert_eq!(unique, created);
}

/// Reconcile's walk: every exam once, with the counter fields the consistent reads show.
async fn exam_counters_are_listed_page_by_page_with_their_versions<S: Store + ?Sized>(s: &S) {
    for i in 0..5 {
        exam(s, WS, &format!("e{i}"), 10).await;
    }
    exam(s, OTHER_WS, "foreign", 10).await;
    book(s, "e1", "c1").await;
    book(s, "e1", "c2").await;
    s.mark_synced(WS, "e1", 1).await.unwrap();
    let seen = all_pages(
        2,
        async |c| s.list_exam_counters(WS, c.as_deref(), 2).await.unwrap(),
        |x| x,
    )
    .await;
    let ids: Vec<&str> = seen.iter().map(|c| c.exam_id.as_str()).collect();
    assert_eq!(ids, ["e0", "e1", "e2", "e3", "e4"]);
    let e1 = &seen[1];
    assert_eq!(
        (e1.total_bookings, e1.version, e1.last_synced_version),
        (Some(2), Some(2), 1)
    );
    assert_eq!(
        (
            seen[0].total_bookings,
            seen[0].version,
            seen[0].last_synced_version
        ),
        (Some(0), Some(0), 0)
    );
}

async fn a_malformed_exam_cursor_is_a_validation_error<S: Store + ?Sized>(s: &S) {
    exam(s, WS, EXAM, 5).await;
    let err = s
        .list_exams(WS, Some("not a cursor!"), 10)
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::Validation(_)), "{err:?}");
}

async fn an_exams_bookings_are_listed_newest_first_by_status_page_by_page<S: Store + ?Sized>(
    s: &S,
) {
    exam(s, WS, EXAM, 10).await;
    exam(s, WS, "other-exam", 10).await;
    let mut ids = Vec::new();
    for contact in ["c-1", "c-2", "c-3"] {
        ids.push(book(s, EXAM, contact).await.id);
        // Ids are time-ordered by the millisecond.
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    book(s, "other-exam", "c-1").await;
    let now = now_string();
    let second = s.get_booking(WS, &ids[1]).await.unwrap().unwrap();
    s.cancel_booking(WS, &second, &outbox(EXAM, "booking.cancelled"), &now)
        .await
        .unwrap();
    let newest_first: Vec<String> = ids.iter().rev().cloned().collect();
    let seen: Vec<String> = all_pages(
        1,
        async |c| {
            s.list_exam_bookings(WS, EXAM, None, c.as_deref(), 1)
                .await
                .unwrap()
        },
        |b| b.id,
    )
    .await;
    assert_eq!(seen, newest_first);
    let active: Vec<String> = s
        .list_exam_bookings(WS, EXAM, Some(BookingStatus::Active), None, 10)
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|b| b.id)
        .collect();
    assert_eq!(active, vec![ids[2].clone(), ids[0].clone()]);
    let cancelled = s
        .list_exam_bookings(WS, EXAM, Some(BookingStatus::Cancelled), None, 10)
        .await
        .unwrap();
    assert_eq!(cancelled.items.len(), 1);
    assert_eq!(cancelled.items[0].id, ids[1]);
    assert_eq!(cancelled.items[0].status, BookingStatus::Cancelled);
    assert!(s
        .list_exam_bookings(OTHER_WS, EXAM, None, None, 10)
        .await
        .unwrap()
        .items
        .is_empty());
    // A cursor of another exam's list is refused, not passed on.
    let other = s
        .list_exam_bookings(WS, "other-exam", None, None, 1)
        .await
        .unwrap();
    assert!(other.next_cursor.is_none());
    let page = s.list_exam_bookings(WS, EXAM, None, None, 1).await.unwrap();
    let err = s
        .list_exam_bookings(WS, "other-exam", None, page.next_cursor.as_deref(), 1)
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::Validation(_)), "{err:?}");
}

async fn another_workspace_sees_none_of_it<S: Store + ?Sized>(s: &S) {
    exam(s, WS, EXAM, 10).await;
    let booking = book(s, EXAM, "c-1").await;
    assert_eq!(s.get_exam(OTHER_WS, EXAM).await.unwrap(), None);
    assert_eq!(s.get_booking(OTHER_WS, &booking.id).await.unwrap(), None);
    assert!(s
        .list_active_bookings(OTHER_WS, EXAM)
        .await
        .unwrap()
        .is_empty());
    assert!(s
        .list_exams(OTHER_WS, None, 10)
        .await
        .unwrap()
        .items
        .is_empty());
    let err = s
        .cancel_booking(
            OTHER_WS,
            &booking,
            &outbox(EXAM, "booking.cancelled"),
            &now_string(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::NotFound(_)), "{err:?}");
    let mut foreign = new_booking(EXAM, "c-2");
    foreign.workspace_id = OTHER_WS.into();
    let err = s.create_booking(&foreign).await.unwrap_err();
    assert!(matches!(err, AppError::NotFound(_)), "{err:?}");
    assert_eq!(counter(s, EXAM).await, (1, 1));
}

async fn update_exam_changes_settings_with_its_outbox_only_from_the_values_read<
    S: Store + ?Sized,
>(
    s: &S,
) {
    let before = exam(s, WS, EXAM, 10).await;
    let input = ExamInput {
        name: "Renamed".into(),
        capacity: 12,
        exam_date: None,
    };
    let record = outbox(EXAM, "mock_exam.updated");
    s.update_exam(WS, &before, &input, true, &record, &now_string())
        .await
        .unwrap();
    let after = s.get_exam(WS, EXAM).await.unwrap().unwrap();
    assert_eq!(
        (
            after.name.as_str(),
            after.capacity,
            after.exam_date.as_deref()
        ),
        ("Renamed", 12, None)
    );
    assert_eq!(after.version, before.version + 1, "bump_version moves it");
    assert_eq!(after.total_bookings, before.total_bookings);
    assert_eq!(s.get_outbox(&record.id).await.unwrap(), Some(record));

    // From stale values: a conflict, and neither the exam nor the outbox is written.
    let stale = outbox(EXAM, "mock_exam.updated");
    let again = ExamInput {
        name: "Other".into(),
        capacity: 1,
        exam_date: None,
    };
    let r = s
        .update_exam(WS, &before, &again, false, &stale, &now_string())
        .await;
    assert!(matches!(r, Err(AppError::TransactionConflict)), "{r:?}");
    assert_eq!(s.get_exam(WS, EXAM).await.unwrap().unwrap().name, "Renamed");
    assert_eq!(s.get_outbox(&stale.id).await.unwrap(), None);

    // Without bump_version the version stays.
    let plain = outbox(EXAM, "mock_exam.updated");
    s.update_exam(WS, &after, &again, false, &plain, &now_string())
        .await
        .unwrap();
    assert_eq!(
        s.get_exam(WS, EXAM).await.unwrap().unwrap().version,
        after.version
    );
}

async fn update_exam_from_an_exam_without_a_date<S: Store + ?Sized>(s: &S) {
    let input = ExamInput {
        name: "No date".into(),
        capacity: 3,
        exam_date: None,
    };
    let before = s.put_exam(WS, EXAM, &input, &now_string()).await.unwrap();
    let dated = ExamInput {
        exam_date: Some("2027-01-01".into()),
        ..input
    };
    s.update_exam(
        WS,
        &before,
        &dated,
        false,
        &outbox(EXAM, "x"),
        &now_string(),
    )
    .await
    .unwrap();
    let after = s.get_exam(WS, EXAM).await.unwrap().unwrap();
    assert_eq!(after.exam_date.as_deref(), Some("2027-01-01"));
}
