//! CPU cost of reconcile per exam over the in-memory fakes (no network): the walk, the
//! consistent count, the comparison, the conditional fix and the queued sync.
//! Per-exam cost = reported time / EXAMS.

use criterion::{criterion_group, criterion_main, Criterion};
use shared::config::Config;
use shared::queue::QueueName;
use shared::App;
use shared_testkit::fixtures;

const EXAMS: usize = 1000;
const BOOKINGS_PER_EXAM: usize = 3;

async fn seed(app: &App) -> String {
    let (ws, _key) = shared_testkit::harness::workspace(app, "bench").await;
    let now = shared::time::now_string();
    for e in 0..EXAMS {
        let exam = format!("exam-{e:05}");
        app.bookings
            .put_exam(&ws, &exam, &fixtures::exam(100), &now)
            .await
            .expect("exam");
        for c in 0..BOOKINGS_PER_EXAM {
            let booking = fixtures::booking(&exam, &format!("c{c}"), &now);
            app.bookings
                .create_booking(&fixtures::new_booking(&ws, booking))
                .await
                .expect("booking");
        }
    }
    ws
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let (app, store, queue) = shared_testkit::in_memory_app(Config::for_tests("t", "q"));
    let ws = rt.block_on(seed(&app));
    // Steady state: counters right and HubSpot up to date (what most hourly runs see).
    rt.block_on(async {
        for e in 0..EXAMS {
            let exam = format!("exam-{e:05}");
            let v = app
                .bookings
                .get_exam(&ws, &exam)
                .await
                .unwrap()
                .unwrap()
                .version;
            app.bookings.mark_synced(&ws, &exam, v).await.unwrap();
        }
    });
    let mut group = c.benchmark_group("reconcile_1000_exams_fake_store");
    group.sample_size(20);
    group.bench_function("in_sync", |b| {
        b.to_async(&rt).iter(|| async {
            let s = shared::bookings::reconcile::run(&app).await.expect("run");
            assert_eq!(s.exams_checked, EXAMS as u64);
            assert_eq!(s.drift_fixed, 0);
        })
    });
    // Worst case: every counter drifted, so every exam is fixed and a sync queued.
    group.bench_function("all_drifted", |b| {
        b.to_async(&rt).iter(|| {
            for e in 0..EXAMS {
                store.set_total_bookings(&ws, &format!("exam-{e:05}"), 99);
            }
            let (app, queue) = (app.clone(), queue.clone());
            async move {
                let s = shared::bookings::reconcile::run(&app).await.expect("run");
                assert_eq!(s.drift_fixed, EXAMS as u64);
                queue.drain(QueueName::Delivery);
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
