//! Contract of `OutboxStore`: every behaviour is written once and runs against the in-memory
//! fake (`fake::…`) and the DynamoDB adapter on moto (`dynamo::…`). Outbox records are only
//! written inside the transactions of the change they describe, so the tests create them
//! through a booking.

use chrono::Utc;
use shared::bookings::ports::{BookingStore, NewBooking};
use shared::bookings::{Booking, BookingStatus, ExamInput, QrCode};
use shared::error::AppError;
use shared::ids::{new_id, BOOKING, OUTBOX, QR_CODE};
use shared::outbox::ports::OutboxStore;
use shared::outbox::{DomainEvent, OutboxRecord};
use shared::time::{format, now_string};

shared_testkit::contract!(
    a_committed_record_reads_back_as_written,
    a_record_created_before_the_cutoff_is_listed_as_unenqueued,
    a_record_created_at_or_after_the_cutoff_is_not_listed,
    an_enqueued_record_is_no_longer_listed,
    marking_an_unknown_record_is_not_found,
    unenqueued_records_come_oldest_first_up_to_the_limit,
);

const WS: &str = "ws_contract";
const EXAM: &str = "40577087837";

trait Store: BookingStore + OutboxStore {}
impl<T: BookingStore + OutboxStore + ?Sized> Store for T {}

fn minutes_ago(m: i64) -> String {
    format(Utc::now() - chrono::Duration::minutes(m))
}

/// Commits a booking whose outbox record was created at `created_at`; returns the record.
async fn commit<S: Store + ?Sized>(s: &S, created_at: &str) -> OutboxRecord {
    if s.get_exam(WS, EXAM).await.unwrap().is_none() {
        let input = ExamInput {
            name: "Mock exam".into(),
            capacity: 100,
            exam_date: None,
        };
        s.put_exam(WS, EXAM, &input, &now_string()).await.unwrap();
    }
    let mut outbox = OutboxRecord::new(WS, created_at);
    outbox.counter_sync = Some(EXAM.into());
    outbox.events.push(DomainEvent::new(
        "booking.created",
        serde_json::json!({ "mockExamId": EXAM, "nested": { "n": 1, "ok": true } }),
        created_at,
    ));
    let new = NewBooking {
        workspace_id: WS.into(),
        booking: Booking {
            id: new_id(BOOKING),
            mock_exam_id: EXAM.into(),
            contact_id: Some(new_id("c")),
            status: BookingStatus::Active,
            created_at: created_at.into(),
            updated_at: None,
            cancelled_at: None,
            completed_at: None,
            qr_code: QrCode {
                id: new_id(QR_CODE),
                code: "QR".into(),
                scanned_at: None,
                scanned_by: None,
                validated_at: None,
            },
        },
        idempotency: None,
        outbox: outbox.clone(),
        now: created_at.into(),
    };
    s.create_booking(&new).await.unwrap();
    outbox
}

fn ids(records: &[OutboxRecord]) -> Vec<String> {
    records.iter().map(|r| r.id.clone()).collect()
}

async fn a_committed_record_reads_back_as_written<S: Store + ?Sized>(s: &S) {
    let record = commit(s, &now_string()).await;
    assert_eq!(s.get_outbox(&record.id).await.unwrap(), Some(record));
    assert_eq!(s.get_outbox(&new_id(OUTBOX)).await.unwrap(), None);
}

async fn a_record_created_before_the_cutoff_is_listed_as_unenqueued<S: Store + ?Sized>(s: &S) {
    let record = commit(s, &minutes_ago(5)).await;
    let pending = s.list_unenqueued(&minutes_ago(2), 10).await.unwrap();
    assert_eq!(pending, vec![record]);
}

async fn a_record_created_at_or_after_the_cutoff_is_not_listed<S: Store + ?Sized>(s: &S) {
    let created_at = minutes_ago(1);
    commit(s, &created_at).await;
    assert!(s
        .list_unenqueued(&minutes_ago(2), 10)
        .await
        .unwrap()
        .is_empty());
    assert!(s.list_unenqueued(&created_at, 10).await.unwrap().is_empty());
}

async fn an_enqueued_record_is_no_longer_listed<S: Store + ?Sized>(s: &S) {
    let sent = commit(s, &minutes_ago(5)).await;
    let lost = commit(s, &minutes_ago(4)).await;
    let now = now_string();
    s.mark_enqueued(&sent.id, &now).await.unwrap();
    let pending = s.list_unenqueued(&minutes_ago(2), 10).await.unwrap();
    assert_eq!(ids(&pending), vec![lost.id]);
    let stored = s.get_outbox(&sent.id).await.unwrap().unwrap();
    assert_eq!(stored.enqueued_at.as_deref(), Some(now.as_str()));
    // Marking again (a duplicate hand-off) is harmless.
    s.mark_enqueued(&sent.id, &now_string()).await.unwrap();
    assert_eq!(
        s.list_unenqueued(&minutes_ago(2), 10).await.unwrap().len(),
        1
    );
}

async fn marking_an_unknown_record_is_not_found<S: Store + ?Sized>(s: &S) {
    let id = new_id(OUTBOX);
    let err = s.mark_enqueued(&id, &now_string()).await.unwrap_err();
    assert!(matches!(err, AppError::NotFound(_)), "{err:?}");
    assert_eq!(s.get_outbox(&id).await.unwrap(), None);
}

async fn unenqueued_records_come_oldest_first_up_to_the_limit<S: Store + ?Sized>(s: &S) {
    let newest = commit(s, &minutes_ago(3)).await;
    let oldest = commit(s, &minutes_ago(9)).await;
    let middle = commit(s, &minutes_ago(6)).await;
    let first_two = s.list_unenqueued(&minutes_ago(2), 2).await.unwrap();
    assert_eq!(ids(&first_two), vec![oldest.id.clone(), middle.id.clone()]);
    let all = s.list_unenqueued(&now_string(), 10).await.unwrap();
    assert_eq!(ids(&all), vec![oldest.id, middle.id, newest.id]);
}
