//! DESIGN §8 "Inbound additions" over moto: `webhookConfig.autoRetry` (a failed event retried by
//! itself through the delivery queue before it stays `failed`, the alert raised once, after
//! the retries), secret overlap after a rotation (24 h, with a moved clock), the jq `filter` and
//! `transform` (compiled on save, run with time and size limits) and `…/webhook/preview`
//! (writes nothing). API → receiver → inbound queue (SQS on moto) → sync worker → DynamoDB
//! (moto); retries ride the delivery queue (SQS on moto) through the delivery worker.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use serde_json::{json, Value};
use shared::inbound::apply::SyncWorker;
use shared::queue::{QueueEnvelope, QueueMessage};
use shared::App;
use shared_testkit::harness::{call_raw, Api, Reply};
use shared_testkit::moto::pump_once;

const OLD_SECRET: &str = "whsec_additions_old_0123456789";
const NEW_SECRET: &str = "whsec_additions_new_0123456789";

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
    /// Every delivery-queue message the delivery worker was given.
    delivered: Mutex<Vec<QueueMessage>>,
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
    let (ws, key) = shared_testkit::moto::workspace(&app, "inbound-additions").await;
    Stack {
        api: Api::new(sync_jobs_api::router(app.clone()), &key),
        receiver: inbound_receiver::router(app.clone()),
        worker: SyncWorker::new(app.clone()).quiet(),
        deliver: delivery_worker::runner(app.clone()),
        delivered: Mutex::new(Vec::new()),
        app,
        store,
        sqs,
        inbound_url,
        delivery_url,
        ws,
    }
}

impl Stack {
    fn job_path(&self, job: &str, rest: &str) -> String {
        format!("/api/workspaces/{}/sync-jobs/{job}{rest}", self.ws)
    }

    async fn create(&self, config: Value) -> Reply {
        let mut webhook_config = json!({ "eventFilters": ["*"], "signingSecret": OLD_SECRET });
        if let (Some(c), Value::Object(extra)) = (webhook_config.as_object_mut(), config) {
            c.extend(extra);
        }
        let path = format!("/api/workspaces/{}/sync-jobs", self.ws);
        self.api
            .post(
                &path,
                json!({ "name": "Stripe", "type": "webhook", "source": "stripe",
                        "webhookConfig": webhook_config }),
            )
            .await
    }

    async fn job(&self, config: Value) -> String {
        let r = self.create(config).await;
        assert_eq!(r.status, 201, "{}", r.body);
        r.str_at("/syncJob/id")
    }

    async fn post_with(&self, job: &str, secret: &str, body: &str) -> Reply {
        let now = shared::time::now().timestamp();
        let header = shared::signing::sign_stripe(secret, now, body.as_bytes());
        call_raw(
            &self.receiver,
            "POST",
            &format!("/api/webhooks/{}/{job}", self.ws),
            &[
                ("content-type", "application/json"),
                ("stripe-signature", &header),
            ],
            body.as_bytes().to_vec(),
        )
        .await
    }

    /// Posts `body` signed with the job's secret; returns the `iev_` id.
    async fn post(&self, job: &str, body: &str) -> String {
        let r = self.post_with(job, OLD_SECRET, body).await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.str_at("/eventId")
    }

    /// Inbound queue → sync worker until empty; messages seen.
    async fn pump_inbound(&self) -> usize {
        let mut total = 0;
        loop {
            let n = pump_once(&self.sqs, &self.inbound_url, |ev| self.worker.run(ev)).await;
            if n == 0 {
                return total;
            }
            total += n;
        }
    }

    /// Delivery queue → delivery worker until empty (automatic retries, alerts); messages seen.
    async fn pump_delivery(&self) -> usize {
        let mut total = 0;
        loop {
            let n = pump_once(&self.sqs, &self.delivery_url, |ev| {
                for r in &ev.records {
                    let env: QueueEnvelope =
                        serde_json::from_str(r.body.as_deref().unwrap()).unwrap();
                    self.delivered.lock().unwrap().push(env.message);
                }
                self.deliver.run(ev)
            })
            .await;
            if n == 0 {
                return total;
            }
            total += n;
        }
    }

    fn retries_delivered(&self) -> Vec<u32> {
        self.delivered
            .lock()
            .unwrap()
            .iter()
            .filter_map(|m| match m {
                QueueMessage::InboundRetry { retry, .. } => Some(*retry),
                _ => None,
            })
            .collect()
    }

    fn failed_alerts(&self) -> usize {
        self.delivered
            .lock()
            .unwrap()
            .iter()
            .filter(|m| {
                matches!(m, QueueMessage::Alert { alert, attempt: 0, .. }
                    if alert.kind.as_str() == "inbound.event_failed")
            })
            .count()
    }

    async fn event(&self, job: &str, iev: &str) -> Value {
        let r = self
            .api
            .get(&self.job_path(job, &format!("/webhook/events/{iev}")))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["event"].clone()
    }

    async fn record(&self, job: &str, ty: &str, id: &str) -> Reply {
        self.api
            .get(&self.job_path(job, &format!("/records/{ty}/{id}")))
            .await
    }

    async fn patch(&self, job: &str, config: Value) -> Reply {
        self.api
            .patch(&self.job_path(job, ""), json!({ "webhookConfig": config }))
            .await
    }

    /// Every item of the table (to prove that a call wrote nothing).
    async fn item_count(&self) -> usize {
        let mut n = 0;
        let mut start = None;
        loop {
            let out = self
                .store
                .client()
                .scan()
                .table_name(self.store.table())
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .unwrap();
            n += out.items().len();
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return n,
            }
        }
    }
}

fn stripe_event(id: &str, ty: &str, created: i64, object: Value) -> String {
    json!({ "id": id, "object": "event", "api_version": "2024-06-20", "created": created,
            "type": ty, "data": { "object": object } })
    .to_string()
}

fn customer(id: &str) -> Value {
    json!({ "id": id, "object": "customer", "email": "ada@example.com", "name": "Ada",
            "phone": "+44 20 7946 0000", "metadata": { "tier": "gold" } })
}

// --- autoRetry ---------------------------------------------------------------------------------

#[tokio::test]
async fn an_event_failing_twice_then_succeeding_ends_applied_without_an_alert() {
    let s = stack().await;
    // The transform needs a field the events lack: every run fails until it is fixed.
    let job = s
        .job(json!({ "autoRetry": { "attempts": 3, "delaySeconds": 30 },
                     "transform": "{id: .data.object.id, plan: (.data.object.plan | ascii_downcase)}" }))
        .await;
    let iev = s
        .post(
            &job,
            &stripe_event(
                "evt_r1",
                "customer.created",
                1_700_000_000,
                customer("cus_r1"),
            ),
        )
        .await;
    assert_eq!(s.pump_inbound().await, 1);
    let ev = s.event(&job, &iev).await;
    assert_eq!(ev["status"], "pending", "{ev}");
    assert_eq!(ev["autoRetries"], 1);
    assert_eq!(ev["attempts"], 1);
    assert!(ev["nextRetryAt"].is_string(), "{ev}");
    assert!(ev["lastError"].as_str().unwrap().starts_with("jq:"), "{ev}");

    // Retry 1 (through the delivery queue) fails again.
    assert_eq!(s.pump_delivery().await, 1);
    assert_eq!(s.pump_inbound().await, 1);
    let ev = s.event(&job, &iev).await;
    assert_eq!(
        (ev["status"].as_str(), ev["autoRetries"].as_u64()),
        (Some("pending"), Some(2))
    );

    // The transform is fixed; retry 2 applies the event.
    let r = s
        .patch(
            &job,
            json!({ "transform": "{id: .data.object.id, email: .data.object.email}" }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(s.pump_delivery().await, 1);
    assert_eq!(s.pump_inbound().await, 1);
    let ev = s.event(&job, &iev).await;
    assert_eq!(ev["status"], "processed", "{ev}");
    assert_eq!(ev["attempts"], 3);
    assert_eq!(ev["nextRetryAt"], Value::Null);
    let rec = s.record(&job, "customer", "cus_r1").await;
    assert_eq!(rec.status, 200, "{}", rec.body);
    assert_eq!(rec.body["record"]["email"], "ada@example.com");
    assert_eq!(s.retries_delivered(), vec![1, 2]);
    assert_eq!(s.pump_delivery().await, 0, "nothing else is scheduled");
    assert_eq!(s.failed_alerts(), 0, "no alert while retries succeed");
}

#[tokio::test]
async fn an_event_failing_every_time_ends_failed_after_n_retries_and_alerts_once() {
    let s = stack().await;
    // A filter that does not yield a boolean fails every run.
    let job = s
        .job(json!({ "autoRetry": { "attempts": 2, "delaySeconds": 30 }, "filter": ".type" }))
        .await;
    let iev = s
        .post(
            &job,
            &stripe_event(
                "evt_f1",
                "customer.created",
                1_700_000_000,
                customer("cus_f1"),
            ),
        )
        .await;
    for _ in 0..6 {
        let inbound = s.pump_inbound().await;
        let delivery = s.pump_delivery().await;
        if inbound + delivery == 0 {
            break;
        }
    }
    let ev = s.event(&job, &iev).await;
    assert_eq!(ev["status"], "failed", "{ev}");
    assert_eq!(ev["attempts"], 3, "the first run and 2 automatic retries");
    assert_eq!(ev["autoRetries"], 2);
    assert_eq!(ev["nextRetryAt"], Value::Null);
    assert!(
        ev["lastError"].as_str().unwrap().contains("true or false"),
        "{ev}"
    );
    assert_eq!(s.retries_delivered(), vec![1, 2]);
    assert_eq!(s.failed_alerts(), 1, "one alert, after the last retry");
    assert_eq!(s.record(&job, "customer", "cus_f1").await.status, 404);
}

#[tokio::test]
async fn a_retry_of_an_event_applied_meanwhile_does_nothing() {
    let s = stack().await;
    let job = s
        .job(json!({ "autoRetry": { "attempts": 3, "delaySeconds": 30 },
                     "transform": "error(\"not yet\")" }))
        .await;
    let iev = s
        .post(
            &job,
            &stripe_event(
                "evt_m1",
                "customer.created",
                1_700_000_000,
                customer("cus_m1"),
            ),
        )
        .await;
    s.pump_inbound().await;
    assert_eq!(s.event(&job, &iev).await["lastError"], "jq: not yet");
    // Fixed and retried by hand before the automatic retry is due.
    s.patch(&job, json!({ "transform": null })).await;
    let r = s
        .api
        .post(
            &s.job_path(&job, &format!("/webhook/events/{iev}/retry")),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(s.pump_inbound().await, 1);
    let before = s.event(&job, &iev).await;
    assert_eq!(before["status"], "processed", "{before}");
    // The automatic retry arrives late: it re-queues nothing.
    assert_eq!(s.pump_delivery().await, 1);
    assert_eq!(s.pump_inbound().await, 0);
    let after = s.event(&job, &iev).await;
    assert_eq!(after["attempts"], before["attempts"]);
    assert_eq!(after["status"], "processed");
}

#[tokio::test]
async fn auto_retry_bounds_are_checked_on_save() {
    let s = stack().await;
    let r = s.create(json!({ "autoRetry": { "attempts": 11 } })).await;
    assert_eq!((r.status, r.error_code()), (400, "validation_error"));
    assert!(
        r.error_message()
            .contains("webhookConfig.autoRetry.attempts"),
        "{}",
        r.body
    );
    let r = s
        .create(json!({ "autoRetry": { "delaySeconds": 29 } }))
        .await;
    assert!(
        r.error_message()
            .contains("webhookConfig.autoRetry.delaySeconds"),
        "{}",
        r.body
    );
    let r = s.create(json!({})).await;
    assert_eq!(
        r.body["syncJob"]["webhookConfig"]["autoRetry"],
        json!({ "attempts": 3, "delaySeconds": 300 })
    );
}

// --- secret overlap ----------------------------------------------------------------------------

#[tokio::test]
async fn the_previous_secret_verifies_for_24_hours_after_a_rotation() {
    let s = stack().await;
    let job = s.job(json!({})).await;
    let rotated_at = shared::time::now();
    let r = s.patch(&job, json!({ "signingSecret": NEW_SECRET })).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let expires = shared::time::parse(
        r.body["syncJob"]["previousSecretExpiresAt"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    let overlap = (expires - rotated_at).num_seconds();
    assert!((86_398..=86_402).contains(&overlap), "{overlap}");

    // Now: both secrets verify through the receiver; another one does not.
    let body = stripe_event(
        "evt_o1",
        "customer.created",
        1_700_000_000,
        customer("cus_o1"),
    );
    assert_eq!(s.post_with(&job, OLD_SECRET, &body).await.status, 200);
    let body = stripe_event(
        "evt_o2",
        "customer.created",
        1_700_000_000,
        customer("cus_o2"),
    );
    assert_eq!(s.post_with(&job, NEW_SECRET, &body).await.status, 200);
    let body = stripe_event(
        "evt_o3",
        "customer.created",
        1_700_000_000,
        customer("cus_o3"),
    );
    let r = s
        .post_with(&job, "whsec_someone_else_0123456789", &body)
        .await;
    assert_eq!((r.status, r.error_code()), (401, "invalid_signature"));

    // The clock moved: the old secret at +23 h 59 m verifies, at +24 h it is refused.
    let stored = s
        .app
        .sync_jobs
        .get_sync_job(&s.ws, &job)
        .await
        .unwrap()
        .unwrap();
    let at = |t: chrono::DateTime<chrono::Utc>| {
        let mut headers = HeaderMap::new();
        let sig = shared::signing::sign_stripe(OLD_SECRET, t.timestamp(), body.as_bytes());
        headers.insert("stripe-signature", sig.parse().unwrap());
        shared::inbound::receive::verify(&stored, &headers, body.as_bytes(), t.timestamp())
    };
    assert!(at(expires - chrono::Duration::minutes(1)).is_ok());
    let refused = at(expires).unwrap_err();
    assert_eq!(refused.code(), "invalid_signature");
    let new_later = {
        let mut headers = HeaderMap::new();
        let t = expires + chrono::Duration::hours(1);
        let sig = shared::signing::sign_stripe(NEW_SECRET, t.timestamp(), body.as_bytes());
        headers.insert("stripe-signature", sig.parse().unwrap());
        shared::inbound::receive::verify(&stored, &headers, body.as_bytes(), t.timestamp())
    };
    assert!(new_later.is_ok(), "the current secret keeps verifying");
}

#[tokio::test]
async fn regenerate_secret_keeps_the_old_generic_secret_for_24_hours() {
    let s = stack().await;
    let path = format!("/api/workspaces/{}/sync-jobs", s.ws);
    let r = s
        .api
        .post(
            &path,
            json!({ "name": "Generic", "type": "webhook", "source": "generic" }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let job = r.str_at("/syncJob/id");
    let old = shared::signing::WebhookSecret::parse(&r.str_at("/syncJob/webhookSecret")).unwrap();
    assert_eq!(r.body["syncJob"]["previousSecretExpiresAt"], Value::Null);
    let r = s
        .api
        .post(&s.job_path(&job, "/webhook/regenerate-secret"), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body["syncJob"]["previousSecretExpiresAt"].is_string());
    let now = shared::time::now().timestamp();
    let body = json!({ "type": "contact.updated", "timestamp": shared::time::now_string(),
                       "data": { "id": "c_1" } })
    .to_string();
    let sig = shared::signing::sign(&old, "msg_overlap_1", now, body.as_bytes());
    let r = call_raw(
        &s.receiver,
        "POST",
        &format!("/api/webhooks/{}/{job}", s.ws),
        &[
            ("content-type", "application/json"),
            ("webhook-id", "msg_overlap_1"),
            ("webhook-timestamp", &now.to_string()),
            ("webhook-signature", &sig),
        ],
        body.into_bytes(),
    )
    .await;
    assert_eq!(r.status, 200, "the old secret still verifies: {}", r.body);
}

// --- jq filter and transform -------------------------------------------------------------------

#[tokio::test]
async fn a_filter_and_a_transform_change_what_is_stored() {
    let s = stack().await;
    let paid_only = s
        .job(json!({ "filter": ".type == \"invoice.paid\" or .data.object.status == \"paid\"" }))
        .await;
    let invoice = |status: &str| {
        json!({ "id": format!("in_{status}"), "object": "invoice", "status": status,
                "amount_paid": 1200 })
    };
    let open = s
        .post(
            &paid_only,
            &stripe_event(
                "evt_i1",
                "invoice.finalized",
                1_700_000_000,
                invoice("open"),
            ),
        )
        .await;
    let paid = s
        .post(
            &paid_only,
            &stripe_event("evt_i2", "invoice.paid", 1_700_000_000, invoice("paid")),
        )
        .await;
    let flatten = s
        .job(json!({ "transform": "{id: .data.object.id, email: .data.object.email, name: .data.object.name}" }))
        .await;
    s.post(
        &flatten,
        &stripe_event(
            "evt_c1",
            "customer.created",
            1_700_000_000,
            customer("cus_t1"),
        ),
    )
    .await;
    assert_eq!(s.pump_inbound().await, 3);

    let ev = s.event(&paid_only, &open).await;
    assert_eq!(
        (ev["status"].as_str(), ev["outcome"].as_str()),
        (Some("ignored"), Some("filtered"))
    );
    assert_eq!(s.record(&paid_only, "invoice", "in_open").await.status, 404);
    assert_eq!(s.event(&paid_only, &paid).await["status"], "processed");
    let rec = s.record(&paid_only, "invoice", "in_paid").await;
    assert_eq!(rec.body["record"]["amount_paid"], 1200, "{}", rec.body);

    let rec = s.record(&flatten, "customer", "cus_t1").await;
    assert_eq!(rec.status, 200, "{}", rec.body);
    let mut fields: Vec<&str> = rec.body["record"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    fields.sort();
    assert_eq!(fields, ["_sync_metadata", "email", "id", "name"]);
    assert_eq!(rec.body["record"]["name"], "Ada");
}

#[tokio::test]
async fn a_jq_error_on_save_is_a_400_with_jqs_message_and_the_field() {
    let s = stack().await;
    let r = s.create(json!({ "filter": ".type ==" })).await;
    assert_eq!(
        (r.status, r.error_code()),
        (400, "validation_error"),
        "{}",
        r.body
    );
    let msg = r.error_message();
    assert!(
        msg.contains("webhookConfig.filter") && msg.contains("expected"),
        "{msg}"
    );
    let job = s.job(json!({})).await;
    let r = s
        .patch(&job, json!({ "transform": "{id: .x | no_such_filter}" }))
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    let msg = r.error_message();
    assert!(
        msg.contains("webhookConfig.transform") && msg.contains("no_such_filter"),
        "{msg}"
    );
    let r = s.patch(&job, json!({ "filter": "def f: f; f" })).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.error_message().contains("def"), "{}", r.body);
    let r = s
        .patch(
            &job,
            json!({ "filter": "env.AWS_SECRET_ACCESS_KEY != null" }),
        )
        .await;
    assert_eq!(
        r.status, 400,
        "the environment is not reachable: {}",
        r.body
    );
    // Nothing of it was saved.
    let got = s.api.get(&s.job_path(&job, "")).await;
    assert_eq!(got.body["syncJob"]["webhookConfig"]["filter"], Value::Null);
    assert_eq!(
        got.body["syncJob"]["webhookConfig"]["transform"],
        Value::Null
    );
}

#[tokio::test]
async fn jq_failures_at_run_time_fail_the_event_within_the_limits() {
    let s = stack().await;
    let no_retry = json!({ "attempts": 0 });
    let raises = s
        .job(json!({ "autoRetry": no_retry, "transform": "if .data.object.email then error(\"blocked\") else . end" }))
        .await;
    let endless = s
        .job(json!({ "autoRetry": no_retry, "transform": "{n: ([range(1e9)] | length)}" }))
        .await;
    let huge = s
        .job(json!({ "autoRetry": no_retry, "transform": "{blob: (\"x\" * 400000)}" }))
        .await;
    let mut ids = Vec::new();
    for (i, job) in [&raises, &endless, &huge].into_iter().enumerate() {
        let body = stripe_event(
            &format!("evt_j{i}"),
            "customer.created",
            1_700_000_000,
            customer(&format!("cus_j{i}")),
        );
        ids.push(s.post(job, &body).await);
    }
    let started = Instant::now();
    assert_eq!(s.pump_inbound().await, 3);
    let took = started.elapsed();
    // Three runs of at most 250 ms each, plus moto round trips; never hanging.
    assert!(took < Duration::from_secs(10), "{took:?}");
    let errors: Vec<String> = futures::future::join_all(
        [&raises, &endless, &huge]
            .into_iter()
            .zip(&ids)
            .map(|(job, iev)| s.event(job, iev)),
    )
    .await
    .into_iter()
    .map(|ev| {
        assert_eq!(ev["status"], "failed", "{ev}");
        ev["lastError"].as_str().unwrap().to_owned()
    })
    .collect();
    assert_eq!(errors[0], "jq: blocked");
    assert!(errors[1].contains("longer than 250 ms"), "{}", errors[1]);
    assert!(errors[2].contains("larger than 350 KB"), "{}", errors[2]);
    s.pump_delivery().await;
    assert_eq!(
        s.failed_alerts(),
        3,
        "each event that ended failed raised its alert"
    );
}

// --- preview -----------------------------------------------------------------------------------

#[tokio::test]
async fn preview_runs_the_jobs_rules_on_a_stored_event_or_a_payload_and_writes_nothing() {
    let s = stack().await;
    let job = s
        .job(json!({ "filter": ".data.object.email != null",
                     "transform": "{id: .data.object.id, email: .data.object.email}" }))
        .await;
    // A stored event, not yet applied.
    let iev = s
        .post(
            &job,
            &stripe_event(
                "evt_p1",
                "customer.created",
                1_700_000_000,
                customer("cus_p1"),
            ),
        )
        .await;
    let items = s.item_count().await;
    let (stack, path) = (&s, s.job_path(&job, "/webhook/preview"));
    let preview = |body: Value| {
        let path = path.clone();
        async move { stack.api.post(&path, body).await }
    };

    let r = preview(json!({ "eventId": iev })).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let p = &r.body["preview"];
    assert_eq!(p["matched"], true);
    assert_eq!(p["error"], Value::Null);
    assert_eq!(p["record"]["email"], "ada@example.com");
    assert!(
        p["record"].get("phone").is_none(),
        "the transform's output: {p}"
    );
    assert_eq!(p["record"]["_sync_metadata"]["event_id"], "evt_p1");

    let mut anonymous = customer("cus_p2");
    anonymous["email"] = Value::Null;
    let payload: Value = serde_json::from_str(&stripe_event(
        "evt_p2",
        "customer.updated",
        1_700_000_000,
        anonymous,
    ))
    .unwrap();
    let r = preview(json!({ "payload": payload })).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body["preview"],
        json!({ "matched": false, "record": null, "error": null })
    );

    let unmappable = json!({ "id": "evt_p3", "object": "event", "type": "customer.updated",
                             "created": 1, "data": { "object": { "object": "customer", "email": "x@example.com" } } });
    let r = preview(json!({ "payload": unmappable })).await;
    assert_eq!(r.body["preview"]["record"], Value::Null);
    assert!(
        r.body["preview"]["error"]
            .as_str()
            .unwrap()
            .contains("data.object.id"),
        "{}",
        r.body
    );

    let r = preview(json!({ "eventId": iev, "payload": payload })).await;
    assert_eq!(
        (r.status, r.error_code()),
        (400, "validation_error"),
        "{}",
        r.body
    );
    assert!(r.error_message().contains("eventId") && r.error_message().contains("payload"));
    let r = preview(json!({})).await;
    assert_eq!(
        (r.status, r.error_code()),
        (400, "validation_error"),
        "{}",
        r.body
    );
    let r = preview(json!({ "eventId": "iev_01jf3v2v6k0d9m5q8x7r4t2y1a" })).await;
    assert_eq!(r.status, 404, "{}", r.body);

    // Nothing was written or queued by the previews.
    assert_eq!(s.item_count().await, items);
    assert_eq!(s.event(&job, &iev).await["status"], "pending");
    assert_eq!(s.pump_delivery().await, 0);
    assert_eq!(
        s.pump_inbound().await,
        1,
        "only the stored event's own message"
    );
}
