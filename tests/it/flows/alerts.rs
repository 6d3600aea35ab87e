//! Operational alerts end to end over moto (DESIGN §8 "Alerts"): each failure happens through
//! the real API and workers, the delivery queue (SQS on moto) carries the alert to the
//! delivery worker, and the signed alert reaches a local target exactly once; repeats of a
//! subject within 15 minutes are held back and counted into the next alert's `data.suppressed`.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{json, Value};
use shared::alerts::Alert;
use shared::config::Config;
use shared::inbound::apply::SyncWorker;
use shared::queue::QueueName;
use shared::signing::WebhookSecret;
use shared::App;
use shared_aws::sqs::SqsQueue;
use shared_testkit::harness::{call_raw, Api, Reply};
use shared_testkit::moto::{fresh_queue, fresh_store, pump_once, sqs_client};
use shared_testkit::targets::ghl::Ghl;
use shared_testkit::targets::webhook::{Received, Target};

const BASE: &str = "http://127.0.0.1:3000";
const STRIPE_SECRET: &str = "whsec_alerts_secret_0123456789";

struct Stack {
    app: App,
    sqs: aws_sdk_sqs::Client,
    delivery_url: String,
    inbound_url: String,
    ws: String,
    key: String,
    /// The alerts integration's target and secret.
    alerts: Target,
    secret: WebhookSecret,
}

async fn stack_with(alerts_body: Value) -> Stack {
    let store = Arc::new(fresh_store().await);
    let sqs = sqs_client().await;
    let delivery_url = fresh_queue(&sqs, 30).await;
    let inbound_url = fresh_queue(&sqs, 1).await;
    let mut config = Config::for_tests(store.table(), &delivery_url);
    config.inbound_queue_url = Some(inbound_url.clone());
    let queue = SqsQueue::new(
        sqs.clone(),
        HashMap::from([
            (QueueName::Delivery, delivery_url.clone()),
            (QueueName::Inbound, inbound_url.clone()),
        ]),
    );
    let app = App::new(config, store, Arc::new(queue));
    let (ws, key) = shared_testkit::moto::workspace(&app, "alerts").await;
    let alerts = Target::start().await;
    let mut body = json!({ "webhookUrl": alerts.url, "retryAttempts": 1, "retryDelay": 1 });
    if let (Some(b), Value::Object(extra)) = (body.as_object_mut(), alerts_body) {
        b.extend(extra);
    }
    let api = Api::new(workspaces_api::router(app.clone()), &key);
    let r = api.put("/api/integrations/alerts", body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let secret = WebhookSecret::parse(&r.str_at("/integration/secret")).unwrap();
    Stack {
        app,
        sqs,
        delivery_url,
        inbound_url,
        ws,
        key,
        alerts,
        secret,
    }
}

async fn stack() -> Stack {
    stack_with(json!({})).await
}

impl Stack {
    fn api(&self, router: fn(App) -> axum::Router) -> Api {
        Api::new(router(self.app.clone()), &self.key)
    }

    /// Runs the delivery queue through the real consumer until it stays empty.
    async fn drain(&self) {
        let runner = delivery_worker::runner(self.app.clone());
        for _ in 0..80 {
            if pump_once(&self.sqs, &self.delivery_url, |ev| runner.run(ev)).await == 0 {
                return;
            }
        }
        panic!("the delivery queue did not drain");
    }

    /// Runs the inbound queue through the sync worker until it stays empty.
    async fn drain_inbound(&self) {
        let worker = SyncWorker::new(self.app.clone()).quiet();
        for _ in 0..20 {
            if pump_once(&self.sqs, &self.inbound_url, |ev| worker.run(ev)).await == 0 {
                return;
            }
        }
        panic!("the inbound queue did not drain");
    }

    /// The alerts that reached the target, verified against the integration's secret.
    fn received(&self) -> Vec<Value> {
        self.alerts
            .requests()
            .iter()
            .map(|r| {
                verify(&self.secret, r);
                r.json()
            })
            .collect()
    }

    /// The alerts of type `kind` that reached the target.
    fn of_type(&self, kind: &str) -> Vec<Value> {
        self.received()
            .into_iter()
            .filter(|a| a["type"] == kind)
            .collect()
    }

    /// Raises `alert` as if it happened `minutes` from now (the next failure after the window).
    async fn raise_later(&self, mut alert: Alert, minutes: i64) {
        let at = shared::time::now() + chrono::Duration::minutes(minutes);
        alert.occurred_at = shared::time::format(at);
        shared::alerts::raise::raise(&self.app, &self.ws, alert).await;
    }
}

/// Each alert is signed like every integration request (DESIGN §5).
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
    .expect("the alert verifies with the alerts integration's secret");
    assert!(h("webhook-id").starts_with("dlv_"));
}

fn assert_envelope(alert: &Value, ws: &str, kind: &str, link: &str) {
    assert_eq!(alert["type"], kind, "{alert}");
    assert_eq!(alert["workspaceId"], ws);
    assert_eq!(
        alert["consoleUrl"],
        format!("{BASE}/console{link}"),
        "{alert}"
    );
    assert!(shared::time::parse(alert["occurredAt"].as_str().unwrap()).is_some());
    let message = alert["message"].as_str().unwrap();
    assert!(
        message.ends_with('.') && !message.contains('\n'),
        "{message}"
    );
}

// --- subscriptions ------------------------------------------------------------------------

const EXAM: &str = "40577087837";

async fn failing_subscription(s: &Stack) -> (Api, Api, String, Target) {
    let bookings = s.api(bookings_api::router);
    let hooks = s.api(subscriptions_api::router);
    bookings.put_exam(EXAM, 100).await;
    let target = Target::start().await;
    target.set_default_status(500);
    let r = hooks
        .post(
            "/api/admin/webhooks",
            json!({ "name": "CRM", "url": target.url, "events": ["booking.created"],
                    "retryAttempts": 1, "maxConsecutiveFailures": 1 }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    (bookings, hooks, r.str_at("/webhook/id"), target)
}

async fn book(bookings: &Api, contact: &str) {
    let body = json!({ "mockExamId": EXAM, "contactId": contact });
    let r = bookings.post("/api/bookings", body).await;
    assert_eq!(r.status, 201, "{}", r.body);
}

#[tokio::test]
async fn an_exhausted_delivery_that_disables_its_webhook_raises_both_alerts_once() {
    let s = stack().await;
    let (bookings, hooks, wh, target) = failing_subscription(&s).await;
    book(&bookings, "c1").await;
    s.drain().await;
    assert_eq!(target.requests().len(), 2, "1 + retryAttempts calls");

    let exhausted = s.of_type("delivery.exhausted");
    assert_eq!(exhausted.len(), 1, "{:?}", s.received());
    let a = &exhausted[0];
    assert_envelope(a, &s.ws, "delivery.exhausted", &format!("#/webhooks/{wh}"));
    assert_eq!(a["data"]["webhook"], json!({ "id": wh, "name": "CRM" }));
    let d = &a["data"]["delivery"];
    assert!(d["id"].as_str().unwrap().starts_with("dlv_"));
    assert_eq!(
        (&d["event"], &d["attempts"], &d["statusCode"], &d["error"]),
        (
            &json!("booking.created"),
            &json!(2),
            &json!(500),
            &json!("http status 500")
        )
    );
    assert_eq!(
        a["message"],
        "A booking.created delivery to webhook \"CRM\" failed after 2 attempts: http status 500."
    );

    let disabled = s.of_type("subscription.disabled");
    assert_eq!(disabled.len(), 1, "{:?}", s.received());
    let a = &disabled[0];
    assert_envelope(
        a,
        &s.ws,
        "subscription.disabled",
        &format!("#/webhooks/{wh}"),
    );
    assert_eq!(
        a["data"],
        json!({ "webhook": { "id": wh, "name": "CRM", "url": target.url },
                "reason": "disabled after 1 consecutive failed deliveries" })
    );
    assert_eq!(
        a["message"],
        "Webhook \"CRM\" was disabled: disabled after 1 consecutive failed deliveries."
    );

    // The same webhook fails again within 15 minutes: both alerts are held back…
    let r = hooks
        .patch(
            &format!("/api/admin/webhooks/{wh}"),
            json!({ "active": true }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    book(&bookings, "c2").await;
    s.drain().await;
    assert_eq!(target.requests().len(), 4);
    assert_eq!(s.received().len(), 2, "{:?}", s.received());

    // …and the next one after the window says how many were.
    s.raise_later(Alert::subscription_disabled(&wh, "again"), 16)
        .await;
    s.drain().await;
    let disabled = s.of_type("subscription.disabled");
    assert_eq!(disabled.len(), 2);
    assert_eq!(disabled[1]["data"]["suppressed"], 1);
    assert_eq!(disabled[0]["data"].get("suppressed"), None);
}

#[tokio::test]
async fn a_410_raises_subscription_disabled_with_the_gone_reason() {
    let s = stack().await;
    let (bookings, _hooks, wh, target) = failing_subscription(&s).await;
    target.set_default_status(410);
    book(&bookings, "c1").await;
    s.drain().await;
    let disabled = s.of_type("subscription.disabled");
    assert_eq!(disabled.len(), 1, "{:?}", s.received());
    assert_eq!(
        disabled[0]["data"]["reason"],
        "the endpoint answered 410 Gone"
    );
    assert_eq!(disabled[0]["data"]["webhook"]["id"], wh.as_str());
    assert!(s.of_type("delivery.exhausted").is_empty());
}

// --- HubSpot and GHL ----------------------------------------------------------------------

#[tokio::test]
async fn a_counter_sync_that_used_up_its_retries_raises_hubspot_sync_failing() {
    let s = stack().await;
    let hubspot = Target::start().await;
    hubspot.set_default_status(500);
    hubspot.integrate_hubspot(&s.app, &s.ws, 2).await;
    let bookings = s.api(bookings_api::router);
    bookings.put_exam(EXAM, 10).await;
    book(&bookings, "c1").await;
    s.drain().await;
    assert_eq!(hubspot.requests().len(), 3, "1 + retryAttempts calls");
    let alerts = s.received();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let a = &alerts[0];
    assert_envelope(
        a,
        &s.ws,
        "hubspot.sync_failing",
        &format!("#/mock-exams/{EXAM}"),
    );
    assert_eq!(
        a["data"],
        json!({ "mockExamId": EXAM, "attempts": 3, "lastError": "http status 500" })
    );
    assert_eq!(
        a["message"],
        format!("The HubSpot sync of mock exam {EXAM} failed after 3 attempts: http status 500.")
    );

    // The next failing sync of the exam within 15 minutes is held back.
    book(&bookings, "c2").await;
    s.drain().await;
    assert_eq!(hubspot.requests().len(), 6);
    assert_eq!(s.received().len(), 1);
    s.raise_later(Alert::hubspot_sync_failing(EXAM, 3, "x"), 20)
        .await;
    s.drain().await;
    let alerts = s.received();
    assert_eq!(alerts.len(), 2);
    assert_eq!(alerts[1]["data"]["suppressed"], 1);
}

fn calendar_body() -> Value {
    json!({
        "eventType": "handover", "eventTitle": "Handover call",
        "startDate": "2024-03-01", "endDate": "2024-03-01",
        "startTime": "09:30", "endTime": "10:15", "clientId": "client-77"
    })
}

#[tokio::test]
async fn a_ghl_mapping_that_ends_failed_raises_ghl_sync_failed_in_slack_format() {
    let s = stack_with(json!({ "format": "slack" })).await;
    let ghl = Ghl::start().await;
    ghl.integrate(&s.app, &s.ws, true).await;
    ghl.set_down(true);
    let calendar = s.api(calendar_api::router);
    let r = calendar.post("/api/calendar-events", calendar_body()).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.str_at("/event/id");
    s.drain().await;
    let r = calendar.get(&format!("/api/calendar-events/{id}")).await;
    assert_eq!(r.body["sync"]["syncStatus"], "failed", "{}", r.body);

    let requests = s.alerts.requests();
    assert_eq!(requests.len(), 1);
    verify(&s.secret, &requests[0]);
    assert_eq!(requests[0].headers["x-webhook-event"], "ghl.sync_failed");
    assert_eq!(
        requests[0].json(),
        json!({ "text": format!(
            "The GHL sync of calendar event {id} failed: http status 503. {BASE}/console#/calendar-sync"
        ) })
    );
}

#[tokio::test]
async fn a_ghl_mapping_that_ends_failed_raises_ghl_sync_failed() {
    let s = stack().await;
    let ghl = Ghl::start().await;
    ghl.integrate(&s.app, &s.ws, true).await;
    ghl.set_down(true);
    let calendar = s.api(calendar_api::router);
    let r = calendar.post("/api/calendar-events", calendar_body()).await;
    let id = r.str_at("/event/id");
    s.drain().await;
    let alerts = s.received();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_envelope(&alerts[0], &s.ws, "ghl.sync_failed", "#/calendar-sync");
    assert_eq!(
        alerts[0]["data"],
        json!({ "sentraEventId": id, "syncError": "http status 503" })
    );
}

// --- inbound ------------------------------------------------------------------------------

async fn stripe_job(s: &Stack) -> (Api, String) {
    let jobs = s.api(sync_jobs_api::router);
    let r = jobs
        .post(
            &format!("/api/workspaces/{}/sync-jobs", s.ws),
            json!({ "name": "Stripe", "type": "webhook", "source": "stripe",
                    // No automatic retries: the first failure is final.
                    "webhookConfig": { "eventFilters": ["customer.*"], "signingSecret": STRIPE_SECRET,
                                       "autoRetry": { "attempts": 0 } } }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    (jobs, r.str_at("/syncJob/id"))
}

async fn post_event(s: &Stack, job: &str, body: &str, signature: Option<&str>) -> Reply {
    let own = shared::signing::sign_stripe(
        STRIPE_SECRET,
        shared::time::now().timestamp(),
        body.as_bytes(),
    );
    let header = signature.unwrap_or(&own);
    call_raw(
        &inbound_receiver::router(s.app.clone()),
        "POST",
        &format!("/api/webhooks/{}/{job}", s.ws),
        &[
            ("content-type", "application/json"),
            ("stripe-signature", header),
        ],
        body.as_bytes().to_vec(),
    )
    .await
}

#[tokio::test]
async fn an_inbound_event_that_ends_failed_raises_inbound_event_failed() {
    let s = stack().await;
    let (_jobs, job) = stripe_job(&s).await;
    // A customer without an id cannot be mapped: the event ends `failed`.
    let body = json!({ "id": "evt_bad_1", "object": "event", "type": "customer.created",
                       "created": 1_700_000_000, "data": { "object": { "object": "customer" } } })
    .to_string();
    let r = post_event(&s, &job, &body, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let event_id = r.str_at("/eventId");
    s.drain_inbound().await;
    s.drain().await;
    let alerts = s.received();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let a = &alerts[0];
    assert_envelope(
        a,
        &s.ws,
        "inbound.event_failed",
        &format!("#/sync-jobs/{job}/events/{event_id}"),
    );
    assert_eq!(
        a["data"],
        json!({ "syncJob": { "id": job, "name": "Stripe" }, "eventId": event_id,
                "providerEventId": "evt_bad_1", "error": "data.object.id is missing or not a string" })
    );
    assert_eq!(
        a["message"],
        "Event evt_bad_1 of sync job \"Stripe\" could not be applied: data.object.id is missing or not a string."
    );
}

#[tokio::test]
async fn ten_rejected_signatures_raise_inbound_signature_failures_once() {
    let s = stack().await;
    let (_jobs, job) = stripe_job(&s).await;
    let body = r#"{"id":"evt_1","type":"customer.created"}"#;
    for n in 1..=12 {
        let r = post_event(&s, &job, body, Some("t=1,v1=00")).await;
        assert_eq!(r.status, 401, "{}", r.body);
        if n == 9 {
            s.drain().await;
            assert!(s.received().is_empty(), "9 rejections raise nothing");
        }
    }
    s.drain().await;
    let alerts = s.received();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let a = &alerts[0];
    assert_envelope(
        a,
        &s.ws,
        "inbound.signature_failures",
        &format!("#/sync-jobs/{job}"),
    );
    assert_eq!(a["data"]["syncJob"], json!({ "id": job, "name": "Stripe" }));
    assert_eq!(a["data"]["count"], 10);
    let since = shared::time::parse(a["data"]["since"].as_str().unwrap()).unwrap();
    let age = shared::time::now() - since;
    assert!(age >= chrono::Duration::zero() && age <= chrono::Duration::minutes(5));
}

// --- the alerts integration itself --------------------------------------------------------

#[tokio::test]
async fn the_test_endpoint_sends_alert_test_now_and_is_never_held_back() {
    let s = stack().await;
    let api = s.api(workspaces_api::router);
    for n in 1..=2 {
        let r = api.post("/api/integrations/alerts/test", None).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["attempt"]["statusCode"], 202);
        assert_eq!(r.body["attempt"]["error"], Value::Null);
        assert_eq!(s.received().len(), n);
    }
    let a = &s.received()[0];
    assert_envelope(a, &s.ws, "alert.test", "#/overview");
    assert!(a["data"]["message"].is_string());
}

#[tokio::test]
async fn an_alert_that_cannot_be_delivered_is_retried_and_raises_no_alert() {
    let s = stack().await;
    s.alerts.set_default_status(500);
    shared::alerts::raise::raise(&s.app, &s.ws, Alert::ghl_sync_failed("cal_x", "boom")).await;
    s.drain().await;
    let requests = s.alerts.requests();
    assert_eq!(
        requests.len(),
        2,
        "1 + retryAttempts calls, then nothing more"
    );
    assert_eq!(
        requests[0].body, requests[1].body,
        "retries send the same body"
    );
    assert_eq!(
        requests[0].headers["webhook-id"],
        requests[1].headers["webhook-id"]
    );
    assert!(requests
        .iter()
        .all(|r| r.json()["type"] == "ghl.sync_failed"));
    let list = s.api(workspaces_api::router).get("/api/integrations").await;
    let alerts = &list.body["integrations"]["alerts"];
    assert_eq!(
        (&alerts["failed"], &alerts["succeeded"]),
        (&json!(2), &json!(0))
    );
    assert_eq!(alerts["successRate"], 0.0);
    assert_eq!(alerts["lastError"], "http status 500");
}

#[tokio::test]
async fn types_left_out_of_events_are_not_sent() {
    let s = stack_with(json!({ "events": ["ghl.sync_failed"] })).await;
    shared::alerts::raise::raise(&s.app, &s.ws, Alert::hubspot_sync_failing(EXAM, 1, "x")).await;
    shared::alerts::raise::raise(&s.app, &s.ws, Alert::ghl_sync_failed("cal_1", "x")).await;
    s.drain().await;
    let kinds: Vec<Value> = s.received().iter().map(|a| a["type"].clone()).collect();
    assert_eq!(kinds, vec![json!("ghl.sync_failed")]);
}
