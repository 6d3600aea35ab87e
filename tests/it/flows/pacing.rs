//! A subscription's `rateLimitPerSecond` and `headers` end to end (DESIGN §8 "Outbound
//! additions"): DynamoDB on moto holds the pacing slot, concurrent workers deliver to a local
//! target, and the in-memory delivery queue shows what was deferred and by how much.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use shared::config::Config;
use shared::outbox::DomainEvent;
use shared::queue::{QueueEnvelope, QueueMessage, QueueName};
use shared::subscriptions::{self, Delivery, DeliveryStatus};
use shared::App;
use shared_testkit::harness::Api;
use shared_testkit::memory::MemoryQueue;
use shared_testkit::moto::fresh_store;
use shared_testkit::targets::webhook::Target;

/// How late a call may start after its slot: the latency of the slot's conditional write,
/// which on moto (one request at a time) on a shared 2-core machine reaches ~100 ms.
const SLACK_MS: i64 = 150;

struct Env {
    app: App,
    queue: Arc<MemoryQueue>,
    ws: String,
    api: Api,
    target: Target,
}

async fn env() -> Env {
    let store = Arc::new(fresh_store().await);
    let queue = Arc::new(MemoryQueue::new());
    let app = App::new(Config::for_tests(store.table(), "q"), store, queue.clone());
    let (ws, key) = shared_testkit::moto::workspace(&app, "pacing").await;
    let api = Api::new(subscriptions_api::router(app.clone()), &key);
    Env {
        app,
        queue,
        ws,
        api,
        target: Target::start().await,
    }
}

impl Env {
    async fn subscription(&self, rate: u32) -> String {
        let r = self
            .api
            .post(
                "/api/admin/webhooks",
                json!({
                    "name": "CRM", "url": self.target.url, "events": ["booking.*"],
                    "rateLimitPerSecond": rate,
                    "headers": { "X-Api-Key": "sk_test_abcd9876", "X-Tenant": "acme" },
                }),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        assert_eq!(r.body["webhook"]["headers"]["X-Api-Key"], "***9876");
        r.str_at("/webhook/id")
    }

    async fn deliveries(&self, subscription_id: &str, n: usize) -> Vec<String> {
        let mut ids = Vec::new();
        for i in 0..n {
            let event = DomainEvent::new(
                "booking.created",
                json!({ "booking": { "id": format!("bk_{i}") } }),
                &shared::time::now_string(),
            );
            let payload =
                subscriptions::payload_body(&self.ws, &event, subscriptions::SOURCE_API).unwrap();
            let d = Delivery::pending(
                &self.ws,
                subscription_id,
                &event,
                payload,
                shared::time::now(),
                7,
            );
            assert!(self.app.deliveries.create_delivery(&d).await.unwrap());
            ids.push(d.id);
        }
        ids
    }

    /// Runs every delivery at once, as concurrent workers would.
    async fn run_all(&self, ids: &[String]) {
        let runs = ids
            .iter()
            .map(|id| subscriptions::delivery::run(&self.app, &self.ws, id));
        for r in futures::future::join_all(runs).await {
            r.unwrap();
        }
    }

    async fn delivery(&self, id: &str) -> Delivery {
        self.app
            .deliveries
            .get_delivery(&self.ws, id)
            .await
            .unwrap()
            .unwrap()
    }

    /// The span between the first and the last call the target received (network jitter on a
    /// loaded machine blurs it a little: the pacing itself is measured by [`Env::starts`]).
    fn span(&self) -> Duration {
        let mut times: Vec<Instant> = self.target.requests().iter().map(|r| r.at).collect();
        times.sort();
        times.last().unwrap().duration_since(times[0])
    }

    /// When each delivery's first call started (its attempt log), in order.
    async fn starts(&self, ids: &[String]) -> Vec<chrono::DateTime<chrono::Utc>> {
        let mut starts = Vec::new();
        for id in ids {
            let d = self.delivery(id).await;
            starts.push(shared::time::parse(&d.attempt_log[0].at).unwrap());
        }
        starts.sort();
        starts
    }
}

#[tokio::test]
async fn concurrent_deliveries_are_paced_at_the_rate_and_none_is_dropped() {
    let e = env().await;
    let sub = e.subscription(5).await;
    let ids = e.deliveries(&sub, 6).await;
    let started = Instant::now();
    e.run_all(&ids).await;
    let requests = e.target.requests();
    assert_eq!(requests.len(), 6, "every delivery sent once");
    // 6 calls at 5/s: each starts at its slot, one interval (200 ms) after the previous one,
    // or later by at most the slot write's latency (slack: moto on a loaded machine), so
    // about (6 − 1) / 5 = 1 s from the first start to the last.
    let starts = e.starts(&ids).await;
    for pair in starts.windows(2) {
        let gap = (pair[1] - pair[0]).num_milliseconds();
        assert!(
            gap >= 200 - SLACK_MS,
            "calls started {gap} ms apart: {starts:?}"
        );
    }
    let span = (starts[5] - starts[0]).num_milliseconds();
    assert!(span >= 1000 - SLACK_MS, "{span} ms");
    assert!(
        e.span() >= Duration::from_millis(1000 - SLACK_MS as u64),
        "{:?}",
        e.span()
    );
    // A loose upper bound: moto serves one call at a time on a shared machine.
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    for id in &ids {
        let d = e.delivery(id).await;
        assert_eq!((d.status, d.attempts), (DeliveryStatus::Success, 1));
    }
    assert_eq!(e.queue.len(QueueName::Delivery), 0, "nothing deferred");
    // Each call carries the subscription's headers, in full, beside the signature.
    for r in &requests {
        assert_eq!(r.headers["x-api-key"], "sk_test_abcd9876");
        assert_eq!(r.headers["x-tenant"], "acme");
        assert!(r.headers["webhook-signature"].starts_with("v1,"));
    }
}

#[tokio::test]
async fn deliveries_beyond_the_inline_wait_are_requeued_and_all_arrive_paced() {
    let e = env().await;
    let sub = e.subscription(2).await;
    let ids = e.deliveries(&sub, 8).await;
    let mut round = ids.clone();
    let mut deferrals = 0;
    for _ in 0..20 {
        e.run_all(&round).await;
        let deferred = e.queue.drain(QueueName::Delivery);
        if deferred.is_empty() {
            break;
        }
        round.clear();
        let mut longest = Duration::ZERO;
        for (body, delay) in &deferred {
            // Never further than the slot it waits for (8 calls at 2/s: < 4 s).
            assert!(*delay <= Duration::from_secs(4), "{delay:?}");
            longest = longest.max(*delay);
            let env: QueueEnvelope = serde_json::from_str(body).unwrap();
            let QueueMessage::Delivery { delivery_id, .. } = env.message else {
                panic!("expected a delivery");
            };
            let d = e.delivery(&delivery_id).await;
            assert_eq!(
                (d.status, d.attempts),
                (DeliveryStatus::Pending, 0),
                "a deferral is not an attempt"
            );
            round.push(delivery_id);
        }
        deferrals += deferred.len();
        // Run them when their messages become visible, as SQS would.
        tokio::time::sleep(longest).await;
    }
    // How many went back to the queue depends on how fast the workers reach the slot.
    assert!(deferrals < 8 * 20, "{deferrals}");
    assert_eq!(
        e.target.requests().len(),
        8,
        "none dropped, none sent twice"
    );
    // 8 calls at 2/s: (8 − 1) / 2 = 3.5 s from the first start to the last, less the slack.
    let starts = e.starts(&ids).await;
    for pair in starts.windows(2) {
        let gap = (pair[1] - pair[0]).num_milliseconds();
        assert!(
            gap >= 500 - SLACK_MS,
            "calls started {gap} ms apart: {starts:?}"
        );
    }
    assert!((starts[7] - starts[0]).num_milliseconds() >= 3500 - SLACK_MS);
    for id in &ids {
        let d = e.delivery(id).await;
        assert_eq!((d.status, d.attempts), (DeliveryStatus::Success, 1));
    }
    let s = e
        .app
        .subscriptions
        .get_subscription(&e.ws, &sub)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((s.success_count, s.failed_count), (8, 0));
}

#[tokio::test]
async fn over_the_rate_a_delivery_is_deferred_not_counted_and_sent_at_its_slot() {
    let e = env().await;
    let sub = e.subscription(1).await;
    let ids = e.deliveries(&sub, 1).await;
    // Other workers took the slots of the next 3 s.
    let slot = shared::time::now() + chrono::Duration::seconds(3);
    let slot_us = slot.timestamp_micros();
    let current = e.app.subscriptions.pacing_slot(&e.ws, &sub).await.unwrap();
    assert!(e
        .app
        .subscriptions
        .advance_pacing_slot(&e.ws, &sub, current, slot_us)
        .await
        .unwrap());

    e.run_all(&ids).await;
    assert!(e.target.requests().is_empty(), "not sent over the rate");
    let deferred = e.queue.drain(QueueName::Delivery);
    assert_eq!(deferred.len(), 1);
    let delay = deferred[0].1;
    // Back on the queue until shortly before its slot, then the last bit is waited in place.
    assert!(
        delay >= Duration::from_millis(1500) && delay <= Duration::from_secs(3),
        "{delay:?}"
    );
    let d = e.delivery(&ids[0]).await;
    assert_eq!(
        (d.status, d.attempts),
        (DeliveryStatus::Pending, 0),
        "a deferral is not an attempt"
    );

    tokio::time::sleep(delay).await;
    e.run_all(&ids).await;
    assert_eq!(e.target.requests().len(), 1);
    assert!(
        shared::time::now() >= slot,
        "sent no earlier than the slot it was given"
    );
    let d = e.delivery(&ids[0]).await;
    assert_eq!((d.status, d.attempts), (DeliveryStatus::Success, 1));
}
