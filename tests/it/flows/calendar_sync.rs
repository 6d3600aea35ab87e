//! GHL calendar sync end to end over moto: the calendar API on DynamoDB + SQS, a local GHL
//! stand-in, and the real delivery-queue consumer pumped from the SQS queue.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use shared_testkit::harness::Api;
use shared_testkit::moto::{moto_app, pump_once, MotoApp};
use shared_testkit::targets::ghl::Ghl;

struct Env {
    m: MotoApp,
    api: Api,
    ghl: Ghl,
}

async fn env() -> Env {
    let m = moto_app().await;
    let (ws, key) = shared_testkit::moto::workspace(&m.app, "calendar").await;
    let ghl = Ghl::start().await;
    ghl.integrate(&m.app, &ws, true).await;
    let api = Api::new(calendar_api::router(m.app.clone()), &key);
    Env { m, api, ghl }
}

fn body() -> Value {
    json!({
        "eventType": "handover",
        "eventTitle": "Handover call",
        "startDate": "2024-03-01",
        "endDate": "2024-03-01",
        "startTime": "09:30",
        "endTime": "10:15",
        "clientId": "client-77",
        "clientName": "Acme"
    })
}

/// Pumps the delivery queue through the real consumer until `done` holds (or 30 s pass).
async fn pump_until(e: &Env, what: &str, mut done: impl AsyncFnMut() -> bool) {
    let runner = delivery_worker::runner(e.m.app.clone());
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done().await {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        pump_once(&e.m.sqs, &e.m.delivery_queue_url, |ev| runner.run(ev)).await;
    }
}

async fn sync_status(e: &Env, id: &str) -> Value {
    e.api.get(&format!("/api/calendar-events/{id}")).await.body["sync"].clone()
}

#[tokio::test]
async fn ghl_down_leaves_it_pending_and_the_queue_syncs_it_when_ghl_is_back() {
    let e = env().await;
    e.ghl.set_down(true);
    let r = e.api.post("/api/calendar-events", body()).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["event"]["id"].as_str().unwrap().to_owned();
    assert_eq!(r.body["sync"]["syncStatus"], "pending");
    assert_eq!(r.body["sync"]["syncError"], "http status 503");

    e.ghl.set_down(false);
    pump_until(&e, "synced", async || {
        sync_status(&e, &id).await["syncStatus"] == "synced"
    })
    .await;
    let s = sync_status(&e, &id).await;
    assert_eq!(s["ghlAppointmentId"], "ghl_1");
    assert_eq!(s["syncError"], Value::Null);
    assert_eq!(e.ghl.appointments(), 1);

    let list = e.api.get("/api/admin/sync-mappings").await;
    assert_eq!(list.status, 200, "{}", list.body);
    assert_eq!(
        list.body["counts"],
        json!({"synced": 1, "pending": 0, "failed": 0})
    );
    assert_eq!(list.body["mappings"][0]["sentraEventId"], id.as_str());
    assert_eq!(list.body["mappings"][0]["attempts"], 2);
}

#[tokio::test]
async fn update_and_delete_over_dynamodb_use_the_mapped_appointment_id() {
    let e = env().await;
    let r = e.api.post("/api/calendar-events", body()).await;
    assert_eq!(r.body["sync"]["syncStatus"], "synced", "{}", r.body);
    let id = r.body["event"]["id"].as_str().unwrap().to_owned();
    let path = format!("/api/calendar-events/{id}");
    let p = e.api.patch(&path, json!({"endTime": "11:00"})).await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert_eq!(p.body["sync"]["syncStatus"], "synced");
    let d = e.api.delete(&path).await;
    assert_eq!(d.status, 200, "{}", d.body);
    assert_eq!(d.body["sync"]["syncStatus"], "synced");

    let payloads = e.ghl.payloads();
    let types: Vec<&str> = payloads
        .iter()
        .map(|p| p["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "calendar_event_created",
            "calendar_event_updated",
            "calendar_event_deleted"
        ]
    );
    for p in &payloads[1..] {
        assert_eq!(p["reference_mapping"]["ghl_appointment_id"], "ghl_1");
    }
    assert_eq!(payloads[1]["event_data"]["end_time"], "11:00");
    assert_eq!(payloads[1]["event_data"]["client_id"], "client-77");
    assert_eq!(e.api.get(&path).await.status, 404);
}

#[tokio::test]
async fn an_update_while_the_create_is_in_flight_makes_one_appointment_on_dynamodb() {
    let e = env().await;
    e.ghl.set_hang(Duration::from_millis(600));
    let api = e.api.clone();
    let creating = tokio::spawn(async move { api.post("/api/calendar-events", body()).await });
    let id = e.ghl.first_event_id(Duration::from_secs(10)).await;
    let p = e
        .api
        .patch(
            &format!("/api/calendar-events/{id}"),
            json!({"eventTitle": "Changed mid-flight"}),
        )
        .await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert_eq!(p.body["sync"]["syncStatus"], "pending");
    e.ghl.set_hang(Duration::ZERO);
    assert_eq!(creating.await.unwrap().status, 201);

    pump_until(&e, "synced with the update", async || {
        let s = sync_status(&e, &id).await;
        s["syncStatus"] == "synced" && e.ghl.count("calendar_event_updated") == 1
    })
    .await;
    assert_eq!(e.ghl.count("calendar_event_created"), 1);
    assert_eq!(e.ghl.appointments(), 1);
    let update = e
        .ghl
        .payloads()
        .into_iter()
        .find(|p| p["event_type"] == "calendar_event_updated")
        .unwrap();
    assert_eq!(update["reference_mapping"]["ghl_appointment_id"], "ghl_1");
    assert_eq!(update["event_data"]["event_title"], "Changed mid-flight");
}
