//! CPU cost of reconcile per exam over the in-memory fakes (no network): the walk, the
//! consistent count, the comparison, the conditional fix and the queued sync.
//! Per-exam cost = reported time / EXAMS.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use shared::bookings::ports::NewBooking;
use shared::bookings::{Booking, BookingStatus, ExamInput, QrCode};
use shared::config::Config;
use shared::queue::QueueName;
use shared::App;

const EXAMS: usize = 1000;
const BOOKINGS_PER_EXAM: usize = 3;

async fn seed(app: &App) -> String {
    let (ws, _key) = shared_testkit::harness::workspace(app, "bench").await;
    let now = shared::time::now_string();
    for e in 0..EXAMS {
        let exam = format!("exam-{e:05}");
        let input = ExamInput {
            name: "Mock".into(),
            capacity: 100,
            exam_date: None,
        };
        app.bookings
            .put_exam(&ws, &exam, &input, &now)
            .await
            .expect("exam");
        for c in 0..BOOKINGS_PER_EXAM {
            let booking = Booking {
                id: shared::ids::new_id("bk"),
                mock_exam_id: exam.clone(),
                contact_id: Some(format!("c{c}")),
                status: BookingStatus::Active,
                created_at: now.clone(),
                updated_at: None,
                cancelled_at: None,
                completed_at: None,
                qr_code: QrCode {
                    id: shared::ids::new_id("qr"),
                    code: "C".into(),
                    scanned_at: None,
                    scanned_by: None,
                    validated_at: None,
                },
            };
            let outbox = shared::bookings::events::counter_change_outbox(&ws, &exam, vec![], &now);
            app.bookings
                .create_booking(&NewBooking {
                    workspace_id: ws.clone(),
                    booking,
                    idempotency: None,
                    outbox,
                    now: now.clone(),
                })
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
    group.throughput(Throughput::Elements(EXAMS as u64));
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
