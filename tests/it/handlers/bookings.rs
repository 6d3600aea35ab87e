//! Booking handlers against the in-memory fakes (fault injection included).

use serde_json::{json, Value};
use shared::queue::QueueEnvelope;
use shared::queue::QueueName;
use shared_testkit::harness::{call, call_raw, Reply, TestApp};

const EXAM: &str = "/api/mock-exams/40577087837";

async fn env() -> TestApp {
    let e = TestApp::new().await.serve(bookings_api::router);
    e.put_exam("40577087837", 2).await;
    e
}

fn booking_body(contact: &str) -> Value {
    json!({ "mockExamId": "40577087837", "contactId": contact })
}

async fn book(e: &TestApp, contact: &str) -> Reply {
    e.post("/api/bookings", booking_body(contact)).await
}

/// Books `contact`; the new booking's id.
async fn book_id(e: &TestApp, contact: &str) -> String {
    book(e, contact).await.str_at("/booking/id")
}

async fn total(e: &TestApp) -> Value {
    e.get(EXAM).await.body["mockExam"]["totalBookings"].clone()
}

#[tokio::test]
async fn create_booking_answers_201_with_the_new_total() {
    let e = env().await;
    let r = book(&e, "c1").await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["success"], true);
    assert_eq!(r.body["totalBookings"], 1);
    let b = &r.body["booking"];
    assert!(b["id"].as_str().unwrap().starts_with("bk_"));
    assert_eq!(b["mockExamId"], "40577087837");
    assert_eq!(b["contactId"], "c1");
    assert_eq!(b["status"], "active");
    assert!(b["createdAt"].is_string());
    assert!(b["qrCode"]["code"].is_string());
}

#[tokio::test]
async fn seed_snake_case_body_and_create_alias_are_accepted() {
    let e = env().await;
    let r = e
        .post(
            "/api/bookings/create",
            json!({ "mock_exam_id": "40577087837", "contact_id": "c1" }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
}

#[tokio::test]
async fn booking_hands_the_counter_sync_and_events_to_the_queue_after_commit() {
    let e = env().await;
    book(&e, "c1").await;
    // One message per outbox record, carrying its id.
    let msgs = e.queue.drain(QueueName::Delivery);
    let kinds: Vec<Value> = msgs
        .iter()
        .map(|(b, _)| serde_json::from_str::<Value>(b).unwrap()["type"].clone())
        .collect();
    assert_eq!(kinds, vec![json!("fan_out")]);
    let far_future = "9999-01-01T00:00:00.000Z";
    let pending = e.app.outbox.list_unenqueued(far_future, 10).await.unwrap();
    assert_eq!(
        pending.len(),
        1,
        "the consumer marks the record, not the request"
    );
    // Its consumer queues the exam's counter sync and marks the record: nothing left for the
    // sweeper.
    let runner = delivery_worker::runner(e.app.clone());
    let resp = runner
        .run(shared_testkit::memory::sqs_event(
            msgs.iter().map(|m| &m.0),
            1,
        ))
        .await;
    assert!(resp.batch_item_failures.is_empty());
    let msgs = e.queue.drain(QueueName::Delivery);
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    let env: QueueEnvelope = serde_json::from_str(&msgs[0].0).unwrap();
    assert!(
        matches!(env.message, shared::queue::QueueMessage::CounterSync { ref mock_exam_id, .. } if mock_exam_id == "40577087837")
    );
    assert!(e
        .app
        .outbox
        .list_unenqueued(far_future, 10)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn a_lost_hand_off_still_commits_and_leaves_the_outbox_to_the_sweeper() {
    let e = env().await;
    e.queue.fail_next_sends(1);
    let r = book(&e, "c1").await;
    assert_eq!(r.status, 201);
    let pending = e
        .app
        .outbox
        .list_unenqueued("9999-01-01T00:00:00.000Z", 10)
        .await
        .unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].counter_sync.as_deref(), Some("40577087837"));
}

/// Books each contact of `earlier` (201 each), then `contact`: its answer.
async fn book_after(e: &TestApp, earlier: &[&str], contact: &str) -> Reply {
    for c in earlier {
        assert_eq!(book(e, c).await.status, 201, "{c}");
    }
    book(e, contact).await
}

#[tokio::test]
async fn a_full_exam_or_the_same_contact_twice_answers_409() {
    for (earlier, contact, code, count) in [
        (&["c1", "c2"][..], "c3", "capacity_exceeded", 2),
        (&["c1"][..], "c1", "already_booked", 1),
    ] {
        let e = env().await;
        let r = book_after(&e, earlier, contact).await;
        assert_eq!(r.status, 409, "{code}");
        assert_eq!(r.error_code(), code);
        assert_eq!(total(&e).await, count, "{code}");
    }
}

#[tokio::test]
async fn an_unknown_exam_answers_404_and_writes_nothing() {
    let e = env().await;
    let before = e.store.outbox_len();
    let r = e
        .post(
            "/api/bookings",
            json!({ "mockExamId": "nope", "contactId": "c1" }),
        )
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(r.error_code(), "not_found");
    assert_eq!(e.store.outbox_len(), before);
}

async fn book_with_key(e: &TestApp, idem: &str, contact: &str) -> Reply {
    let body = booking_body(contact).to_string();
    e.send(
        "POST",
        "/api/bookings",
        &[("idempotency-key", idem)],
        body.into_bytes(),
    )
    .await
}

#[tokio::test]
async fn same_idempotency_key_and_body_replays_200_without_counting_twice() {
    let e = env().await;
    let first = book_with_key(&e, "k-1", "c1").await;
    assert_eq!(first.status, 201);
    let again = book_with_key(&e, "k-1", "c1").await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.body["booking"]["id"], first.body["booking"]["id"]);
    assert_eq!(total(&e).await, 1);
}

#[tokio::test]
async fn same_idempotency_key_with_another_body_answers_422() {
    let e = env().await;
    assert_eq!(book_with_key(&e, "k-1", "c1").await.status, 201);
    let r = book_with_key(&e, "k-1", "c2").await;
    assert_eq!(r.status, 422);
    assert_eq!(r.error_code(), "idempotency_key_reused");
    assert_eq!(total(&e).await, 1);
}

#[tokio::test]
async fn transaction_conflicts_are_retried_and_the_booking_counts_once() {
    let e = env().await;
    e.store.inject_conflicts(3);
    let r = book(&e, "c1").await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(e.store.remaining_injected_conflicts(), 0);
    assert_eq!(total(&e).await, 1);
}

#[tokio::test]
async fn persistent_conflicts_answer_503_busy_with_retry_after_and_never_a_wrong_count() {
    let e = env().await;
    e.store.inject_conflicts(1000);
    let r = book(&e, "c1").await;
    assert_eq!(r.status, 503);
    assert_eq!(r.error_code(), "busy");
    assert!(r.headers.contains_key("retry-after"));
    e.store.inject_conflicts(0);
    assert_eq!(total(&e).await, 0);
    assert_eq!(e.store.outbox_len(), 0);
}

#[tokio::test]
async fn bad_input_answers_400_with_the_field_named() {
    let e = env().await;
    let big = format!(
        r#"{{"mockExamId":"40577087837","contactId":"{}"}}"#,
        "x".repeat(300 * 1024)
    );
    // (body, status, code, what the message names)
    for (body, status, code, named) in [
        (b"{oops".to_vec(), 400, "invalid_json", ""),
        (
            br#"{"mockExamId":"40577087837"}"#.to_vec(),
            400,
            "validation_error",
            "contactId",
        ),
        (
            br#"{"mockExamId":5,"contactId":"c"}"#.to_vec(),
            400,
            "validation_error",
            "mockExamId",
        ),
        (
            br#"{"mockExamId":"a#b","contactId":"c"}"#.to_vec(),
            400,
            "validation_error",
            "",
        ),
        (big.into_bytes(), 413, "payload_too_large", ""),
    ] {
        let r = e.send("POST", "/api/bookings", &[], body).await;
        assert_eq!((r.status, r.error_code()), (status, code), "{named}");
        assert!(r.error_message().contains(named), "{}", r.body);
    }
    let r = e
        .put("/api/mock-exams/e1", json!({"name":"x","capacity":-1}))
        .await;
    assert_eq!((r.status, r.error_code()), (400, "validation_error"));
    assert!(r.error_message().contains("capacity"));
    assert_eq!(total(&e).await, 0);
    assert_eq!(e.store.outbox_len(), 0);
}

#[tokio::test]
async fn missing_unknown_and_admin_id_credentials_answer_401() {
    let e = env().await;
    let body = booking_body("c1");
    let r = call(&e.router, "POST", "/api/bookings", None, Some(body.clone())).await;
    assert_eq!((r.status, r.error_code()), (401, "unauthorized"));
    let r = e
        .with_key("bsk_wrong")
        .post("/api/bookings", body.clone())
        .await;
    assert_eq!(r.status, 401);
    let r = call_raw(
        &e.router,
        "POST",
        "/api/bookings",
        &[
            ("x-admin-id", "admin"),
            ("content-type", "application/json"),
        ],
        body.to_string().into_bytes(),
    )
    .await;
    assert_eq!(r.status, 401, "X-Admin-ID is not authentication");
    assert_eq!(total(&e).await, 0);
}

#[tokio::test]
async fn another_workspace_sees_404_for_foreign_bookings_and_exams() {
    let e = env().await;
    let id = book_id(&e, "c1").await;
    let (_other, other_key) = shared_testkit::harness::workspace(&e.app, "other").await;
    let other = e.with_key(&other_key);
    let r = other.get(&format!("/api/bookings/{id}")).await;
    assert_eq!(r.status, 404);
    let r = other.get(EXAM).await;
    assert_eq!(r.status, 404);
    let r = other.post("/api/bookings", booking_body("c2")).await;
    assert_eq!(r.status, 404);
    assert_eq!(total(&e).await, 1);
}

#[tokio::test]
async fn complete_and_qr_routes_move_the_booking_and_emit_their_events() {
    let e = env().await;
    let id = book_id(&e, "c1").await;
    e.queue.drain(QueueName::Delivery);
    let r = e
        .post(
            &format!("/api/bookings/{id}/qr/scan"),
            json!({"scannedBy": "door-1"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["booking"]["qrCode"]["scannedBy"], "door-1");
    let r = e
        .post(&format!("/api/bookings/{id}/qr/validate"), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body["booking"]["qrCode"]["validatedAt"].is_string());
    let r = e.post(&format!("/api/bookings/{id}/complete"), None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["booking"]["status"], "completed");
    let again = e.post(&format!("/api/bookings/{id}/complete"), None).await;
    assert_eq!(again.status, 400);
    // Each transition handed one fan-out message to the queue; no counter change.
    let msgs = e.queue.drain(QueueName::Delivery);
    assert_eq!(msgs.len(), 3);
    assert!(msgs.iter().all(|(b, _)| b.contains("fan_out")));
    assert_eq!(total(&e).await, 1);
}

#[tokio::test]
async fn unknown_routes_answer_a_json_404() {
    let e = env().await;
    let r = e.get("/api/nothing-here").await;
    assert_eq!(r.status, 404);
    assert_eq!(r.body["success"], false);
}

/// The console's exam views (DESIGN §8): the exams list and an exam's bookings, newest first,
/// by status, paged; a bad status is a 400 naming it; an unknown exam is a 404.
#[tokio::test]
async fn exams_and_an_exams_bookings_are_listed_with_filters_and_cursors() {
    let e = env().await;
    let r = e
        .put(
            "/api/mock-exams/other-exam",
            json!({ "name": "Other", "capacity": 5 }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = e.get("/api/mock-exams?limit=1").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["mockExams"].as_array().unwrap().len(), 1);
    let first = r.str_at("/mockExams/0/id");
    for field in ["capacity", "totalBookings", "version", "lastSyncedVersion"] {
        assert!(
            r.body["mockExams"][0].get(field).is_some(),
            "missing {field}"
        );
    }
    let cursor = r.str_at("/pagination/nextCursor");
    let r = e
        .get(&format!("/api/mock-exams?limit=1&cursor={cursor}"))
        .await;
    let second = r.str_at("/mockExams/0/id");
    let mut both = vec![first, second];
    both.sort();
    assert_eq!(both, ["40577087837", "other-exam"]);

    let one = book_id(&e, "c1").await;
    // Ids are time-ordered by the millisecond.
    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    let two = book_id(&e, "c2").await;
    let r = e.post(&format!("/api/bookings/{one}/complete"), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let list = |q: &'static str| {
        let e = &e;
        async move {
            let r = e
                .get(&format!("/api/mock-exams/40577087837/bookings{q}"))
                .await;
            assert_eq!(r.status, 200, "{}", r.body);
            r.body["bookings"]
                .as_array()
                .unwrap()
                .iter()
                .map(|b| b["id"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        list("").await,
        vec![two.clone(), one.clone()],
        "newest first"
    );
    assert_eq!(list("?status=completed").await, vec![one.clone()]);
    assert_eq!(list("?status=active").await, vec![two.clone()]);
    assert_eq!(list("?limit=1").await, vec![two.clone()]);
    let r = e.get("/api/mock-exams/other-exam/bookings").await;
    assert_eq!(r.body["bookings"], json!([]));

    let r = e
        .get("/api/mock-exams/40577087837/bookings?status=gone")
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.error_message().contains("status"));
    let r = e.get("/api/mock-exams/nope/bookings").await;
    assert_eq!(r.status, 404, "{}", r.body);
    assert_eq!(r.error_code(), "not_found");
}
