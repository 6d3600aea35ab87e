//! Sync jobs API against the fakes: CRUD and its rules (secrets, enabling, scheduled without a schedule → 400,
//! validation naming fields, tenancy), the test route through the real pipeline, and the
//! webhook admin routes (stats, events, detail, retry, retry-failed, replay, executions,
//! regenerate-secret, records).

use shared_testkit::harness::TestApp;

use serde_json::{json, Value};
use shared::inbound::apply::SyncWorker;
use shared::inbound::domain::EventStatus;
use shared::queue::QueueName;
use shared_testkit::harness::{call, Reply};
use shared_testkit::memory::sqs_event;
use shared_testkit::memory::MemoryQueue;

const CLOSE_KEY: &str = "b9260244ef33625f9b4b26a27db08758cdd39478b852c73f2d33ab042eb8abb4";

struct Env {
    t: TestApp,
    worker: SyncWorker,
}

shared_testkit::deref_test_app!(Env);

async fn env() -> Env {
    let t = TestApp::new().await.serve(sync_jobs_api::router);
    Env {
        worker: SyncWorker::new(t.app.clone()).quiet(),
        t,
    }
}

impl Env {
    fn jobs(&self) -> String {
        format!("/api/workspaces/{}/sync-jobs", self.ws)
    }

    async fn create(&self, body: Value) -> Reply {
        self.post(&self.jobs(), body).await
    }

    async fn stripe_job(&self) -> String {
        let r = self
            .create(
                json!({"name": "Stripe", "type": "webhook", "source": "stripe",
                // No automatic retries: a failure is final at once.
                "webhookConfig": {"eventFilters": ["customer.*"], "signingSecret": "whsec_abc",
                                  "autoRetry": {"attempts": 0}}}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        r.body["syncJob"]["id"].as_str().unwrap().to_owned()
    }

    /// The test route of job `id` (an optional body naming the type).
    async fn send_test(&self, id: &str, body: impl Into<Option<Value>>) -> Reply {
        self.post(&format!("/api/webhooks/{}/{id}/test", self.ws), body)
            .await
    }

    /// Runs everything queued through the worker; returns how many messages failed.
    async fn work(&self) -> usize {
        let msgs = self.queue.drain(QueueName::Inbound);
        self.worker
            .run(sqs_event(msgs.iter().map(|m| &m.0), 1))
            .await
            .batch_item_failures
            .len()
    }
}

// --- CRUD ------------------------------------------------------------------------------------

#[tokio::test]
async fn create_answers_201_with_absolute_webhook_url_and_write_only_secret() {
    let e = env().await;
    let r = e
        .create(
            json!({"name": "Stripe", "type": "webhook", "source": "stripe",
            "webhookConfig": {"eventFilters": ["customer.*"], "signingSecret": "whsec_abc"}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let j = &r.body["syncJob"];
    let id = j["id"].as_str().unwrap();
    assert!(id.starts_with("job_"));
    assert_eq!(j["enabled"], true);
    assert_eq!(j["type"], "webhook");
    assert_eq!(
        j["webhookUrl"],
        format!("http://127.0.0.1:3000/api/webhooks/{}/{id}", e.ws)
    );
    let c = &j["webhookConfig"];
    assert_eq!(c["hasSigningSecret"], true);
    assert_eq!(c["toleranceSeconds"], 300);
    assert_eq!(c["batchSize"], 25);
    assert_eq!(c["batchWaitSeconds"], 0);
    assert!(
        !r.body.to_string().contains("whsec_abc"),
        "signingSecret is write-only"
    );
    assert!(j.get("webhookSecret").is_none());
    let g = e.get(&format!("{}/{id}", e.jobs())).await;
    assert_eq!(g.status, 200);
    assert!(!g.body.to_string().contains("whsec_abc"));
}

#[tokio::test]
async fn scheduled_type_needs_its_schedule() {
    let e = env().await;
    let r = e
        .create(json!({"name": "x", "type": "scheduled", "source": "stripe", "enabled": false}))
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["error"]["code"], "validation_error");
    assert!(
        r.error_message().contains("schedule is required"),
        "{}",
        r.error_message()
    );
}

#[tokio::test]
async fn stripe_and_close_jobs_need_a_secret_before_they_can_be_enabled() {
    let e = env().await;
    for source in ["stripe", "close"] {
        let r = e.create(json!({"name": "x", "source": source})).await;
        assert_eq!(r.status, 400, "{source}");
        assert!(
            r.error_message().contains("signingSecret"),
            "{}",
            r.error_message()
        );
    }
    let r = e
        .create(json!({"name": "x", "source": "close", "enabled": false}))
        .await;
    assert_eq!(r.status, 201);
    let id = r.body["syncJob"]["id"].as_str().unwrap();
    let path = format!("{}/{id}", e.jobs());
    let r = e.patch(&path, json!({"enabled": true})).await;
    assert_eq!(r.status, 400);
    let r = e
        .patch(
            &path,
            json!({"enabled": true, "webhookConfig": {"signingSecret": "nothex"}}),
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(
        r.error_message().contains("signature_key"),
        "{}",
        r.error_message()
    );
    let r = e
        .patch(
            &path,
            json!({"enabled": true, "webhookConfig": {"signingSecret": CLOSE_KEY}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["syncJob"]["enabled"], true);
    assert_eq!(r.body["syncJob"]["webhookConfig"]["hasSigningSecret"], true);
    // Removing the secret of an enabled job is refused; disabled it is allowed.
    let r = e
        .patch(&path, json!({"webhookConfig": {"signingSecret": null}}))
        .await;
    assert_eq!(r.status, 400);
    let r = e
        .patch(
            &path,
            json!({"enabled": false, "webhookConfig": {"signingSecret": null}}),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body["syncJob"]["webhookConfig"]["hasSigningSecret"],
        false
    );
}

#[tokio::test]
async fn a_stripe_secret_must_look_like_an_endpoint_secret() {
    let e = env().await;
    let r = e
        .create(json!({"name": "x", "source": "stripe", "webhookConfig": {"signingSecret": "sk_live_123"}}))
        .await;
    assert_eq!(r.status, 400);
    assert!(r.error_message().contains("webhookConfig.signingSecret"));
}

#[tokio::test]
async fn generic_job_gets_a_generated_secret_shown_once_and_regenerable() {
    let e = env().await;
    let r = e.create(json!({"name": "g", "source": "generic"})).await;
    assert_eq!(r.status, 201);
    let secret = r.body["syncJob"]["webhookSecret"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(shared::signing::WebhookSecret::parse(&secret).is_ok());
    let id = r.body["syncJob"]["id"].as_str().unwrap().to_owned();
    let g = e.get(&format!("{}/{id}", e.jobs())).await;
    assert!(g.body["syncJob"].get("webhookSecret").is_none());
    let r = e
        .post(
            &format!("{}/{id}/webhook/regenerate-secret", e.jobs()),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let new = r.body["webhookSecret"].as_str().unwrap();
    assert_ne!(new, secret);
    assert_eq!(r.body["syncJob"]["webhookSecret"], new);
    // A stripe job's secret is Stripe's: regenerate is refused.
    let sid = e.stripe_job().await;
    let r = e
        .post(
            &format!("{}/{sid}/webhook/regenerate-secret", e.jobs()),
            None,
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(r.error_message().contains("signingSecret"));
}

#[tokio::test]
async fn validation_errors_name_the_field() {
    let e = env().await;
    let cases = [
        (json!({"name": "x", "source": "hubspot"}), "source"),
        (json!({"source": "generic"}), "name"),
        (json!({"name": "", "source": "generic"}), "name"),
        (
            json!({"name": "x", "source": "generic", "webhookConfig": {"batchSize": 0}}),
            "webhookConfig.batchSize",
        ),
        (
            json!({"name": "x", "source": "generic", "webhookConfig": {"batchSize": 101}}),
            "webhookConfig.batchSize",
        ),
        (
            json!({"name": "x", "source": "generic", "webhookConfig": {"batchSize": "ten"}}),
            "webhookConfig.batchSize",
        ),
        (
            json!({"name": "x", "source": "generic", "webhookConfig": {"batchWaitSeconds": 301}}),
            "webhookConfig.batchWaitSeconds",
        ),
        (
            json!({"name": "x", "source": "generic", "webhookConfig": {"toleranceSeconds": -1}}),
            "webhookConfig.toleranceSeconds",
        ),
        (
            json!({"name": "x", "source": "generic", "webhookConfig": {"eventFilters": ["ok", "bad*"]}}),
            "webhookConfig.eventFilters[1]",
        ),
        (
            json!({"name": "x", "source": "generic", "webhookConfig": {"eventFilters": "customer.*"}}),
            "webhookConfig.eventFilters",
        ),
    ];
    for (body, field) in cases {
        let r = e.create(body.clone()).await;
        assert_eq!(r.status, 400, "{body}");
        assert!(
            r.error_message().contains(field),
            "{body}: {}",
            r.error_message()
        );
    }
    let r = e.post(&e.jobs(), None).await;
    assert_eq!(r.status, 400);
}

/// DESIGN §8: `toleranceSeconds: 0` (no timestamp check) is for Close only.
#[tokio::test]
async fn a_tolerance_of_zero_is_for_close_jobs_only() {
    let e = env().await;
    for source in ["stripe", "generic"] {
        let body = json!({"name": "x", "source": source, "webhookConfig": {"toleranceSeconds": 0}});
        let r = e.create(body.clone()).await;
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        assert!(
            r.error_message().contains("webhookConfig.toleranceSeconds"),
            "{}",
            r.error_message()
        );
    }
    let r = e
        .create(json!({"name": "c", "source": "close", "webhookConfig": {"toleranceSeconds": 0, "signingSecret": CLOSE_KEY}}))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["syncJob"]["webhookConfig"]["toleranceSeconds"], 0);
    let stripe = e.stripe_job().await;
    let path = format!("{}/{stripe}", e.jobs());
    let r = e
        .patch(&path, json!({"webhookConfig": {"toleranceSeconds": 0}}))
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    let r = e.get(&path).await;
    assert_eq!(
        r.body["syncJob"]["webhookConfig"]["toleranceSeconds"], 300,
        "unchanged"
    );
}

#[tokio::test]
async fn another_workspace_sees_404_and_no_key_401() {
    let e = env().await;
    let id = e.stripe_job().await;
    let (other_ws, other_key) = shared_testkit::harness::workspace(&e.app, "other").await;
    let path = format!("{}/{id}", e.jobs());
    let r = e.with_key(&other_key).get(&path).await;
    assert_eq!(r.status, 404);
    let r = e
        .with_key(&other_key)
        .get(&format!("/api/workspaces/{other_ws}/sync-jobs/{id}"))
        .await;
    assert_eq!(r.status, 404);
    let r = call(&e.router, "GET", &path, None, None).await;
    assert_eq!(r.status, 401);
    let r = e
        .with_key(&other_key)
        .post(&format!("/api/webhooks/{}/{id}/test", e.ws), None)
        .await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn list_pages_newest_first_and_delete_returns_the_final_job() {
    let e = env().await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(e.stripe_job().await);
    }
    let r = e.get(&format!("{}?limit=2", e.jobs())).await;
    assert_eq!(r.status, 200);
    let page: Vec<&str> = r.body["syncJobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_str().unwrap())
        .collect();
    assert_eq!(page, vec![ids[2].as_str(), ids[1].as_str()]);
    assert_eq!(r.body["pagination"]["hasMore"], true);
    let cursor = r.body["pagination"]["nextCursor"].as_str().unwrap();
    let r = e
        .get(&format!("{}?limit=2&cursor={cursor}", e.jobs()))
        .await;
    assert_eq!(r.body["syncJobs"][0]["id"], ids[0].as_str());
    assert_eq!(r.body["pagination"]["hasMore"], false);
    assert_eq!(e.get(&format!("{}?limit=0", e.jobs())).await.status, 400);

    let r = e.delete(&format!("{}/{}", e.jobs(), ids[0])).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["syncJob"]["id"], ids[0].as_str());
    assert_eq!(e.get(&format!("{}/{}", e.jobs(), ids[0])).await.status, 404);
    assert_eq!(
        e.delete(&format!("{}/{}", e.jobs(), ids[0])).await.status,
        404
    );
}

#[tokio::test]
async fn concurrent_patches_are_not_lost() {
    let e = env().await;
    let id = e.stripe_job().await;
    let path = format!("{}/{id}", e.jobs());
    let (a, b) = tokio::join!(
        e.patch(&path, json!({"name": "renamed"})),
        e.patch(&path, json!({"webhookConfig": {"batchSize": 7}})),
    );
    assert_eq!((a.status, b.status), (200, 200));
    let g = e.get(&path).await;
    assert_eq!(g.body["syncJob"]["name"], "renamed");
    assert_eq!(g.body["syncJob"]["webhookConfig"]["batchSize"], 7);
    // An injected DynamoDB conflict is retried, not surfaced.
    e.store.inject_conflicts(2);
    let r = e.patch(&path, json!({"name": "again"})).await;
    assert_eq!(r.status, 200);
}

// --- test route and admin --------------------------------------------------------------------

#[tokio::test]
async fn test_event_goes_through_the_real_pipeline_to_a_record() {
    let e = env().await;
    let id = e.stripe_job().await;
    let r = e.send_test(&id, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let event_id = r.body["eventId"].as_str().unwrap().to_owned();
    assert!(event_id.starts_with("iev_"));
    assert_eq!(
        r.body["type"], "customer.updated",
        "a type the filters accept"
    );
    assert_eq!(r.body["ignored"], false);
    assert_eq!(e.work().await, 0);

    let d = e
        .get(&format!("{}/{id}/webhook/events/{event_id}", e.jobs()))
        .await;
    assert_eq!(d.status, 200, "{}", d.body);
    let ev = &d.body["event"];
    assert_eq!(ev["status"], "processed");
    assert_eq!(ev["objectType"], "customer");
    assert!(ev["headers"]["stripe-signature"].is_string());
    assert_eq!(ev["payload"]["type"], "customer.updated");
    assert!(ev["rawPayload"].as_str().unwrap().starts_with('{'));
    let object_id = ev["objectId"].as_str().unwrap();

    let rec = e
        .get(&format!("{}/{id}/records/customer/{object_id}", e.jobs()))
        .await;
    assert_eq!(rec.status, 200, "{}", rec.body);
    assert_eq!(rec.body["record"]["_sync_metadata"]["source"], "stripe");
    assert_eq!(
        rec.body["record"]["_sync_metadata"]["inbound_event_id"],
        event_id.as_str()
    );
    let missing = e
        .get(&format!("{}/{id}/records/customer/cus_never", e.jobs()))
        .await;
    assert_eq!(missing.status, 404);

    // A type outside the filters is stored as ignored.
    let r = e.send_test(&id, json!({"type": "invoice.paid"})).await;
    assert_eq!(r.body["ignored"], true);
}

#[tokio::test]
async fn test_event_on_a_disabled_job_is_409() {
    let e = env().await;
    let r = e
        .create(json!({"name": "c", "source": "close", "enabled": false}))
        .await;
    let id = r.body["syncJob"]["id"].as_str().unwrap();
    let r = e.send_test(id, None).await;
    assert_eq!(r.status, 409);
    assert_eq!(r.body["error"]["code"], "job_disabled");
}

#[tokio::test]
async fn test_events_of_close_and_generic_jobs_land_as_records() {
    let e = env().await;
    let r = e
        .create(json!({"name": "c", "source": "close", "webhookConfig": {"signingSecret": CLOSE_KEY, "eventFilters": ["activity.*"]}}))
        .await;
    let close_id = r.body["syncJob"]["id"].as_str().unwrap().to_owned();
    let r = e.create(json!({"name": "g", "source": "generic"})).await;
    let generic_id = r.body["syncJob"]["id"].as_str().unwrap().to_owned();
    for id in [&close_id, &generic_id] {
        let r = e.send_test(id, None).await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    assert_eq!(e.work().await, 0);
    for (id, ty) in [(&close_id, "activity"), (&generic_id, "test")] {
        let list = e.get(&format!("{}/{id}/webhook/events", e.jobs())).await;
        let ev = &list.body["events"][0];
        assert_eq!(ev["status"], "processed", "{}", list.body);
        assert_eq!(ev["objectType"], ty);
        let rec = e
            .get(&format!(
                "{}/{id}/records/{ty}/{}",
                e.jobs(),
                ev["objectId"].as_str().unwrap()
            ))
            .await;
        assert_eq!(rec.status, 200);
    }
}

#[tokio::test]
async fn stats_events_filter_retry_and_executions() {
    let e = env().await;
    let id = e.stripe_job().await;
    let base = format!("{}/{id}/webhook", e.jobs());
    for _ in 0..3 {
        e.send_test(&id, None).await;
    }
    e.send_test(&id, json!({"type": "invoice.paid"})).await;
    // One processing failure: the record store is down for one write (on the last receive).
    let msgs = e.queue.drain(QueueName::Inbound);
    e.store.inject_conflicts(1);
    let max = e.app.config.max_receive_count;
    let resp = e.worker.run(sqs_event([&msgs[0].0], max)).await;
    assert_eq!(resp.batch_item_failures.len(), 1);
    e.worker
        .run(sqs_event(msgs[1..].iter().map(|m| &m.0), 1))
        .await;

    let s = e.get(&format!("{base}/stats")).await;
    assert_eq!(s.status, 200, "{}", s.body);
    let st = &s.body["stats"];
    assert_eq!(st["total"], 4);
    assert_eq!(st["today"], 4);
    assert_eq!(st["succeeded"], 2);
    assert_eq!(st["failed"], 1);
    assert_eq!(st["ignored"], 1);
    assert_eq!(st["pending"], 0);
    let rate = st["successRate"].as_f64().unwrap();
    assert!((rate - 2.0 / 3.0).abs() < 1e-9, "{rate}");
    assert_eq!(st["recent"].as_array().unwrap().len(), 4);

    let failed = e.get(&format!("{base}/events?status=failed")).await;
    let items = failed.body["events"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert!(items[0]["lastError"].is_string());
    let failed_id = items[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        e.get(&format!("{base}/events?status=weird")).await.status,
        400
    );
    let page = e.get(&format!("{base}/events?limit=3")).await;
    assert_eq!(page.body["events"].as_array().unwrap().len(), 3);
    assert_eq!(page.body["pagination"]["hasMore"], true);

    let r = e
        .post(&format!("{base}/events/{failed_id}/retry"), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["event"]["status"], "pending");
    assert_eq!(e.work().await, 0);
    let d = e.get(&format!("{base}/events/{failed_id}")).await;
    assert_eq!(d.body["event"]["status"], "processed");
    assert_eq!(
        d.body["event"]["errors"].as_array().unwrap().len(),
        1,
        "history kept"
    );

    let x = e.get(&format!("{base}/executions")).await;
    assert_eq!(x.status, 200);
    let execs = x.body["executions"].as_array().unwrap();
    assert!(execs.len() >= 3, "{}", x.body);
    assert!(execs[0]["durationMs"].is_u64());
    assert_eq!(
        e.get(&format!("{base}/events/iev_01hzzzzzzzzzzzzzzzzzzzzzzz"))
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn retry_failed_and_replay_requeue_in_bulk() {
    let e = env().await;
    let id = e.stripe_job().await;
    let base = format!("{}/{id}/webhook", e.jobs());
    let since = shared::time::now_string();
    for _ in 0..3 {
        e.send_test(&id, None).await;
    }
    // All three fail on their last receive.
    let msgs = e.queue.drain(QueueName::Inbound);
    let max = e.app.config.max_receive_count;
    for (b, _) in &msgs {
        e.store.inject_conflicts(1);
        e.worker.run(sqs_event([b], max)).await;
    }
    let r = e.post(&format!("{base}/retry-failed"), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["retried"], 3);
    assert_eq!(r.body["hasMore"], false);
    assert_eq!(e.work().await, 0);
    let events = e.get(&format!("{base}/events?status=processed")).await;
    assert_eq!(events.body["events"].as_array().unwrap().len(), 3);

    let r = e
        .post(&format!("{base}/replay"), json!({"since": since}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["replayed"], 3);
    assert_eq!(e.queue.len(QueueName::Inbound), 3);
    assert_eq!(e.work().await, 0);
    let after = e
        .app
        .inbound_events
        .list_events(
            &e.ws,
            &id,
            Some(EventStatus::Processed),
            None,
            10,
            shared::time::now().timestamp(),
        )
        .await
        .unwrap();
    assert_eq!(after.items.len(), 3);
    assert!(
        after
            .items
            .iter()
            .all(|e| e.outcome.as_deref() == Some("unchanged")),
        "records keep their state"
    );

    let r = e
        .post(&format!("{base}/replay"), json!({"since": "yesterday"}))
        .await;
    assert_eq!(r.status, 400);
    assert!(r.error_message().contains("since"));
    let r = e
        .post(
            &format!("{base}/replay"),
            json!({"since": "2030-01-01T00:00:00Z", "until": "2020-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(r.status, 400);
    let r = e
        .post(
            &format!("{base}/replay"),
            json!({"since": "2020-01-01T00:00:00Z", "until": "2020-01-02T00:00:00Z"}),
        )
        .await;
    assert_eq!(r.body["replayed"], 0);
}

#[tokio::test]
async fn a_deleted_record_answers_200_with_a_tombstone() {
    let e = env().await;
    let r = e
        .create(json!({"name": "g", "source": "generic", "webhookConfig": {"eventFilters": ["*"]}}))
        .await;
    let id = r.body["syncJob"]["id"].as_str().unwrap().to_owned();
    e.send_test(&id, json!({"type": "user.deleted"})).await;
    assert_eq!(e.work().await, 0);
    let list = e.get(&format!("{}/{id}/webhook/events", e.jobs())).await;
    let object_id = list.body["events"][0]["objectId"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = e
        .get(&format!("{}/{id}/records/user/{object_id}", e.jobs()))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["record"]["_sync_metadata"]["deleted"], true);
    assert!(r.body["record"].get("sync_job_test").is_none());
}

// --- deleting a job purges its data ------------------------------------------------------------

/// The purge messages on the delivery queue: (job id, pass, delay in seconds).
fn purges(queue: &MemoryQueue) -> Vec<(String, u32, u64)> {
    queue
        .drain(QueueName::Delivery)
        .into_iter()
        .filter_map(|(body, delay)| {
            match serde_json::from_str::<shared::queue::QueueEnvelope>(&body)
                .unwrap()
                .message
            {
                shared::queue::QueueMessage::PurgeSyncJob { job_id, pass, .. } => {
                    Some((job_id, pass, delay.as_secs()))
                }
                _ => None,
            }
        })
        .collect()
}

#[tokio::test]
async fn deleting_a_job_purges_its_records_events_and_executions() {
    use shared::inbound::purge::{self, Progress};
    let e = env().await;
    let id = e.stripe_job().await;
    let kept = e.stripe_job().await;
    let mut objects = Vec::new();
    for job in [&id, &kept] {
        let r = e.send_test(job, None).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(e.work().await, 0);
        let ev = e
            .get(&format!(
                "{}/{job}/webhook/events/{}",
                e.jobs(),
                r.body["eventId"].as_str().unwrap()
            ))
            .await;
        objects.push(ev.body["event"]["objectId"].as_str().unwrap().to_owned());
    }
    let record = |job: &str, object: &str| {
        let (ws, job, object) = (e.ws.clone(), job.to_owned(), object.to_owned());
        let app = e.app.clone();
        async move {
            app.records
                .get_record(&ws, &job, "customer", &object)
                .await
                .unwrap()
        }
    };
    assert!(record(&id, &objects[0]).await.is_some());
    purges(&e.queue);

    // A purge that finds the job alive (its delete failed) touches nothing.
    assert_eq!(
        purge::run(&e.app, &e.ws, &id, 0).await.unwrap(),
        Progress::JobAlive
    );
    assert!(record(&id, &objects[0]).await.is_some());

    let r = e.delete(&format!("{}/{id}", e.jobs())).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let queued = purges(&e.queue);
    assert_eq!(queued, vec![(id.clone(), 0, purge::PURGE_DELAY.as_secs())]);

    match purge::run(&e.app, &e.ws, &id, 0).await.unwrap() {
        // the record, the stored event and the worker's execution
        Progress::Done(n) => assert!(n >= 3, "{n}"),
        other => panic!("{other:?}"),
    }
    assert!(record(&id, &objects[0]).await.is_none());
    let events = e
        .app
        .inbound_events
        .list_events(&e.ws, &id, None, None, 50, shared::time::now().timestamp())
        .await
        .unwrap();
    assert!(events.items.is_empty());
    // The final pass is queued for later and finds nothing more.
    let queued = purges(&e.queue);
    assert_eq!(
        queued,
        vec![(id.clone(), 1, purge::FINAL_PASS_DELAY.as_secs())]
    );
    assert_eq!(
        purge::run(&e.app, &e.ws, &id, 1).await.unwrap(),
        Progress::Done(0)
    );
    assert!(purges(&e.queue).is_empty(), "no pass after the final one");
    // The other job keeps its data.
    assert!(record(&kept, &objects[1]).await.is_some());
}

#[tokio::test]
async fn a_large_purge_continues_in_further_messages() {
    use shared::inbound::purge::{self, Progress};
    let e = env().await;
    let id = e.stripe_job().await;
    e.delete(&format!("{}/{id}", e.jobs())).await;
    purges(&e.queue);
    let total = purge::ITEMS_PER_MESSAGE + 150;
    for i in 0..total {
        let r = shared::inbound::domain::Record {
            object_type: "customer".into(),
            object_id: format!("cus_{i}"),
            data: Some(json!({"id": i})),
            meta: shared::inbound::domain::SyncMetadata {
                source: shared::inbound::domain::Source::Stripe,
                event_id: format!("evt_{i}"),
                inbound_event_id: format!("iev_{i:06}"),
                event_type: "customer.updated".into(),
                event_created: "2024-01-01T00:00:00.000000Z".into(),
                synced_at: "2024-01-01T00:00:00.000Z".into(),
                deleted: false,
            },
        };
        e.app.records.apply_record(&e.ws, &id, &r).await.unwrap();
    }
    assert_eq!(
        purge::run(&e.app, &e.ws, &id, 0).await.unwrap(),
        Progress::Continued(purge::ITEMS_PER_MESSAGE)
    );
    assert_eq!(purges(&e.queue), vec![(id.clone(), 0, 0)]);
    assert_eq!(
        purge::run(&e.app, &e.ws, &id, 0).await.unwrap(),
        Progress::Done(150)
    );
}

// --- DESIGN §8 inbound additions -----------------------------------------------------------------

#[tokio::test]
async fn preview_takes_exactly_one_of_event_id_or_payload_and_queues_nothing() {
    let e = env().await;
    let r = e
        .create(
            json!({"name": "Stripe", "type": "webhook", "source": "stripe",
            "webhookConfig": {"signingSecret": "whsec_abc",
                "transform": "{id: .data.object.id, email: .data.object.email}"}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(
        r.body["syncJob"]["webhookConfig"]["transform"],
        "{id: .data.object.id, email: .data.object.email}"
    );
    let id = r.body["syncJob"]["id"].as_str().unwrap().to_owned();
    let sent = e.send_test(&id, None).await;
    let iev = sent.body["eventId"].as_str().unwrap().to_owned();
    e.queue.drain(QueueName::Inbound);
    let path = format!("{}/{id}/webhook/preview", e.jobs());

    let r = e.post(&path, json!({"eventId": iev})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["preview"]["matched"], true);
    let record = r.body["preview"]["record"].as_object().unwrap();
    let mut keys: Vec<&str> = record.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["_sync_metadata", "email", "id"]);

    let payload = json!({"id": "evt_1", "object": "event", "type": "customer.updated",
        "created": 1_700_000_000, "data": {"object": {"id": "cus_9", "object": "customer",
        "email": "ada@example.com"}}});
    let r = e.post(&path, json!({"payload": payload})).await;
    assert_eq!(r.body["preview"]["record"]["email"], "ada@example.com");
    assert_eq!(r.body["preview"]["error"], Value::Null);

    for bad in [json!({"eventId": iev, "payload": payload}), json!({})] {
        let r = e.post(&path, bad).await;
        assert_eq!(
            (r.status, r.error_code()),
            (400, "validation_error"),
            "{}",
            r.body
        );
    }
    let r = e.post(&path, json!({"payload": payload, "extra": 1})).await;
    assert_eq!(r.status, 400, "{}", r.body);
    let r = e.post(&path, json!({"eventId": "not-an-id"})).await;
    assert_eq!(r.status, 404, "{}", r.body);
    let other = e
        .post(
            &format!("{}/job_unknown/webhook/preview", e.jobs()),
            json!({"payload": payload}),
        )
        .await;
    assert_eq!(other.status, 404, "{}", other.body);
    assert!(
        e.queue.drain(QueueName::Inbound).is_empty(),
        "a preview queues nothing"
    );
    assert!(e.queue.drain(QueueName::Delivery).is_empty());
    assert_eq!(
        e.app
            .records
            .get_record(&e.ws, &id, "customer", "cus_9")
            .await
            .unwrap(),
        None,
        "a preview stores nothing"
    );
}

#[tokio::test]
async fn jq_settings_are_compiled_on_save_and_patched_key_by_key() {
    let e = env().await;
    let r = e
        .create(json!({"name": "G", "type": "webhook", "source": "generic",
            "webhookConfig": {"filter": "[.type"}}))
        .await;
    assert_eq!(
        (r.status, r.error_code()),
        (400, "validation_error"),
        "{}",
        r.body
    );
    assert!(
        r.error_message()
            .starts_with("webhookConfig.filter is not a valid jq expression"),
        "{}",
        r.body
    );
    let r = e
        .create(json!({"name": "G", "type": "webhook", "source": "generic",
            "webhookConfig": {"filter": ".type != \"ping\"", "autoRetry": {"attempts": 5}}}))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["syncJob"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        r.body["syncJob"]["webhookConfig"]["autoRetry"],
        json!({"attempts": 5, "delaySeconds": 300})
    );
    let job = format!("{}/{id}", e.jobs());
    let r = e
        .patch(&job, json!({"webhookConfig": {"autoRetry": {"delaySeconds": 60}, "transform": "{id: .data.id}"}}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let wc = &r.body["syncJob"]["webhookConfig"];
    assert_eq!(wc["autoRetry"], json!({"attempts": 5, "delaySeconds": 60}));
    assert_eq!(wc["filter"], ".type != \"ping\"", "untouched by the PATCH");
    let r = e
        .patch(&job, json!({"webhookConfig": {"filter": null}}))
        .await;
    assert_eq!(r.body["syncJob"]["webhookConfig"]["filter"], Value::Null);
    assert_eq!(
        r.body["syncJob"]["webhookConfig"]["transform"],
        "{id: .data.id}"
    );
    let r = e
        .patch(
            &job,
            json!({"webhookConfig": {"autoRetry": {"attempts": -1}}}),
        )
        .await;
    assert!(
        r.error_message()
            .contains("webhookConfig.autoRetry.attempts"),
        "{}",
        r.body
    );
}
