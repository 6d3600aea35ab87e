//! Outbound webhooks: deliver throughput against a local target — ten delivery records as one
//! SQS batch (run concurrently by the batch runner) versus one at a time. (The cost of signing
//! an attempt is measured on real delivery bodies in
//! `functions/inbound-receiver/benches/signatures.rs`, `sign_delivery`.)
//! Storage is the in-memory fake (moto timings say nothing about DynamoDB, DESIGN §7); the
//! HTTP calls are real, to a loopback axum server.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use serde_json::json;
use shared::config::Config;
use shared::outbox::DomainEvent;
use shared::queue::{QueueEnvelope, QueueMessage};
use shared::sqs_runner::event_from_bodies;
use shared::subscriptions::{payload_body, Delivery};

/// Starts a loopback target that answers 200 after `latency`; returns its URL.
async fn target(latency: std::time::Duration) -> String {
    let app = axum::Router::new().fallback(move || async move {
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        "ok"
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    url
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
            let url = target(latency).await;
            let sub = shared_testkit::fixtures::subscription(
                &ws,
                json!({ "name": "bench", "url": url, "events": ["*"] }),
            );
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
                        let records: Vec<(String, &str, u32)> = bodies
                            .iter()
                            .enumerate()
                            .map(|(i, b)| (format!("m{i}"), b.as_str(), 1))
                            .collect();
                        let refs: Vec<(&str, &str, u32)> = records
                            .iter()
                            .map(|(a, b, c)| (a.as_str(), *b, *c))
                            .collect();
                        let r = runner.run(event_from_bodies(&refs)).await;
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
                            let r = runner
                                .run(event_from_bodies(&[("m", body.as_str(), 1)]))
                                .await;
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

criterion_group!(benches, throughput);
criterion_main!(benches);
