//! Calendar handlers against the in-memory fakes and a local GHL stand-in; retries run
//! through the real delivery-queue consumer (`delivery_worker::runner`) fed from the memory queue.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use shared::config::Config;
use shared::queue::QueueName;
use shared::queue::{QueueEnvelope, QueueMessage};
use shared::signing::WebhookSecret;
use shared_testkit::harness::{call, Reply, TestApp};
use shared_testkit::memory::{sqs_event, MemoryQueue};
use shared_testkit::targets::ghl::Ghl;

struct Env {
    t: TestApp,
    ghl: Ghl,
    secret: WebhookSecret,
}

shared_testkit::deref_test_app!(Env);

async fn env_with(tweak: impl FnOnce(&mut Config)) -> Env {
    let mut config = Config::for_tests("t", "q");
    tweak(&mut config);
    let t = TestApp::with_config(config)
        .await
        .serve(calendar_api::router);
    let ghl = Ghl::start().await;
    let secret = ghl.integrate(&t.app, &t.ws, true).await;
    Env { t, ghl, secret }
}

async fn env() -> Env {
    env_with(|_| {}).await
}

fn seed_body() -> Value {
    json!({
        "eventType": "onboarding",
        "eventTitle": "Onboarding Session",
        "startDate": "2024-01-15",
        "endDate": "2024-01-15",
        "startTime": "10:00",
        "endTime": "11:00",
        "description": "Initial client onboarding",
        "clientId": 456,
        "clientEmail": "client@example.com",
        "clientPhone": "+1234567890",
        "clientName": "Client Business Name"
    })
}

async fn create(e: &TestApp, body: Value) -> Reply {
    e.post("/api/calendar-events", body).await
}

async fn create_ok(e: &Env) -> String {
    let r = create(e, seed_body()).await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["event"]["id"].as_str().unwrap().to_owned()
}

async fn get(e: &Env, id: &str) -> Reply {
    e.get(&format!("/api/calendar-events/{id}")).await
}

async fn patch(e: &Env, id: &str, body: Value) -> Reply {
    e.patch(&format!("/api/calendar-events/{id}"), body).await
}

async fn delete(e: &Env, id: &str) -> Reply {
    e.delete(&format!("/api/calendar-events/{id}")).await
}

async fn sync_of(e: &Env, id: &str) -> Value {
    let m = e
        .app
        .calendar
        .get_sync_mapping(&e.ws, id)
        .await
        .unwrap()
        .unwrap();
    json!({
        "syncStatus": m.sync_status.as_str(),
        "ghlAppointmentId": m.ghl_appointment_id,
        "syncError": m.sync_error,
        "attempts": m.attempts,
    })
}

/// Feeds every queued delivery-queue message to the real consumer until the queue is empty.
async fn pump(e: &Env) -> usize {
    let runner = delivery_worker::runner(e.app.clone());
    let mut total = 0;
    for _ in 0..50 {
        let msgs = e.queue.drain(QueueName::Delivery);
        if msgs.is_empty() {
            break;
        }
        total += msgs.len();
        let resp = runner.run(sqs_event(msgs.iter().map(|m| &m.0), 1)).await;
        assert!(resp.batch_item_failures.is_empty(), "a record failed");
    }
    total
}

fn calendar_messages(q: &MemoryQueue) -> Vec<String> {
    q.drain(QueueName::Delivery)
        .into_iter()
        .filter_map(
            |(body, _)| match serde_json::from_str::<QueueEnvelope>(&body).ok()?.message {
                QueueMessage::CalendarSync { event_id, .. } => Some(event_id),
                _ => None,
            },
        )
        .collect()
}

#[tokio::test]
async fn ghl_up_create_is_synced_with_the_appointment_id_and_the_seed_payload() {
    let e = env().await;
    let r = create(&e, seed_body()).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["event"]["id"].as_str().unwrap();
    assert!(id.starts_with("cal_"));
    assert_eq!(
        r.body["sync"],
        json!({"sentraEventId": id, "ghlAppointmentId": "ghl_1", "syncStatus": "synced", "syncError": null})
    );
    let event = &r.body["event"];
    let reqs = e.ghl.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(
        reqs[0].json(),
        json!({
            "event_type": "calendar_event_created",
            "event_data": {
                "sentra_event_id": id,
                "client_id": 456,
                "client_email": "client@example.com",
                "client_phone": "+1234567890",
                "client_name": "Client Business Name",
                "event_title": "Onboarding Session",
                "event_type": "onboarding",
                "start_date": "2024-01-15",
                "end_date": "2024-01-15",
                "start_time": "10:00",
                "end_time": "11:00",
                "description": "Initial client onboarding",
                "created_at": event["createdAt"],
                "updated_at": event["updatedAt"],
            },
            "reference_mapping": { "sentra_event_id": id, "sync_status": "pending" }
        })
    );
    // Signed with the integration's secret (DESIGN §5).
    let h = &reqs[0].headers;
    shared::signing::verify_standard(
        std::slice::from_ref(&e.secret),
        &h["webhook-id"],
        &h["webhook-timestamp"],
        &h["webhook-signature"],
        &reqs[0].body,
        shared::time::now().timestamp(),
        300,
    )
    .expect("standard webhooks signature verifies");
    assert_eq!(
        h["x-webhook-signature"],
        shared::signing::legacy_signature(e.secret.expose(), &reqs[0].body)
    );
    assert_eq!(h["x-webhook-event"], "calendar_event_created");
    // GET returns the same sync.
    let g = get(&e, id).await;
    assert_eq!(g.status, 200);
    assert_eq!(g.body["sync"], r.body["sync"]);
    assert_eq!(g.body["event"]["clientId"], 456);
}

#[tokio::test]
async fn ghl_down_answers_201_pending_then_synced_after_it_comes_back() {
    let e = env().await;
    e.ghl.set_down(true);
    let r = create(&e, seed_body()).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["event"]["id"].as_str().unwrap().to_owned();
    assert_eq!(r.body["sync"]["syncStatus"], "pending");
    assert_eq!(r.body["sync"]["ghlAppointmentId"], Value::Null);
    assert_eq!(r.body["sync"]["syncError"], "http status 503");
    assert_eq!(get(&e, &id).await.body["sync"]["syncStatus"], "pending");

    e.ghl.set_down(false);
    pump(&e).await;
    let g = get(&e, &id).await;
    assert_eq!(
        g.body["sync"],
        json!({"sentraEventId": id, "ghlAppointmentId": "ghl_1", "syncStatus": "synced", "syncError": null})
    );
    assert_eq!(e.ghl.count("calendar_event_created"), 2);
    assert_eq!(e.ghl.appointments(), 1);
}

#[tokio::test]
async fn success_false_is_never_synced_and_sync_error_says_why() {
    let e = env().await;
    e.ghl.respond_with(&[(
        200,
        r#"{"success":false,"error":"Contact not found in GHL","error_code":"CONTACT_NOT_FOUND"}"#,
    )]);
    let r = create(&e, seed_body()).await;
    assert_eq!(r.status, 201);
    assert_eq!(r.body["sync"]["syncStatus"], "pending");
    assert_eq!(r.body["sync"]["ghlAppointmentId"], Value::Null);
    assert_eq!(
        r.body["sync"]["syncError"],
        "CONTACT_NOT_FOUND: Contact not found in GHL"
    );
}

#[tokio::test]
async fn garbage_or_an_answer_without_appointment_id_is_never_synced() {
    let e = env().await;
    e.ghl.respond_with(&[(200, "<html>OK</html>")]);
    let r = create(&e, seed_body()).await;
    assert_eq!(r.body["sync"]["syncStatus"], "pending");
    let err = r.body["sync"]["syncError"].as_str().unwrap();
    assert!(err.contains("not JSON"), "{err}");

    e.ghl.respond_with(&[(200, r#"{"success":true}"#)]);
    let r = create(&e, seed_body()).await;
    assert_eq!(r.body["sync"]["syncStatus"], "pending");
    let err = r.body["sync"]["syncError"].as_str().unwrap();
    assert!(err.contains("appointment_id"), "{err}");
}

#[tokio::test]
async fn update_and_delete_carry_the_mapped_appointment_id() {
    let e = env().await;
    let id = create_ok(&e).await;
    let r = patch(
        &e,
        &id,
        json!({"eventTitle": "Kick-off", "clientId": "c-9"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["event"]["eventTitle"], "Kick-off");
    assert_eq!(r.body["sync"]["syncStatus"], "synced");
    assert_eq!(r.body["sync"]["ghlAppointmentId"], "ghl_1");
    let updated = e.ghl.payloads().pop().unwrap();
    assert_eq!(updated["event_type"], "calendar_event_updated");
    assert_eq!(updated["event_data"]["event_title"], "Kick-off");
    assert_eq!(updated["event_data"]["client_id"], "c-9");
    assert_eq!(
        updated["reference_mapping"],
        json!({"sentra_event_id": id, "ghl_appointment_id": "ghl_1", "sync_status": "synced"})
    );

    let d = delete(&e, &id).await;
    assert_eq!(d.status, 200, "{}", d.body);
    assert_eq!(d.body["event"]["deleted"], true);
    assert_eq!(d.body["sync"]["syncStatus"], "synced");
    assert_eq!(
        e.ghl.payloads().pop().unwrap(),
        json!({
            "event_type": "calendar_event_deleted",
            "event_data": { "sentra_event_id": id },
            "reference_mapping": {"sentra_event_id": id, "ghl_appointment_id": "ghl_1", "sync_status": "synced"}
        })
    );
    assert_eq!(get(&e, &id).await.status, 404);
    assert_eq!(delete(&e, &id).await.status, 404);
    assert_eq!(e.ghl.appointments(), 1);
    // Queued follow-ups find nothing left to send.
    pump(&e).await;
    assert_eq!(e.ghl.requests().len(), 3);
}

#[tokio::test]
async fn an_update_before_the_create_synced_makes_one_appointment() {
    let e = env().await;
    e.ghl.set_down(true);
    let id = create_ok(&e).await;
    let r = patch(&e, &id, json!({"eventTitle": "Moved"})).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["sync"]["syncStatus"], "pending");
    e.ghl.set_down(false);
    pump(&e).await;
    let s = get(&e, &id).await.body["sync"].clone();
    assert_eq!(s["syncStatus"], "synced");
    assert_eq!(s["ghlAppointmentId"], "ghl_1");
    assert_eq!(e.ghl.appointments(), 1);
    // The one create that succeeded carried the latest data.
    let last = e.ghl.payloads().pop().unwrap();
    assert_eq!(last["event_type"], "calendar_event_created");
    assert_eq!(last["event_data"]["event_title"], "Moved");
}

#[tokio::test]
async fn an_update_while_the_create_is_in_flight_waits_for_the_mapping() {
    let e = env().await;
    e.ghl.set_hang(Duration::from_millis(700));
    let api = e.api.clone();
    let creating = tokio::spawn(async move { api.post("/api/calendar-events", seed_body()).await });
    // Wait until the create reached GHL, then update the event while it is in flight.
    let id = e.ghl.first_event_id(Duration::from_secs(5)).await;
    let r = patch(&e, &id, json!({"eventTitle": "Changed mid-flight"})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["sync"]["syncStatus"], "pending");
    e.ghl.set_hang(Duration::ZERO);
    let created = creating.await.unwrap();
    assert_eq!(created.status, 201);
    pump(&e).await;

    let s = get(&e, &id).await.body["sync"].clone();
    assert_eq!(s["syncStatus"], "synced", "{s}");
    assert_eq!(s["ghlAppointmentId"], "ghl_1");
    assert_eq!(e.ghl.count("calendar_event_created"), 1);
    assert_eq!(e.ghl.appointments(), 1);
    let updates: Vec<Value> = e
        .ghl
        .payloads()
        .into_iter()
        .filter(|p| p["event_type"] == "calendar_event_updated")
        .collect();
    assert_eq!(updates.len(), 1);
    assert_eq!(
        updates[0]["reference_mapping"]["ghl_appointment_id"],
        "ghl_1"
    );
    assert_eq!(
        updates[0]["event_data"]["event_title"],
        "Changed mid-flight"
    );
}

#[tokio::test]
async fn retries_stop_after_retry_attempts_and_the_mapping_is_failed() {
    let e = env().await;
    e.ghl.set_down(true);
    let id = create_ok(&e).await;
    pump(&e).await;
    let s = sync_of(&e, &id).await;
    assert_eq!(s["syncStatus"], "failed");
    assert_eq!(s["attempts"], 4, "1 + retryAttempts calls");
    assert_eq!(s["syncError"], "http status 503");
    assert_eq!(e.ghl.count("calendar_event_created"), 4);
    assert_eq!(get(&e, &id).await.body["sync"]["syncStatus"], "failed");
    // A new local change starts a fresh sync.
    e.ghl.set_down(false);
    let r = patch(&e, &id, json!({"description": null})).await;
    assert_eq!(r.body["sync"]["syncStatus"], "synced");
    assert_eq!(r.body["event"]["description"], Value::Null);
}

#[tokio::test]
async fn bulk_retry_requeues_only_failed_mappings() {
    let e = env().await;
    e.ghl.set_down(true);
    let failed = create_ok(&e).await;
    pump(&e).await;
    assert_eq!(sync_of(&e, &failed).await["syncStatus"], "failed");
    let pending = create_ok(&e).await;
    e.queue.drain(QueueName::Delivery); // its retry is lost: it stays pending
    e.ghl.set_down(false);
    let synced = create_ok(&e).await;
    e.queue.drain(QueueName::Delivery);

    let r = e.post("/api/admin/sync-mappings/retry-failed", None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["retried"], 1);
    assert_eq!(r.body["mappings"][0]["sentraEventId"], failed.as_str());
    assert_eq!(r.body["mappings"][0]["syncStatus"], "pending");
    assert_eq!(r.body["mappings"][0]["attempts"], 0);
    assert_eq!(calendar_messages(&e.queue), vec![failed.clone()]);
    // Nothing else was touched.
    assert_eq!(sync_of(&e, &pending).await["syncStatus"], "pending");
    assert_eq!(sync_of(&e, &synced).await["syncStatus"], "synced");

    // Run the re-queued one: call the endpoint again (its message was drained above).
    let again = e
        .post(&format!("/api/admin/sync-mappings/{failed}/retry"), None)
        .await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.body["retried"], true);
    pump(&e).await;
    assert_eq!(sync_of(&e, &failed).await["syncStatus"], "synced");
}

#[tokio::test]
async fn single_retry_requeues_pending_or_failed_and_leaves_synced_alone() {
    let e = env().await;
    e.ghl.set_down(true);
    let pending = create_ok(&e).await;
    e.queue.drain(QueueName::Delivery);
    e.ghl.set_down(false);
    let path = format!("/api/admin/sync-mappings/{pending}/retry");
    let r = e.post(&path, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["retried"], true);
    assert_eq!(calendar_messages(&e.queue), vec![pending.clone()]);
    sync_retry_run(&e, &pending).await;
    assert_eq!(sync_of(&e, &pending).await["syncStatus"], "synced");

    let r = e.post(&path, None).await;
    assert_eq!(r.body["retried"], false);
    assert_eq!(r.body["mapping"]["syncStatus"], "synced");
    assert!(e.queue.drain(QueueName::Delivery).is_empty());

    let unknown = format!(
        "/api/admin/sync-mappings/{}/retry",
        shared::ids::new_id("cal")
    );
    for path in [unknown.as_str(), "/api/admin/sync-mappings/x#y/retry"] {
        assert_eq!(e.post(path, None).await.status, 404, "{path}");
    }
}

/// Runs one queued-style sync of `id` through the consumer.
async fn sync_retry_run(e: &Env, id: &str) {
    let body = serde_json::to_string(&QueueEnvelope::now(QueueMessage::CalendarSync {
        workspace_id: e.ws.clone(),
        event_id: id.to_owned(),
        attempt: 0,
    }))
    .unwrap();
    let resp = delivery_worker::runner(e.app.clone())
        .run(sqs_event([body], 1))
        .await;
    assert!(resp.batch_item_failures.is_empty());
}

#[tokio::test]
async fn sync_mappings_list_filters_by_status_pages_newest_first_and_counts() {
    let e = env().await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(create_ok(&e).await);
        // Ids order by their millisecond: keep creations apart.
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    let mut meeting = seed_body();
    meeting["eventType"] = json!("meeting");
    assert_eq!(create(&e, meeting).await.status, 201);
    e.ghl.set_down(true);
    let pending = create_ok(&e).await;

    let list = |q: &str| {
        let path = format!("/api/admin/sync-mappings{q}");
        let api = e.api.clone();
        async move { api.get(&path).await }
    };
    let all = list("").await;
    assert_eq!(all.status, 200, "{}", all.body);
    assert_eq!(all.body["mappings"].as_array().unwrap().len(), 4);
    assert_eq!(all.body["mappings"][0]["sentraEventId"], pending.as_str());
    assert_eq!(
        all.body["counts"],
        json!({"synced": 3, "pending": 1, "failed": 0})
    );
    let m = &all.body["mappings"][1];
    for k in [
        "sentraEventId",
        "ghlAppointmentId",
        "syncStatus",
        "lastSyncAttempt",
        "syncError",
        "attempts",
        "createdAt",
        "updatedAt",
    ] {
        assert!(m.get(k).is_some(), "mapping lacks {k}: {m}");
    }

    let synced = list("?status=synced&limit=2").await;
    assert_eq!(synced.body["mappings"].as_array().unwrap().len(), 2);
    assert_eq!(synced.body["mappings"][0]["sentraEventId"], ids[2].as_str());
    assert_eq!(synced.body["pagination"]["hasMore"], true);
    let cursor = synced.body["pagination"]["nextCursor"].as_str().unwrap();
    let next = list(&format!("?status=synced&limit=2&cursor={cursor}")).await;
    assert_eq!(next.body["mappings"].as_array().unwrap().len(), 1);
    assert_eq!(next.body["mappings"][0]["sentraEventId"], ids[0].as_str());
    assert_eq!(next.body["pagination"]["hasMore"], false);

    let na = list("?status=not_applicable").await;
    assert_eq!(na.body["mappings"].as_array().unwrap().len(), 1);
    let bad = list("?status=done").await;
    assert_eq!(bad.status, 400);
    assert!(bad.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("status"));
    assert_eq!(list("?limit=0").await.status, 400);
    assert_eq!(list("?cursor=garbage!").await.status, 400);
}

#[tokio::test]
async fn other_event_types_are_saved_not_applicable_without_a_call() {
    let e = env().await;
    let mut body = seed_body();
    body["eventType"] = json!("meeting");
    let r = create(&e, body).await;
    assert_eq!(r.status, 201);
    assert_eq!(r.body["sync"]["syncStatus"], "not_applicable");
    assert_eq!(r.body["sync"]["ghlAppointmentId"], Value::Null);
    assert!(e.ghl.requests().is_empty());
    assert!(e.queue.drain(QueueName::Delivery).is_empty());
    // Becoming an onboarding event brings it to GHL.
    let id = r.body["event"]["id"].as_str().unwrap();
    let p = patch(&e, id, json!({"eventType": "handover"})).await;
    assert_eq!(p.body["sync"]["syncStatus"], "synced");
    assert_eq!(e.ghl.count("calendar_event_created"), 1);
}

#[tokio::test]
async fn no_or_a_disabled_integration_is_not_applicable() {
    let t = TestApp::new().await.serve(calendar_api::router);
    let r = create(&t, seed_body()).await;
    assert_eq!(r.status, 201);
    assert_eq!(r.body["sync"]["syncStatus"], "not_applicable");

    let ghl = Ghl::start().await;
    ghl.integrate(&t.app, &t.ws, false).await;
    let r = create(&t, seed_body()).await;
    assert_eq!(r.body["sync"]["syncStatus"], "not_applicable");
    assert!(ghl.requests().is_empty());
}

#[tokio::test]
async fn workspaces_never_see_each_others_events_or_mappings() {
    let e = env().await;
    e.ghl.set_down(true);
    let id = create_ok(&e).await;
    pump(&e).await; // failed
    let (_ws2, key2) = shared_testkit::harness::workspace(&e.app, "other").await;
    let other = e.with_key(&key2);
    let path = format!("/api/calendar-events/{id}");
    for (method, body) in [
        ("GET", None),
        ("PATCH", Some(json!({"eventTitle": "x"}))),
        ("DELETE", None),
    ] {
        let r = other.call(method, &path, body).await;
        assert_eq!(r.status, 404, "{method}");
    }
    let list = other.get("/api/admin/sync-mappings").await;
    assert_eq!(list.body["mappings"], json!([]));
    assert_eq!(
        list.body["counts"],
        json!({"synced": 0, "pending": 0, "failed": 0})
    );
    let retry = other
        .post(&format!("/api/admin/sync-mappings/{id}/retry"), None)
        .await;
    assert_eq!(retry.status, 404);
    let bulk = other
        .post("/api/admin/sync-mappings/retry-failed", None)
        .await;
    assert_eq!(bulk.body["retried"], 0);
    assert_eq!(sync_of(&e, &id).await["syncStatus"], "failed");
    // And without a key nothing at all.
    assert_eq!(call(&e.router, "GET", &path, None, None).await.status, 401);
}

#[tokio::test]
async fn a_hanging_ghl_does_not_hold_the_answer() {
    let e = env_with(|c| c.ghl_inline_budget = Duration::from_millis(300)).await;
    e.ghl.set_hang(Duration::from_secs(3));
    let started = Instant::now();
    let r = create(&e, seed_body()).await;
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(r.status, 201);
    assert_eq!(r.body["sync"]["syncStatus"], "pending");
    let err = r.body["sync"]["syncError"].as_str().unwrap();
    assert!(
        err.contains("timed out") || err.contains("timeout"),
        "{err}"
    );
}

#[tokio::test]
async fn bad_input_is_a_400_naming_the_field_and_writes_nothing() {
    let e = env().await;
    let cases = [
        ("eventTitle", json!({"eventTitle": null})),
        ("eventType", json!({"eventType": ""})),
        ("startDate", json!({"startDate": "2024-1-15"})),
        ("endDate", json!({"endDate": "2024-02-30"})),
        ("startTime", json!({"startTime": "25:00"})),
        ("endTime", json!({"endTime": "10:5"})),
        ("endDate", json!({"endDate": "2024-01-14"})),
        ("endTime", json!({"endTime": "09:59"})),
        ("clientId", json!({"clientId": true})),
        ("clientId", json!({"clientId": null})),
        ("clientEmail", json!({"clientEmail": "not-an-email"})),
        ("description", json!({"description": 5})),
    ];
    for (field, change) in cases {
        let mut body = seed_body();
        for (k, v) in change.as_object().unwrap() {
            body[k] = v.clone();
        }
        let r = create(&e, body).await;
        assert_eq!(r.status, 400, "{field}: {}", r.body);
        assert_eq!(r.error_code(), "validation_error");
        let msg = r.error_message();
        assert!(msg.contains(field), "{field}: {msg}");
    }
    let mut missing = seed_body();
    missing.as_object_mut().unwrap().remove("clientId");
    let r = create(&e, missing).await;
    assert!(r.error_message().contains("clientId"));
    let r = e
        .send("POST", "/api/calendar-events", &[], b"{not json".to_vec())
        .await;
    assert_eq!(r.error_code(), "invalid_json");
    assert!(e.ghl.requests().is_empty());
    let list = e
        .get("/api/admin/sync-mappings?status=not_applicable")
        .await;
    assert_eq!(list.body["mappings"], json!([]));

    // A PATCH that would put the end before the start changes nothing.
    let id = create_ok(&e).await;
    let r = patch(&e, &id, json!({"endTime": "09:00"})).await;
    assert_eq!(r.status, 400);
    assert_eq!(get(&e, &id).await.body["event"]["endTime"], "11:00");
    assert_eq!(get(&e, "cal_nope").await.status, 404);
    // Equal start and end are allowed; string client ids are kept as given.
    let mut body = seed_body();
    body["endTime"] = json!("10:00");
    body["clientId"] = json!("456");
    let r = create(&e, body).await;
    assert_eq!(r.status, 201);
    assert_eq!(r.body["event"]["clientId"], "456");
}
