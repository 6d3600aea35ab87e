//! Sync-job destinations end to end over moto (DESIGN §8): sync-jobs API → public receiver →
//! inbound queue (SQS) → inbound worker → a `sync-dest-…` DynamoDB table on moto, or a local
//! HTTP target through the delivery queue and the delivery worker. Each: create, update,
//! delete, an older event that must not win, a late update after the delete (tombstone);
//! the webhook destination's signature is checked with the stock Python `standardwebhooks`.

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;

use serde_json::{json, Value};
use shared::inbound::apply::SyncWorker;
use shared::inbound::destination::TableTarget;
use shared::App;
use shared_testkit::harness::{call_raw, Api, Reply};
use shared_testkit::moto::{pump_once, unique};
use shared_testkit::targets::webhook::Target;

const STRIPE_SECRET: &str = "whsec_destinations_flow_0123456";

struct Stack {
    app: App,
    store: Arc<shared_aws::table::DynamoStore>,
    sqs: aws_sdk_sqs::Client,
    inbound_url: String,
    delivery_url: String,
    api: Api,
    receiver: axum::Router,
    worker: SyncWorker,
    deliver: shared::sqs_runner::BatchRunner<delivery_worker::Deliver>,
    ws: String,
}

async fn stack() -> Stack {
    let shared_testkit::moto::InboundMotoApp {
        app,
        store,
        sqs,
        delivery_url,
        inbound_url,
    } = shared_testkit::moto::inbound_moto_app(1).await;
    let (ws, key) = shared_testkit::moto::workspace(&app, "destinations").await;
    Stack {
        api: Api::new(sync_jobs_api::router(app.clone()), &key),
        receiver: inbound_receiver::router(app.clone()),
        worker: SyncWorker::new(app.clone()).quiet(),
        deliver: delivery_worker::runner(app.clone()),
        app,
        store,
        sqs,
        inbound_url,
        delivery_url,
        ws,
    }
}

fn customer_event(id: &str, ty: &str, created: i64, email: &str) -> String {
    json!({
        "id": id, "object": "event", "created": created, "type": ty,
        "data": {"object": {"id": "cus_1", "object": "customer", "email": email, "balance": 7}},
    })
    .to_string()
}

impl Stack {
    fn jobs(&self) -> String {
        format!("/api/workspaces/{}/sync-jobs", self.ws)
    }

    async fn create_job(&self, destination: Value) -> Value {
        let r = self
            .api
            .post(
                &self.jobs(),
                // No automatic retries: a refused event is failed at once.
                json!({"name": "Stripe", "source": "stripe",
                    "webhookConfig": {"signingSecret": STRIPE_SECRET, "autoRetry": {"attempts": 0}},
                    "destination": destination}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        r.body["syncJob"].clone()
    }

    /// Posts a signed event and runs the inbound queue dry; returns the stored event's view.
    async fn send(&self, job: &str, body: &str) -> Value {
        let now = shared::time::now().timestamp();
        let sig = shared::signing::sign_stripe(STRIPE_SECRET, now, body.as_bytes());
        let r: Reply = call_raw(
            &self.receiver,
            "POST",
            &format!("/api/webhooks/{}/{job}", self.ws),
            &[
                ("content-type", "application/json"),
                ("stripe-signature", &sig),
            ],
            body.as_bytes().to_vec(),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.body);
        self.pump_inbound().await;
        let id = r.body["eventId"].as_str().unwrap();
        self.api
            .get(&format!("{}/{job}/webhook/events/{id}", self.jobs()))
            .await
            .body["event"]
            .clone()
    }

    async fn pump_inbound(&self) {
        while pump_once(&self.sqs, &self.inbound_url, |ev| self.worker.run(ev)).await > 0 {}
    }

    /// Runs the delivery queue until it stays empty (retries are due at once in tests).
    async fn pump_deliveries(&self) {
        for _ in 0..3 {
            while pump_once(&self.sqs, &self.delivery_url, |ev| self.deliver.run(ev)).await > 0 {}
        }
    }
}

// --- dynamodb ------------------------------------------------------------------------------------

#[tokio::test]
async fn dynamodb_destination_applies_in_order_and_keeps_deletes_deleted() {
    let s = stack().await;
    let table = unique("sync-dest-customers");
    shared_testkit::moto::create_destination_table(s.store.client(), &table, "pk").await;
    let job = s
        .create_job(json!({"type": "dynamodb", "tableName": table, "keyAttribute": "pk"}))
        .await;
    let job_id = job["id"].as_str().unwrap();
    let target = TableTarget {
        table_name: table.clone(),
        key_attribute: "pk".into(),
    };
    let item = || async {
        s.app
            .destination_tables
            .get_table_item(&target, "customer", "cus_1")
            .await
            .unwrap()
    };

    let ev = s
        .send(
            job_id,
            &customer_event("evt_1", "customer.created", 1_700_000_100, "a@example.com"),
        )
        .await;
    assert_eq!(ev["outcome"], "applied", "{ev}");
    let got = item().await.expect("created");
    assert_eq!(got["pk"], "customer#cus_1");
    assert_eq!(got["email"], "a@example.com");
    assert_eq!(got["_sync_metadata"]["event_id"], "evt_1");

    s.send(
        job_id,
        &customer_event("evt_2", "customer.updated", 1_700_000_300, "b@example.com"),
    )
    .await;
    assert_eq!(item().await.unwrap()["email"], "b@example.com");

    // Created between the two, arriving last: it must not win.
    let older = s
        .send(
            job_id,
            &customer_event(
                "evt_3",
                "customer.updated",
                1_700_000_200,
                "old@example.com",
            ),
        )
        .await;
    assert_eq!(older["status"], "processed");
    assert_eq!(older["outcome"], "unchanged", "{older}");
    assert_eq!(item().await.unwrap()["email"], "b@example.com");

    let del = s
        .send(
            job_id,
            &customer_event("evt_4", "customer.deleted", 1_700_000_400, "b@example.com"),
        )
        .await;
    assert_eq!(del["outcome"], "deleted", "{del}");
    assert_eq!(item().await, None, "deletes delete");

    // An update made before the delete, delivered after it: the tombstone holds.
    let late = s
        .send(
            job_id,
            &customer_event(
                "evt_5",
                "customer.updated",
                1_700_000_350,
                "late@example.com",
            ),
        )
        .await;
    assert_eq!(late["outcome"], "unchanged", "{late}");
    assert_eq!(item().await, None);

    // The records route shows the ledger: the tombstone's metadata, no provider data.
    let r = s
        .api
        .get(&format!("{}/{job_id}/records/customer/cus_1", s.jobs()))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["record"]["_sync_metadata"]["deleted"], true);
    assert!(r.body["record"].get("email").is_none());
}

#[tokio::test]
async fn a_missing_destination_table_fails_the_event_not_the_request() {
    let s = stack().await;
    let table = unique("sync-dest-absent");
    let job = s
        .create_job(json!({"type": "dynamodb", "tableName": table}))
        .await;
    let job_id = job["id"].as_str().unwrap();
    let ev = s
        .send(
            job_id,
            &customer_event("evt_m", "customer.created", 1_700_000_100, "a@example.com"),
        )
        .await;
    assert_eq!(ev["status"], "failed", "{ev}");
    assert!(
        ev["lastError"].as_str().unwrap().contains("does not exist"),
        "{ev}"
    );
    // Once the table exists, a retry applies the event.
    shared_testkit::moto::create_destination_table(s.store.client(), &table, "id").await;
    let id = ev["id"].as_str().unwrap();
    let r = s
        .api
        .post(
            &format!("{}/{job_id}/webhook/events/{id}/retry", s.jobs()),
            None::<Value>,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    s.pump_inbound().await;
    let target = TableTarget {
        table_name: table,
        key_attribute: "id".into(),
    };
    let got = s
        .app
        .destination_tables
        .get_table_item(&target, "customer", "cus_1")
        .await
        .unwrap();
    assert_eq!(got.unwrap()["email"], "a@example.com");
}

// --- webhook ---------------------------------------------------------------------------------------

/// Verifies a received request with the stock `standardwebhooks` library.
fn standard_webhooks_accepts(
    secret: &str,
    req: &shared_testkit::targets::webhook::Received,
) -> bool {
    let script = "import sys, json\nfrom standardwebhooks import Webhook\nheaders = json.loads(sys.argv[2])\nbody = sys.stdin.buffer.read()\nWebhook(sys.argv[1]).verify(body, headers)\nprint('verified')";
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(secret)
        .arg(serde_json::to_string(&req.headers).unwrap())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 with standardwebhooks");
    child.stdin.take().unwrap().write_all(&req.body).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout).contains("verified")
}

#[tokio::test]
async fn webhook_destination_delivers_signed_changes_in_order_with_retries_and_replay() {
    let s = stack().await;
    let target = Target::start().await;
    let job = s
        .create_job(json!({"type": "webhook", "url": target.url,
            "headers": {"X-Api-Key": "dest-key-0123456789"}}))
        .await;
    let job_id = job["id"].as_str().unwrap();
    let secret = job["destination"]["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));

    // The first call fails with a 500, the retry succeeds.
    target.respond_with(&[500]);
    s.send(
        job_id,
        &customer_event("evt_1", "customer.created", 1_700_000_100, "a@example.com"),
    )
    .await;
    s.pump_deliveries().await;
    let reqs = target.requests();
    assert_eq!(reqs.len(), 2, "a 500, then the retry");
    let body = reqs[1].json();
    assert_eq!(body["type"], "record.upserted");
    assert_eq!(body["syncJobId"], job_id);
    assert_eq!(body["objectType"], "customer");
    assert_eq!(body["objectId"], "cus_1");
    assert_eq!(body["record"]["email"], "a@example.com");
    assert_eq!(body["_sync_metadata"]["event_id"], "evt_1");
    assert_eq!(
        reqs[1].headers.get("x-api-key").map(String::as_str),
        Some("dest-key-0123456789")
    );
    assert_eq!(
        reqs[0].headers["webhook-id"], reqs[1].headers["webhook-id"],
        "one delivery id across retries"
    );
    assert!(
        standard_webhooks_accepts(&secret, &reqs[1]),
        "the stock library verifies the signature"
    );
    assert!(!standard_webhooks_accepts(
        "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
        &reqs[1]
    ));

    let log = s
        .api
        .get(&format!("{}/{job_id}/deliveries", s.jobs()))
        .await;
    assert_eq!(log.status, 200, "{}", log.body);
    let d = &log.body["deliveries"][0];
    assert_eq!(d["status"], "success", "{d}");
    assert_eq!(d["attempts"], 2);
    assert_eq!(d["attemptLog"][0]["statusCode"], 500);
    assert_eq!(d["syncJobId"], job_id);

    s.send(
        job_id,
        &customer_event("evt_2", "customer.updated", 1_700_000_300, "b@example.com"),
    )
    .await;
    s.pump_deliveries().await;
    assert_eq!(target.requests().len(), 3);
    // An older event loses the ordering check: no delivery.
    let older = s
        .send(
            job_id,
            &customer_event(
                "evt_3",
                "customer.updated",
                1_700_000_200,
                "old@example.com",
            ),
        )
        .await;
    assert_eq!(older["outcome"], "unchanged", "{older}");
    s.pump_deliveries().await;
    assert_eq!(
        target.requests().len(),
        3,
        "no delivery for the older event"
    );

    let del = s
        .send(
            job_id,
            &customer_event("evt_4", "customer.deleted", 1_700_000_400, "b@example.com"),
        )
        .await;
    assert_eq!(del["outcome"], "deleted");
    s.pump_deliveries().await;
    let last = target.last().unwrap().json();
    assert_eq!(last["type"], "record.deleted");
    assert!(last["record"].is_null());
    assert_eq!(last["_sync_metadata"]["deleted"], true);
    // A late update after the delete: tombstone, no delivery.
    s.send(
        job_id,
        &customer_event(
            "evt_5",
            "customer.updated",
            1_700_000_350,
            "late@example.com",
        ),
    )
    .await;
    s.pump_deliveries().await;
    assert_eq!(target.requests().len(), 4);

    // Replay re-sends what the destination should hold: the current state (the delete) only.
    let since = shared::time::format(shared::time::now() - chrono::Duration::minutes(5));
    let r = s
        .api
        .post(
            &format!("{}/{job_id}/webhook/replay", s.jobs()),
            json!({"since": since}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    s.pump_inbound().await;
    s.pump_deliveries().await;
    let reqs = target.requests();
    assert_eq!(reqs.len(), 5, "the replay re-sent the current state once");
    assert_eq!(reqs[4].json()["type"], "record.deleted");
    let log = s
        .api
        .get(&format!("{}/{job_id}/deliveries?limit=2", s.jobs()))
        .await;
    assert_eq!(log.body["deliveries"].as_array().unwrap().len(), 2);
    assert_eq!(log.body["pagination"]["hasMore"], true, "{}", log.body);
}

#[tokio::test]
async fn a_failing_webhook_destination_does_not_block_other_jobs() {
    let s = stack().await;
    let down = Target::start().await;
    down.set_default_status(503);
    let up = Target::start().await;
    let failing = s
        .create_job(json!({"type": "webhook", "url": down.url}))
        .await;
    let healthy = s
        .create_job(json!({"type": "webhook", "url": up.url}))
        .await;
    s.send(
        failing["id"].as_str().unwrap(),
        &customer_event("evt_a", "customer.created", 1_700_000_100, "a@example.com"),
    )
    .await;
    s.send(
        healthy["id"].as_str().unwrap(),
        &customer_event("evt_b", "customer.created", 1_700_000_100, "b@example.com"),
    )
    .await;
    s.pump_deliveries().await;
    assert_eq!(up.requests().len(), 1, "the healthy job got its change");
    let calls = down.requests().len() as u32;
    assert_eq!(
        calls,
        1 + shared::inbound::destination::RETRY_ATTEMPTS,
        "1 + retries, then failed"
    );
    let log = s
        .api
        .get(&format!(
            "{}/{}/deliveries",
            s.jobs(),
            failing["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(
        log.body["deliveries"][0]["status"], "failed",
        "{}",
        log.body
    );
}
