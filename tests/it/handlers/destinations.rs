//! Sync-job destinations (DESIGN §8) through the sync jobs API over the fakes: the default,
//! each type's view, the webhook secret shown once, PATCH rules, the 400s naming the field,
//! a refusing table failing the event, and the delivery log route.

use serde_json::{json, Value};
use shared::inbound::apply::SyncWorker;
use shared::queue::QueueName;
use shared_testkit::harness::{call_raw, Reply, TestApp};
use shared_testkit::memory::sqs_event;

const STRIPE_SECRET: &str = "whsec_destination_tests_0123";

struct Env {
    t: TestApp,
    worker: SyncWorker,
    receiver: axum::Router,
}

shared_testkit::deref_test_app!(Env);

async fn env() -> Env {
    let t = TestApp::new().await.serve(sync_jobs_api::router);
    Env {
        worker: SyncWorker::new(t.app.clone()).quiet(),
        receiver: inbound_receiver::router(t.app.clone()),
        t,
    }
}

impl Env {
    fn jobs(&self) -> String {
        format!("/api/workspaces/{}/sync-jobs", self.ws)
    }

    async fn create(&self, destination: Value) -> Reply {
        self.post(
            &self.jobs(),
            json!({"name": "Stripe", "type": "webhook", "source": "stripe",
                "webhookConfig": {"signingSecret": STRIPE_SECRET},
                "destination": destination}),
        )
        .await
    }

    async fn created(&self, destination: Value) -> Value {
        let r = self.create(destination).await;
        assert_eq!(r.status, 201, "{}", r.body);
        r.body["syncJob"].clone()
    }

    /// Posts a signed Stripe customer event to `job` and runs the worker over it.
    async fn deliver_event(&self, job: &str, id: &str, created: i64) -> Value {
        let body =
            json!({"id": id, "object": "event", "type": "customer.updated", "created": created,
            "data": {"object": {"id": "cus_1", "object": "customer", "email": "a@example.com"}}})
            .to_string();
        let now = shared::time::now().timestamp();
        let sig = shared::signing::sign_stripe(STRIPE_SECRET, now, body.as_bytes());
        let r = call_raw(
            &self.receiver,
            "POST",
            &format!("/api/webhooks/{}/{job}", self.ws),
            &[
                ("content-type", "application/json"),
                ("stripe-signature", &sig),
            ],
            body.into_bytes(),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let msgs = self.queue.drain(QueueName::Inbound);
        self.worker
            .run(sqs_event(msgs.iter().map(|m| &m.0), 1))
            .await;
        let event_id = r.body["eventId"].as_str().unwrap();
        let ev = self
            .get(&format!("{}/{job}/webhook/events/{event_id}", self.jobs()))
            .await;
        assert_eq!(ev.status, 200, "{}", ev.body);
        ev.body["event"].clone()
    }
}

#[tokio::test]
async fn a_job_without_destination_uses_the_records_store() {
    let e = env().await;
    let r = e
        .post(
            &e.jobs(),
            json!({"name": "S", "source": "stripe", "webhookConfig": {"signingSecret": STRIPE_SECRET}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["syncJob"]["destination"], json!({"type": "records"}));
}

#[tokio::test]
async fn dynamodb_destination_is_shown_with_its_default_key_attribute() {
    let e = env().await;
    let job = e
        .created(json!({"type": "dynamodb", "tableName": "sync-dest-customers"}))
        .await;
    assert_eq!(
        job["destination"],
        json!({"type": "dynamodb", "tableName": "sync-dest-customers", "keyAttribute": "id"})
    );
    let got = e
        .get(&format!("{}/{}", e.jobs(), job["id"].as_str().unwrap()))
        .await;
    assert_eq!(got.body["syncJob"]["destination"], job["destination"]);
}

#[tokio::test]
async fn a_table_without_the_prefix_is_400_naming_the_field() {
    let e = env().await;
    for table in ["customers", "sync-dest-", "sync-dest-a/b", ""] {
        let r = e
            .create(json!({"type": "dynamodb", "tableName": table}))
            .await;
        assert_eq!(r.status, 400, "{table}: {}", r.body);
        assert_eq!(r.error_code(), "validation_error");
        assert!(
            r.error_message().contains("destination.tableName"),
            "{}",
            r.body
        );
    }
    let r = e.create(json!({"type": "dynamodb"})).await;
    assert_eq!(r.status, 400);
    assert!(r.error_message().contains("destination.tableName"));
    let r = e.create(json!({"type": "s3"})).await;
    assert_eq!(r.status, 400);
    assert!(r.error_message().contains("destination.type"));
    let r = e.create(json!("records")).await;
    assert_eq!(r.status, 400);
    assert!(r.error_message().contains("destination"));
}

#[tokio::test]
async fn the_webhook_secret_is_shown_once_on_create_and_headers_are_masked() {
    let e = env().await;
    let job = e
        .created(
            json!({"type": "webhook", "url": "https://hooks.example.com/sync",
            "headers": {"X-Api-Key": "key-0123456789"}}),
        )
        .await;
    let d = &job["destination"];
    assert!(d["secret"].as_str().unwrap().starts_with("whsec_"), "{d}");
    assert_eq!(d["url"], "https://hooks.example.com/sync");
    assert_eq!(d["headers"]["X-Api-Key"], "***6789");
    let id = job["id"].as_str().unwrap();
    let got = e.get(&format!("{}/{id}", e.jobs())).await;
    let shown = &got.body["syncJob"]["destination"];
    assert!(shown.get("secret").is_none(), "never again: {shown}");
    assert_eq!(shown["hasSecret"], true);
    let list = e.get(&e.jobs()).await;
    assert!(!list
        .body
        .to_string()
        .contains(d["secret"].as_str().unwrap()));
    assert!(!got.body.to_string().contains("key-0123456789"));
    // A PATCH of the same webhook destination keeps (and does not show) the secret.
    let r = e
        .patch(
            &format!("{}/{id}", e.jobs()),
            json!({"destination": {"type": "webhook", "url": "https://hooks.example.com/v2"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let p = &r.body["syncJob"]["destination"];
    assert!(p.get("secret").is_none(), "{p}");
    assert_eq!(p["url"], "https://hooks.example.com/v2");
    assert_eq!(p["headers"]["X-Api-Key"], "***6789", "headers kept");
    let stored = e
        .app
        .sync_jobs
        .get_sync_job(&e.ws, id)
        .await
        .unwrap()
        .unwrap();
    match stored.destination {
        shared::inbound::destination::Destination::Webhook { secret, .. } => {
            assert_eq!(secret.expose(), d["secret"].as_str().unwrap())
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn bad_urls_and_headers_are_400_naming_the_field() {
    let e = env().await;
    for url in [
        json!("ftp://example.com/x"),
        json!("http://169.254.169.254/latest"),
        json!("not a url"),
        json!(5),
    ] {
        let r = e.create(json!({"type": "webhook", "url": url})).await;
        assert_eq!(r.status, 400, "{url}: {}", r.body);
        assert!(r.error_message().contains("destination.url"), "{}", r.body);
    }
    let r = e.create(json!({"type": "webhook"})).await;
    assert_eq!(r.status, 400);
    assert!(r.error_message().contains("destination.url"));
    for headers in [
        json!({"webhook-signature": "x"}),
        json!({"Content-Type": "text/plain"}),
        json!({"X Bad": "x"}),
        json!({"X-Num": 5}),
        json!(["X-A"]),
    ] {
        let r = e
            .create(
                json!({"type": "webhook", "url": "https://hooks.example.com", "headers": headers}),
            )
            .await;
        assert_eq!(r.status, 400, "{headers}: {}", r.body);
        assert!(
            r.error_message().contains("destination.headers"),
            "{}",
            r.body
        );
    }
    // Nothing was stored by the refused creates.
    let list = e.get(&e.jobs()).await;
    assert_eq!(list.body["syncJobs"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn patch_switches_destinations_and_shows_a_new_webhook_secret_once() {
    let e = env().await;
    let job = e.created(json!({"type": "records"})).await;
    let path = format!("{}/{}", e.jobs(), job["id"].as_str().unwrap());
    let r = e
        .patch(&path, json!({"destination": {"type": "dynamodb", "tableName": "sync-dest-x", "keyAttribute": "pk"}}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["syncJob"]["destination"]["keyAttribute"], "pk");
    let r = e
        .patch(
            &path,
            json!({"destination": {"type": "dynamodb", "tableName": "other"}}),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    let r = e
        .patch(
            &path,
            json!({"destination": {"type": "webhook", "url": "https://hooks.example.com"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body["syncJob"]["destination"]["secret"]
        .as_str()
        .unwrap()
        .starts_with("whsec_"));
    let r = e.patch(&path, json!({"name": "renamed"})).await;
    assert_eq!(
        r.body["syncJob"]["destination"]["type"], "webhook",
        "a PATCH without destination keeps it"
    );
    assert!(r.body["syncJob"]["destination"].get("secret").is_none());
}

#[tokio::test]
async fn a_missing_table_fails_the_event_with_a_clear_error() {
    let e = env().await;
    let job = e
        .created(json!({"type": "dynamodb", "tableName": "sync-dest-absent"}))
        .await;
    let ev = e
        .deliver_event(job["id"].as_str().unwrap(), "evt_missing", 1_700_000_000)
        .await;
    assert_eq!(ev["status"], "failed", "{ev}");
    let err = ev["lastError"].as_str().unwrap();
    assert!(
        err.contains("sync-dest-absent") && err.contains("does not exist"),
        "{err}"
    );
}

#[tokio::test]
async fn access_denied_fails_the_event_and_a_working_table_applies() {
    let e = env().await;
    e.store.create_destination_table("sync-dest-denied", "id");
    e.store.deny_destination_table("sync-dest-denied");
    let job = e
        .created(json!({"type": "dynamodb", "tableName": "sync-dest-denied"}))
        .await;
    let ev = e
        .deliver_event(job["id"].as_str().unwrap(), "evt_denied", 1_700_000_000)
        .await;
    assert_eq!(ev["status"], "failed", "{ev}");
    assert!(ev["lastError"].as_str().unwrap().contains("denied"), "{ev}");

    e.store.create_destination_table("sync-dest-ok", "id");
    let job = e
        .created(json!({"type": "dynamodb", "tableName": "sync-dest-ok"}))
        .await;
    let ev = e
        .deliver_event(job["id"].as_str().unwrap(), "evt_ok", 1_700_000_000)
        .await;
    assert_eq!(ev["status"], "processed", "{ev}");
    assert_eq!(ev["outcome"], "applied", "{ev}");
}

#[tokio::test]
async fn the_delivery_log_route_pages_and_404s_unknown_jobs() {
    let e = env().await;
    let job = e
        .created(json!({"type": "webhook", "url": "https://hooks.example.com/sync"}))
        .await;
    let id = job["id"].as_str().unwrap();
    let r = e
        .get(&format!("{}/{id}/deliveries?limit=10", e.jobs()))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["deliveries"], json!([]));
    assert_eq!(r.body["pagination"]["hasMore"], false);
    let r = e
        .get(&format!("{}/{id}/deliveries?limit=0", e.jobs()))
        .await;
    assert_eq!(r.status, 400);
    let r = e
        .get(&format!(
            "{}/job_01hzzzzzzzzzzzzzzzzzzzzzzz/deliveries",
            e.jobs()
        ))
        .await;
    assert_eq!(r.status, 404, "{}", r.body);
}

#[tokio::test]
async fn a_lost_hand_off_is_redriven_as_a_plain_delivery_message_and_sent_once() {
    use shared::queue::{QueueEnvelope, QueueMessage};
    let e = env().await;
    let target = shared_testkit::targets::webhook::Target::start().await;
    let job = e
        .created(json!({"type": "webhook", "url": target.url}))
        .await;
    let job_id = job["id"].as_str().unwrap();
    let ev = e.deliver_event(job_id, "evt_lost", 1_700_000_000).await;
    assert_eq!(ev["outcome"], "applied", "{ev}");
    // The hand-off's message is lost; the sweeper re-drives the pending delivery the way it
    // re-drives every overdue delivery: as a plain `delivery` message.
    let lost = e.queue.drain(QueueName::Delivery);
    assert_eq!(lost.len(), 1, "one destination delivery queued");
    let id = shared::inbound::destination::delivery_id(ev["id"].as_str().unwrap(), job_id);
    let redriven = serde_json::to_string(&QueueEnvelope::now(QueueMessage::Delivery {
        workspace_id: e.ws.clone(),
        delivery_id: id.clone(),
    }))
    .unwrap();
    let deliver = delivery_worker::runner(e.app.clone());
    let out = deliver.run(sqs_event([redriven.clone()], 1)).await;
    assert!(out.batch_item_failures.is_empty());
    assert_eq!(target.requests().len(), 1);
    assert_eq!(target.requests()[0].json()["objectId"], "cus_1");
    // A duplicate of the message finds the delivery finished: nothing is sent again.
    deliver.run(sqs_event([redriven], 1)).await;
    assert_eq!(target.requests().len(), 1);
    let log = e.get(&format!("{}/{job_id}/deliveries", e.jobs())).await;
    assert_eq!(log.body["deliveries"][0]["id"], id.as_str());
    assert_eq!(
        log.body["deliveries"][0]["status"], "success",
        "{}",
        log.body
    );
}
