//! `Retry-After` on 429/503 (DESIGN §8 "Outbound additions") for each of the four senders,
//! with DynamoDB on moto and local HTTP targets. The delivery queue is the in-memory one so
//! the delay every retry was scheduled with can be read exactly.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use shared::alerts::Alert;
use shared::config::Config;
use shared::outbox::DomainEvent;
use shared::queue::{QueueEnvelope, QueueMessage, QueueName};
use shared::subscriptions::{self, Delivery, DeliveryStatus};
use shared::App;
use shared_testkit::fixtures::{booking, exam, new_booking};
use shared_testkit::harness::Api;
use shared_testkit::memory::{sqs_event, MemoryQueue};
use shared_testkit::moto::fresh_store;
use shared_testkit::targets::ghl::Ghl;
use shared_testkit::targets::webhook::Target;

struct Env {
    app: App,
    queue: Arc<MemoryQueue>,
    ws: String,
    key: String,
}

async fn env() -> Env {
    let store = Arc::new(fresh_store().await);
    let queue = Arc::new(MemoryQueue::new());
    let config = Config::for_tests(store.table(), "q");
    let app = App::new(config, store, queue.clone());
    let (ws, key) = shared_testkit::moto::workspace(&app, "retry-after").await;
    Env {
        app,
        queue,
        ws,
        key,
    }
}

impl Env {
    fn api(&self, router: fn(App) -> axum::Router) -> Api {
        Api::new(router(self.app.clone()), &self.key)
    }

    /// The one message queued since the last call, with its delay.
    fn next_message(&self) -> (QueueEnvelope, Duration) {
        let mut queued = self.queue.drain(QueueName::Delivery);
        assert_eq!(queued.len(), 1, "{queued:?}");
        let (body, delay) = queued.remove(0);
        (serde_json::from_str(&body).unwrap(), delay)
    }
}

fn assert_between(d: Duration, low: f64, high: f64) {
    let s = d.as_secs_f64();
    assert!((low..=high).contains(&s), "{s} s not in {low}..={high}");
}

/// An HTTP date `secs` from now (IMF-fixdate).
fn http_date(secs: i64) -> String {
    (shared::time::now() + chrono::Duration::seconds(secs))
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}

// --- subscriptions ---------------------------------------------------------------------------

async fn subscription(e: &Env, url: &str, extra: Value) -> String {
    let mut body = json!({ "name": "CRM", "url": url, "events": ["booking.*"], "retryDelay": 1 });
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let r = e
        .api(subscriptions_api::router)
        .post("/api/admin/webhooks", body)
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.str_at("/webhook/id")
}

async fn pending_delivery(e: &Env, subscription_id: &str) -> String {
    let event = DomainEvent::new(
        "booking.created",
        json!({ "booking": { "id": "bk_1" } }),
        &shared::time::now_string(),
    );
    let payload = subscriptions::payload_body(&e.ws, &event, subscriptions::SOURCE_API).unwrap();
    let d = Delivery::pending(
        &e.ws,
        subscription_id,
        &event,
        payload,
        shared::time::now(),
        7,
    );
    assert!(e.app.deliveries.create_delivery(&d).await.unwrap());
    d.id
}

#[tokio::test]
async fn a_subscription_429_defers_the_retry_by_retry_after_and_logs_it() {
    let e = env().await;
    let target = Target::start().await;
    target.respond_with(&[429]);
    target.set_retry_after(Some("30"));
    let sub = subscription(&e, &target.url, json!({ "retryAttempts": 3 })).await;
    let id = pending_delivery(&e, &sub).await;

    subscriptions::delivery::run(&e.app, &e.ws, &id)
        .await
        .unwrap();
    let (message, delay) = e.next_message();
    assert!(matches!(message.message, QueueMessage::Delivery { .. }));
    // The backoff is 0 s in tests (RETRY_DELAY_SCALE=0): the wait is Retry-After's.
    assert_between(delay, 30.0, 30.0);
    let d = e
        .app
        .deliveries
        .get_delivery(&e.ws, &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((d.status, d.attempts), (DeliveryStatus::Pending, 1));
    let due = shared::time::parse(d.next_attempt_at.as_deref().unwrap()).unwrap();
    assert_between((due - shared::time::now()).to_std().unwrap(), 28.0, 30.0);

    let log = e
        .api(subscriptions_api::router)
        .get(&format!("/api/admin/webhooks/{sub}/deliveries"))
        .await;
    let attempt = &log.body["deliveries"][0]["attemptLog"][0];
    assert_eq!(attempt["statusCode"], 429);
    assert_eq!(attempt["retryAfterSeconds"], 30);
    assert_eq!(attempt["error"], "http status 429 (Retry-After 30 s)");

    // Run when due: the target takes it.
    subscriptions::delivery::run_at(&e.app, &e.ws, &id, due)
        .await
        .unwrap();
    let d = e
        .app
        .deliveries
        .get_delivery(&e.ws, &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((d.status, d.attempts), (DeliveryStatus::Success, 2));
}

#[tokio::test]
async fn an_http_date_and_a_503_are_honoured_and_long_waits_capped_at_one_hour() {
    let e = env().await;
    let target = Target::start().await;
    let sub = subscription(&e, &target.url, json!({ "retryAttempts": 5 })).await;

    target.respond_with(&[503]);
    target.set_retry_after(Some(&http_date(45)));
    let id = pending_delivery(&e, &sub).await;
    subscriptions::delivery::run(&e.app, &e.ws, &id)
        .await
        .unwrap();
    let (_, delay) = e.next_message();
    assert_between(delay, 43.0, 45.0);

    target.respond_with(&[429]);
    target.set_retry_after(Some("86400"));
    let id = pending_delivery(&e, &sub).await;
    subscriptions::delivery::run(&e.app, &e.ws, &id)
        .await
        .unwrap();
    let (message, delay) = e.next_message();
    // An hour is past SQS's 900 s: the message waits 900 s and carries notBefore.
    assert_between(delay, 900.0, 900.0);
    let not_before = message.not_before.unwrap() - shared::time::now().timestamp();
    assert!((3598..=3600).contains(&not_before), "{not_before}");

    // A 429 without Retry-After keeps the plain backoff.
    target.respond_with(&[429]);
    target.set_retry_after(None);
    let id = pending_delivery(&e, &sub).await;
    subscriptions::delivery::run(&e.app, &e.ws, &id)
        .await
        .unwrap();
    let (_, delay) = e.next_message();
    assert_eq!(delay, Duration::ZERO);
}

#[tokio::test]
async fn a_run_of_throttled_deliveries_never_auto_disables_a_subscription() {
    let e = env().await;
    let target = Target::start().await;
    target.set_default_status(429);
    target.set_retry_after(Some("5"));
    let sub = subscription(
        &e,
        &target.url,
        json!({ "retryAttempts": 0, "maxConsecutiveFailures": 2 }),
    )
    .await;
    for _ in 0..4 {
        let id = pending_delivery(&e, &sub).await;
        subscriptions::delivery::run(&e.app, &e.ws, &id)
            .await
            .unwrap();
        let d = e
            .app
            .deliveries
            .get_delivery(&e.ws, &id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((d.status, d.attempts), (DeliveryStatus::Failed, 1));
    }
    let s = e
        .app
        .subscriptions
        .get_subscription(&e.ws, &sub)
        .await
        .unwrap()
        .unwrap();
    assert!(
        s.active,
        "429s with Retry-After do not count toward the streak"
    );
    assert_eq!((s.failed_count, s.consecutive_failures), (4, 0));

    // The same run of plain failures does disable it.
    target.set_default_status(500);
    for _ in 0..2 {
        let id = pending_delivery(&e, &sub).await;
        subscriptions::delivery::run(&e.app, &e.ws, &id)
            .await
            .unwrap();
    }
    let s = e
        .app
        .subscriptions
        .get_subscription(&e.ws, &sub)
        .await
        .unwrap()
        .unwrap();
    assert!(!s.active);
    assert_eq!(s.consecutive_failures, 2);
}

// --- HubSpot ---------------------------------------------------------------------------------

#[tokio::test]
async fn a_hubspot_429_defers_the_counter_sync_retry() {
    let e = env().await;
    let target = Target::start().await;
    target.integrate_hubspot(&e.app, &e.ws, 3).await;
    e.app
        .bookings
        .put_exam(&e.ws, "e1", &exam(10), "2026-01-01T00:00:00.000Z")
        .await
        .unwrap();
    let booked = booking("e1", "c1", &shared::time::now_string());
    e.app
        .bookings
        .create_booking(&new_booking(&e.ws, booked))
        .await
        .unwrap();
    target.respond_with(&[429]);
    target.set_retry_after(Some("20"));
    shared::integrations::counter_sync::run(&e.app, &e.ws, "e1", 0, None)
        .await
        .unwrap();
    let (message, delay) = e.next_message();
    assert_between(delay, 20.0, 20.0);
    let QueueMessage::CounterSync { attempt, .. } = message.message else {
        panic!("expected a counter sync");
    };
    assert_eq!(attempt, 1, "the throttled call counts as an attempt");
    let list = e.api(workspaces_api::router).get("/api/integrations").await;
    assert_eq!(
        list.body["integrations"]["hubspot"]["lastError"],
        "http status 429 (Retry-After 20 s)"
    );
}

// --- GHL -------------------------------------------------------------------------------------

#[tokio::test]
async fn a_ghl_429_on_the_inline_attempt_holds_back_its_queued_retry() {
    let e = env().await;
    let ghl = Ghl::start().await;
    ghl.integrate(&e.app, &e.ws, true).await;
    ghl.set_retry_after(Some("40"));
    ghl.respond_with(&[(429, "slow down")]);
    let api = e.api(calendar_api::router);
    let r = api
        .post(
            "/api/calendar-events",
            json!({
                "eventType": "handover", "eventTitle": "Handover call",
                "startDate": "2024-03-01", "endDate": "2024-03-01",
                "startTime": "09:30", "endTime": "10:15", "clientId": "client-77"
            }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["sync"]["syncStatus"], "pending");
    assert_eq!(
        r.body["sync"]["syncError"],
        "http status 429 (Retry-After 40 s)"
    );
    assert_eq!(ghl.requests().len(), 1);

    // The retry queued before the inline attempt (0 s in tests) runs: no call, deferred.
    let queued: Vec<String> = e
        .queue
        .drain(QueueName::Delivery)
        .into_iter()
        .map(|(b, _)| b)
        .collect();
    assert_eq!(queued.len(), 1);
    let runner = delivery_worker::runner(e.app.clone());
    assert!(runner
        .run(sqs_event(queued, 1))
        .await
        .batch_item_failures
        .is_empty());
    assert_eq!(ghl.requests().len(), 1, "no call before Retry-After ends");
    let (message, delay) = e.next_message();
    assert!(matches!(message.message, QueueMessage::CalendarSync { .. }));
    assert_between(delay, 38.0, 40.0);
}

// --- alerts ----------------------------------------------------------------------------------

#[tokio::test]
async fn an_alert_503_with_an_http_date_defers_its_retry() {
    let e = env().await;
    let target = Target::start().await;
    let r = e
        .api(workspaces_api::router)
        .put(
            "/api/integrations/alerts",
            json!({ "webhookUrl": target.url, "retryAttempts": 2, "retryDelay": 1 }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    target.set_default_status(503);
    target.set_retry_after(Some(&http_date(50)));
    let alert = Alert::ghl_sync_failed("cal_x", "boom");
    shared::alerts::deliver::run(&e.app, &e.ws, &alert, 0, None, 0)
        .await
        .unwrap();
    let (message, delay) = e.next_message();
    assert_between(delay, 48.0, 50.0);
    let QueueMessage::Alert { attempt, .. } = message.message else {
        panic!("expected an alert");
    };
    assert_eq!(attempt, 1);
    assert_eq!(target.requests().len(), 1);
}
