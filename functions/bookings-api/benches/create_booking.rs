//! CPU cost of the booking handler in-process over the fakes: routing, auth, JSON parsing,
//! validation, the transaction and the outbox hand-off (no network).

use std::sync::atomic::{AtomicU64, Ordering};

use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::json;
use shared_testkit::harness::TestApp;

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let t = rt.block_on(async {
        let t = TestApp::new().await.serve(bookings_api::router);
        t.put_exam("40577087837", 1_000_000).await;
        t
    });
    let n = AtomicU64::new(0);
    c.bench_function("create_booking_in_process_fake_store", |b| {
        b.to_async(&rt).iter(|| {
            let i = n.fetch_add(1, Ordering::Relaxed);
            let t = &t;
            async move {
                let body = json!({ "mockExamId": "40577087837", "contactId": format!("c-{i}") });
                let r = t.post("/api/bookings", body).await;
                assert_eq!(r.status, 201);
                // Keep the fake queue from growing without bound.
                if i.is_multiple_of(1024) {
                    t.queue.drain(shared::queue::QueueName::Delivery);
                }
            }
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
