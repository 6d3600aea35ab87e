//! CPU cost of the inbound receiver:
//! - `verify_and_parse_stripe_3KiB`: Stripe signature check on the raw bytes + reading the
//!   event's id and type from the ~3 KiB Stripe event the peers also verify
//!   (`shared_testkit::provider_events::STRIPE_EVENT`; what happens before anything is stored);
//! - `parse_head_serde_stripe_3KiB`: the typed serde read the fast pass replaced, for the ratio;
//! - `receiver_handler_in_process`: the whole public route in-process over the fakes
//!   (routing, body read, job read, verify, parse, conditional put, enqueue, JSON answer).

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use shared::config::Config;
use shared::inbound::domain::Source;
use shared::inbound::mapping::{parse_head, parse_head_serde};
use shared::inbound::receive::verify;
use shared::queue::QueueName;
use shared_testkit::harness::call_raw;
use shared_testkit::provider_events;

fn bench(c: &mut Criterion) {
    let now = shared::time::now().timestamp();
    let body = provider_events::STRIPE_EVENT.as_bytes();
    let job = provider_events::sync_job("ws_bench", Source::Stripe);
    let headers =
        provider_events::header_map(&provider_events::signed_headers(Source::Stripe, body, now));
    verify(&job, &headers, body, now).expect("the fixture's signature verifies");
    let mut g = c.benchmark_group("inbound");
    g.throughput(Throughput::Bytes(body.len() as u64));
    g.bench_function("verify_and_parse_stripe_3KiB", |b| {
        b.iter(|| {
            verify(&job, &headers, body, now).unwrap();
            parse_head(Source::Stripe, "", body).unwrap()
        })
    });
    // The two halves, to see where the time goes.
    g.bench_function("verify_stripe_3KiB", |b| {
        b.iter(|| verify(&job, &headers, body, now).unwrap())
    });
    g.bench_function("parse_head_stripe_3KiB", |b| {
        b.iter(|| parse_head(Source::Stripe, "", body).unwrap())
    });
    // The typed serde read the fast pass replaced (still its fallback), in the same run.
    g.bench_function("parse_head_serde_stripe_3KiB", |b| {
        b.iter(|| parse_head_serde(Source::Stripe, "", body).unwrap())
    });
    g.finish();

    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let (app, _store, queue) = shared_testkit::in_memory_app(Config::for_tests("t", "q"));
    let (router, path, ws, job_id) = rt.block_on(async {
        let (ws, _key) = shared_testkit::harness::workspace(&app, "bench").await;
        let job = provider_events::sync_job(&ws, Source::Stripe);
        app.sync_jobs.create_sync_job(&job).await.unwrap();
        (
            inbound_receiver::router(app.clone()),
            format!("/api/webhooks/{ws}/{}", job.id),
            ws,
            job.id,
        )
    });
    let mut n = 0u64;
    c.bench_function("receiver_handler_in_process_fake_store", |b| {
        b.to_async(&rt).iter_batched(
            || {
                n += 1;
                if n.is_multiple_of(1024) {
                    // Keep the fake store small (outside the timing): without this it grows by
                    // 3 KiB per iteration and its rehashing becomes the noise being measured.
                    queue.drain(QueueName::Inbound);
                    // The fake never awaits I/O, so a plain executor runs it inside the runtime.
                    while futures::executor::block_on(
                        app.records.purge_job_data(&ws, &job_id, 1000),
                    )
                    .unwrap()
                        > 0
                    {}
                }
                let body = provider_events::stripe_event_with_id(&format!("evt_{n:022}"));
                let sig = provider_events::signed_headers(Source::Stripe, &body, now);
                (body, sig)
            },
            |(body, sig)| {
                let router = router.clone();
                let path = path.clone();
                async move {
                    let r = call_raw(
                        &router,
                        "POST",
                        &path,
                        &[
                            ("content-type", "application/json"),
                            ("stripe-signature", &sig[0].1),
                        ],
                        body,
                    )
                    .await;
                    assert_eq!(r.status, 200);
                }
            },
            BatchSize::SmallInput,
        )
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
