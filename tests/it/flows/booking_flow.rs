//! The first complete path over the wire: booking → counter → outbox → SQS → HubSpot, with
//! DynamoDB and SQS on moto and a local HubSpot stand-in.

use std::time::{Duration, Instant};

use futures::future::join_all;
use serde_json::json;
use shared_testkit::harness::call;
use shared_testkit::moto::{moto_app, pump_once, workspace, MotoApp};
use shared_testkit::targets::webhook::Target;

struct Routers {
    admin: axum::Router,
    bookings: axum::Router,
    cancellations: axum::Router,
}

fn routers(m: &MotoApp) -> Routers {
    Routers {
        admin: workspaces_api::router(m.app.clone()),
        bookings: bookings_api::router(m.app.clone()),
        cancellations: cancellations_api::router(m.app.clone()),
    }
}

/// Runs the delivery queue through the real `deliver` consumer until `done` holds.
async fn pump_until(m: &MotoApp, timeout: Duration, done: impl Fn() -> bool) {
    let runner = delivery_worker::runner(m.app.clone());
    let deadline = Instant::now() + timeout;
    loop {
        let seen = pump_once(&m.sqs, &m.delivery_queue_url, |e| runner.run(e)).await;
        if seen == 0 && done() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "delivery queue did not settle in {timeout:?}"
        );
    }
}

async fn setup_hubspot(r: &Routers, key: &str, target: &Target, retry_attempts: u32) {
    let resp = call(
        &r.admin,
        "PUT",
        "/api/integrations/hubspot",
        Some(key),
        Some(json!({ "webhookUrl": target.url, "retryAttempts": retry_attempts, "retryDelay": 1 })),
    )
    .await;
    assert_eq!(resp.status, 200, "{}", resp.body);
    assert!(resp.body["integration"]["secret"]
        .as_str()
        .unwrap()
        .starts_with("whsec_"));
}

async fn put_exam(r: &Routers, key: &str, id: &str, capacity: i64) {
    let resp = call(
        &r.bookings,
        "PUT",
        &format!("/api/mock-exams/{id}"),
        Some(key),
        Some(json!({ "name": "Mock exam", "capacity": capacity })),
    )
    .await;
    assert_eq!(resp.status, 200, "{}", resp.body);
}

async fn exam(r: &Routers, key: &str, id: &str) -> serde_json::Value {
    let resp = call(
        &r.bookings,
        "GET",
        &format!("/api/mock-exams/{id}"),
        Some(key),
        None,
    )
    .await;
    assert_eq!(resp.status, 200, "{}", resp.body);
    resp.body["mockExam"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_concurrent_bookings_fill_fifty_seats_and_hubspot_ends_on_the_final_count() {
    let m = moto_app().await;
    let r = routers(&m);
    let (_ws, key) = workspace(&m.app, "acme").await;
    let target = Target::start().await;
    setup_hubspot(&r, &key, &target, 5).await;
    put_exam(&r, &key, "40577087837", 50).await;

    let attempts = (0..60).map(|i| {
        let router = r.bookings.clone();
        let key = key.clone();
        async move {
            call(
                &router,
                "POST",
                "/api/bookings",
                Some(&key),
                Some(json!({ "mockExamId": "40577087837", "contactId": format!("contact-{i}") })),
            )
            .await
        }
    });
    let results = join_all(attempts).await;
    let created: Vec<_> = results.iter().filter(|r| r.status == 201).collect();
    let full = results
        .iter()
        .filter(|r| r.status == 409 && r.body["error"]["code"] == "capacity_exceeded")
        .count();
    assert_eq!(created.len(), 50, "exactly the capacity is booked");
    assert_eq!(full, 10, "the rest are refused as full");
    assert_eq!(exam(&r, &key, "40577087837").await["totalBookings"], 50);

    // Cancel 10 bookings, each twice, all at once: the counter drops by exactly 10.
    let ids: Vec<String> = created[..10]
        .iter()
        .map(|r| r.body["booking"]["id"].as_str().unwrap().to_owned())
        .collect();
    let cancels = ids.iter().chain(ids.iter()).map(|id| {
        let router = r.cancellations.clone();
        let key = key.clone();
        let path = format!("/api/bookings/{id}");
        async move { call(&router, "DELETE", &path, Some(&key), None).await }
    });
    for resp in join_all(cancels).await {
        assert_eq!(resp.status, 200, "{}", resp.body);
        assert_eq!(resp.body["booking"]["status"], "cancelled");
    }
    let after = exam(&r, &key, "40577087837").await;
    assert_eq!(after["totalBookings"], 40);

    pump_until(&m, Duration::from_secs(120), || {
        target
            .last()
            .is_some_and(|req| req.json()["total_bookings"] == 40)
    })
    .await;
    let last = target.last().unwrap();
    assert_eq!(
        last.json(),
        json!({ "mock_exam_id": "40577087837", "total_bookings": 40 })
    );
    let synced = exam(&r, &key, "40577087837").await;
    assert_eq!(synced["lastSyncedVersion"], synced["version"]);
    assert!(last.headers["webhook-signature"].starts_with("v1,"));
    assert_eq!(
        last.headers["x-webhook-event"],
        "mock_exam.bookings_changed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hubspot_failing_three_times_still_ends_on_the_right_number() {
    let m = moto_app().await;
    let r = routers(&m);
    let (_ws, key) = workspace(&m.app, "acme").await;
    let target = Target::start().await;
    target.respond_with(&[500, 500, 500]);
    setup_hubspot(&r, &key, &target, 5).await;
    put_exam(&r, &key, "777", 5).await;

    let resp = call(
        &r.bookings,
        "POST",
        "/api/bookings/create",
        Some(&key),
        Some(json!({ "mock_exam_id": "777", "contact_id": "c-1" })),
    )
    .await;
    assert_eq!(resp.status, 201, "{}", resp.body);
    assert_eq!(resp.body["totalBookings"], 1);

    pump_until(&m, Duration::from_secs(60), || target.requests().len() >= 4).await;
    let reqs = target.requests();
    assert_eq!(reqs.len(), 4, "three failures then one success");
    assert!(reqs
        .iter()
        .all(|q| q.json() == json!({ "mock_exam_id": "777", "total_bookings": 1 })));
    // One delivery: the webhook-id is stable across its retries.
    assert!(reqs
        .iter()
        .all(|q| q.headers["webhook-id"] == reqs[0].headers["webhook-id"]));
    let synced = exam(&r, &key, "777").await;
    assert_eq!(synced["lastSyncedVersion"], synced["version"]);

    let integrations = call(&r.admin, "GET", "/api/integrations", Some(&key), None).await;
    let hubspot = &integrations.body["integrations"]["hubspot"];
    assert_eq!(hubspot["succeeded"], 1);
    assert_eq!(hubspot["failed"], 3);
    assert!((hubspot["successRate"].as_f64().unwrap() - 0.25).abs() < 1e-9);
    assert_eq!(hubspot["lastError"], "http status 500");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hubspot_that_never_recovers_gets_exactly_one_plus_retry_attempts_calls() {
    let m = moto_app().await;
    let r = routers(&m);
    let (_ws, key) = workspace(&m.app, "acme").await;
    let target = Target::start().await;
    target.set_default_status(503);
    setup_hubspot(&r, &key, &target, 2).await;
    put_exam(&r, &key, "888", 5).await;
    let resp = call(
        &r.bookings,
        "POST",
        "/api/bookings",
        Some(&key),
        Some(json!({ "mockExamId": "888", "contactId": "c-1" })),
    )
    .await;
    assert_eq!(resp.status, 201);
    pump_until(&m, Duration::from_secs(60), || target.requests().len() >= 3).await;
    // Let any stray retry surface before counting.
    let runner = delivery_worker::runner(m.app.clone());
    pump_once(&m.sqs, &m.delivery_queue_url, |e| runner.run(e)).await;
    assert_eq!(target.requests().len(), 3);
    let e = exam(&r, &key, "888").await;
    assert_eq!(
        e["lastSyncedVersion"], 0,
        "HubSpot never confirmed: reconcile will catch up"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hubspot_test_endpoint_sends_the_current_count_now() {
    let m = moto_app().await;
    let r = routers(&m);
    let (_ws, key) = workspace(&m.app, "acme").await;
    let target = Target::start().await;
    setup_hubspot(&r, &key, &target, 5).await;
    put_exam(&r, &key, "40577087837", 10).await;
    let resp = call(
        &r.admin,
        "POST",
        "/api/integrations/hubspot/test",
        Some(&key),
        Some(json!({ "mockExamId": "40577087837" })),
    )
    .await;
    assert_eq!(resp.status, 200, "{}", resp.body);
    assert_eq!(resp.body["attempt"]["statusCode"], 202);
    assert!(resp.body["attempt"]["durationMs"].is_u64());
    assert_eq!(resp.body["attempt"]["error"], serde_json::Value::Null);
    assert_eq!(
        target.last().unwrap().json(),
        json!({ "mock_exam_id": "40577087837", "total_bookings": 0 })
    );
    let unknown = call(
        &r.admin,
        "POST",
        "/api/integrations/hubspot/test",
        Some(&key),
        Some(json!({ "mockExamId": "nope" })),
    )
    .await;
    assert_eq!(unknown.status, 404);
}
