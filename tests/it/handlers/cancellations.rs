//! Cancellation handlers against the in-memory fakes.

use serde_json::{json, Value};
use shared_testkit::harness::{workspace, Api, Reply, TestApp};

struct Env {
    t: TestApp,
    bookings: Api,
}

shared_testkit::deref_test_app!(Env);

async fn env(capacity: i64) -> Env {
    let t = TestApp::new().await.serve(cancellations_api::router);
    let bookings = t.api(bookings_api::router);
    for exam in ["e1", "e2"] {
        bookings.put_exam(exam, capacity).await;
    }
    Env { t, bookings }
}

async fn book(e: &Env, exam: &str, contact: &str) -> String {
    let r = e
        .bookings
        .post(
            "/api/bookings",
            json!({ "mockExamId": exam, "contactId": contact }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.str_at("/booking/id")
}

async fn total(e: &Env, exam: &str) -> Value {
    e.bookings
        .get(&format!("/api/mock-exams/{exam}"))
        .await
        .body["mockExam"]["totalBookings"]
        .clone()
}

async fn cancel(e: &Env, id: &str) -> Reply {
    e.delete(&format!("/api/bookings/{id}")).await
}

#[tokio::test]
async fn cancel_twice_decrements_once() {
    let e = env(5).await;
    let id = book(&e, "e1", "c1").await;
    let first = cancel(&e, &id).await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.body["booking"]["status"], "cancelled");
    assert_eq!(first.body["totalBookings"], 0);
    let second = cancel(&e, &id).await;
    assert_eq!(second.status, 200);
    assert_eq!(second.body["totalBookings"], 0);
    assert_eq!(total(&e, "e1").await, 0);
}

#[tokio::test]
async fn a_cancelled_seat_can_be_booked_again() {
    let e = env(1).await;
    let id = book(&e, "e1", "c1").await;
    cancel(&e, &id).await;
    book(&e, "e1", "c1").await;
    assert_eq!(total(&e, "e1").await, 1);
}

#[tokio::test]
async fn cancelling_an_unknown_or_foreign_booking_answers_404() {
    let e = env(5).await;
    let id = book(&e, "e1", "c1").await;
    assert_eq!(cancel(&e, "bk_nope").await.status, 404);
    let (_w, other) = workspace(&e.app, "other").await;
    let r = e
        .with_key(&other)
        .delete(&format!("/api/bookings/{id}"))
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(total(&e, "e1").await, 1);
}

#[tokio::test]
async fn persistent_conflicts_on_cancel_answer_503_and_keep_the_count() {
    let e = env(5).await;
    let id = book(&e, "e1", "c1").await;
    e.store.inject_conflicts(1000);
    let r = cancel(&e, &id).await;
    assert_eq!(r.status, 503);
    assert!(r.headers.contains_key("retry-after"));
    e.store.inject_conflicts(0);
    assert_eq!(total(&e, "e1").await, 1);
}

#[tokio::test]
async fn batch_cancel_reports_each_id_and_one_bad_id_never_fails_the_batch() {
    let e = env(5).await;
    let a = book(&e, "e1", "c1").await;
    let b = book(&e, "e2", "c2").await;
    for path in [
        "/api/admin/bookings/batch-cancel",
        "/api/bookings/batch-cancel",
    ] {
        let r = e
            .post(path, json!({ "bookingIds": [a, "bk_missing", b] }))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let results = r.body["results"].as_array().unwrap();
        assert_eq!(results.len(), 3);
        assert_eq!(results[0]["id"], a.as_str());
        assert_eq!(results[1]["error"]["code"], "not_found");
        assert_eq!(results[2]["booking"]["status"], "cancelled");
        if path.contains("admin") {
            assert_eq!(r.body["cancelled"], 2);
        } else {
            assert_eq!(
                r.body["cancelled"], 0,
                "already cancelled by the first call"
            );
        }
    }
    assert_eq!(total(&e, "e1").await, 0);
    assert_eq!(total(&e, "e2").await, 0);
}

#[tokio::test]
async fn batch_size_is_bounded() {
    let e = env(5).await;
    let r = e
        .post("/api/bookings/batch-cancel", json!({ "bookingIds": [] }))
        .await;
    assert_eq!(r.status, 400);
    let many: Vec<String> = (0..101).map(|i| format!("bk_{i}")).collect();
    let r = e
        .post("/api/bookings/batch-cancel", json!({ "bookingIds": many }))
        .await;
    assert_eq!(r.status, 400);
    assert!(r.error_message().contains("bookingIds"));
}

#[tokio::test]
async fn admin_cancels_all_bookings_of_one_exam_only() {
    let e = env(5).await;
    book(&e, "e1", "c1").await;
    book(&e, "e1", "c2").await;
    let other = book(&e, "e2", "c3").await;
    let cancel_e1 = "/api/admin/mock-exams/e1/cancel-bookings";
    let r = e.post(cancel_e1, json!({ "all": true })).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["cancelled"], 2);
    assert_eq!(total(&e, "e1").await, 0);
    assert_eq!(total(&e, "e2").await, 1);
    // A booking of another exam named on this exam's route is refused per item.
    let r = e.post(cancel_e1, json!({ "bookingIds": [other] })).await;
    assert_eq!(r.body["results"][0]["error"]["code"], "not_found");
    assert_eq!(total(&e, "e2").await, 1);
    let r = e
        .post(
            "/api/admin/mock-exams/nope/cancel-bookings",
            json!({ "all": true }),
        )
        .await;
    assert_eq!(r.status, 404);
    let r = e.post(cancel_e1, json!({})).await;
    assert_eq!(r.status, 400);
}
