//! Worker CPU per record over the fakes: an SQS batch of 10 messages, each reading its stored
//! Stripe event, parsing and mapping it, writing the record conditionally and marking the
//! event processed, plus the execution record of the write group. Reported per record.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use serde_json::json;
use shared::config::Config;
use shared::inbound::apply::SyncWorker;
use shared::inbound::domain::{InboundMessage, Source};
use shared::sqs_runner::event_from_bodies;

const BATCH: u64 = 10;

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let (app, _store, _queue) = shared_testkit::in_memory_app(Config::for_tests("t", "q"));
    let job = rt.block_on(async {
        let (ws, _key) = shared_testkit::harness::workspace(&app, "bench").await;
        let job = shared_testkit::provider_events::sync_job(&ws, Source::Stripe);
        app.sync_jobs.create_sync_job(&job).await.unwrap();
        job
    });
    let worker = SyncWorker::new(app.clone()).quiet();
    let now = shared::time::now();
    let mut n = 0u64;
    let mut g = c.benchmark_group("sync_worker");
    g.throughput(Throughput::Elements(BATCH));
    g.bench_function("apply_stripe_records_batch_of_10_fake_store", |b| {
        b.to_async(&rt).iter_batched(
            || {
                // Fresh pending events (setup is not timed).
                let bodies: Vec<(String, String)> = (0..BATCH)
                    .map(|_| {
                        n += 1;
                        let ev = shared_testkit::fixtures::inbound_event(
                            &job.workspace_id,
                            &job.id,
                            &shared::inbound::domain::monotonic_id(shared::ids::INBOUND_EVENT),
                            &format!("evt_{n}"),
                            json!({
                                "id": format!("evt_{n}"), "object": "event", "created": 1_700_000_000 + n,
                                "type": "customer.updated", "livemode": false,
                                "data": { "object": {
                                    "id": format!("cus_{}", n % 500), "object": "customer",
                                    "email": "ada@example.com", "name": "Ada Lovelace",
                                    "balance": 0, "currency": "usd", "delinquent": false,
                                    "metadata": { "plan": "pro" }, "created": 1_690_000_000,
                                } },
                            })
                            .to_string(),
                        );
                        futures::executor::block_on(app.inbound_events.insert_event(&ev, now.timestamp()))
                            .unwrap();
                        let msg = serde_json::to_string(&InboundMessage {
                            workspace_id: ev.workspace_id,
                            job_id: ev.job_id,
                            provider_event_id: ev.provider_event_id,
                            event_id: ev.id,
                        })
                        .unwrap();
                        (format!("m{n}"), msg)
                    })
                    .collect();
                bodies
            },
            |bodies| {
                let worker = &worker;
                async move {
                    let refs: Vec<(&str, &str, u32)> =
                        bodies.iter().map(|(a, b)| (a.as_str(), b.as_str(), 1)).collect();
                    let resp = worker.run(event_from_bodies(&refs)).await;
                    assert!(resp.batch_item_failures.is_empty());
                }
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
