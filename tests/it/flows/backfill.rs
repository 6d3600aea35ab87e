//! Backfills over moto (DESIGN §8): sync-jobs API → `POST …/backfill` or the backfill schedule →
//! delivery queue (SQS on moto) → the delivery worker reads a local Stripe/Close stand-in that
//! pages like the real event logs → each event stored through the receiver's path → inbound
//! queue → sync worker → records in DynamoDB (moto). Webhooks racing the same events, paging
//! past 100 events, provider failures (cursor unchanged) and the due index.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use shared::config::Config;
use shared::inbound::apply::SyncWorker;
use shared::queue::{QueueEnvelope, QueueMessage, QueueName};
use shared::sqs_runner::BatchRunner;
use shared::App;
use shared_aws::sqs::SqsQueue;
use shared_testkit::harness::{call_raw, Api, Reply};
use shared_testkit::moto::{fresh_queue, fresh_store, pump_once, sqs_client};
use shared_testkit::targets::providers::{close_event, stripe_event, ProviderApi};

const API_KEY: &str = "sk_test_backfill_flow_key_0123";
const STRIPE_SECRET: &str = "whsec_backfill_flow_secret_01";

struct Stack {
    app: App,
    sqs: aws_sdk_sqs::Client,
    inbound_url: String,
    delivery_url: String,
    api: Api,
    receiver: axum::Router,
    worker: SyncWorker,
    deliver: BatchRunner<delivery_worker::Deliver>,
    provider: ProviderApi,
    ws: String,
}

async fn stack_with(configure: impl FnOnce(&mut Config)) -> Stack {
    let provider = ProviderApi::start(API_KEY).await;
    let store = Arc::new(fresh_store().await);
    let sqs = sqs_client().await;
    let delivery_url = fresh_queue(&sqs, 30).await;
    let inbound_url = fresh_queue(&sqs, 1).await;
    let mut config = Config::for_tests(store.table(), &delivery_url);
    config.inbound_queue_url = Some(inbound_url.clone());
    config.stripe_api_base = provider.url.clone();
    config.close_api_base = provider.url.clone();
    configure(&mut config);
    let queue = SqsQueue::new(
        sqs.clone(),
        HashMap::from([
            (QueueName::Delivery, delivery_url.clone()),
            (QueueName::Inbound, inbound_url.clone()),
        ]),
    );
    let app = App::new(config, store, Arc::new(queue));
    let (ws, key) = shared_testkit::moto::workspace(&app, "backfill").await;
    Stack {
        api: Api::new(sync_jobs_api::router(app.clone()), &key),
        receiver: inbound_receiver::router(app.clone()),
        worker: SyncWorker::new(app.clone()).quiet(),
        deliver: delivery_worker::runner(app.clone()),
        app,
        sqs,
        inbound_url,
        delivery_url,
        provider,
        ws,
    }
}

async fn stack() -> Stack {
    stack_with(|_| {}).await
}

impl Stack {
    fn job_path(&self, job: &str, rest: &str) -> String {
        format!("/api/workspaces/{}/sync-jobs/{job}{rest}", self.ws)
    }

    async fn create_job(&self, body: Value) -> Value {
        let path = format!("/api/workspaces/{}/sync-jobs", self.ws);
        let r = self.api.post(&path, body).await;
        assert_eq!(r.status, 201, "{}", r.body);
        r.body["syncJob"].clone()
    }

    async fn scheduled(&self, source: &str, schedule: &str) -> String {
        let job = self
            .create_job(
                json!({"name": format!("{source} pull"), "type": "scheduled",
                "source": source, "schedule": schedule, "apiKey": API_KEY}),
            )
            .await;
        job["id"].as_str().unwrap().to_owned()
    }

    async fn get_job(&self, job: &str) -> Value {
        let r = self.api.get(&self.job_path(job, "")).await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["syncJob"].clone()
    }

    /// `POST …/backfill` → the execution id.
    async fn backfill_now(&self, job: &str) -> String {
        let r = self.api.post(&self.job_path(job, "/backfill"), None).await;
        assert_eq!(r.status, 202, "{}", r.body);
        r.str_at("/execution/id")
    }

    /// Runs the delivery queue (backfill runs) until it is empty.
    async fn run_backfills(&self) -> usize {
        let mut total = 0;
        loop {
            let n = pump_once(&self.sqs, &self.delivery_url, |ev| self.deliver.run(ev)).await;
            if n == 0 {
                return total;
            }
            total += n;
        }
    }

    /// Feeds the inbound queue to the sync worker until it is empty.
    async fn apply(&self) -> usize {
        let mut total = 0;
        loop {
            let n = pump_once(&self.sqs, &self.inbound_url, |ev| self.worker.run(ev)).await;
            if n == 0 {
                return total;
            }
            total += n;
        }
    }

    async fn executions(&self, job: &str) -> Vec<Value> {
        let r = self
            .api
            .get(&self.job_path(job, "/webhook/executions?limit=100"))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["executions"].as_array().unwrap().clone()
    }

    async fn execution(&self, job: &str, id: &str) -> Value {
        self.executions(job)
            .await
            .into_iter()
            .find(|x| x["id"] == id)
            .unwrap_or_else(|| panic!("execution {id} not listed"))
    }

    async fn record(&self, job: &str, ty: &str, id: &str) -> Reply {
        self.api
            .get(&self.job_path(job, &format!("/records/{ty}/{id}")))
            .await
    }

    async fn events(&self, job: &str) -> Vec<Value> {
        let r = self
            .api
            .get(&self.job_path(job, "/webhook/events?limit=1000"))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["events"].as_array().unwrap().clone()
    }

    /// Posts a Stripe event to the public receiver, signed now.
    async fn post_webhook(&self, job: &str, event: &Value) -> Reply {
        let body = event.to_string();
        let now = shared::time::now().timestamp();
        let sig = shared::signing::sign_stripe(STRIPE_SECRET, now, body.as_bytes());
        call_raw(
            &self.receiver,
            "POST",
            &format!("/api/webhooks/{}/{job}", self.ws),
            &[
                ("content-type", "application/json"),
                ("stripe-signature", &sig),
            ],
            body.into_bytes(),
        )
        .await
    }
}

fn now() -> i64 {
    shared::time::now().timestamp()
}

fn sum(execs: &[Value], kind: &str, field: &str) -> u64 {
    execs
        .iter()
        .filter(|x| x["kind"] == kind)
        .map(|x| x[field].as_u64().unwrap_or(0))
        .sum()
}

#[tokio::test]
async fn a_stripe_backfill_recovers_events_never_posted() {
    let s = stack().await;
    let t = now();
    for i in 0..5 {
        s.provider.add_stripe(stripe_event(
            &format!("evt_lost{i}"),
            "customer.updated",
            &format!("cus_lost{i}"),
            t - 3_600 + i,
        ));
    }
    // Older than the default cursor (24 h before creation): not read.
    s.provider.add_stripe(stripe_event(
        "evt_ancient",
        "customer.updated",
        "cus_ancient",
        t - 90_000,
    ));
    let job = s.scheduled("stripe", "rate(1 hour)").await;
    let exec = s.backfill_now(&job).await;
    assert_eq!(s.run_backfills().await, 1);
    assert_eq!(s.apply().await, 5);

    let run = s.execution(&job, &exec).await;
    assert_eq!(run["kind"], "backfill");
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(
        (
            run["read"].as_u64(),
            run["new"].as_u64(),
            run["duplicates"].as_u64()
        ),
        (Some(5), Some(5), Some(0))
    );
    let cursor = shared::time::parse(run["cursor"].as_str().unwrap()).unwrap();
    assert_eq!(cursor.timestamp(), t - 3_596);
    assert_eq!(s.get_job(&job).await["cursor"], run["cursor"]);
    for i in 0..5 {
        let r = s.record(&job, "customer", &format!("cus_lost{i}")).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(
            r.body["record"]["email"],
            format!("cus_lost{i}@example.com")
        );
        assert_eq!(
            r.body["record"]["_sync_metadata"]["event_id"],
            format!("evt_lost{i}")
        );
    }
    assert_eq!(s.record(&job, "customer", "cus_ancient").await.status, 404);
    let execs = s.executions(&job).await;
    assert_eq!(sum(&execs, "worker", "applied"), 5);
    assert!(execs.iter().any(|x| x["kind"] == "worker"));
    // The fake saw the key as a Bearer token and created[gt] = the cursor.
    let reqs = s.provider.requests();
    assert!(reqs[0].contains("created[gt]"), "{reqs:?}");
}

#[tokio::test]
async fn a_close_backfill_recovers_lead_events_with_basic_auth() {
    let s = stack().await;
    let base = shared::time::now() - chrono::Duration::minutes(30);
    for i in 0..4 {
        s.provider.add_close(close_event(
            &format!("ev_lost{i}"),
            "lead",
            "updated",
            &format!("lead_{i}"),
            base + chrono::Duration::seconds(i),
        ));
    }
    s.provider.add_close(close_event(
        "ev_del",
        "lead",
        "deleted",
        "lead_0",
        base + chrono::Duration::seconds(10),
    ));
    let job = s.scheduled("close", "rate(30 minutes)").await;
    let exec = s.backfill_now(&job).await;
    s.run_backfills().await;
    s.apply().await;
    let run = s.execution(&job, &exec).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["read"], 5);
    assert_eq!(run["new"], 5);
    for i in 1..4 {
        let r = s.record(&job, "lead", &format!("lead_{i}")).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["record"]["display_name"], format!("Lead lead_{i}"));
    }
    let deleted = s.record(&job, "lead", "lead_0").await;
    assert_eq!(
        deleted.body["record"]["_sync_metadata"]["deleted"], true,
        "{}",
        deleted.body
    );
}

#[tokio::test]
async fn a_backfill_racing_the_same_events_by_webhook_applies_each_once() {
    let s = stack().await;
    let job = s
        .create_job(json!({"name": "Stripe", "source": "stripe",
            "webhookConfig": {"signingSecret": STRIPE_SECRET},
            "backfill": {"schedule": "rate(1 hour)", "apiKey": API_KEY}}))
        .await;
    let job = job["id"].as_str().unwrap().to_owned();
    let t = now();
    let events: Vec<Value> = (0..12)
        .map(|i| {
            stripe_event(
                &format!("evt_race{i}"),
                "customer.updated",
                &format!("cus_race{i}"),
                t - 120 + i,
            )
        })
        .collect();
    for e in &events {
        s.provider.add_stripe(e.clone());
    }
    // A third arrived by webhook before; the rest arrive while the backfill runs.
    for e in &events[..4] {
        assert_eq!(s.post_webhook(&job, e).await.status, 200);
    }
    let exec = s.backfill_now(&job).await;
    let webhooks = async {
        for e in &events[4..] {
            let r = s.post_webhook(&job, e).await;
            assert_eq!(r.status, 200, "{}", r.body);
        }
    };
    let (_, runs) = tokio::join!(webhooks, s.run_backfills());
    assert_eq!(runs, 1);
    s.apply().await;

    let run = s.execution(&job, &exec).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    let (read, new, dup) = (
        run["read"].as_u64().unwrap(),
        run["new"].as_u64().unwrap(),
        run["duplicates"].as_u64().unwrap(),
    );
    assert_eq!(read, 12);
    assert_eq!(new + dup, read);
    assert!(dup >= 4, "the 4 posted first are duplicates: {run}");
    let stored = s.events(&job).await;
    assert_eq!(stored.len(), 12, "one stored event per provider event");
    for e in &stored {
        assert_eq!(e["status"], "processed", "{e}");
        assert_eq!(e["attempts"], 1, "applied once: {e}");
    }
    assert_eq!(sum(&s.executions(&job).await, "worker", "applied"), 12);
}

#[tokio::test]
async fn a_backfill_pages_across_more_than_100_events() {
    let s = stack().await;
    let t = now();
    for i in 0..230 {
        s.provider.add_stripe(stripe_event(
            &format!("evt_page{i:03}"),
            "customer.updated",
            &format!("cus_page{i:03}"),
            t - 5_000 + i,
        ));
    }
    let job = s.scheduled("stripe", "rate(1 hour)").await;
    let exec = s.backfill_now(&job).await;
    s.run_backfills().await;
    let run = s.execution(&job, &exec).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["read"], 230);
    assert_eq!(run["new"], 230);
    let reqs = s.provider.requests();
    assert_eq!(reqs.len(), 3, "100 + 100 + 30: {reqs:?}");
    assert!(reqs[1].contains("starting_after") && reqs[2].contains("starting_after"));
    let stats = s.api.get(&s.job_path(&job, "/webhook/stats")).await;
    assert_eq!(stats.body["stats"]["total"], 230, "{}", stats.body);
    assert_eq!(
        shared::time::parse(run["cursor"].as_str().unwrap())
            .unwrap()
            .timestamp(),
        t - 5_000 + 229
    );
}

#[tokio::test]
async fn a_provider_401_fails_the_run_and_leaves_the_cursor() {
    let s = stack().await;
    s.provider.add_stripe(stripe_event(
        "evt_k1",
        "customer.updated",
        "cus_k1",
        now() - 60,
    ));
    let job = s.scheduled("stripe", "rate(1 hour)").await;
    let cursor = s.get_job(&job).await["cursor"].clone();
    s.provider.answer_with(401);
    let exec = s.backfill_now(&job).await;
    s.run_backfills().await;
    let run = s.execution(&job, &exec).await;
    assert_eq!(run["status"], "failed", "{run}");
    let error = run["error"].as_str().unwrap();
    assert!(
        error.contains("rejected the apiKey") && error.contains("401"),
        "{error}"
    );
    assert!(!error.contains(API_KEY));
    assert_eq!(run["read"], 0);
    assert_eq!(s.get_job(&job).await["cursor"], cursor);
    assert!(s.events(&job).await.is_empty());

    // 5xx: same, and a clear message.
    s.provider.answer_with(503);
    let exec = s.backfill_now(&job).await;
    s.run_backfills().await;
    let run = s.execution(&job, &exec).await;
    assert_eq!(run["status"], "failed");
    assert!(run["error"].as_str().unwrap().contains("503"), "{run}");
    assert_eq!(s.get_job(&job).await["cursor"], cursor);

    // Once the key works, the next run reads from the same cursor.
    s.provider.answer_with(0);
    let exec = s.backfill_now(&job).await;
    s.run_backfills().await;
    let run = s.execution(&job, &exec).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["new"], 1);
}

#[tokio::test]
async fn a_provider_timeout_fails_the_run_within_the_timeout() {
    let s = stack_with(|c| c.provider_timeout = Duration::from_millis(300)).await;
    let job = s.scheduled("close", "rate(1 hour)").await;
    let cursor = s.get_job(&job).await["cursor"].clone();
    s.provider.hang(3_000);
    let exec = s.backfill_now(&job).await;
    let started = std::time::Instant::now();
    s.run_backfills().await;
    let run = s.execution(&job, &exec).await;
    assert_eq!(run["status"], "failed", "{run}");
    assert!(
        run["error"].as_str().unwrap().contains("timed out"),
        "{run}"
    );
    assert!(
        run["durationMs"].as_u64().unwrap() < 2_500,
        "the run gave up on the provider's timeout, not its answer: {run}"
    );
    assert!(started.elapsed() < Duration::from_secs(15));
    assert_eq!(s.get_job(&job).await["cursor"], cursor);
}

#[tokio::test]
async fn the_scheduler_enqueues_only_due_jobs_once() {
    let s = stack().await;
    let five = s.scheduled("stripe", "rate(5 minutes)").await;
    let _hourly = s.scheduled("stripe", "rate(1 hour)").await;
    let off = s
        .create_job(
            json!({"name": "off", "type": "scheduled", "source": "close", "enabled": false,
            "schedule": "rate(5 minutes)", "apiKey": API_KEY}),
        )
        .await;
    let off = off["id"].as_str().unwrap().to_owned();
    let plain = s
        .create_job(json!({"name": "plain", "source": "stripe",
            "webhookConfig": {"signingSecret": STRIPE_SECRET}}))
        .await;
    let _ = plain;

    // The first run comes one interval after creation: nothing is due yet.
    let summary = backfill_scheduler::tick(&s.app).await.unwrap();
    assert_eq!(summary.enqueued, 0, "{summary:?}");

    let at = now() + 301;
    let summary = shared::inbound::backfill::schedule_due_at(&s.app, at)
        .await
        .unwrap();
    assert_eq!(
        (summary.due, summary.enqueued, summary.skipped),
        (2, 1, 1),
        "{summary:?}"
    );
    // Claimed: a second scheduler at the same time queues nothing.
    let again = shared::inbound::backfill::schedule_due_at(&s.app, at)
        .await
        .unwrap();
    assert_eq!(again.enqueued, 0);

    let msgs = s
        .sqs
        .receive_message()
        .queue_url(&s.delivery_url)
        .max_number_of_messages(10)
        .wait_time_seconds(1)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default();
    assert_eq!(msgs.len(), 1);
    let env: QueueEnvelope = serde_json::from_str(msgs[0].body().unwrap()).unwrap();
    let QueueMessage::Backfill {
        ref job_id,
        leased,
        ref execution_id,
        ..
    } = env.message
    else {
        panic!("not a backfill message: {env:?}")
    };
    assert_eq!(job_id, &five);
    assert!(!leased);
    // The queued run, as the delivery worker runs it: it takes the lease itself.
    s.provider.add_stripe(stripe_event(
        "evt_sched",
        "customer.updated",
        "cus_sched",
        now() - 30,
    ));
    shared::inbound::backfill::run(&s.app, &s.ws, job_id, execution_id, leased)
        .await
        .unwrap();
    let run = s.execution(&five, execution_id).await;
    assert_eq!(run["trigger"], "schedule", "{run}");
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["new"], 1);
    let next = s.get_job(&five).await["nextRunAt"].clone();
    assert_eq!(
        shared::time::parse(next.as_str().unwrap())
            .unwrap()
            .timestamp(),
        at + 300
    );
    let _ = off;
}

#[tokio::test]
async fn a_scheduled_run_is_skipped_while_a_manual_one_holds_the_job() {
    let s = stack().await;
    let job = s.scheduled("stripe", "rate(5 minutes)").await;
    let manual = s.backfill_now(&job).await;
    // A scheduled run arriving meanwhile finds the lease taken and does nothing.
    shared::inbound::backfill::run(
        &s.app,
        &s.ws,
        &job,
        "jex_01hscheduled000000000000000",
        false,
    )
    .await
    .unwrap();
    let execs = s.executions(&job).await;
    assert_eq!(execs.len(), 1, "{execs:?}");
    assert_eq!(execs[0]["id"], manual.as_str());
    s.run_backfills().await;
    let run = s.execution(&job, &manual).await;
    assert_eq!(run["status"], "succeeded");
    assert_eq!(run["trigger"], "manual");
}
