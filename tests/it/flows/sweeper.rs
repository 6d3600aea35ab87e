//! The outbox sweeper: orphaned outbox records (committed, never handed to SQS) are re-sent
//! exactly once even when two sweeps overlap (fakes and moto); young records are left to the
//! function that wrote them; a failed re-send is retried by the next sweep; stuck `pending`
//! GHL mappings and overdue `pending` webhook deliveries are re-driven once.

use std::collections::BTreeMap;

use serde_json::json;
use shared::bookings::ports::NewBooking;
use shared::bookings::ExamInput;
use shared::calendar::{CalendarEvent, SyncMapping, SyncStatus};
use shared::config::Config;
use shared::outbox::DomainEvent;
use shared::queue::QueueName;
use shared::queue::{QueueEnvelope, QueueMessage};
use shared::App;
use shared_testkit::fixtures::{booking, new_booking};
use shared_testkit::moto::{moto_app, pump_once};
use shared_testkit::targets::webhook::Target;

fn ago(secs: i64) -> String {
    shared::time::format(shared::time::now() - chrono::Duration::seconds(secs))
}

/// A committed booking whose outbox hand-off was lost (the function died after the commit):
/// the record is `created_at` `age_secs` ago and has no `enqueuedAt`. Returns the outbox id.
async fn orphan(app: &App, ws: &str, contact: &str, age_secs: i64) -> String {
    let created = ago(age_secs);
    let booking = booking("e1", contact, &created);
    let event = DomainEvent::new("booking.created", json!({ "id": booking.id }), &created);
    let outbox = shared::bookings::events::counter_change_outbox(ws, "e1", vec![event], &created);
    let id = outbox.id.clone();
    app.bookings
        .create_booking(&NewBooking {
            outbox,
            ..new_booking(ws, booking)
        })
        .await
        .expect("booking");
    id
}

async fn setup(app: &App) -> String {
    let (ws, _) = shared_testkit::harness::workspace(app, "w").await;
    let input = ExamInput {
        name: "Mock".into(),
        capacity: 1000,
        exam_date: None,
    };
    app.bookings
        .put_exam(&ws, "e1", &input, &shared::time::now_string())
        .await
        .unwrap();
    ws
}

/// Messages per outbox record (FanOut carries its id) and the number of counter syncs.
fn tally(bodies: &[String]) -> (BTreeMap<String, usize>, usize) {
    let mut fanouts = BTreeMap::new();
    let mut syncs = 0;
    for b in bodies {
        match serde_json::from_str::<QueueEnvelope>(b).unwrap().message {
            QueueMessage::FanOut { outbox_id, .. } => *fanouts.entry(outbox_id).or_insert(0) += 1,
            QueueMessage::CounterSync { .. } => syncs += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    (fanouts, syncs)
}

/// Whether outbox record `id` is marked as handed to the queue.
async fn enqueued(app: &App, id: &str) -> bool {
    let record = app.outbox.get_outbox(id).await.unwrap().unwrap();
    record.enqueued_at.is_some()
}

fn fake_bodies(queue: &shared_testkit::memory::MemoryQueue) -> Vec<String> {
    queue
        .drain(QueueName::Delivery)
        .into_iter()
        .map(|(b, _)| b)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_orphaned_outbox_record_is_resent_exactly_once_when_two_sweeps_overlap() {
    for _ in 0..10 {
        let (app, _store, queue) = shared_testkit::in_memory_app(Config::for_tests("t", "q"));
        let ws = setup(&app).await;
        let mut ids = Vec::new();
        for c in 0..25 {
            ids.push(orphan(&app, &ws, &format!("c{c}"), 300).await);
        }
        let (a, b) = tokio::join!(
            tokio::spawn({
                let app = app.clone();
                async move { shared::outbox::sweep::run(&app).await.unwrap() }
            }),
            tokio::spawn({
                let app = app.clone();
                async move { shared::outbox::sweep::run(&app).await.unwrap() }
            }),
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(a.outbox_resent + b.outbox_resent, 25, "{a:?} {b:?}");
        assert_eq!(a.outbox_errors + b.outbox_errors, 0);
        // One message per record; its consumer queues the counter sync.
        let (fanouts, syncs) = tally(&fake_bodies(&queue));
        assert_eq!(syncs, 0);
        assert_eq!(fanouts.len(), 25);
        assert!(fanouts.values().all(|n| *n == 1), "{fanouts:?}");
        for id in &ids {
            assert!(enqueued(&app, id).await, "{id}");
        }
        // Nothing left for a third sweep.
        let c = shared::outbox::sweep::run(&app).await.unwrap();
        assert_eq!(c.outbox_resent, 0);
        assert!(queue.drain(QueueName::Delivery).is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_orphaned_outbox_record_is_resent_exactly_once_when_two_sweeps_overlap_on_moto() {
    let m = moto_app().await;
    let ws = setup(&m.app).await;
    let mut ids = Vec::new();
    for c in 0..4 {
        ids.push(orphan(&m.app, &ws, &format!("c{c}"), 300).await);
    }
    let young = orphan(&m.app, &ws, "young", 10).await;
    let (a, b) = tokio::join!(
        shared::outbox::sweep::run(&m.app),
        shared::outbox::sweep::run(&m.app)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.outbox_resent + b.outbox_resent, 4, "{a:?} {b:?}");

    let mut bodies = Vec::new();
    loop {
        let resp = m
            .sqs
            .receive_message()
            .queue_url(&m.delivery_queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        let msgs = resp.messages.unwrap_or_default();
        if msgs.is_empty() {
            break;
        }
        for msg in msgs {
            bodies.push(msg.body().unwrap_or_default().to_owned());
            m.sqs
                .delete_message()
                .queue_url(&m.delivery_queue_url)
                .receipt_handle(msg.receipt_handle().unwrap_or_default())
                .send()
                .await
                .unwrap();
        }
    }
    let (fanouts, syncs) = tally(&bodies);
    assert_eq!(syncs, 0);
    assert_eq!(fanouts.keys().cloned().collect::<Vec<_>>(), {
        let mut v = ids.clone();
        v.sort();
        v
    });
    assert!(fanouts.values().all(|n| *n == 1), "{fanouts:?}");
    for id in &ids {
        assert!(enqueued(&m.app, id).await, "{id}");
    }
    // The 10-second-old record still belongs to the function that wrote it.
    assert!(!enqueued(&m.app, &young).await);
}

#[tokio::test]
async fn records_younger_than_two_minutes_are_left_to_the_committing_function() {
    let (app, _store, queue) = shared_testkit::in_memory_app(Config::for_tests("t", "q"));
    let ws = setup(&app).await;
    let young = orphan(&app, &ws, "c1", 60).await;
    let s = shared::outbox::sweep::run(&app).await.unwrap();
    assert_eq!(s.outbox_resent, 0);
    assert!(queue.drain(QueueName::Delivery).is_empty());
    assert!(!enqueued(&app, &young).await);
}

#[tokio::test]
async fn a_failed_resend_is_retried_by_the_next_sweep() {
    let (app, _store, queue) = shared_testkit::in_memory_app(Config::for_tests("t", "q"));
    let ws = setup(&app).await;
    let id = orphan(&app, &ws, "c1", 300).await;
    queue.fail_next_sends(1);
    let first = shared::outbox::sweep::run(&app).await.unwrap();
    assert_eq!((first.outbox_resent, first.outbox_errors), (0, 1));
    assert!(!enqueued(&app, &id).await);
    queue.drain(QueueName::Delivery);

    let second = shared::outbox::sweep::run(&app).await.unwrap();
    assert_eq!((second.outbox_resent, second.outbox_errors), (1, 0));
    let (fanouts, syncs) = tally(&fake_bodies(&queue));
    assert_eq!((fanouts.len(), syncs), (1, 0));
    assert!(enqueued(&app, &id).await);
}

fn calendar_event(ws: &str, id: &str, at: &str) -> CalendarEvent {
    let body = json!({
        "eventType": "onboarding", "eventTitle": "Onboarding Session", "startDate": "2030-01-15",
        "endDate": "2030-01-15", "startTime": "10:00", "endTime": "11:00", "clientId": 456,
    });
    CalendarEvent {
        id: id.into(),
        created_at: at.into(),
        updated_at: at.into(),
        ..shared_testkit::fixtures::calendar_event(ws, body)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stuck_pending_ghl_mapping_is_redriven_once() {
    let (app, _store, queue) = shared_testkit::in_memory_app(Config::for_tests("t", "q"));
    let (ws, _) = shared_testkit::harness::workspace(&app, "w").await;
    let cases = [
        ("cal_stuck", SyncStatus::Pending, ago(3600)),
        ("cal_fresh", SyncStatus::Pending, ago(30)),
        ("cal_synced", SyncStatus::Synced, ago(3600)),
        ("cal_failed", SyncStatus::Failed, ago(3600)),
    ];
    for (id, status, at) in &cases {
        let event = calendar_event(&ws, id, at);
        let mapping = SyncMapping::new(&event, *status, at);
        app.calendar
            .create_calendar_event(&event, &mapping)
            .await
            .unwrap();
    }
    let (a, b) = tokio::join!(
        shared::outbox::sweep::run(&app),
        shared::outbox::sweep::run(&app)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.mappings_redriven + b.mappings_redriven, 1, "{a:?} {b:?}");
    let redriven: Vec<String> = fake_bodies(&queue)
        .iter()
        .map(
            |body| match serde_json::from_str::<QueueEnvelope>(body).unwrap().message {
                QueueMessage::CalendarSync { event_id, .. } => event_id,
                other => panic!("unexpected {other:?}"),
            },
        )
        .collect();
    assert_eq!(redriven, ["cal_stuck"]);
    // The next sweep (5 minutes later) leaves it to the run it queued.
    let c = shared::outbox::sweep::run(&app).await.unwrap();
    assert_eq!(c.mappings_redriven, 0);
}

#[test]
fn a_mapping_waiting_for_its_backoff_is_not_stuck() {
    let now = shared::time::now();
    let at = shared::time::format(now - chrono::Duration::hours(2));
    let event = calendar_event("ws_1", "cal_1", &at);
    let mut m = SyncMapping::new(&event, SyncStatus::Pending, &at);
    m.attempts = 3;
    m.last_sync_attempt = Some(at.clone());
    // retryDelay 3600 s: the third retry waits up to 4 h × 1.2.
    assert!(!shared::outbox::sweep::is_stuck(&m, 3600, 1.0, now));
    // retryDelay 60 s: it should have run long ago.
    assert!(shared::outbox::sweep::is_stuck(&m, 60, 1.0, now));
}

/// A pending delivery of a fresh `booking.created` event, due `age_secs` ago, with no message.
fn pending_delivery(ws: &str, sub: &str, age_secs: i64) -> shared::subscriptions::Delivery {
    let at = shared::time::now() - chrono::Duration::seconds(age_secs);
    let event = DomainEvent::new("booking.created", json!({}), &shared::time::format(at));
    let payload = shared::subscriptions::payload_body(ws, &event, "api").unwrap();
    shared::subscriptions::Delivery::pending(ws, sub, &event, payload, at, 30)
}

/// A pending delivery whose message was lost an hour ago is queued again by exactly one of two
/// overlapping sweeps and then delivered once; a delivery due just now is left to its message.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_overdue_pending_delivery_is_redriven_once_and_delivered_on_moto() {
    let m = moto_app().await;
    let (ws, key) = shared_testkit::harness::workspace(&m.app, "w").await;
    let target = Target::start().await;
    let hooks = subscriptions_api::router(m.app.clone());
    let r = shared_testkit::harness::call(
        &hooks,
        "POST",
        "/api/admin/webhooks",
        Some(&key),
        Some(json!({ "name": "crm", "url": target.url, "events": ["*"] })),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let sub = r.body["webhook"]["id"].as_str().unwrap().to_owned();
    let (lost, due_now) = (
        pending_delivery(&ws, &sub, 3600),
        pending_delivery(&ws, &sub, 0),
    );
    for d in [&lost, &due_now] {
        assert!(m.app.deliveries.create_delivery(d).await.unwrap());
    }

    let (a, b) = tokio::join!(
        shared::outbox::sweep::run(&m.app),
        shared::outbox::sweep::run(&m.app)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(
        a.deliveries_redriven + b.deliveries_redriven,
        1,
        "{a:?} {b:?}"
    );
    assert_eq!(
        a.deliveries_skipped + b.deliveries_skipped,
        1,
        "{a:?} {b:?}"
    );
    assert_eq!(a.delivery_errors + b.delivery_errors, 0);

    let runner = delivery_worker::runner(m.app.clone());
    let seen = pump_once(&m.sqs, &m.delivery_queue_url, |ev| runner.run(ev)).await;
    assert_eq!(seen, 1);
    let calls = target.requests();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].headers["webhook-id"], lost.id);
    let done = m
        .app
        .deliveries
        .get_delivery(&ws, &lost.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(done.status, shared::subscriptions::DeliveryStatus::Success);
    assert_eq!(done.attempts, 1);
    let untouched = m
        .app
        .deliveries
        .get_delivery(&ws, &due_now.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(untouched.attempts, 0);

    // Delivered: nothing left to re-drive.
    let c = shared::outbox::sweep::run(&m.app).await.unwrap();
    assert_eq!(
        (c.deliveries_redriven, c.deliveries_skipped),
        (0, 0),
        "{c:?}"
    );
    assert_eq!(
        pump_once(&m.sqs, &m.delivery_queue_url, |ev| runner.run(ev)).await,
        0
    );
}

/// Every workspace is swept (several at a time), each overdue delivery queued once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn overdue_deliveries_of_every_workspace_are_redriven() {
    let (app, _store, queue) = shared_testkit::in_memory_app(Config::for_tests("t", "q"));
    let mut expected = Vec::new();
    for w in 0..9 {
        let (ws, _) = shared_testkit::harness::workspace(&app, &format!("w{w}")).await;
        let d = pending_delivery(&ws, "wh_1", 3600);
        assert!(app.deliveries.create_delivery(&d).await.unwrap());
        expected.push((ws, d.id));
    }
    let s = shared::outbox::sweep::run(&app).await.unwrap();
    assert_eq!((s.deliveries_redriven, s.delivery_errors), (9, 0), "{s:?}");
    let mut queued: Vec<(String, String)> = fake_bodies(&queue)
        .iter()
        .map(
            |body| match serde_json::from_str::<QueueEnvelope>(body).unwrap().message {
                QueueMessage::Delivery {
                    workspace_id,
                    delivery_id,
                } => (workspace_id, delivery_id),
                other => panic!("unexpected {other:?}"),
            },
        )
        .collect();
    queued.sort();
    expected.sort();
    assert_eq!(queued, expected);
}
