//! `booking.updated`, `mock_exam.updated` and HubSpot's `syncProperties` at the routes, over
//! the fakes: which events each request commits to the outbox (DESIGN §8 "Outbound additions").

use serde_json::{json, Value};
use shared::outbox::DomainEvent;
use shared::queue::{QueueEnvelope, QueueMessage, QueueName};
use shared_testkit::harness::TestApp;

async fn env() -> TestApp {
    TestApp::new().await.serve(bookings_api::router)
}

/// The events (and whether a counter sync rode along) of the outbox records handed off since
/// the last call.
async fn handed_off(t: &TestApp) -> (Vec<DomainEvent>, bool) {
    let mut events = Vec::new();
    let mut counter_sync = false;
    for (body, _) in t.queue.drain(QueueName::Delivery) {
        let env: QueueEnvelope = serde_json::from_str(&body).unwrap();
        match env.message {
            QueueMessage::FanOut { outbox_id, .. } => {
                let record = t.app.outbox.get_outbox(&outbox_id).await.unwrap().unwrap();
                counter_sync |= record.counter_sync.is_some();
                events.extend(record.events);
            }
            QueueMessage::CounterSync { .. } => counter_sync = true,
            _ => {}
        }
    }
    (events, counter_sync)
}

fn types(events: &[DomainEvent]) -> Vec<&str> {
    events.iter().map(|e| e.event_type.as_str()).collect()
}

#[tokio::test]
async fn a_put_emits_mock_exam_updated_only_when_it_changes_an_existing_exam() {
    let t = env().await;
    let put = |body: Value| async {
        let r = t.put("/api/mock-exams/e1", body).await;
        assert_eq!(r.status, 200, "{}", r.body);
        r
    };
    put(json!({ "name": "A", "capacity": 5 })).await;
    assert!(
        handed_off(&t).await.0.is_empty(),
        "a create is not an update"
    );
    put(json!({ "name": "A", "capacity": 5 })).await;
    assert!(handed_off(&t).await.0.is_empty(), "nothing changed");

    let r = put(json!({ "name": "A", "capacity": 7, "examDate": "2026-05-01" })).await;
    assert_eq!(r.body["mockExam"]["capacity"], 7);
    let (events, counter_sync) = handed_off(&t).await;
    assert_eq!(types(&events), vec!["mock_exam.updated"]);
    assert_eq!(
        events[0].data["changes"],
        json!({
            "capacity": { "old": 5, "new": 7 },
            "examDate": { "old": null, "new": "2026-05-01" },
        })
    );
    assert_eq!(events[0].data["mockExam"]["capacity"], 7);
    assert!(
        !counter_sync,
        "no HubSpot syncProperties: no sync for a capacity change"
    );
}

#[tokio::test]
async fn a_bad_put_emits_nothing_and_changes_nothing() {
    let t = env().await;
    t.put_exam("e1", 5).await;
    handed_off(&t).await;
    let r = t
        .put("/api/mock-exams/e1", json!({ "name": "", "capacity": 9 }))
        .await;
    assert_eq!(r.status, 400);
    assert!(r.error_message().contains("name"), "{}", r.body);
    assert!(handed_off(&t).await.0.is_empty());
    assert_eq!(
        t.get("/api/mock-exams/e1").await.body["mockExam"]["capacity"],
        5
    );
}

#[tokio::test]
async fn a_capacity_change_queues_a_counter_sync_when_hubspot_syncs_properties() {
    let t = env().await;
    let workspaces = t.api(workspaces_api::router);
    let r = workspaces
        .put(
            "/api/integrations/hubspot",
            json!({ "webhookUrl": "https://example.com/hs", "syncProperties": true }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["integration"]["syncProperties"], true);
    t.put_exam("e1", 5).await;
    let before = t.app.bookings.get_exam(&t.ws, "e1").await.unwrap().unwrap();
    handed_off(&t).await;

    t.put(
        "/api/mock-exams/e1",
        json!({ "name": "Renamed", "capacity": 5 }),
    )
    .await;
    let (events, counter_sync) = handed_off(&t).await;
    assert_eq!(types(&events), vec!["mock_exam.updated"]);
    assert!(!counter_sync, "a name change does not sync");

    t.put(
        "/api/mock-exams/e1",
        json!({ "name": "Renamed", "capacity": 9 }),
    )
    .await;
    let (events, counter_sync) = handed_off(&t).await;
    assert_eq!(types(&events), vec!["mock_exam.updated"]);
    assert!(counter_sync, "a capacity change syncs");
    let after = t.app.bookings.get_exam(&t.ws, "e1").await.unwrap().unwrap();
    assert_eq!(after.version, before.version + 1);
    assert_eq!(after.total_bookings, before.total_bookings);
}

#[tokio::test]
async fn sync_properties_defaults_to_false_and_must_be_a_boolean() {
    let t = env().await;
    let workspaces = t.api(workspaces_api::router);
    let r = workspaces
        .put(
            "/api/integrations/hubspot",
            json!({ "webhookUrl": "https://example.com/hs" }),
        )
        .await;
    assert_eq!(r.body["integration"]["syncProperties"], false);
    let r = workspaces
        .put(
            "/api/integrations/hubspot",
            json!({ "webhookUrl": "https://example.com/hs", "syncProperties": "yes" }),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    let listed = workspaces.get("/api/integrations").await;
    assert_eq!(
        listed.body["integrations"]["hubspot"]["syncProperties"],
        false
    );
}

#[tokio::test]
async fn qr_scan_and_validate_commit_booking_updated_beside_their_qr_event() {
    let t = env().await;
    t.put_exam("e1", 5).await;
    let r = t
        .post(
            "/api/bookings",
            json!({ "mockExamId": "e1", "contactId": "c-1" }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.str_at("/booking/id");
    let (events, _) = handed_off(&t).await;
    assert!(
        !types(&events).contains(&"booking.updated"),
        "create is not an update"
    );

    t.post(
        &format!("/api/bookings/{id}/qr/scan"),
        json!({ "scannedBy": "door" }),
    )
    .await;
    let (events, _) = handed_off(&t).await;
    assert_eq!(types(&events), vec!["qr.scanned", "booking.updated"]);
    let changes = events[1].data["changes"].as_object().unwrap();
    assert_eq!(changes.keys().collect::<Vec<_>>(), vec!["qrCode"]);
    assert_eq!(changes["qrCode"]["new"]["scannedBy"], "door");
    assert_eq!(events[1].data["booking"]["id"], id.as_str());

    t.post(&format!("/api/bookings/{id}/qr/validate"), None)
        .await;
    let (events, _) = handed_off(&t).await;
    assert_eq!(types(&events), vec!["qr.validated", "booking.updated"]);

    let r = t.post(&format!("/api/bookings/{id}/complete"), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let (events, _) = handed_off(&t).await;
    assert_eq!(
        types(&events),
        vec!["booking.completed"],
        "complete has its own event"
    );
}
