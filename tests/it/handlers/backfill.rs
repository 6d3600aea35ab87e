//! Scheduled jobs and backfills (DESIGN §8) through the sync-jobs API over the fakes: creating
//! `type:"scheduled"` jobs and a webhook job's `backfill`, validation naming each field, the
//! write-only apiKey, `POST …/backfill` (202, 409 while one runs, 400 without an apiKey) and
//! the runs listed beside the worker's executions.

use serde_json::{json, Value};
use shared::queue::{QueueEnvelope, QueueMessage, QueueName};
use shared_testkit::harness::{Reply, TestApp};
use shared_testkit::targets::providers::{stripe_event, ProviderApi};

const API_KEY: &str = "sk_test_backfill_handler_key_51";

struct Env {
    t: TestApp,
}

shared_testkit::deref_test_app!(Env);

async fn env() -> Env {
    Env {
        t: TestApp::new().await.serve(sync_jobs_api::router),
    }
}

/// Over a local Stripe/Close stand-in.
async fn env_with(api: &ProviderApi) -> Env {
    let mut config = shared::config::Config::for_tests("t", "q");
    config.stripe_api_base = api.url.clone();
    config.close_api_base = api.url.clone();
    Env {
        t: TestApp::with_config(config)
            .await
            .serve(sync_jobs_api::router),
    }
}

impl Env {
    fn jobs(&self) -> String {
        format!("/api/workspaces/{}/sync-jobs", self.ws)
    }

    async fn create(&self, body: Value) -> Reply {
        self.post(&self.jobs(), body).await
    }

    async fn scheduled(&self, schedule: &str) -> String {
        let r = self
            .create(
                json!({"name": "Stripe pull", "type": "scheduled", "source": "stripe",
                "schedule": schedule, "apiKey": API_KEY}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        r.str_at("/syncJob/id")
    }

    async fn backfill(&self, job: &str) -> Reply {
        self.post(&format!("{}/{job}/backfill", self.jobs()), None)
            .await
    }

    /// Runs the queued backfill messages as the delivery worker would.
    async fn run_queued(&self) -> usize {
        let msgs = self.queue.drain(QueueName::Delivery);
        let mut n = 0;
        for (body, _) in msgs {
            let env: QueueEnvelope = serde_json::from_str(&body).unwrap();
            if let QueueMessage::Backfill {
                workspace_id,
                job_id,
                execution_id,
                leased,
            } = env.message
            {
                shared::inbound::backfill::run(
                    &self.app,
                    &workspace_id,
                    &job_id,
                    &execution_id,
                    leased,
                )
                .await
                .unwrap();
                n += 1;
            }
        }
        n
    }

    async fn executions(&self, job: &str) -> Vec<Value> {
        let r = self
            .get(&format!("{}/{job}/webhook/executions", self.jobs()))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["executions"].as_array().unwrap().clone()
    }
}

fn assert_400_naming(r: &Reply, field: &str) {
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.body["error"]["code"], "validation_error");
    assert!(
        r.error_message().contains(field),
        "message should name {field}: {}",
        r.error_message()
    );
}

#[tokio::test]
async fn a_scheduled_job_is_created_with_its_schedule_and_never_shows_the_api_key() {
    let e = env().await;
    let r = e
        .create(
            json!({"name": "Stripe pull", "type": "scheduled", "source": "stripe",
            "schedule": "rate(15 minutes)", "apiKey": API_KEY}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let job = &r.body["syncJob"];
    assert_eq!(job["type"], "scheduled");
    assert_eq!(job["schedule"], "rate(15 minutes)");
    assert_eq!(job["hasApiKey"], true);
    assert!(job.get("apiKey").is_none());
    assert!(
        job.get("webhookUrl").is_none(),
        "nothing posts to a scheduled job"
    );
    // Enabled by default without a signing secret: it pulls with its apiKey.
    assert_eq!(job["enabled"], true);
    // First run one interval after creation; cursor 24 h before creation.
    let created = shared::time::parse(job["createdAt"].as_str().unwrap()).unwrap();
    let next = shared::time::parse(job["nextRunAt"].as_str().unwrap()).unwrap();
    let gap = (next - created).num_seconds();
    assert!(
        (899..=901).contains(&gap),
        "next run {gap} s after creation"
    );
    let cursor = shared::time::parse(job["cursor"].as_str().unwrap()).unwrap();
    let back = (created - cursor).num_seconds();
    assert!(
        (86_399..=86_401).contains(&back),
        "cursor {back} s before creation"
    );

    let id = job["id"].as_str().unwrap();
    let got = e.get(&format!("{}/{id}", e.jobs())).await;
    let listed = e.get(&e.jobs()).await;
    let patched = e
        .patch(&format!("{}/{id}", e.jobs()), json!({"name": "renamed"}))
        .await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    assert_eq!(patched.body["syncJob"]["schedule"], "rate(15 minutes)");
    let started = e.backfill(id).await;
    for reply in [&r, &got, &listed, &patched, &started] {
        assert!(
            !reply.body.to_string().contains(API_KEY),
            "the apiKey leaked: {}",
            reply.body
        );
    }
    assert_eq!(listed.body["syncJobs"][0]["hasApiKey"], true);
}

#[tokio::test]
async fn schedules_are_checked_like_eventbridge_and_name_the_field() {
    let e = env().await;
    for bad in [
        "rate(4 minutes)",
        "rate(1 minutes)",
        "rate(5 minute)",
        "rate(2 hour)",
        "cron(0 12 * * ? *)",
        "every 5 minutes",
        "rate(0 days)",
    ] {
        let r = e
            .create(json!({"name": "x", "type": "scheduled", "source": "close",
                "schedule": bad, "apiKey": API_KEY}))
            .await;
        assert_400_naming(&r, "schedule");
    }
    let r = e
        .create(json!({"name": "x", "type": "scheduled", "source": "stripe",
            "schedule": "rate(4 minutes)", "apiKey": API_KEY}))
        .await;
    assert!(
        r.error_message().contains("5 minutes"),
        "{}",
        r.error_message()
    );
    for ok in [
        "rate(5 minutes)",
        "rate(1 hour)",
        "rate(1 day)",
        "rate(7 days)",
    ] {
        let r = e
            .create(json!({"name": "x", "type": "scheduled", "source": "stripe",
                "schedule": ok, "apiKey": API_KEY}))
            .await;
        assert_eq!(r.status, 201, "{ok}: {}", r.body);
    }
}

#[tokio::test]
async fn a_scheduled_job_needs_stripe_or_close_a_schedule_and_an_api_key() {
    let e = env().await;
    let r = e
        .create(
            json!({"name": "x", "type": "scheduled", "source": "generic",
            "schedule": "rate(5 minutes)", "apiKey": API_KEY}),
        )
        .await;
    assert_400_naming(&r, "source");
    let r = e
        .create(json!({"name": "x", "type": "scheduled", "source": "stripe", "apiKey": API_KEY}))
        .await;
    assert_400_naming(&r, "schedule");
    let r = e
        .create(json!({"name": "x", "type": "scheduled", "source": "stripe",
            "schedule": "rate(5 minutes)"}))
        .await;
    assert_400_naming(&r, "apiKey");
    let r = e
        .create(json!({"name": "x", "type": "scheduled", "source": "stripe",
            "schedule": "rate(5 minutes)", "apiKey": "has a space"}))
        .await;
    assert_400_naming(&r, "apiKey");
    let r = e
        .create(json!({"name": "x", "type": "nightly", "source": "stripe"}))
        .await;
    assert_400_naming(&r, "type");
    // Nothing half-created.
    let list = e.get(&e.jobs()).await;
    assert_eq!(list.body["syncJobs"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn backfill_from_must_be_rfc3339_within_thirty_days_and_not_in_the_future() {
    let e = env().await;
    let now = shared::time::now();
    let body = |from: String| {
        json!({"name": "x", "type": "scheduled", "source": "stripe",
            "schedule": "rate(1 hour)", "apiKey": API_KEY, "backfillFrom": from})
    };
    let r = e
        .create(body(shared::time::format(now - chrono::Duration::days(31))))
        .await;
    assert_400_naming(&r, "backfillFrom");
    assert!(
        r.error_message().contains("30 days"),
        "{}",
        r.error_message()
    );
    let r = e
        .create(body(shared::time::format(now + chrono::Duration::hours(2))))
        .await;
    assert_400_naming(&r, "backfillFrom");
    let r = e.create(body("last tuesday".into())).await;
    assert_400_naming(&r, "backfillFrom");
    let from = shared::time::format(now - chrono::Duration::days(29));
    let r = e.create(body(from.clone())).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(
        shared::time::parse(r.body["syncJob"]["cursor"].as_str().unwrap()),
        shared::time::parse(&from)
    );
}

#[tokio::test]
async fn a_webhook_job_carries_backfill_schedule_and_api_key() {
    let e = env().await;
    let r = e
        .create(json!({"name": "Stripe", "source": "stripe",
            "webhookConfig": {"signingSecret": "whsec_abc"},
            "backfill": {"schedule": "rate(1 hour)", "apiKey": API_KEY}}))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let job = &r.body["syncJob"];
    assert_eq!(job["type"], "webhook");
    assert_eq!(job["backfill"]["schedule"], "rate(1 hour)");
    assert_eq!(job["backfill"]["hasApiKey"], true);
    assert!(job["webhookUrl"].as_str().unwrap().starts_with("http"));
    assert!(!r.body.to_string().contains(API_KEY));
    let id = job["id"].as_str().unwrap();

    // PATCH changes only what it names; null removes the backfill.
    let p = e
        .patch(
            &format!("{}/{id}", e.jobs()),
            json!({"backfill": {"schedule": "rate(30 minutes)"}}),
        )
        .await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert_eq!(
        p.body["syncJob"]["backfill"]["schedule"],
        "rate(30 minutes)"
    );
    assert_eq!(p.body["syncJob"]["backfill"]["hasApiKey"], true);
    let bad = e
        .patch(
            &format!("{}/{id}", e.jobs()),
            json!({"backfill": {"schedule": "rate(1 minute)"}}),
        )
        .await;
    assert_400_naming(&bad, "backfill.schedule");
    let p = e
        .patch(&format!("{}/{id}", e.jobs()), json!({"backfill": null}))
        .await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert!(p.body["syncJob"]["backfill"].is_null());
    let r = e.backfill(id).await;
    assert_400_naming(&r, "apiKey");

    // Generic jobs have no event log; top-level schedule/apiKey are for scheduled jobs.
    let r = e
        .create(json!({"name": "g", "source": "generic",
            "backfill": {"schedule": "rate(1 hour)", "apiKey": API_KEY}}))
        .await;
    assert_400_naming(&r, "backfill");
    let r = e
        .create(json!({"name": "s", "source": "stripe", "enabled": false,
            "schedule": "rate(1 hour)", "apiKey": API_KEY}))
        .await;
    assert_400_naming(&r, "backfill");
    let r = e
        .create(json!({"name": "s", "source": "stripe", "enabled": false,
            "backfill": {"apiKey": API_KEY}}))
        .await;
    assert_400_naming(&r, "backfill.schedule");
}

#[tokio::test]
async fn backfill_now_answers_202_then_409_while_it_runs_and_400_without_an_api_key() {
    let e = env().await;
    let id = e.scheduled("rate(1 hour)").await;
    let r = e.backfill(&id).await;
    assert_eq!(r.status, 202, "{}", r.body);
    let exec = r.str_at("/execution/id");
    assert!(exec.starts_with("jex_"), "{exec}");
    assert_eq!(r.body["execution"]["kind"], "backfill");
    assert_eq!(r.body["execution"]["status"], "running");
    let again = e.backfill(&id).await;
    assert_eq!(again.status, 409, "{}", again.body);
    assert_eq!(again.body["error"]["code"], "backfill_running");

    let plain = e
        .create(json!({"name": "w", "source": "stripe", "webhookConfig": {"signingSecret": "whsec_abc"}}))
        .await
        .str_at("/syncJob/id");
    let r = e.backfill(&plain).await;
    assert_400_naming(&r, "apiKey");
    let r = e.backfill("job_01hzzzzzzzzzzzzzzzzzzzzzzz").await;
    assert_eq!(r.status, 404);
    // Disabled jobs do not run.
    let off = e
        .create(
            json!({"name": "off", "type": "scheduled", "source": "close", "enabled": false,
            "schedule": "rate(1 hour)", "apiKey": API_KEY}),
        )
        .await
        .str_at("/syncJob/id");
    assert_eq!(e.backfill(&off).await.status, 409);
}

#[tokio::test]
async fn a_run_is_listed_beside_worker_runs_with_its_counts_and_frees_the_job() {
    let api = ProviderApi::start(API_KEY).await;
    let e = env_with(&api).await;
    let now = shared::time::now().timestamp();
    for i in 0..3 {
        api.add_stripe(stripe_event(
            &format!("evt_h{i}"),
            "customer.updated",
            &format!("cus_h{i}"),
            now - 600 + i,
        ));
    }
    let id = e.scheduled("rate(1 hour)").await;
    let exec = e.backfill(&id).await.str_at("/execution/id");
    assert_eq!(e.run_queued().await, 1);
    let runs = e.executions(&id).await;
    let run = runs.iter().find(|x| x["id"] == exec.as_str()).unwrap();
    assert_eq!(run["kind"], "backfill");
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["read"], 3);
    assert_eq!(run["new"], 3);
    assert_eq!(run["duplicates"], 0);
    assert_eq!(
        shared::time::parse(run["cursor"].as_str().unwrap())
            .unwrap()
            .timestamp(),
        now - 598
    );
    // The lease is released: the next run may start; it re-reads only the cursor's own second
    // (Stripe's one-second `created`), as a duplicate.
    let second = e.backfill(&id).await;
    assert_eq!(second.status, 202, "{}", second.body);
    e.run_queued().await;
    let runs = e.executions(&id).await;
    let latest = runs
        .iter()
        .find(|x| x["id"] == second.body["execution"]["id"])
        .unwrap();
    assert_eq!(latest["new"], 0, "{latest}");
    assert_eq!(latest["duplicates"], 1, "{latest}");
    assert_eq!(latest["read"], 1, "{latest}");
    assert_eq!(latest["cursor"], run["cursor"]);
    assert!(!runs.iter().any(|x| x.to_string().contains(API_KEY)));
}

#[tokio::test]
async fn a_run_failing_on_its_last_receive_is_recorded_failed_and_frees_the_job() {
    let e = env().await;
    let id = e.scheduled("rate(1 hour)").await;
    let started = e.backfill(&id).await;
    let exec = started.str_at("/execution/id");
    let cursor = e.get(&format!("{}/{id}", e.jobs())).await.body["syncJob"]["cursor"].clone();
    let msgs = e.queue.drain(QueueName::Delivery);
    assert_eq!(msgs.len(), 1);
    let env: QueueEnvelope = serde_json::from_str(&msgs[0].0).unwrap();
    assert!(matches!(
        env.message,
        QueueMessage::Backfill { leased: true, .. }
    ));
    shared::inbound::backfill::fail_after_last_receive(&e.app, &env.message).await;
    let runs = e.executions(&id).await;
    let run = runs.iter().find(|x| x["id"] == exec.as_str()).unwrap();
    assert_eq!(run["status"], "failed", "{run}");
    assert_eq!(run["cursor"], cursor);
    assert!(run["error"].as_str().unwrap().contains("same cursor"));
    assert_eq!(e.backfill(&id).await.status, 202, "the lease was released");
}
