//! CPU cost of the inbound receiver:
//! - `verify_and_parse_stripe_3kib`: Stripe signature check on the raw bytes + reading the
//!   event's id and type from a ~3 KiB Stripe event (what happens before anything is stored);
//! - `receiver_handler_in_process`: the whole public route in-process over the fakes
//!   (routing, body read, job read, verify, parse, conditional put, enqueue, JSON answer).

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use serde_json::json;
use shared::config::Config;
use shared::inbound::domain::Source;
use shared::inbound::mapping::parse_head;
use shared::inbound::receive::verify;
use shared::queue::QueueName;
use shared_testkit::fixtures::sync_job;
use shared_testkit::harness::call_raw;

const SECRET: &str = "whsec_bench_0123456789abcdefghij";

/// A realistic `customer.subscription.updated` event of about 3 KiB.
fn stripe_event(id: &str, now: i64) -> Vec<u8> {
    let item = |n: u32| {
        json!({
            "id": format!("si_Ox{n}abcdefghij"), "object": "subscription_item", "billing_thresholds": null,
            "created": now, "metadata": {}, "quantity": 1, "subscription": "sub_1OxAbCdEfGhIjKlM",
            "price": { "id": format!("price_1Ox{n}AbCdEf"), "object": "price", "active": true,
                "billing_scheme": "per_unit", "currency": "usd", "livemode": false, "lookup_key": null,
                "nickname": "Pro monthly", "product": "prod_PmAbCdEfGh", "type": "recurring",
                "recurring": { "interval": "month", "interval_count": 1, "usage_type": "licensed" },
                "unit_amount": 4900, "unit_amount_decimal": "4900" },
        })
    };
    json!({
        "id": id, "object": "event", "api_version": "2024-06-20", "created": now,
        "data": {
            "object": {
                "id": "sub_1OxAbCdEfGhIjKlM", "object": "subscription", "application": null,
                "billing_cycle_anchor": now, "cancel_at": null, "cancel_at_period_end": false,
                "collection_method": "charge_automatically", "created": now, "currency": "usd",
                "current_period_end": now + 2_592_000, "current_period_start": now,
                "customer": "cus_PmAbCdEfGhIjKl", "default_payment_method": "pm_1OxAbCdEfGhIjKlM",
                "description": "Pro plan for the Acme Corp workspace, billed monthly; 5 seats; renews automatically unless cancelled before the end of the period. Managed by billing@acme.example.", "discount": null, "ended_at": null,
                "pause_collection": null, "payment_settings": { "payment_method_options": null, "payment_method_types": ["card"], "save_default_payment_method": "on_subscription" },
                "pending_invoice_item_interval": null, "pending_setup_intent": null, "pending_update": null, "schedule": null, "test_clock": null,
                "automatic_tax": { "enabled": true, "liability": { "type": "self" } }, "cancellation_details": { "comment": null, "feedback": null, "reason": null },
                "items": { "object": "list", "data": [item(1), item(2), item(3)], "has_more": false,
                    "total_count": 2, "url": "/v1/subscription_items?subscription=sub_1OxAbCdEfGhIjKlM" },
                "latest_invoice": "in_1OxAbCdEfGhIjKlM", "livemode": false,
                "metadata": { "plan": "pro", "seats": "5", "workspace": "acme-corp" },
                "status": "active", "trial_end": null, "trial_start": null,
            },
            "previous_attributes": { "status": "trialing", "metadata": { "seats": "3" } },
        },
        "livemode": false, "pending_webhooks": 1,
        "request": { "id": "req_AbCdEfGhIjKlMn", "idempotency_key": "2f6c8b1e-7d4a-4c1b-9a3e-5f2d1c0b9a8e" },
        "type": "customer.subscription.updated",
    })
    .to_string()
    .into_bytes()
}

fn bench(c: &mut Criterion) {
    let now = shared::time::now().timestamp();
    let body = stripe_event("evt_bench", now);
    let job = sync_job("ws_bench", Source::Stripe, SECRET);
    let mut headers = axum::http::HeaderMap::new();
    headers.insert(
        "stripe-signature",
        shared::signing::sign_stripe(SECRET, now, &body)
            .parse()
            .unwrap(),
    );
    let mut g = c.benchmark_group("inbound");
    g.throughput(Throughput::Bytes(body.len() as u64));
    g.bench_function(format!("verify_and_parse_stripe_{}b", body.len()), |b| {
        b.iter(|| {
            verify(&job, &headers, &body, now).unwrap();
            parse_head(Source::Stripe, "", &body).unwrap()
        })
    });
    // The two halves, to see where the time goes.
    g.bench_function(format!("verify_stripe_{}b", body.len()), |b| {
        b.iter(|| verify(&job, &headers, &body, now).unwrap())
    });
    g.bench_function(format!("parse_head_stripe_{}b", body.len()), |b| {
        b.iter(|| parse_head(Source::Stripe, "", &body).unwrap())
    });
    g.finish();

    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let (app, _store, queue) = shared_testkit::in_memory_app(Config::for_tests("t", "q"));
    let (router, path, ws, job_id) = rt.block_on(async {
        let (ws, _key) = shared_testkit::harness::workspace(&app, "bench").await;
        let job = sync_job(&ws, Source::Stripe, SECRET);
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
                let body = stripe_event(&format!("evt_{n}"), now);
                let sig = shared::signing::sign_stripe(SECRET, now, &body);
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
                            ("stripe-signature", &sig),
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
