//! The `deliver` consumer's counter sync against the fakes and a local HubSpot stand-in:
//! lease, re-send when the version moved, chained delays, poison messages.

use std::time::Duration;

use serde_json::json;
use shared::queue::QueueName;
use shared::queue::{QueueEnvelope, QueueMessage};
use shared_testkit::fixtures::{booking, exam, new_booking};
use shared_testkit::harness::TestApp;
use shared_testkit::memory::sqs_event;
use shared_testkit::targets::webhook::Target;

struct Env {
    t: TestApp,
    target: Target,
}

shared_testkit::deref_test_app!(Env);

async fn env() -> Env {
    let t = TestApp::new().await;
    let target = Target::start().await;
    target.integrate_hubspot(&t.app, &t.ws, 3).await;
    t.app
        .bookings
        .put_exam(&t.ws, "e1", &exam(10), "2026-01-01T00:00:00.000Z")
        .await
        .unwrap();
    Env { t, target }
}

fn sync_message(ws: &str) -> String {
    serde_json::to_string(&QueueEnvelope::now(QueueMessage::CounterSync {
        workspace_id: ws.into(),
        mock_exam_id: "e1".into(),
        attempt: 0,
        delivery_id: None,
    }))
    .unwrap()
}

async fn bump(e: &Env, contact: &str) {
    let booked = booking("e1", contact, &shared::time::now_string());
    e.app
        .bookings
        .create_booking(&new_booking(&e.ws, booked))
        .await
        .unwrap();
}

async fn run(e: &Env, bodies: &[String]) -> Vec<String> {
    let runner = delivery_worker::runner(e.app.clone());
    runner
        .run(sqs_event(bodies, 1))
        .await
        .batch_item_failures
        .into_iter()
        .map(|f| f.item_identifier)
        .collect()
}

#[tokio::test]
async fn sends_the_count_read_at_send_time_and_records_the_synced_version() {
    let e = env().await;
    bump(&e, "c1").await;
    bump(&e, "c2").await;
    assert!(run(&e, &[sync_message(&e.ws)]).await.is_empty());
    let reqs = e.target.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(
        reqs[0].json(),
        json!({ "mock_exam_id": "e1", "total_bookings": 2 })
    );
    let exam = e.app.bookings.get_exam(&e.ws, "e1").await.unwrap().unwrap();
    assert_eq!(exam.last_synced_version, exam.version);
    // A second message finds HubSpot current and sends nothing.
    assert!(run(&e, &[sync_message(&e.ws)]).await.is_empty());
    assert_eq!(e.target.requests().len(), 1);
}

#[tokio::test]
async fn a_message_that_finds_the_lease_taken_is_retried_shortly_not_dropped() {
    let e = env().await;
    bump(&e, "c1").await;
    let lease = shared::lease::Lease::counter_sync(&e.ws, "e1");
    assert!(e
        .app
        .leases
        .try_acquire(&lease, "someone-else", Duration::from_secs(60))
        .await
        .unwrap());
    assert!(run(&e, &[sync_message(&e.ws)]).await.is_empty());
    assert!(
        e.target.requests().is_empty(),
        "no send while another sync holds the lease"
    );
    let requeued = e.queue.drain(QueueName::Delivery);
    assert_eq!(requeued.len(), 1, "the sync is re-queued");
    e.app.leases.release(&lease, "someone-else").await.unwrap();
    assert!(run(&e, &[requeued[0].0.clone()]).await.is_empty());
    assert_eq!(e.target.requests().len(), 1);
}

#[tokio::test]
async fn ten_concurrent_sync_messages_end_with_hubspot_on_the_current_count() {
    let e = env().await;
    for i in 0..3 {
        bump(&e, &format!("c{i}")).await;
    }
    let msgs: Vec<String> = (0..10).map(|_| sync_message(&e.ws)).collect();
    assert!(run(&e, &msgs).await.is_empty());
    // Drain the re-queued ones until quiet.
    for _ in 0..20 {
        let pending: Vec<String> = e
            .queue
            .drain(QueueName::Delivery)
            .into_iter()
            .map(|(b, _)| b)
            .collect();
        if pending.is_empty() {
            break;
        }
        assert!(run(&e, &pending).await.is_empty());
    }
    let last = e.target.last().unwrap();
    assert_eq!(last.json()["total_bookings"], 3);
    let exam = e.app.bookings.get_exam(&e.ws, "e1").await.unwrap().unwrap();
    assert_eq!(exam.last_synced_version, exam.version);
}

#[tokio::test]
async fn a_failed_send_is_rescheduled_with_the_same_delivery_id() {
    let e = env().await;
    bump(&e, "c1").await;
    e.target.respond_with(&[500]);
    assert!(run(&e, &[sync_message(&e.ws)]).await.is_empty());
    let retry = e.queue.drain(QueueName::Delivery);
    assert_eq!(retry.len(), 1);
    let env: QueueEnvelope = serde_json::from_str(&retry[0].0).unwrap();
    let QueueMessage::CounterSync {
        attempt,
        delivery_id,
        ..
    } = env.message
    else {
        panic!("expected a counter sync");
    };
    assert_eq!(attempt, 1);
    assert_eq!(
        delivery_id.as_deref(),
        Some(e.target.requests()[0].headers["webhook-id"].as_str())
    );
    assert!(run(&e, &[retry[0].0.clone()]).await.is_empty());
    let reqs = e.target.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].headers["webhook-id"], reqs[1].headers["webhook-id"]);
    assert_ne!(
        reqs[0].headers["webhook-signature"], "",
        "each attempt is signed"
    );
}

#[tokio::test]
async fn a_delay_beyond_sqs_limits_is_chained_not_run_early() {
    let e = env().await;
    bump(&e, "c1").await;
    let env = QueueEnvelope {
        message: QueueMessage::CounterSync {
            workspace_id: e.ws.clone(),
            mock_exam_id: "e1".into(),
            attempt: 1,
            delivery_id: Some("dlv_x".into()),
        },
        not_before: Some(shared::time::now().timestamp() + 3600),
    };
    assert!(run(&e, &[serde_json::to_string(&env).unwrap()])
        .await
        .is_empty());
    assert!(e.target.requests().is_empty(), "not due yet");
    let chained = e.queue.drain(QueueName::Delivery);
    assert_eq!(chained.len(), 1);
    assert_eq!(
        chained[0].1,
        Duration::from_secs(900),
        "waits SQS's longest delay"
    );
    let back: QueueEnvelope = serde_json::from_str(&chained[0].0).unwrap();
    assert_eq!(back.not_before, env.not_before);
}

#[tokio::test]
async fn a_poison_message_fails_alone() {
    let e = env().await;
    bump(&e, "c1").await;
    let failed = run(&e, &["{not json".to_owned(), sync_message(&e.ws)]).await;
    assert_eq!(failed, vec!["m0".to_owned()]);
    assert_eq!(e.target.requests().len(), 1);
}

#[tokio::test]
async fn without_a_hubspot_integration_there_is_nothing_to_send() {
    let t = TestApp::new().await;
    let runner = delivery_worker::runner(t.app.clone());
    let resp = runner.run(sqs_event([sync_message(&t.ws)], 1)).await;
    assert!(resp.batch_item_failures.is_empty());
    assert_eq!(t.queue.len(QueueName::Delivery), 0);
}
