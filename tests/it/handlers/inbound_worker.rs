//! The sync worker against the fakes: Stripe/Close/generic rules end to end (receiver →
//! queue → worker → record), ordering and tombstones, idempotency, write groups (batchSize),
//! partial batch failures, permanent vs. transient failures, the last-receive rule.

use shared_testkit::harness::TestApp;

use serde_json::{json, Value};
use shared::config::Config;
use shared::inbound::apply::SyncWorker;
use shared::inbound::domain::{
    EventStatus, InboundEvent, InboundMessage, SigningSecret, Source, SyncJob, WebhookConfig,
};
use shared::inbound::receive::receive;
use shared::queue::QueueName;
use shared::signing;
use shared::sqs_runner::event_from_bodies;

const STRIPE_SECRET: &str = "whsec_worker_test";
const CLOSE_KEY: &str = "b9260244ef33625f9b4b26a27db08758cdd39478b852c73f2d33ab042eb8abb4";

struct Env {
    t: TestApp,
    worker: SyncWorker,
    job: SyncJob,
}

shared_testkit::deref_test_app!(Env);

async fn env_with(source: Source, config: WebhookConfig) -> Env {
    let TestApp {
        app,
        store,
        queue,
        ws,
        key,
    } = TestApp::with_config(Config::for_tests("t", "q")).await;
    let now = shared::time::now_string();
    let job = SyncJob {
        id: shared::ids::new_id(shared::ids::SYNC_JOB),
        workspace_id: ws.clone(),
        name: "job".into(),
        kind: "webhook".into(),
        source,
        enabled: true,
        webhook_config: config,
        signing_secret: Some(SigningSecret::new(match source {
            Source::Stripe => STRIPE_SECRET,
            Source::Close => CLOSE_KEY,
            Source::Generic => "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
        })),
        version: 1,
        created_at: now.clone(),
        updated_at: now,
    };
    app.sync_jobs.create_sync_job(&job).await.unwrap();
    let worker = SyncWorker::new(app.clone()).quiet();
    Env {
        t: TestApp {
            app,
            store,
            queue,
            ws,
            key,
        },
        worker,
        job,
    }
}

async fn env(source: Source) -> Env {
    env_with(source, WebhookConfig::default()).await
}

fn now() -> i64 {
    shared::time::now().timestamp()
}

fn stripe(id: &str, ty: &str, created: i64, object: Value) -> Vec<u8> {
    json!({
        "id": id, "object": "event", "api_version": "2024-06-20", "created": created,
        "data": { "object": object }, "livemode": false, "pending_webhooks": 1, "type": ty,
    })
    .to_string()
    .into_bytes()
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
    async fn receive(&self, body: &[u8]) -> String {
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
        for (n, chunk) in msgs.chunks(10).enumerate() {
            let ids: Vec<String> = (0..chunk.len()).map(|i| format!("m{n}-{i}")).collect();
            let triples: Vec<(&str, &str, u32)> = chunk
                .iter()
                .zip(&ids)
                .map(|((body, _), id)| (id.as_str(), body.as_str(), 1))
                .collect();
            let resp = self.worker.run(event_from_bodies(&triples)).await;
            failed.extend(
                resp.batch_item_failures
                    .into_iter()
                    .map(|f| f.item_identifier),
            );
        }
        failed
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

// --- Stripe rules --------------------------------------------------------------------------------

#[tokio::test]
async fn stripe_customer_is_upserted_with_sync_metadata() {
    let e = env(Source::Stripe).await;
    let iev = e
        .receive(&stripe(
            "evt_1",
            "customer.created",
            1_700_000_000,
            customer("cus_1", "a@example.com"),
        ))
        .await;
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
    e.receive(&stripe(
        "evt_c",
        "customer.created",
        100,
        customer("cus_1", "a@example.com"),
    ))
    .await;
    e.receive(&stripe(
        "evt_s",
        "customer.subscription.created",
        100,
        sub.clone(),
    ))
    .await;
    e.drain().await;
    e.receive(&stripe("evt_sd", "customer.subscription.deleted", 200, sub))
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
    e.receive(&stripe(
        "evt_c",
        "customer.created",
        100,
        customer("cus_1", "a@example.com"),
    ))
    .await;
    e.drain().await;
    let card = json!({ "id": "card_1", "object": "card", "customer": "cus_1" });
    e.receive(&stripe("evt_src", "customer.source.deleted", 200, card))
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
    e.receive(&stripe("evt_pi", "payment_intent.succeeded", 100, pi))
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
    e.receive(&close(
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
    e.receive(&close(
        "ev_1",
        "lead",
        "created",
        "lead_1",
        "2024-01-01T00:00:01",
        json!({"id": "lead_1", "name": "Acme"}),
    ))
    .await;
    e.receive(&close(
        "ev_2",
        "lead",
        "deleted",
        "lead_1",
        "2024-01-01T00:00:02",
        json!({}),
    ))
    .await;
    e.drain().await;
    let r = e.record("lead", "lead_1").await.unwrap();
    assert_eq!(r["_sync_metadata"]["deleted"], true);
    assert!(r.get("name").is_none());
}

// --- ordering ------------------------------------------------------------------------------------

#[tokio::test]
async fn update_t2_then_update_t1_keeps_t2() {
    let e = env(Source::Stripe).await;
    e.receive(&stripe(
        "evt_t2",
        "customer.updated",
        200,
        customer("cus_1", "new@example.com"),
    ))
    .await;
    e.drain().await;
    e.receive(&stripe(
        "evt_t1",
        "customer.updated",
        100,
        customer("cus_1", "old@example.com"),
    ))
    .await;
    e.drain().await;
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
        e.receive(&stripe(
            &format!("evt_{i}"),
            "customer.updated",
            t,
            customer("cus_1", &format!("{t}@example.com")),
        ))
        .await;
    }
    e.drain().await;
    let r = e.record("customer", "cus_1").await.unwrap();
    assert_eq!(r["email"], "500@example.com");
}

#[tokio::test]
async fn delete_then_late_update_stays_deleted() {
    let e = env(Source::Stripe).await;
    e.receive(&stripe(
        "evt_del",
        "customer.deleted",
        200,
        customer("cus_1", "a@example.com"),
    ))
    .await;
    e.drain().await;
    // Older than the delete (it was sent before, and arrives after).
    e.receive(&stripe(
        "evt_upd",
        "customer.updated",
        150,
        customer("cus_1", "zombie@example.com"),
    ))
    .await;
    e.drain().await;
    // Same second as the delete, arriving later: a tombstone still wins.
    e.receive(&stripe(
        "evt_same",
        "customer.updated",
        200,
        customer("cus_1", "zombie@example.com"),
    ))
    .await;
    e.drain().await;
    let r = e.record("customer", "cus_1").await.unwrap();
    assert_eq!(r["_sync_metadata"]["deleted"], true);
    assert!(r.get("email").is_none());
}

#[tokio::test]
async fn equal_timestamps_later_arrival_wins() {
    let e = env(Source::Stripe).await;
    e.receive(&stripe(
        "evt_a",
        "customer.updated",
        100,
        customer("cus_1", "first@example.com"),
    ))
    .await;
    e.receive(&stripe(
        "evt_b",
        "customer.updated",
        100,
        customer("cus_1", "second@example.com"),
    ))
    .await;
    // Applied in reverse arrival order: the later arrival still wins.
    let mut msgs = e.queue.drain(QueueName::Inbound);
    msgs.reverse();
    for (i, (body, _)) in msgs.iter().enumerate() {
        let resp = e
            .worker
            .run(event_from_bodies(&[(&format!("m{i}"), body, 1)]))
            .await;
        assert!(resp.batch_item_failures.is_empty());
    }
    let r = e.record("customer", "cus_1").await.unwrap();
    assert_eq!(r["email"], "second@example.com");
    // An update at the same time as a delete that arrived earlier cannot undo it, while a
    // later-arriving delete at the same time replaces a live record.
    e.receive(&stripe(
        "evt_d",
        "customer.deleted",
        100,
        customer("cus_1", "x"),
    ))
    .await;
    e.drain().await;
    assert_eq!(
        e.record("customer", "cus_1").await.unwrap()["_sync_metadata"]["deleted"],
        true
    );
}

// --- idempotency ---------------------------------------------------------------------------------

#[tokio::test]
async fn the_same_event_five_times_concurrently_is_applied_once() {
    let e = env(Source::Stripe).await;
    let body = stripe(
        "evt_5",
        "customer.updated",
        100,
        customer("cus_1", "a@example.com"),
    );
    let mut headers = axum::http::HeaderMap::new();
    headers.insert(
        "stripe-signature",
        signing::sign_stripe(STRIPE_SECRET, now(), &body)
            .parse()
            .unwrap(),
    );
    let results = futures::future::join_all(
        (0..5).map(|_| receive(&e.app, &e.job.workspace_id, &e.job.id, &headers, &body)),
    )
    .await;
    let ids: std::collections::HashSet<String> =
        results.into_iter().map(|r| r.unwrap().event_id).collect();
    assert_eq!(ids.len(), 1);
    // Duplicates of a still-pending event are enqueued again (harmless): every copy runs
    // through the worker concurrently, and the record is written once.
    let msgs = e.queue.drain(QueueName::Inbound);
    let triples: Vec<(String, String)> = msgs
        .iter()
        .enumerate()
        .map(|(i, (b, _))| (format!("m{i}"), b.clone()))
        .collect();
    let refs: Vec<(&str, &str, u32)> = triples
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str(), 1))
        .collect();
    let resp = e.worker.run(event_from_bodies(&refs)).await;
    assert!(resp.batch_item_failures.is_empty());
    let execs = e
        .app
        .sync_executions
        .list_executions(&e.job.workspace_id, &e.job.id, None, 10, now())
        .await
        .unwrap()
        .items;
    let applied: u32 = execs.iter().map(|x| x.applied).sum();
    assert_eq!(applied, 1, "{execs:?}");
    assert_eq!(e.event("evt_5").await.attempts, 1, "processed once");
}

// --- batches and failures ----------------------------------------------------------------------

#[tokio::test]
async fn batch_of_ten_with_one_poison_record_applies_nine_and_reports_one() {
    let e = env(Source::Stripe).await;
    for i in 0..9 {
        e.receive(&stripe(
            &format!("evt_{i}"),
            "customer.updated",
            100,
            customer(&format!("cus_{i}"), "a@example.com"),
        ))
        .await;
    }
    let mut msgs: Vec<String> = e
        .queue
        .drain(QueueName::Inbound)
        .into_iter()
        .map(|m| m.0)
        .collect();
    msgs.insert(4, "{\"this is\": \"poison\"}".into());
    let triples: Vec<(String, &str)> = msgs
        .iter()
        .enumerate()
        .map(|(i, b)| (format!("m{i}"), b.as_str()))
        .collect();
    let refs: Vec<(&str, &str, u32)> = triples.iter().map(|(a, b)| (a.as_str(), *b, 1)).collect();
    let resp = e.worker.run(event_from_bodies(&refs)).await;
    let failed: Vec<&str> = resp
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(failed, vec!["m4"]);
    assert_eq!(
        e.store.inbound_record_count(&e.job.workspace_id, &e.job.id),
        9
    );
}

#[tokio::test]
async fn unmappable_payload_is_marked_failed_at_once_and_not_retried() {
    let e = env(Source::Stripe).await;
    // Signed and well-formed at the top, but without data.object.id.
    e.receive(&stripe(
        "evt_bad",
        "customer.updated",
        100,
        json!({ "object": "customer" }),
    ))
    .await;
    e.receive(&stripe(
        "evt_ok",
        "customer.updated",
        100,
        customer("cus_1", "a@example.com"),
    ))
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
    let execs = e
        .app
        .sync_executions
        .list_executions(&e.job.workspace_id, &e.job.id, None, 10, now())
        .await
        .unwrap()
        .items;
    assert_eq!(execs.len(), 1);
    assert_eq!(
        (execs[0].applied, execs[0].failed, execs[0].batch_size),
        (1, 1, 2)
    );
}

#[tokio::test]
async fn transient_failure_is_reported_and_kept_then_final_receive_marks_failed() {
    let e = env(Source::Stripe).await;
    let iev = e
        .receive(&stripe(
            "evt_t",
            "customer.updated",
            100,
            customer("cus_1", "a@example.com"),
        ))
        .await;
    e.queue.drain(QueueName::Inbound);
    let body = e.message("evt_t", &iev);
    // The record store fails (as a throttled DynamoDB would) on receives 1 and 5 (of 5).
    e.store.inject_conflicts(1);
    let resp = e.worker.run(event_from_bodies(&[("m1", &body, 1)])).await;
    assert_eq!(resp.batch_item_failures.len(), 1);
    let ev = e.event("evt_t").await;
    assert_eq!(ev.status, EventStatus::Pending, "still retried by SQS");
    assert_eq!(ev.attempts, 1);
    assert!(ev.last_error.is_some());

    e.store.inject_conflicts(1);
    let max = e.app.config.max_receive_count;
    let resp = e.worker.run(event_from_bodies(&[("m1", &body, max)])).await;
    assert_eq!(resp.batch_item_failures.len(), 1, "the DLQ takes it");
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
        e.receive(&stripe(
            &format!("evt_{i}"),
            "customer.updated",
            100,
            customer(&format!("cus_{i}"), "a@example.com"),
        ))
        .await;
    }
    assert!(e.drain().await.is_empty());
    let execs = e
        .app
        .sync_executions
        .list_executions(&e.job.workspace_id, &e.job.id, None, 10, now())
        .await
        .unwrap()
        .items;
    let mut sizes: Vec<u32> = execs.iter().map(|x| x.batch_size).collect();
    sizes.sort();
    assert_eq!(sizes, vec![1, 3, 3, 3]);
    assert_eq!(execs.iter().map(|x| x.applied).sum::<u32>(), 10);
}

#[tokio::test]
async fn a_message_for_an_event_no_longer_pending_changes_nothing() {
    let e = env(Source::Stripe).await;
    let iev = e
        .receive(&stripe(
            "evt_1",
            "customer.updated",
            100,
            customer("cus_1", "a@example.com"),
        ))
        .await;
    e.drain().await;
    let body = e.message("evt_1", &iev);
    let resp = e
        .worker
        .run(event_from_bodies(&[("again", &body, 1)]))
        .await;
    assert!(resp.batch_item_failures.is_empty());
    assert_eq!(e.event("evt_1").await.attempts, 1);
    // A message for an event that does not exist (expired) is acknowledged, not retried.
    let ghost = e.message("evt_gone", "iev_01hzzzzzzzzzzzzzzzzzzzzzzz");
    let resp = e
        .worker
        .run(event_from_bodies(&[("ghost", &ghost, 1)]))
        .await;
    assert!(resp.batch_item_failures.is_empty());
}
