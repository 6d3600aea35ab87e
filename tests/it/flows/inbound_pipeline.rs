//! The inbound pipeline over moto: sync-jobs API → public receiver → inbound queue (SQS on
//! moto) → sync worker (`pump_once`) → record in DynamoDB (moto), read back through the API.
//! Stripe events are signed with Stripe's own Python library (`pip install stripe`).

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use shared::inbound::apply::SyncWorker;
use shared::queue::QueueName;
use shared::App;
use shared_testkit::harness::{call_raw, Api, Reply};
use shared_testkit::moto::pump_once;

const STRIPE_SECRET: &str = "whsec_pipeline_secret_0123456789";
const CLOSE_KEY: &str = "b9260244ef33625f9b4b26a27db08758cdd39478b852c73f2d33ab042eb8abb4";

struct Stack {
    app: App,
    store: Arc<shared_aws::table::DynamoStore>,
    sqs: aws_sdk_sqs::Client,
    inbound_url: String,
    delivery_url: String,
    api: Api,
    receiver: axum::Router,
    worker: SyncWorker,
    ws: String,
}

async fn stack() -> Stack {
    let shared_testkit::moto::InboundMotoApp {
        app,
        store,
        sqs,
        delivery_url,
        inbound_url,
    } = shared_testkit::moto::inbound_moto_app(30).await;
    let (ws, key) = shared_testkit::moto::workspace(&app, "pipeline").await;
    Stack {
        api: Api::new(sync_jobs_api::router(app.clone()), &key),
        receiver: inbound_receiver::router(app.clone()),
        worker: SyncWorker::new(app.clone()).quiet(),
        app,
        store,
        sqs,
        inbound_url,
        delivery_url,
        ws,
    }
}

impl Stack {
    /// The sync-jobs API path of `job` followed by `rest`.
    fn job_path(&self, job: &str, rest: &str) -> String {
        format!("/api/workspaces/{}/sync-jobs/{job}{rest}", self.ws)
    }

    async fn create_job(&self, body: Value) -> String {
        let path = format!("/api/workspaces/{}/sync-jobs", self.ws);
        let r = self.api.post(&path, body).await;
        assert_eq!(r.status, 201, "{}", r.body);
        r.str_at("/syncJob/id")
    }

    async fn post(&self, job: &str, headers: &[(&str, &str)], body: &str) -> Reply {
        let mut h = vec![("content-type", "application/json")];
        h.extend_from_slice(headers);
        call_raw(
            &self.receiver,
            "POST",
            &format!("/api/webhooks/{}/{job}", self.ws),
            &h,
            body.as_bytes().to_vec(),
        )
        .await
    }

    /// Posts `body` to `job` with our own Stripe signature of now.
    async fn post_signed(&self, job: &str, body: &str) -> Reply {
        let now = shared::time::now().timestamp();
        let header = shared::signing::sign_stripe(STRIPE_SECRET, now, body.as_bytes());
        self.post(job, &[("stripe-signature", &header)], body).await
    }

    /// Feeds the inbound queue to the worker until it is empty; returns messages seen.
    async fn pump(&self) -> usize {
        let mut total = 0;
        loop {
            let n = pump_once(&self.sqs, &self.inbound_url, |ev| self.worker.run(ev)).await;
            if n == 0 {
                return total;
            }
            total += n;
        }
    }

    async fn record(&self, job: &str, ty: &str, id: &str) -> Reply {
        let path = self.job_path(job, &format!("/records/{ty}/{id}"));
        self.api.get(&path).await
    }
}

/// `Stripe-Signature` for `payload`, computed by Stripe's Python library.
fn stripe_library_header(payload: &str, secret: &str) -> String {
    let script = r#"
import sys, time, stripe
payload, secret = sys.argv[1], sys.argv[2]
sig = stripe.WebhookSignature
if hasattr(sig, "generate_signature_header"):
    print(sig.generate_signature_header(payload, secret))
else:  # older stripe-python
    t = int(time.time())
    print("t=%d,v1=%s" % (t, sig._compute_signature("%d.%s" % (t, payload), secret)))
"#;
    let out = Command::new("python3")
        .args(["-c", script, payload, secret])
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "stripe-python failed (pip install stripe): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn stripe_event(id: &str, ty: &str, created: i64, object: Value) -> String {
    json!({
        "id": id, "object": "event", "api_version": "2024-06-20", "created": created,
        "data": { "object": object }, "livemode": false, "pending_webhooks": 1,
        "request": { "id": "req_1", "idempotency_key": null }, "type": ty,
    })
    .to_string()
}

fn customer(id: &str, email: &str) -> Value {
    json!({ "id": id, "object": "customer", "email": email, "name": "Ada", "balance": 0, "metadata": {} })
}

async fn stripe_job(s: &Stack) -> String {
    s.create_job(
        json!({"name": "Stripe", "type": "webhook", "source": "stripe",
        "webhookConfig": {"eventFilters": ["customer.*"], "signingSecret": STRIPE_SECRET}}),
    )
    .await
}

/// A stack with a Stripe job, and the body of a Stripe `ty` event `id` (created at
/// 1_700_000_000) about customer `cus` with `email`.
async fn stripe_stack(id: &str, ty: &str, cus: &str, email: &str) -> (Stack, String, String) {
    let s = stack().await;
    let job = stripe_job(&s).await;
    let body = stripe_event(id, ty, 1_700_000_000, customer(cus, email));
    (s, job, body)
}

#[tokio::test]
async fn stripe_event_signed_by_stripes_library_becomes_a_record() {
    let (s, job, body) = stripe_stack(
        "evt_lib_1",
        "customer.created",
        "cus_lib",
        "ada@example.com",
    )
    .await;
    let header = stripe_library_header(&body, STRIPE_SECRET);
    let r = s.post(&job, &[("stripe-signature", &header)], &body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let event_id = r.body["eventId"].as_str().unwrap().to_owned();
    assert_eq!(s.pump().await, 1);
    let rec = s.record(&job, "customer", "cus_lib").await;
    assert_eq!(rec.status, 200, "{}", rec.body);
    assert_eq!(rec.body["record"]["email"], "ada@example.com");
    assert_eq!(
        rec.body["record"]["_sync_metadata"]["inbound_event_id"],
        event_id.as_str()
    );
    let path = s.job_path(&job, &format!("/webhook/events/{event_id}"));
    let d = s.api.get(&path).await;
    assert_eq!(d.body["event"]["status"], "processed");
    assert_eq!(d.body["event"]["rawPayload"], body.as_str());
    // A wrong secret in Stripe's library → 401.
    let bad = stripe_library_header(&body, "whsec_someone_else");
    assert_eq!(
        s.post(&job, &[("stripe-signature", &bad)], &body)
            .await
            .status,
        401
    );
}

#[tokio::test]
async fn our_stripe_signature_verifies_with_stripes_library() {
    let body = stripe_event(
        "evt_x",
        "customer.updated",
        1,
        customer("cus_1", "a@example.com"),
    );
    let header = shared::signing::sign_stripe(
        STRIPE_SECRET,
        shared::time::now().timestamp(),
        body.as_bytes(),
    );
    let script = r#"
import sys, stripe
stripe.Webhook.construct_event(sys.argv[1], sys.argv[2], sys.argv[3])
"#;
    let out = Command::new("python3")
        .args(["-c", script, &body, &header, STRIPE_SECRET])
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn five_concurrent_copies_on_dynamodb_are_applied_once() {
    let (s, job, body) =
        stripe_stack("evt_5x", "customer.updated", "cus_5", "five@example.com").await;
    let header = stripe_library_header(&body, STRIPE_SECRET);
    let headers = [("stripe-signature", header.as_str())];
    let replies = futures::future::join_all((0..5).map(|_| s.post(&job, &headers, &body))).await;
    let ids: std::collections::HashSet<&str> = replies
        .iter()
        .map(|r| {
            assert_eq!(r.status, 200, "{}", r.body);
            r.body["eventId"].as_str().unwrap()
        })
        .collect();
    assert_eq!(ids.len(), 1);
    assert_eq!(
        replies
            .iter()
            .filter(|r| r.body["duplicate"] == true)
            .count(),
        4
    );
    s.pump().await;
    let ev = s
        .app
        .inbound_events
        .get_event(&s.ws, &job, "evt_5x", shared::time::now().timestamp())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ev.attempts, 1, "processed once");
    let execs = s.api.get(&s.job_path(&job, "/webhook/executions")).await;
    let applied: u64 = execs.body["executions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["applied"].as_u64().unwrap())
        .sum();
    assert_eq!(applied, 1, "{}", execs.body);
}

#[tokio::test]
async fn ordering_and_tombstones_hold_through_the_pipeline() {
    let s = stack().await;
    let job = stripe_job(&s).await;
    let send = async |id: &str, ty: &str, t: i64, email: &str| {
        let body = stripe_event(id, ty, t, customer("cus_o", email));
        let r = s.post_signed(&job, &body).await;
        assert_eq!(r.status, 200, "{}", r.body);
        s.pump().await;
    };
    send("evt_t2", "customer.updated", 200, "t2@example.com").await;
    send("evt_t1", "customer.updated", 100, "t1@example.com").await;
    let rec = s.record(&job, "customer", "cus_o").await;
    assert_eq!(rec.body["record"]["email"], "t2@example.com");
    send("evt_del", "customer.deleted", 300, "").await;
    send("evt_late", "customer.updated", 250, "late@example.com").await;
    send("evt_same", "customer.updated", 300, "same@example.com").await;
    let rec = s.record(&job, "customer", "cus_o").await;
    assert_eq!(rec.status, 200);
    assert_eq!(rec.body["record"]["_sync_metadata"]["deleted"], true);
    assert!(rec.body["record"].get("email").is_none());
    assert_eq!(s.record(&job, "customer", "cus_never").await.status, 404);
}

#[tokio::test]
async fn close_activity_note_through_the_pipeline() {
    let s = stack().await;
    let job = s
        .create_job(json!({"name": "Close", "source": "close", "webhookConfig": {"signingSecret": CLOSE_KEY}}))
        .await;
    let body = json!({
        "subscription_id": "whsub_1",
        "event": {
            "id": "ev_note_1", "date_created": "2024-03-01T10:00:00.123456", "date_updated": "2024-03-01T10:00:00.123456",
            "organization_id": "orga_1", "user_id": "user_1", "request_id": "req_1",
            "object_type": "activity.note", "object_id": "acti_n1", "lead_id": "lead_1", "action": "created",
            "changed_fields": [], "meta": {"request_method": "POST"},
            "data": {"id": "acti_n1", "_type": "Note", "note": "Follow up Monday", "lead_id": "lead_1"},
            "previous_data": {}
        }
    })
    .to_string();
    let ts = shared::time::now().timestamp().to_string();
    let sig = shared::signing::sign_close(CLOSE_KEY, &ts, body.as_bytes()).unwrap();
    let r = s
        .post(
            &job,
            &[("close-sig-hash", &sig), ("close-sig-timestamp", &ts)],
            &body,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    s.pump().await;
    let rec = s.record(&job, "activity", "acti_n1").await;
    assert_eq!(rec.status, 200, "{}", rec.body);
    assert_eq!(rec.body["record"]["note"], "Follow up Monday");
    assert_eq!(
        rec.body["record"]["_sync_metadata"]["event_created"],
        "2024-03-01T10:00:00.123456Z"
    );
}

#[tokio::test]
async fn batch_wait_delays_the_message_on_sqs() {
    let s = stack().await;
    let job = s
        .create_job(json!({"name": "Wait", "source": "stripe",
            "webhookConfig": {"signingSecret": STRIPE_SECRET, "batchWaitSeconds": 3}}))
        .await;
    let body = stripe_event(
        "evt_wait",
        "customer.updated",
        100,
        customer("cus_w", "w@example.com"),
    );
    assert_eq!(s.post_signed(&job, &body).await.status, 200);
    assert_eq!(
        pump_once(&s.sqs, &s.inbound_url, |ev| s.worker.run(ev)).await,
        0,
        "not visible yet"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(s.pump().await, 1);
    assert_eq!(s.record(&job, "customer", "cus_w").await.status, 200);
}

#[tokio::test]
async fn batch_of_ten_with_one_poison_message_on_sqs() {
    let s = stack().await;
    let job = stripe_job(&s).await;
    for i in 0..9 {
        let body = stripe_event(
            &format!("evt_p{i}"),
            "customer.updated",
            100,
            customer(&format!("cus_p{i}"), "p@example.com"),
        );
        assert_eq!(s.post_signed(&job, &body).await.status, 200);
    }
    s.app
        .queue
        .send_raw(QueueName::Inbound, "{\"poison\":true}", Duration::ZERO)
        .await
        .unwrap();
    let mut seen = 0;
    for _ in 0..3 {
        seen += pump_once(&s.sqs, &s.inbound_url, |ev| s.worker.run(ev)).await;
        if seen >= 10 {
            break;
        }
    }
    assert_eq!(seen, 10);
    for i in 0..9 {
        assert_eq!(
            s.record(&job, "customer", &format!("cus_p{i}"))
                .await
                .status,
            200
        );
    }
    // The poison message was reported, so SQS still holds it (visible again after 1 s).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let left = pump_once(&s.sqs, &s.inbound_url, |ev| s.worker.run(ev)).await;
    assert_eq!(left, 1);
}

/// Table items under a job's key prefix (records, events with raw pieces, executions).
async fn items_of_job(s: &Stack, job: &str) -> usize {
    let prefix = format!("WS#{}#SYNCJOB#{job}", s.ws);
    let mut count = 0;
    let mut start = None;
    loop {
        let out = s
            .store
            .client()
            .scan()
            .table_name(s.store.table())
            .filter_expression("begins_with(pk, :p)")
            .expression_attribute_values(
                ":p",
                aws_sdk_dynamodb::types::AttributeValue::S(prefix.clone()),
            )
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap();
        count += out.items().len();
        match out.last_evaluated_key {
            Some(k) if !k.is_empty() => start = Some(k),
            _ => return count,
        }
    }
}

#[tokio::test]
async fn deleting_a_job_purges_its_data_through_the_delivery_queue() {
    let s = stack().await;
    let job = stripe_job(&s).await;
    let kept = stripe_job(&s).await;
    let now = shared::time::now().timestamp();
    for (j, n) in [(&job, 3), (&kept, 1)] {
        for i in 0..n {
            let body = stripe_event(
                &format!("evt_{j}_{i}"),
                "customer.updated",
                now,
                customer(&format!("cus_{i}"), "a@example.com"),
            );
            let sig = stripe_library_header(&body, STRIPE_SECRET);
            let r = s.post(j, &[("stripe-signature", &sig)], &body).await;
            assert_eq!(r.status, 200, "{}", r.body);
        }
    }
    s.pump().await;
    assert_eq!(s.record(&job, "customer", "cus_2").await.status, 200);
    let before = items_of_job(&s, &job).await;
    assert!(before >= 3 + 3, "records + events (+ executions): {before}");
    let kept_before = items_of_job(&s, &kept).await;

    let r = s.api.delete(&s.job_path(&job, "")).await;
    assert_eq!(r.status, 200, "{}", r.body);

    // The purge message is delayed by PURGE_DELAY; the deliver consumer runs it.
    let runner = delivery_worker::runner(s.app.clone());
    let deadline =
        std::time::Instant::now() + shared::inbound::purge::PURGE_DELAY + Duration::from_secs(20);
    while items_of_job(&s, &job).await > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the purge did not run"
        );
        pump_once(&s.sqs, &s.delivery_url, |ev| runner.run(ev)).await;
    }
    assert_eq!(
        items_of_job(&s, &kept).await,
        kept_before,
        "another job is untouched"
    );
}
