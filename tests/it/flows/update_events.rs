//! `booking.updated`, `mock_exam.updated` and HubSpot's `syncProperties` end to end over moto
//! (DESIGN §8 "Outbound additions"): the API commits the change with its outbox record, the
//! real delivery-queue consumer fans it out, and a local target verifies every signature.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use shared::signing::WebhookSecret;
use shared_testkit::harness::Api;
use shared_testkit::moto::{moto_app, pump_once, MotoApp};
use shared_testkit::targets::webhook::{Received, Target};

struct Env {
    m: MotoApp,
    bookings: Api,
    hooks: Api,
    target: Target,
    secret: WebhookSecret,
}

async fn env(events: Value) -> Env {
    let m = moto_app().await;
    let (_ws, key) = shared_testkit::moto::workspace(&m.app, "updates").await;
    let bookings = Api::new(bookings_api::router(m.app.clone()), &key);
    let hooks = Api::new(subscriptions_api::router(m.app.clone()), &key);
    let target = Target::start().await;
    let r = hooks
        .post(
            "/api/admin/webhooks",
            json!({ "name": "ops", "url": target.url, "events": events }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let secret = WebhookSecret::parse(&r.str_at("/webhook/secret")).unwrap();
    Env {
        m,
        bookings,
        hooks,
        target,
        secret,
    }
}

impl Env {
    /// Pumps the delivery queue until it has been quiet for a moment (or 30 s pass).
    async fn drain(&self) {
        let runner = delivery_worker::runner(self.m.app.clone());
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut quiet = 0;
        while quiet < 2 {
            assert!(Instant::now() < deadline, "the queue never went quiet");
            let seen =
                pump_once(&self.m.sqs, &self.m.delivery_queue_url, |ev| runner.run(ev)).await;
            quiet = if seen == 0 { quiet + 1 } else { 0 };
        }
    }

    /// The verified payloads of `event` the target received.
    fn received(&self, event: &str) -> Vec<Value> {
        self.target
            .requests()
            .iter()
            .filter(|r| r.json()["event"] == event)
            .map(|r| {
                verify(&self.secret, r);
                r.json()
            })
            .collect()
    }
}

fn verify(secret: &WebhookSecret, r: &Received) {
    let h = |n: &str| r.headers.get(n).cloned().unwrap_or_default();
    shared::signing::verify_standard(
        std::slice::from_ref(secret),
        &h("webhook-id"),
        &h("webhook-timestamp"),
        &h("webhook-signature"),
        &r.body,
        shared::time::now().timestamp(),
        300,
    )
    .expect("the delivery verifies with the subscription's secret");
}

#[tokio::test]
async fn qr_scan_and_validate_each_deliver_one_booking_updated_with_the_changes() {
    let e = env(json!(["booking.updated"])).await;
    e.bookings.put_exam("e1", 5).await;
    let r = e
        .bookings
        .post(
            "/api/bookings",
            json!({ "mockExamId": "e1", "contactId": "c-1" }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.str_at("/booking/id");
    let r = e
        .bookings
        .post(
            &format!("/api/bookings/{id}/qr/scan"),
            json!({ "scannedBy": "door-2" }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    e.drain().await;

    let updates = e.received("booking.updated");
    assert_eq!(
        updates.len(),
        1,
        "create sends no booking.updated; the scan one"
    );
    let data = &updates[0]["data"];
    assert_eq!(data["booking"]["id"], id.as_str());
    let changes = data["changes"].as_object().unwrap();
    assert_eq!(changes.keys().collect::<Vec<_>>(), vec!["qrCode"]);
    assert_eq!(changes["qrCode"]["old"]["scannedAt"], Value::Null);
    assert_eq!(changes["qrCode"]["new"]["scannedBy"], "door-2");
    assert_eq!(
        changes["qrCode"]["new"], data["booking"]["qrCode"],
        "new is the booking as sent"
    );

    let r = e
        .bookings
        .post(&format!("/api/bookings/{id}/qr/validate"), json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    e.drain().await;
    let updates = e.received("booking.updated");
    assert_eq!(updates.len(), 2, "one more for the validation");
    let changes = &updates[1]["data"]["changes"];
    assert_eq!(changes["qrCode"]["old"]["validatedAt"], Value::Null);
    assert!(changes["qrCode"]["new"]["validatedAt"].is_string());
    // Other events of the same changes are not subscribed: nothing else arrived.
    assert_eq!(e.target.requests().len(), 2);
}

#[tokio::test]
async fn a_put_that_changes_an_exam_delivers_one_mock_exam_updated_and_no_change_none() {
    let e = env(json!(["mock_exam.*"])).await;
    let put = |body: Value| async {
        let r = e.bookings.put("/api/mock-exams/e1", body).await;
        assert_eq!(r.status, 200, "{}", r.body);
        r
    };
    // Creating is not an update.
    put(json!({ "name": "Mock A", "capacity": 10, "examDate": "2026-03-01" })).await;
    // The same values again change nothing.
    put(json!({ "name": "Mock A", "capacity": 10, "examDate": "2026-03-01" })).await;
    e.drain().await;
    assert!(e.received("mock_exam.updated").is_empty());

    let r =
        put(json!({ "name": "Mock A (spring)", "capacity": 12, "examDate": "2026-03-01" })).await;
    assert_eq!(r.body["mockExam"]["capacity"], 12);
    e.drain().await;
    let updates = e.received("mock_exam.updated");
    assert_eq!(updates.len(), 1);
    let data = &updates[0]["data"];
    assert_eq!(data["mockExam"]["id"], "e1");
    assert_eq!(data["mockExam"]["capacity"], 12);
    assert_eq!(
        data["changes"],
        json!({
            "name": { "old": "Mock A", "new": "Mock A (spring)" },
            "capacity": { "old": 10, "new": 12 },
        })
    );

    put(json!({ "name": "Mock A (spring)", "capacity": 12 })).await;
    e.drain().await;
    let updates = e.received("mock_exam.updated");
    assert_eq!(updates.len(), 2);
    assert_eq!(
        updates[1]["data"]["changes"],
        json!({ "examDate": { "old": "2026-03-01", "new": null } })
    );
    let got = e.bookings.get("/api/mock-exams/e1").await;
    assert_eq!(got.body["mockExam"]["examDate"], Value::Null);
    let _ = &e.hooks;
}

// --- HubSpot syncProperties ------------------------------------------------------------------

async fn hubspot(e: &Env, hubspot: &Target, sync_properties: Option<bool>) {
    let mut body = json!({ "webhookUrl": hubspot.url, "retryAttempts": 1, "retryDelay": 1 });
    if let Some(on) = sync_properties {
        body["syncProperties"] = json!(on);
    }
    let api = Api::new(workspaces_api::router(e.m.app.clone()), &e.bookings.key);
    let r = api.put("/api/integrations/hubspot", body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body["integration"]["syncProperties"],
        sync_properties.unwrap_or(false)
    );
}

async fn book(e: &Env, contact: &str) {
    let r = e
        .bookings
        .post(
            "/api/bookings",
            json!({ "mockExamId": "e1", "contactId": contact }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
}

#[tokio::test]
async fn without_sync_properties_the_hubspot_payload_is_seed_000_byte_for_byte() {
    let e = env(json!(["mock_exam.updated"])).await;
    let hs = Target::start().await;
    hubspot(&e, &hs, None).await;
    e.bookings.put_exam("e1", 10).await;
    book(&e, "c-1").await;
    e.drain().await;
    let sent = hs.requests();
    assert_eq!(sent.len(), 1);
    // Seed 000: exactly these two keys in this order, no spaces.
    assert_eq!(
        String::from_utf8(sent[0].body.clone()).unwrap(),
        r#"{"mock_exam_id":"e1","total_bookings":1}"#
    );
    // A capacity change alone does not sync when syncProperties is off.
    let r = e
        .bookings
        .put(
            "/api/mock-exams/e1",
            json!({ "name": "Mock", "capacity": 20 }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    e.drain().await;
    assert_eq!(hs.requests().len(), 1);
    assert_eq!(e.received("mock_exam.updated").len(), 1);
}

#[tokio::test]
async fn with_sync_properties_the_payload_carries_capacity_and_a_capacity_change_syncs() {
    let e = env(json!(["mock_exam.updated"])).await;
    let hs = Target::start().await;
    hubspot(&e, &hs, Some(true)).await;
    e.bookings.put_exam("e1", 10).await;
    book(&e, "c-1").await;
    e.drain().await;
    let sent = hs.requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].json(),
        json!({ "mock_exam_id": "e1", "total_bookings": 1, "capacity": 10 })
    );

    let r = e
        .bookings
        .put(
            "/api/mock-exams/e1",
            json!({ "name": "Mock", "capacity": 25 }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    e.drain().await;
    let sent = hs.requests();
    assert_eq!(sent.len(), 2, "the capacity change synced");
    assert_eq!(
        sent[1].json(),
        json!({ "mock_exam_id": "e1", "total_bookings": 1, "capacity": 25 })
    );
    // A name change alone does not sync.
    let r = e
        .bookings
        .put(
            "/api/mock-exams/e1",
            json!({ "name": "Renamed", "capacity": 25 }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    e.drain().await;
    assert_eq!(hs.requests().len(), 2);
    assert_eq!(e.received("mock_exam.updated").len(), 2);
}
