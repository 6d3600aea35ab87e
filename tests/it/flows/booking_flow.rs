//! The first complete path over the wire: booking → counter → outbox → SQS → HubSpot, with
//! DynamoDB and SQS on moto and a local HubSpot stand-in.

use std::time::{Duration, Instant};

use futures::future::join_all;
use serde_json::json;
use shared_testkit::harness::Api;
use shared_testkit::moto::{moto_app, pump_once, workspace, MotoApp};
use shared_testkit::targets::webhook::Target;

/// Moto with a workspace's routers, and a HubSpot stand-in as its integration.
struct Stack {
    m: MotoApp,
    admin: Api,
    bookings: Api,
    cancellations: Api,
    target: Target,
}

/// A stack whose HubSpot stand-in answers as `script` sets it, integrated with
/// `retry_attempts`, and exam `exam` of `capacity` seats.
async fn stack(
    retry_attempts: u32,
    script: impl FnOnce(&Target),
    exam: &str,
    capacity: i64,
) -> Stack {
    let m = moto_app().await;
    let (_ws, key) = workspace(&m.app, "acme").await;
    let api = |router: fn(shared::App) -> axum::Router| Api::new(router(m.app.clone()), &key);
    let (admin, bookings, cancellations) = (
        api(workspaces_api::router),
        api(bookings_api::router),
        api(cancellations_api::router),
    );
    let target = Target::start().await;
    script(&target);
    let resp = admin
        .put(
            "/api/integrations/hubspot",
            json!({ "webhookUrl": target.url, "retryAttempts": retry_attempts, "retryDelay": 1 }),
        )
        .await;
    assert_eq!(resp.status, 200, "{}", resp.body);
    assert!(resp.str_at("/integration/secret").starts_with("whsec_"));
    bookings.put_exam(exam, capacity).await;
    Stack {
        m,
        admin,
        bookings,
        cancellations,
        target,
    }
}

impl Stack {
    /// Runs the delivery queue through the real `deliver` consumer until `done` holds.
    async fn pump_until(&self, timeout: Duration, done: impl Fn(&Target) -> bool) {
        let runner = delivery_worker::runner(self.m.app.clone());
        let deadline = Instant::now() + timeout;
        loop {
            let seen = pump_once(&self.m.sqs, &self.m.delivery_queue_url, |e| runner.run(e)).await;
            if seen == 0 && done(&self.target) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "delivery queue did not settle in {timeout:?}"
            );
        }
    }

    async fn exam(&self, id: &str) -> serde_json::Value {
        let resp = self.bookings.get(&format!("/api/mock-exams/{id}")).await;
        assert_eq!(resp.status, 200, "{}", resp.body);
        resp.body["mockExam"].clone()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_concurrent_bookings_fill_fifty_seats_and_hubspot_ends_on_the_final_count() {
    let s = stack(5, |_| {}, "40577087837", 50).await;
    let attempts = (0..60).map(|i| {
        let body = json!({ "mockExamId": "40577087837", "contactId": format!("contact-{i}") });
        s.bookings.post("/api/bookings", body)
    });
    let results = join_all(attempts).await;
    let created: Vec<_> = results.iter().filter(|r| r.status == 201).collect();
    let full = results
        .iter()
        .filter(|r| r.status == 409 && r.error_code() == "capacity_exceeded")
        .count();
    assert_eq!(created.len(), 50, "exactly the capacity is booked");
    assert_eq!(full, 10, "the rest are refused as full");
    assert_eq!(s.exam("40577087837").await["totalBookings"], 50);

    // Cancel 10 bookings, each twice, all at once: the counter drops by exactly 10.
    let paths: Vec<String> = created[..10]
        .iter()
        .map(|r| format!("/api/bookings/{}", r.str_at("/booking/id")))
        .collect();
    let cancels = paths
        .iter()
        .chain(paths.iter())
        .map(|path| s.cancellations.delete(path));
    for resp in join_all(cancels).await {
        assert_eq!(resp.status, 200, "{}", resp.body);
        assert_eq!(resp.body["booking"]["status"], "cancelled");
    }
    let after = s.exam("40577087837").await;
    assert_eq!(after["totalBookings"], 40);

    s.pump_until(Duration::from_secs(120), |target| {
        target
            .last()
            .is_some_and(|req| req.json()["total_bookings"] == 40)
    })
    .await;
    let last = s.target.last().unwrap();
    assert_eq!(
        last.json(),
        json!({ "mock_exam_id": "40577087837", "total_bookings": 40 })
    );
    let synced = s.exam("40577087837").await;
    assert_eq!(synced["lastSyncedVersion"], synced["version"]);
    assert!(last.headers["webhook-signature"].starts_with("v1,"));
    assert_eq!(
        last.headers["x-webhook-event"],
        "mock_exam.bookings_changed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hubspot_failing_three_times_still_ends_on_the_right_number() {
    let s = stack(5, |t| t.respond_with(&[500, 500, 500]), "777", 5).await;
    let resp = s
        .bookings
        .post(
            "/api/bookings/create",
            json!({ "mock_exam_id": "777", "contact_id": "c-1" }),
        )
        .await;
    assert_eq!(resp.status, 201, "{}", resp.body);
    assert_eq!(resp.body["totalBookings"], 1);

    s.pump_until(Duration::from_secs(60), |t| t.requests().len() >= 4)
        .await;
    let reqs = s.target.requests();
    assert_eq!(reqs.len(), 4, "three failures then one success");
    assert!(reqs
        .iter()
        .all(|q| q.json() == json!({ "mock_exam_id": "777", "total_bookings": 1 })));
    // One delivery: the webhook-id is stable across its retries.
    assert!(reqs
        .iter()
        .all(|q| q.headers["webhook-id"] == reqs[0].headers["webhook-id"]));
    let synced = s.exam("777").await;
    assert_eq!(synced["lastSyncedVersion"], synced["version"]);

    let integrations = s.admin.get("/api/integrations").await;
    let hubspot = &integrations.body["integrations"]["hubspot"];
    assert_eq!(hubspot["succeeded"], 1);
    assert_eq!(hubspot["failed"], 3);
    assert!((hubspot["successRate"].as_f64().unwrap() - 0.25).abs() < 1e-9);
    assert_eq!(hubspot["lastError"], "http status 500");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hubspot_that_never_recovers_gets_exactly_one_plus_retry_attempts_calls() {
    let s = stack(2, |t| t.set_default_status(503), "888", 5).await;
    let resp = s
        .bookings
        .post(
            "/api/bookings",
            json!({ "mockExamId": "888", "contactId": "c-1" }),
        )
        .await;
    assert_eq!(resp.status, 201);
    s.pump_until(Duration::from_secs(60), |t| t.requests().len() >= 3)
        .await;
    // Let any stray retry surface before counting.
    let runner = delivery_worker::runner(s.m.app.clone());
    pump_once(&s.m.sqs, &s.m.delivery_queue_url, |e| runner.run(e)).await;
    assert_eq!(s.target.requests().len(), 3);
    let e = s.exam("888").await;
    assert_eq!(
        e["lastSyncedVersion"], 0,
        "HubSpot never confirmed: reconcile will catch up"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hubspot_test_endpoint_sends_the_current_count_now() {
    let s = stack(5, |_| {}, "40577087837", 10).await;
    let test = |exam: &str| {
        s.admin.post(
            "/api/integrations/hubspot/test",
            json!({ "mockExamId": exam }),
        )
    };
    let resp = test("40577087837").await;
    assert_eq!(resp.status, 200, "{}", resp.body);
    assert_eq!(resp.body["attempt"]["statusCode"], 202);
    assert!(resp.body["attempt"]["durationMs"].is_u64());
    assert_eq!(resp.body["attempt"]["error"], serde_json::Value::Null);
    assert_eq!(
        s.target.last().unwrap().json(),
        json!({ "mock_exam_id": "40577087837", "total_bookings": 0 })
    );
    let unknown = test("nope").await;
    assert_eq!(unknown.status, 404);
}
