//! The sync worker against the fakes: Stripe/Close/generic rules end to end (receiver →
//! queue → worker → record), ordering and tombstones, idempotency, write groups (batchSize),
//! partial batch failures, permanent vs. transient failures, the last-receive rule.

use shared_testkit::harness::TestApp;

use serde_json::{json, Value};
use shared::inbound::apply::SyncWorker;
use shared::inbound::domain::{
    EventStatus, Execution, InboundEvent, InboundMessage, Source, SyncJob, WebhookConfig,
};
use shared::inbound::receive::receive;
use shared::queue::QueueName;
use shared::signing;
use shared_testkit::fixtures::{stripe_event as stripe, sync_job};
use shared_testkit::memory::sqs_event;

const STRIPE_SECRET: &str = "whsec_worker_test";
const CLOSE_KEY: &str = "b9260244ef33625f9b4b26a27db08758cdd39478b852c73f2d33ab042eb8abb4";

struct Env {
    t: TestApp,
    worker: SyncWorker,
    job: SyncJob,
}

shared_testkit::deref_test_app!(Env);

async fn env_with(source: Source, config: WebhookConfig) -> Env {
    let t = TestApp::new().await;
    let secret = match source {
        Source::Stripe => STRIPE_SECRET,
        Source::Close => CLOSE_KEY,
        Source::Generic => "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
    };
    let job = SyncJob {
        webhook_config: config,
        ..sync_job(&t.ws, source, secret)
    };
    t.app.sync_jobs.create_sync_job(&job).await.unwrap();
    Env {
        worker: SyncWorker::new(t.app.clone()).quiet(),
        t,
        job,
    }
}

/// No automatic retries (`autoRetry.attempts: 0`): a failure is final at once.
fn without_auto_retry() -> WebhookConfig {
    let mut c = WebhookConfig::default();
    c.auto_retry.attempts = 0;
    c
}

async fn env(source: Source) -> Env {
    env_with(source, WebhookConfig::default()).await
}

fn now() -> i64 {
    shared::time::now().timestamp()
}

fn close(
    id: &str,
    object_type: &str,
    action: &str,
    object_id: &str,
    updated: &str,
    data: Value,
) -> Vec<u8> {
    json!({
        "subscription_id": "whsub_1",
        "event": {
            "id": id, "date_created": "2024-01-01T00:00:00.000000", "date_updated": updated,
            "organization_id": "orga_1", "user_id": "user_1", "request_id": "req_1",
            "object_type": object_type, "object_id": object_id, "action": action,
            "changed_fields": [], "meta": {}, "data": data, "previous_data": {},
        }
    })
    .to_string()
    .into_bytes()
}

impl Env {
    /// Posts a correctly signed body through the real receiver pipeline.
    async fn receive(&self, body: impl AsRef<[u8]>) -> String {
        let body = body.as_ref();
        let mut headers = axum::http::HeaderMap::new();
        match self.job.source {
            Source::Stripe => {
                let sig = signing::sign_stripe(STRIPE_SECRET, now(), body);
                headers.insert("stripe-signature", sig.parse().unwrap());
            }
            Source::Close => {
                let ts = now().to_string();
                let sig = signing::sign_close(CLOSE_KEY, &ts, body).unwrap();
                headers.insert("close-sig-hash", sig.parse().unwrap());
                headers.insert("close-sig-timestamp", ts.parse().unwrap());
            }
            Source::Generic => unreachable!("not used here"),
        }
        receive(
            &self.app,
            &self.job.workspace_id,
            &self.job.id,
            &headers,
            body,
        )
        .await
        .unwrap()
        .event_id
    }

    /// Runs every queued message through the worker (one SQS batch of up to 10 at a time).
    async fn drain(&self) -> Vec<String> {
        let mut failed = Vec::new();
        let msgs = self.queue.drain(QueueName::Inbound);
        for chunk in msgs.chunks(10) {
            failed.extend(self.run(chunk.iter().map(|m| &m.0), 1).await);
        }
        failed
    }

    /// Runs `bodies` through the worker as one SQS batch (ids `m0`, `m1`, …), each on its
    /// `receive_count`-th receive: the ids it reports failed.
    async fn run(
        &self,
        bodies: impl IntoIterator<Item = impl AsRef<str>>,
        receive_count: u32,
    ) -> Vec<String> {
        let resp = self.worker.run(sqs_event(bodies, receive_count)).await;
        resp.batch_item_failures
            .into_iter()
            .map(|f| f.item_identifier)
            .collect()
    }

    /// Receives each `cus_1` event (type, id, created, email) and runs the worker after each.
    async fn one_by_one(&self, events: &[(&str, &str, i64, &str)]) {
        for &(ty, id, created, email) in events {
            self.receive(cus_1(ty, id, created, email)).await;
            self.drain().await;
        }
    }

    async fn record(&self, ty: &str, id: &str) -> Option<Value> {
        self.app
            .records
            .get_record(&self.job.workspace_id, &self.job.id, ty, id)
            .await
            .unwrap()
            .map(|r| r.view())
    }

    async fn event(&self, provider_id: &str) -> InboundEvent {
        self.app
            .inbound_events
            .get_event(&self.job.workspace_id, &self.job.id, provider_id, now())
            .await
            .unwrap()
            .unwrap()
    }

    async fn executions(&self) -> Vec<Execution> {
        self.app
            .sync_executions
            .list_executions(&self.job.workspace_id, &self.job.id, None, 10, now())
            .await
            .unwrap()
            .items
    }

    fn message(&self, provider_id: &str, event_id: &str) -> String {
        serde_json::to_string(&InboundMessage {
            workspace_id: self.job.workspace_id.clone(),
            job_id: self.job.id.clone(),
            provider_event_id: provider_id.into(),
            event_id: event_id.into(),
        })
        .unwrap()
    }
}

fn customer(id: &str, email: &str) -> Value {
    json!({ "id": id, "object": "customer", "email": email })
}

/// A Stripe `ty` event `id`, created at `created`, about customer `cus_1` with `email`.
fn cus_1(ty: &str, id: &str, created: i64, email: &str) -> String {
    stripe(id, ty, created, customer("cus_1", email))
}

/// A `customer.updated` event `evt_{i}` about customer `cus_{i}`, created at 100.
fn cus_i(i: usize) -> String {
    let object = customer(&format!("cus_{i}"), "a@example.com");
    stripe(&format!("evt_{i}"), "customer.updated", 100, object)
}

// --- Stripe rules --------------------------------------------------------------------------------

#[tokio::test]
async fn stripe_customer_is_upserted_with_sync_metadata() {
    let e = env(Source::Stripe).await;
    let body = cus_1("customer.created", "evt_1", 1_700_000_000, "a@example.com");
    let iev = e.receive(body).await;
    assert!(e.drain().await.is_empty());
    let r = e.record("customer", "cus_1").await.expect("record");
    assert_eq!(r["email"], "a@example.com");
    let m = &r["_sync_metadata"];
    assert_eq!(m["source"], "stripe");
    assert_eq!(m["event_id"], "evt_1");
    assert_eq!(m["inbound_event_id"], iev.as_str());
    assert_eq!(m["event_type"], "customer.created");
    assert_eq!(m["event_created"], "2023-11-14T22:13:20.000000Z");
    assert_eq!(m["deleted"], false);
    assert!(shared::time::parse(m["synced_at"].as_str().unwrap()).is_some());
    let ev = e.event("evt_1").await;
    assert_eq!(ev.status, EventStatus::Processed);
    assert_eq!(ev.outcome.as_deref(), Some("applied"));
    assert_eq!(ev.attempts, 1);
}

#[tokio::test]
async fn subscription_deleted_deletes_the_subscription_only() {
    let e = env(Source::Stripe).await;
    let sub =
        json!({ "id": "sub_1", "object": "subscription", "customer": "cus_1", "status": "active" });
    e.receive(cus_1("customer.created", "evt_c", 100, "a@example.com"))
        .await;
    e.receive(stripe(
        "evt_s",
        "customer.subscription.created",
        100,
        sub.clone(),
    ))
    .await;
    e.drain().await;
    e.receive(stripe("evt_sd", "customer.subscription.deleted", 200, sub))
        .await;
    e.drain().await;
    let s = e.record("subscription", "sub_1").await.unwrap();
    assert_eq!(s["_sync_metadata"]["deleted"], true);
    assert!(
        s.get("status").is_none(),
        "a tombstone has no provider data"
    );
    let c = e.record("customer", "cus_1").await.unwrap();
    assert_eq!(c["_sync_metadata"]["deleted"], false);
}

#[tokio::test]
async fn customer_source_deleted_never_deletes_the_customer() {
    let e = env(Source::Stripe).await;
    e.receive(cus_1("customer.created", "evt_c", 100, "a@example.com"))
        .await;
    e.drain().await;
    let card = json!({ "id": "card_1", "object": "card", "customer": "cus_1" });
    e.receive(stripe("evt_src", "customer.source.deleted", 200, card))
        .await;
    e.drain().await;
    let c = e.record("customer", "cus_1").await.unwrap();
    assert_eq!(c["_sync_metadata"]["deleted"], false);
    assert_eq!(c["email"], "a@example.com");
    let ev = e.event("evt_src").await;
    assert_eq!(
        ev.status,
        EventStatus::Skipped,
        "cards are stored raw, not kept"
    );
    assert!(e.record("card", "card_1").await.is_none());
}

#[tokio::test]
async fn objects_not_kept_are_skipped() {
    let e = env(Source::Stripe).await;
    let pi = json!({ "id": "pi_1", "object": "payment_intent" });
    e.receive(stripe("evt_pi", "payment_intent.succeeded", 100, pi))
        .await;
    e.drain().await;
    let ev = e.event("evt_pi").await;
    assert_eq!(ev.status, EventStatus::Skipped);
    assert_eq!(ev.object_type.as_deref(), Some("payment_intent"));
    assert!(e.record("payment_intent", "pi_1").await.is_none());
}

// --- Close rules ---------------------------------------------------------------------------------

#[tokio::test]
async fn close_note_created_becomes_an_activity_record() {
    let e = env(Source::Close).await;
    e.receive(close(
        "ev_1",
        "activity.note",
        "created",
        "acti_1",
        "2024-01-01T00:00:01.500000",
        json!({ "id": "acti_1", "note": "called back", "lead_id": "lead_1" }),
    ))
    .await;
    assert!(e.drain().await.is_empty());
    let r = e
        .record("activity", "acti_1")
        .await
        .expect("activity record");
    assert_eq!(r["note"], "called back");
    assert_eq!(r["_sync_metadata"]["event_type"], "activity.note.created");
    assert_eq!(
        r["_sync_metadata"]["event_created"],
        "2024-01-01T00:00:01.500000Z"
    );
}

#[tokio::test]
async fn close_lead_deleted_leaves_a_tombstone() {
    let e = env(Source::Close).await;
    for (id, action, updated, data) in [
        (
            "ev_1",
            "created",
            "2024-01-01T00:00:01",
            json!({"id": "lead_1", "name": "Acme"}),
        ),
        ("ev_2", "deleted", "2024-01-01T00:00:02", json!({})),
    ] {
        e.receive(close(id, "lead", action, "lead_1", updated, data))
            .await;
    }
    e.drain().await;
    let r = e.record("lead", "lead_1").await.unwrap();
    assert_eq!(r["_sync_metadata"]["deleted"], true);
    assert!(r.get("name").is_none());
}

// --- ordering ------------------------------------------------------------------------------------

#[tokio::test]
async fn update_t2_then_update_t1_keeps_t2() {
    let e = env(Source::Stripe).await;
    e.one_by_one(&[
        ("customer.updated", "evt_t2", 200, "new@example.com"),
        ("customer.updated", "evt_t1", 100, "old@example.com"),
    ])
    .await;
    let r = e.record("customer", "cus_1").await.unwrap();
    assert_eq!(r["email"], "new@example.com");
    assert_eq!(r["_sync_metadata"]["event_id"], "evt_t2");
    let late = e.event("evt_t1").await;
    assert_eq!(late.status, EventStatus::Processed);
    assert_eq!(late.outcome.as_deref(), Some("unchanged"));
}

#[tokio::test]
async fn both_orders_in_one_batch_end_on_the_newest() {
    let e = env(Source::Stripe).await;
    for (i, t) in [300, 100, 500, 200, 400].into_iter().enumerate() {
        let email = format!("{t}@example.com");
        e.receive(cus_1("customer.updated", &format!("evt_{i}"), t, &email))
            .await;
    }
    e.drain().await;
    let r = e.record("customer", "cus_1").await.unwrap();
    assert_eq!(r["email"], "500@example.com");
}

#[tokio::test]
async fn delete_then_late_update_stays_deleted() {
    let e = env(Source::Stripe).await;
    e.one_by_one(&[
        ("customer.deleted", "evt_del", 200, "a@example.com"),
        // Older than the delete (it was sent before, and arrives after).
        ("customer.updated", "evt_upd", 150, "zombie@example.com"),
        // Same second as the delete, arriving later: a tombstone still wins.
        ("customer.updated", "evt_same", 200, "zombie@example.com"),
    ])
    .await;
    let r = e.record("customer", "cus_1").await.unwrap();
    assert_eq!(r["_sync_metadata"]["deleted"], true);
    assert!(r.get("email").is_none());
}

#[tokio::test]
async fn equal_timestamps_later_arrival_wins() {
    let e = env(Source::Stripe).await;
    for (id, email) in [
        ("evt_a", "first@example.com"),
        ("evt_b", "second@example.com"),
    ] {
        e.receive(cus_1("customer.updated", id, 100, email)).await;
    }
    // Applied in reverse arrival order: the later arrival still wins.
    let mut msgs = e.queue.drain(QueueName::Inbound);
    msgs.reverse();
    for (body, _) in &msgs {
        assert!(e.run([body], 1).await.is_empty());
    }
    let r = e.record("customer", "cus_1").await.unwrap();
    assert_eq!(r["email"], "second@example.com");
    // An update at the same time as a delete that arrived earlier cannot undo it, while a
    // later-arriving delete at the same time replaces a live record.
    e.one_by_one(&[("customer.deleted", "evt_d", 100, "x")])
        .await;
    assert_eq!(
        e.record("customer", "cus_1").await.unwrap()["_sync_metadata"]["deleted"],
        true
    );
}

// --- idempotency ---------------------------------------------------------------------------------

#[tokio::test]
async fn the_same_event_five_times_concurrently_is_applied_once() {
    let e = env(Source::Stripe).await;
    let body = cus_1("customer.updated", "evt_5", 100, "a@example.com");
    let mut headers = axum::http::HeaderMap::new();
    headers.insert(
        "stripe-signature",
        signing::sign_stripe(STRIPE_SECRET, now(), body.as_bytes())
            .parse()
            .unwrap(),
    );
    let results = futures::future::join_all((0..5).map(|_| {
        receive(
            &e.app,
            &e.job.workspace_id,
            &e.job.id,
            &headers,
            body.as_bytes(),
        )
    }))
    .await;
    let ids: std::collections::HashSet<String> =
        results.into_iter().map(|r| r.unwrap().event_id).collect();
    assert_eq!(ids.len(), 1);
    // Duplicates of a still-pending event are enqueued again (harmless): every copy runs
    // through the worker concurrently, and the record is written once.
    let msgs = e.queue.drain(QueueName::Inbound);
    assert!(e.run(msgs.iter().map(|m| &m.0), 1).await.is_empty());
    let execs = e.executions().await;
    let applied: u32 = execs.iter().map(|x| x.applied).sum();
    assert_eq!(applied, 1, "{execs:?}");
    assert_eq!(e.event("evt_5").await.attempts, 1, "processed once");
}

// --- batches and failures ----------------------------------------------------------------------

#[tokio::test]
async fn batch_of_ten_with_one_poison_record_applies_nine_and_reports_one() {
    let e = env(Source::Stripe).await;
    for i in 0..9 {
        e.receive(cus_i(i)).await;
    }
    let mut msgs: Vec<String> = e
        .queue
        .drain(QueueName::Inbound)
        .into_iter()
        .map(|m| m.0)
        .collect();
    msgs.insert(4, "{\"this is\": \"poison\"}".into());
    assert_eq!(e.run(&msgs, 1).await, vec!["m4"]);
    assert_eq!(
        e.store.inbound_record_count(&e.job.workspace_id, &e.job.id),
        9
    );
}

#[tokio::test]
async fn unmappable_payload_is_marked_failed_at_once_and_not_retried() {
    let e = env_with(Source::Stripe, without_auto_retry()).await;
    // Signed and well-formed at the top, but without data.object.id.
    let bad = stripe(
        "evt_bad",
        "customer.updated",
        100,
        json!({ "object": "customer" }),
    );
    e.receive(bad).await;
    e.receive(cus_1("customer.updated", "evt_ok", 100, "a@example.com"))
        .await;
    let failed = e.drain().await;
    assert!(
        failed.is_empty(),
        "a permanent failure is not retried through SQS"
    );
    let ev = e.event("evt_bad").await;
    assert_eq!(ev.status, EventStatus::Failed);
    assert!(
        ev.last_error.as_deref().unwrap().contains("data.object.id"),
        "{ev:?}"
    );
    assert_eq!(e.event("evt_ok").await.status, EventStatus::Processed);
    let execs = e.executions().await;
    assert_eq!(execs.len(), 1);
    assert_eq!(
        (execs[0].applied, execs[0].failed, execs[0].batch_size),
        (1, 1, 2)
    );
}

#[tokio::test]
async fn transient_failure_is_reported_and_kept_then_final_receive_marks_failed() {
    let e = env_with(Source::Stripe, without_auto_retry()).await;
    let iev = e
        .receive(cus_1("customer.updated", "evt_t", 100, "a@example.com"))
        .await;
    e.queue.drain(QueueName::Inbound);
    let body = e.message("evt_t", &iev);
    // The record store fails (as a throttled DynamoDB would) on receives 1 and 5 (of 5).
    e.store.inject_conflicts(1);
    assert_eq!(e.run([&body], 1).await.len(), 1);
    let ev = e.event("evt_t").await;
    assert_eq!(ev.status, EventStatus::Pending, "still retried by SQS");
    assert_eq!(ev.attempts, 1);
    assert!(ev.last_error.is_some());

    e.store.inject_conflicts(1);
    let max = e.app.config.max_receive_count;
    assert_eq!(e.run([&body], max).await.len(), 1, "the DLQ takes it");
    let ev = e.event("evt_t").await;
    assert_eq!(
        ev.status,
        EventStatus::Failed,
        "marked before it reaches the DLQ"
    );
    assert_eq!(ev.attempts, 2);
    assert_eq!(ev.errors.len(), 2);
    assert!(e.record("customer", "cus_1").await.is_none());
}

#[tokio::test]
async fn batch_size_caps_each_write_group() {
    let e = env_with(
        Source::Stripe,
        WebhookConfig {
            batch_size: 3,
            ..WebhookConfig::default()
        },
    )
    .await;
    for i in 0..10 {
        e.receive(cus_i(i)).await;
    }
    assert!(e.drain().await.is_empty());
    let execs = e.executions().await;
    let mut sizes: Vec<u32> = execs.iter().map(|x| x.batch_size).collect();
    sizes.sort();
    assert_eq!(sizes, vec![1, 3, 3, 3]);
    assert_eq!(execs.iter().map(|x| x.applied).sum::<u32>(), 10);
}

#[tokio::test]
async fn a_message_for_an_event_no_longer_pending_changes_nothing() {
    let e = env(Source::Stripe).await;
    let iev = e
        .receive(cus_1("customer.updated", "evt_1", 100, "a@example.com"))
        .await;
    e.drain().await;
    let body = e.message("evt_1", &iev);
    assert!(e.run([&body], 1).await.is_empty());
    assert_eq!(e.event("evt_1").await.attempts, 1);
    // A message for an event that does not exist (expired) is acknowledged, not retried.
    let ghost = e.message("evt_gone", "iev_01hzzzzzzzzzzzzzzzzzzzzzzz");
    assert!(e.run([&ghost], 1).await.is_empty());
}

// --- automatic retries (webhookConfig.autoRetry, DESIGN §8) --------------------------------------

#[tokio::test]
async fn auto_retry_waits_delay_times_two_to_the_n_then_fails_once() {
    use shared::queue::{QueueEnvelope, QueueMessage};
    let mut config = shared::config::Config::for_tests("t", "q");
    config.retry_delay_scale = 1.0;
    let t = TestApp::with_config(config).await;
    let mut webhook_config = WebhookConfig::default();
    webhook_config.auto_retry.attempts = 2;
    webhook_config.auto_retry.delay_seconds = 600;
    let job = SyncJob {
        webhook_config,
        ..sync_job(&t.ws, Source::Stripe, STRIPE_SECRET)
    };
    t.app.sync_jobs.create_sync_job(&job).await.unwrap();
    let e = Env {
        worker: SyncWorker::new(t.app.clone()).quiet(),
        t,
        job,
    };
    let deliver = delivery_worker::runner(e.app.clone());
    // No data.object.id: every run fails.
    e.receive(stripe(
        "evt_ar",
        "customer.updated",
        100,
        json!({ "object": "customer" }),
    ))
    .await;
    assert!(e.drain().await.is_empty(), "not retried through SQS");

    // Retry 1 waits 600 s ±20 %: one SQS delay.
    let msgs = e.queue.drain(QueueName::Delivery);
    assert_eq!(msgs.len(), 1);
    assert!(
        (480..=720).contains(&msgs[0].1.as_secs()),
        "{:?}",
        msgs[0].1
    );
    let env: QueueEnvelope = serde_json::from_str(&msgs[0].0).unwrap();
    assert!(
        matches!(env.message, QueueMessage::InboundRetry { retry: 1, .. }),
        "{env:?}"
    );
    let ev = e.event("evt_ar").await;
    assert_eq!((ev.status, ev.auto_retries), (EventStatus::Pending, 1));
    let next = shared::time::parse(ev.next_retry_at.as_deref().unwrap()).unwrap();
    let wait = (next - shared::time::now()).num_seconds();
    assert!((470..=720).contains(&wait), "{wait}");

    // Retry 1 is due: the delivery worker puts the event back; it fails again. Retry 2 waits
    // 1200 s ±20 %: past SQS's 900 s, chained through notBefore.
    deliver.run(sqs_event([&msgs[0].0], 1)).await;
    assert!(e.drain().await.is_empty());
    let msgs = e.queue.drain(QueueName::Delivery);
    assert_eq!(msgs.len(), 1, "no alert yet");
    assert_eq!(msgs[0].1.as_secs(), 900);
    let env: QueueEnvelope = serde_json::from_str(&msgs[0].0).unwrap();
    let remaining = env.not_before.unwrap() - shared::time::now().timestamp();
    assert!((940..=1440).contains(&remaining), "{remaining}");
    assert_eq!(e.event("evt_ar").await.auto_retries, 2);

    // The last retry fails: the event is failed, the alert raised once, nothing scheduled.
    let due = match env.message {
        QueueMessage::InboundRetry { .. } => QueueEnvelope::now(env.message),
        other => panic!("{other:?}"),
    };
    deliver
        .run(sqs_event([serde_json::to_string(&due).unwrap()], 1))
        .await;
    assert!(e.drain().await.is_empty());
    let ev = e.event("evt_ar").await;
    assert_eq!(
        (ev.status, ev.attempts, ev.auto_retries),
        (EventStatus::Failed, 3, 2)
    );
    assert_eq!(ev.next_retry_at, None);
    let msgs = e.queue.drain(QueueName::Delivery);
    let kinds: Vec<String> = msgs
        .iter()
        .map(
            |(body, _)| match serde_json::from_str::<QueueEnvelope>(body).unwrap().message {
                QueueMessage::Alert { alert, .. } => alert.kind.as_str().to_owned(),
                other => format!("{other:?}"),
            },
        )
        .collect();
    assert_eq!(kinds, ["inbound.event_failed"]);

    // A duplicate of the last retry message does nothing.
    deliver
        .run(sqs_event([serde_json::to_string(&due).unwrap()], 1))
        .await;
    assert!(e.queue.drain(QueueName::Inbound).is_empty());
}
