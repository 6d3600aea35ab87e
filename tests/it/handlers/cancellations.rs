//! Cancellation handlers against the in-memory fakes.

use serde_json::{json, Value};
use shared::config::Config;
use shared_testkit::harness::TestApp;
use shared_testkit::harness::{call, workspace, Reply};

struct Env {
    t: TestApp,
    bookings: axum::Router,
    cancels: axum::Router,
}

shared_testkit::deref_test_app!(Env);

async fn env(capacity: i64) -> Env {
    let TestApp {
        app,
        store,
        queue,
        ws,
        key,
    } = TestApp::with_config(Config::for_tests("t", "q")).await;
    let bookings = bookings_api::router(app.clone());
    for exam in ["e1", "e2"] {
        let r = call(
            &bookings,
            "PUT",
            &format!("/api/mock-exams/{exam}"),
            Some(&key),
            Some(json!({ "name": "Mock", "capacity": capacity })),
        )
        .await;
        assert_eq!(r.status, 200);
    }
    Env {
        cancels: cancellations_api::router(app.clone()),
        bookings,
        t: TestApp {
            app,
            store,
            queue,
            ws,
            key,
        },
    }
}

async fn book(e: &Env, exam: &str, contact: &str) -> String {
    let r = call(
        &e.bookings,
        "POST",
        "/api/bookings",
        Some(&e.key),
        Some(json!({ "mockExamId": exam, "contactId": contact })),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["booking"]["id"].as_str().unwrap().to_owned()
}

async fn total(e: &Env, exam: &str) -> Value {
    call(
        &e.bookings,
        "GET",
        &format!("/api/mock-exams/{exam}"),
        Some(&e.key),
        None,
    )
    .await
    .body["mockExam"]["totalBookings"]
        .clone()
}

async fn cancel(e: &Env, id: &str) -> Reply {
    call(
        &e.cancels,
        "DELETE",
        &format!("/api/bookings/{id}"),
        Some(&e.key),
        None,
    )
    .await
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
    let r = call(
        &e.cancels,
        "DELETE",
        &format!("/api/bookings/{id}"),
        Some(&other),
        None,
    )
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
        let r = call(
            &e.cancels,
            "POST",
            path,
            Some(&e.key),
            Some(json!({ "bookingIds": [a, "bk_missing", b] })),
        )
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
    let r = call(
        &e.cancels,
        "POST",
        "/api/bookings/batch-cancel",
        Some(&e.key),
        Some(json!({ "bookingIds": [] })),
    )
    .await;
    assert_eq!(r.status, 400);
    let many: Vec<String> = (0..101).map(|i| format!("bk_{i}")).collect();
    let r = call(
        &e.cancels,
        "POST",
        "/api/bookings/batch-cancel",
        Some(&e.key),
        Some(json!({ "bookingIds": many })),
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("bookingIds"));
}

#[tokio::test]
async fn admin_cancels_all_bookings_of_one_exam_only() {
    let e = env(5).await;
    book(&e, "e1", "c1").await;
    book(&e, "e1", "c2").await;
    let other = book(&e, "e2", "c3").await;
    let r = call(
        &e.cancels,
        "POST",
        "/api/admin/mock-exams/e1/cancel-bookings",
        Some(&e.key),
        Some(json!({ "all": true })),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["cancelled"], 2);
    assert_eq!(total(&e, "e1").await, 0);
    assert_eq!(total(&e, "e2").await, 1);
    // A booking of another exam named on this exam's route is refused per item.
    let r = call(
        &e.cancels,
        "POST",
        "/api/admin/mock-exams/e1/cancel-bookings",
        Some(&e.key),
        Some(json!({ "bookingIds": [other] })),
    )
    .await;
    assert_eq!(r.body["results"][0]["error"]["code"], "not_found");
    assert_eq!(total(&e, "e2").await, 1);
    let r = call(
        &e.cancels,
        "POST",
        "/api/admin/mock-exams/nope/cancel-bookings",
        Some(&e.key),
        Some(json!({ "all": true })),
    )
    .await;
    assert_eq!(r.status, 404);
    let r = call(
        &e.cancels,
        "POST",
        "/api/admin/mock-exams/e1/cancel-bookings",
        Some(&e.key),
        Some(json!({})),
    )
    .await;
    assert_eq!(r.status, 400);
}
