//! CPU cost of the booking handler in-process over the fakes: routing, auth, JSON parsing,
//! validation, the transaction and the outbox hand-off (no network).

use std::sync::atomic::{AtomicU64, Ordering};

use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::json;
use shared::config::Config;
use shared_testkit::harness::call;

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let (app, _store, queue) = shared_testkit::in_memory_app(Config::for_tests("t", "q"));
    let (router, key) = rt.block_on(async {
        let (_ws, key) = shared_testkit::harness::workspace(&app, "bench").await;
        let router = bookings_api::router(app.clone());
        let r = call(
            &router,
            "PUT",
            "/api/mock-exams/40577087837",
            Some(&key),
            Some(json!({ "name": "Mock", "capacity": 1_000_000 })),
        )
        .await;
        assert_eq!(r.status, 200);
        (router, key)
    });
    let n = AtomicU64::new(0);
    c.bench_function("create_booking_in_process_fake_store", |b| {
        b.to_async(&rt).iter(|| {
            let i = n.fetch_add(1, Ordering::Relaxed);
            let router = router.clone();
            let key = key.clone();
            let queue = queue.clone();
            async move {
                let r = call(
                    &router,
                    "POST",
                    "/api/bookings",
                    Some(&key),
                    Some(json!({ "mockExamId": "40577087837", "contactId": format!("c-{i}") })),
                )
                .await;
                assert_eq!(r.status, 201);
                // Keep the fake queue from growing without bound.
                if i.is_multiple_of(1024) {
                    queue.drain(shared::queue::QueueName::Delivery);
                }
            }
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
