//! Outbound webhooks: the cost of signing an attempt (Standard Webhooks + legacy headers) for
//! 1 KiB and 64 KiB bodies, and deliver throughput against a local target — ten delivery
//! records as one SQS batch (run concurrently by the batch runner) versus one at a time.
//! Storage is the in-memory fake (moto timings say nothing about DynamoDB, DESIGN §7); the
//! HTTP calls are real, to a loopback axum server.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use serde_json::json;
use shared::config::Config;
use shared::outbox::DomainEvent;
use shared::queue::{QueueEnvelope, QueueMessage};
use shared::signing::{outbound_headers, WebhookSecret};
use shared::subscriptions::{payload_body, Delivery};
use shared_testkit::memory::sqs_event;

fn signing(c: &mut Criterion) {
    let secret = WebhookSecret::generate();
    let previous = WebhookSecret::generate();
    let mut group = c.benchmark_group("sign_attempt");
    for size in [1024usize, 64 * 1024] {
        let body = vec![b'x'; size];
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_function(format!("{}KiB", size / 1024), |b| {
            b.iter(|| {
                outbound_headers(
                    &secret,
                    None,
                    "dlv_01jf0000000000000000000000",
                    "booking.created",
                    1_700_000_000,
                    std::hint::black_box(&body),
                )
            })
        });
        group.bench_function(format!("{}KiB_during_rotation", size / 1024), |b| {
            b.iter(|| {
                outbound_headers(
                    &secret,
                    Some(&previous),
                    "dlv_01jf0000000000000000000000",
                    "booking.created",
                    1_700_000_000,
                    std::hint::black_box(&body),
                )
            })
        });
    }
    group.finish();
}

/// Starts a loopback target that answers 200 after `latency`; returns its URL.
async fn target(latency: std::time::Duration) -> String {
    let app = axum::Router::new().fallback(move || async move {
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        "ok"
    });
    format!("http://{}/hook", shared_testkit::targets::serve(app).await)
}

fn throughput(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let (app, _store, _queue) = shared_testkit::in_memory_app(Config::for_tests("t", "q"));
    let runner = delivery_worker::runner(app.clone());
    let ws = rt.block_on(async { shared_testkit::harness::workspace(&app, "bench").await.0 });
    for (label, latency, samples) in [
        ("loopback_target", std::time::Duration::ZERO, 100),
        ("target_20ms", std::time::Duration::from_millis(20), 10),
    ] {
        let sub_id = rt.block_on(async {
            let body = json!({ "name": "bench", "url": target(latency).await, "events": ["*"] });
            let sub = shared_testkit::fixtures::subscription(&ws, body);
            app.subscriptions
                .create_subscription(&sub)
                .await
                .expect("subscription");
            sub.id
        });
        // Ten fresh pending deliveries (~700-byte booking payloads) and their queue messages.
        let make_batch = || {
            rt.block_on(async {
                let mut bodies = Vec::with_capacity(10);
                for _ in 0..10 {
                    let event = DomainEvent::new(
                        "booking.created",
                        json!({ "booking": { "id": shared::ids::new_id("bk"), "mockExamId": "40577087837",
                            "contactId": "contact-1", "status": "active", "qrCode": { "code": "X".repeat(26) } },
                            "user": null }),
                        &shared::time::now_string(),
                    );
                    let payload = payload_body(&ws, &event, "api").expect("payload");
                    let d = Delivery::pending(&ws, &sub_id, &event, payload, shared::time::now(), 30);
                    app.deliveries.create_delivery(&d).await.expect("delivery");
                    bodies.push(
                        serde_json::to_string(&QueueEnvelope::now(QueueMessage::Delivery {
                            workspace_id: ws.clone(),
                            delivery_id: d.id,
                        }))
                        .expect("json"),
                    );
                }
                bodies
            })
        };
        let mut group = c.benchmark_group(format!("deliver_10_deliveries_{label}"));
        group.throughput(Throughput::Elements(10));
        group.sample_size(samples);
        group.bench_function("one_batch_of_10", |b| {
            b.iter_batched(
                make_batch,
                |bodies| {
                    rt.block_on(async {
                        let r = runner.run(sqs_event(&bodies, 1)).await;
                        assert!(r.batch_item_failures.is_empty());
                    })
                },
                BatchSize::PerIteration,
            )
        });
        group.bench_function("one_at_a_time", |b| {
            b.iter_batched(
                make_batch,
                |bodies| {
                    rt.block_on(async {
                        for body in &bodies {
                            let r = runner.run(sqs_event([body], 1)).await;
                            assert!(r.batch_item_failures.is_empty());
                        }
                    })
                },
                BatchSize::PerIteration,
            )
        });
        group.finish();
    }
}

criterion_group!(benches, signing, throughput);
criterion_main!(benches);
