//! The hourly reconcile: drift injected straight into DynamoDB (moto) is fixed and synced to
//! a HubSpot stand-in; an exam HubSpot is behind on is re-synced; bookings running during
//! reconcile never leave a wrong counter; and the walk is correct at scale (300 exams in CI,
//! 10,000 with `cargo test -p integration-tests --test reconcile -- --ignored`).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use shared::bookings::ExamInput;
use shared::config::Config;
use shared::queue::QueueName;
use shared::queue::{QueueEnvelope, QueueMessage};
use shared::App;
use shared_aws::keys;
use shared_testkit::fixtures::{booking, new_booking};
use shared_testkit::moto::{batch_put, moto_app, pump_once, MotoApp};
use shared_testkit::targets::webhook::Target;

fn exam_input(capacity: i64) -> ExamInput {
    ExamInput {
        name: "Mock exam".into(),
        capacity,
        exam_date: None,
    }
}

/// Books `contact` on `exam` through the store's transaction; returns the booking id.
async fn book(app: &App, ws: &str, exam: &str, contact: &str) -> String {
    let new = new_booking(ws, booking(exam, contact, &shared::time::now_string()));
    let id = new.booking.id.clone();
    shared::retry::on_conflict(&app.config, || app.bookings.create_booking(&new))
        .await
        .expect("booking");
    id
}

async fn cancel(app: &App, ws: &str, exam: &str, booking_id: &str) {
    let now = shared::time::now_string();
    let outbox = shared::bookings::events::counter_change_outbox(ws, exam, vec![], &now);
    shared::retry::on_conflict(&app.config, || async {
        let seen = app
            .bookings
            .get_booking(ws, booking_id)
            .await?
            .expect("booking");
        app.bookings.cancel_booking(ws, &seen, &outbox, &now).await
    })
    .await
    .expect("cancel");
}

async fn counter(app: &App, ws: &str, exam: &str) -> (i64, i64) {
    let e = app.bookings.get_exam(ws, exam).await.unwrap().unwrap();
    (e.total_bookings, e.version)
}

async fn markers(app: &App, ws: &str, exam: &str) -> i64 {
    app.bookings
        .list_active_bookings(ws, exam)
        .await
        .unwrap()
        .len() as i64
}

fn synced_exams(bodies: &[String]) -> Vec<String> {
    let mut v: Vec<String> = bodies
        .iter()
        .map(
            |b| match serde_json::from_str::<QueueEnvelope>(b).unwrap().message {
                QueueMessage::CounterSync { mock_exam_id, .. } => mock_exam_id,
                other => panic!("unexpected message {other:?}"),
            },
        )
        .collect();
    v.sort();
    v
}

/// Raw UpdateItem on the exam item, as drift (or a bad manual edit) would change it.
async fn damage(m: &MotoApp, ws: &str, exam: &str, update: &str, value: Option<AttributeValue>) {
    let k = keys::mock_exam(ws, exam);
    let mut req = m
        .store
        .client()
        .update_item()
        .table_name(m.store.table())
        .key(keys::PK, AttributeValue::S(k.pk))
        .key(keys::SK, AttributeValue::S(k.sk))
        .update_expression(update);
    if let Some(v) = value {
        req = req.expression_attribute_values(":v", v);
    }
    req.send().await.expect("raw update");
}

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

#[tokio::test]
async fn drift_injected_in_dynamodb_is_fixed_and_synced() {
    let m = moto_app().await;
    let hubspot = Target::start().await;
    let (ws, _key) = shared_testkit::moto::workspace(&m.app, "w").await;
    hubspot.integrate_hubspot(&m.app, &ws, 0).await;
    // exam -> active bookings
    let plan = [
        ("plus3", 2),
        ("minus2", 3),
        ("missing", 1),
        ("garbled", 2),
        ("fine", 1),
        ("noversion", 1),
    ];
    let mut versions = HashMap::new();
    for (exam, bookings) in plan {
        m.app
            .bookings
            .put_exam(&ws, exam, &exam_input(10), &shared::time::now_string())
            .await
            .unwrap();
        for c in 0..bookings {
            book(&m.app, &ws, exam, &format!("c{c}")).await;
        }
        let (_, v) = counter(&m.app, &ws, exam).await;
        m.app.bookings.mark_synced(&ws, exam, v).await.unwrap();
        versions.insert(exam, v);
    }
    damage(&m, &ws, "plus3", "SET totalBookings = :v", Some(n(5))).await;
    damage(&m, &ws, "minus2", "SET totalBookings = :v", Some(n(1))).await;
    damage(&m, &ws, "missing", "REMOVE totalBookings", None).await;
    let lots = AttributeValue::S("lots".into());
    damage(&m, &ws, "garbled", "SET totalBookings = :v", Some(lots)).await;
    damage(&m, &ws, "noversion", "REMOVE version", None).await;

    let s = shared::bookings::reconcile::run(&m.app)
        .await
        .expect("reconcile runs");
    assert_eq!(s.workspaces, 1);
    assert_eq!(s.exams_checked, 6);
    assert_eq!(s.drift_fixed, 4, "{s:?}");
    assert_eq!(s.missing_counters_fixed, 2, "{s:?}");
    assert_eq!(s.syncs_queued, 4, "{s:?}");
    assert_eq!(s.hubspot_behind, 0, "{s:?}");
    assert_eq!(s.skipped_version_moved, 0, "{s:?}");
    assert_eq!(s.errors, 1, "the exam without a version is reported: {s:?}");
    for (exam, bookings) in plan.into_iter().filter(|(e, _)| *e != "noversion") {
        let (total, version) = counter(&m.app, &ws, exam).await;
        assert_eq!(total, bookings, "{exam} counter");
        let bumped = if exam == "fine" { 0 } else { 1 };
        assert_eq!(version, versions[exam] + bumped, "{exam} version");
    }

    // The deliver consumer pushes the fixed counts to HubSpot.
    let runner = delivery_worker::runner(m.app.clone());
    let deadline = Instant::now() + Duration::from_secs(30);
    while hubspot.requests().len() < 4 {
        pump_once(&m.sqs, &m.delivery_queue_url, |e| runner.run(e)).await;
        assert!(Instant::now() < deadline, "HubSpot did not get 4 syncs");
    }
    let got: BTreeMap<String, i64> = hubspot
        .requests()
        .iter()
        .map(|r| {
            let j = r.json();
            (
                j["mock_exam_id"].as_str().unwrap().to_owned(),
                j["total_bookings"].as_i64().unwrap(),
            )
        })
        .collect();
    let want: BTreeMap<String, i64> = [("garbled", 2), ("minus2", 3), ("missing", 1), ("plus3", 2)]
        .into_iter()
        .map(|(e, c)| (e.to_owned(), c))
        .collect();
    assert_eq!(got, want);

    // Nothing left to do once HubSpot holds the fixed versions.
    let again = shared::bookings::reconcile::run(&m.app).await.unwrap();
    assert_eq!((again.drift_fixed, again.syncs_queued), (0, 0), "{again:?}");
}

#[tokio::test]
async fn an_exam_hubspot_is_behind_on_gets_resynced() {
    let (app, _store, queue) = shared_testkit::in_memory_app(Config::for_tests("t", "q"));
    let (ws, _) = shared_testkit::harness::workspace(&app, "w").await;
    let now = shared::time::now_string();
    for exam in ["behind", "current"] {
        app.bookings
            .put_exam(&ws, exam, &exam_input(10), &now)
            .await
            .unwrap();
        book(&app, &ws, exam, "c1").await;
        book(&app, &ws, exam, "c2").await;
    }
    // HubSpot got "behind" at version 1 only (its sync after the second booking was lost).
    app.bookings.mark_synced(&ws, "behind", 1).await.unwrap();
    app.bookings.mark_synced(&ws, "current", 2).await.unwrap();
    queue.drain(QueueName::Delivery);

    let s = shared::bookings::reconcile::run(&app).await.unwrap();
    assert_eq!((s.exams_checked, s.drift_fixed), (2, 0));
    assert_eq!((s.hubspot_behind, s.syncs_queued), (1, 1));
    let bodies: Vec<String> = queue
        .drain(QueueName::Delivery)
        .into_iter()
        .map(|(b, delay)| {
            assert_eq!(delay, Duration::ZERO);
            b
        })
        .collect();
    assert_eq!(synced_exams(&bodies), ["behind"]);
    // The counter itself was right: untouched.
    assert_eq!(counter(&app, &ws, "behind").await, (2, 2));
}

#[tokio::test]
async fn drift_in_the_fake_store_is_fixed_and_synced_across_workspaces_and_pages() {
    let (app, store, queue) = shared_testkit::in_memory_app(Config::for_tests("t", "q"));
    let mut drifted = Vec::new();
    for w in 0..3 {
        let (ws, _) = shared_testkit::harness::workspace(&app, &format!("w{w}")).await;
        // More exams than one listing page.
        for e in 0..(shared::bookings::reconcile::PAGE_SIZE as usize + 20) {
            let exam = format!("e{e:04}");
            app.bookings
                .put_exam(&ws, &exam, &exam_input(10), &shared::time::now_string())
                .await
                .unwrap();
            if e % 50 == 0 {
                book(&app, &ws, &exam, "c1").await;
                let v = counter(&app, &ws, &exam).await.1;
                app.bookings.mark_synced(&ws, &exam, v).await.unwrap();
                store.set_total_bookings(&ws, &exam, 7);
                drifted.push(format!("{ws}/{exam}"));
            }
        }
    }
    queue.drain(QueueName::Delivery);
    let s = shared::bookings::reconcile::run(&app).await.unwrap();
    assert_eq!(s.workspaces, 3);
    assert_eq!(
        s.exams_checked,
        3 * (shared::bookings::reconcile::PAGE_SIZE as u64 + 20)
    );
    assert_eq!(s.drift_fixed, drifted.len() as u64);
    assert_eq!(s.syncs_queued, drifted.len() as u64);
    assert_eq!(queue.len(QueueName::Delivery), drifted.len());
    for key in &drifted {
        let (ws, exam) = key.split_once('/').unwrap();
        assert_eq!(counter(&app, ws, exam).await.0, 1, "{key}");
    }
}

/// Bookings and cancellations hammer one exam from several tasks while reconcile runs in a
/// loop. A counter starts with +5 drift; reconcile either fixes it at a version nobody moved
/// (counter = markers from then on) or leaves it (counter = markers + 5): never anything else.
async fn concurrent_bookings_never_end_wrong(app: &App, tasks: usize, per_task: usize) {
    let (ws, _) = shared_testkit::harness::workspace(app, "w").await;
    app.bookings
        .put_exam(
            &ws,
            "hot",
            &exam_input(1_000_000),
            &shared::time::now_string(),
        )
        .await
        .unwrap();
    for c in 0..5 {
        book(app, &ws, "hot", &format!("seed{c}")).await;
    }
    app.bookings
        .fix_counter(&ws, "hot", counter(app, &ws, "hot").await.1, 10, "t")
        .await
        .unwrap();
    assert_eq!(
        counter(app, &ws, "hot").await.0 - markers(app, &ws, "hot").await,
        5
    );

    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reconciler = {
        let (app, done) = (app.clone(), done.clone());
        tokio::spawn(async move {
            let (mut runs, mut fixed) = (0u64, 0u64);
            while !done.load(std::sync::atomic::Ordering::SeqCst) || runs == 0 {
                let s = shared::bookings::reconcile::run(&app)
                    .await
                    .expect("reconcile");
                runs += 1;
                fixed += s.drift_fixed;
                tokio::task::yield_now().await;
            }
            (runs, fixed)
        })
    };
    let workers: Vec<_> = (0..tasks)
        .map(|t| {
            let (app, ws) = (app.clone(), ws.clone());
            tokio::spawn(async move {
                for i in 0..per_task {
                    let id = book(&app, &ws, "hot", &format!("t{t}-c{i}")).await;
                    if i % 3 == 0 {
                        cancel(&app, &ws, "hot", &id).await;
                    }
                    tokio::task::yield_now().await;
                }
            })
        })
        .collect();
    for w in workers {
        w.await.unwrap();
    }
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let (runs, fixed) = reconciler.await.unwrap();
    assert!(runs >= 1);

    let diff = counter(app, &ws, "hot").await.0 - markers(app, &ws, "hot").await;
    assert!(
        diff == 0 || diff == 5,
        "counter off by {diff} after {runs} runs ({fixed} fixes)"
    );
    assert_eq!(fixed > 0, diff == 0, "a fix happened iff the drift is gone");
    let last = shared::bookings::reconcile::run(app).await.unwrap();
    assert_eq!(
        counter(app, &ws, "hot").await.0,
        markers(app, &ws, "hot").await
    );
    assert_eq!(last.drift_fixed, u64::from(diff != 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bookings_running_concurrently_with_reconcile_never_end_wrong() {
    for _ in 0..20 {
        let (app, _store, _queue) = shared_testkit::in_memory_app(Config::for_tests("t", "q"));
        concurrent_bookings_never_end_wrong(&app, 4, 60).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bookings_running_concurrently_with_reconcile_never_end_wrong_on_moto() {
    let m = moto_app().await;
    concurrent_bookings_never_end_wrong(&m.app, 3, 8).await;
}

// --- scale ----------------------------------------------------------------------------------

/// Seeds `n` exams straight into the table with BatchWriteItem (no transactions: moto's cost
/// grows with the table, DESIGN §7): exam i has i % 4 active markers; its counter is right,
/// +3 (i % 10 == 0), −2 (== 1) or missing (== 2). Returns the expected fixes.
async fn seed_exams(m: &MotoApp, ws: &str, n: usize) -> (u64, u64) {
    let now = shared::time::now_string();
    let mut requests = Vec::new();
    let (mut drift, mut missing) = (0u64, 0u64);
    for i in 0..n {
        let exam = format!("ex{i:06}");
        let count = (i % 4) as i64;
        let k = keys::mock_exam(ws, &exam);
        let mut item = HashMap::from([
            (keys::PK.to_owned(), AttributeValue::S(k.pk)),
            (keys::SK.to_owned(), AttributeValue::S(k.sk)),
            ("id".to_owned(), AttributeValue::S(exam.clone())),
            ("name".to_owned(), AttributeValue::S("Mock".into())),
            ("capacity".to_owned(), n_attr(100)),
            ("version".to_owned(), n_attr(count)),
            ("lastSyncedVersion".to_owned(), n_attr(count)),
            ("examDate".to_owned(), AttributeValue::Null(true)),
            ("createdAt".to_owned(), AttributeValue::S(now.clone())),
            ("updatedAt".to_owned(), AttributeValue::S(now.clone())),
            (
                keys::GSI1PK.to_owned(),
                AttributeValue::S(keys::exams_index_pk(ws)),
            ),
            (keys::GSI1SK.to_owned(), AttributeValue::S(exam.clone())),
        ]);
        let total = match i % 10 {
            0 => Some(count + 3),
            1 => Some(count - 2),
            2 => None,
            _ => Some(count),
        };
        if total != Some(count) {
            drift += 1;
        }
        match total {
            Some(t) => {
                item.insert("totalBookings".into(), n_attr(t));
            }
            None => missing += 1,
        }
        requests.push(item);
        for c in 0..count {
            let mk = keys::active_booking(ws, &exam, &format!("c{c}"));
            requests.push(HashMap::from([
                (keys::PK.to_owned(), AttributeValue::S(mk.pk)),
                (keys::SK.to_owned(), AttributeValue::S(mk.sk)),
                (
                    "bookingId".to_owned(),
                    AttributeValue::S(format!("bk_{i}_{c}")),
                ),
                ("contactId".to_owned(), AttributeValue::S(format!("c{c}"))),
            ]));
        }
    }
    batch_put(&m.store, &requests).await;
    (drift, missing)
}

fn n_attr(v: i64) -> AttributeValue {
    n(v)
}

async fn queue_depth(m: &MotoApp) -> u64 {
    let attrs = m
        .sqs
        .get_queue_attributes()
        .queue_url(&m.delivery_queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await
        .unwrap();
    attrs
        .attributes()
        .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

async fn exams_reconcile_correctly_against_moto(n: usize) {
    let m = moto_app().await;
    let (ws, _) = shared_testkit::moto::workspace(&m.app, "scale").await;
    let t0 = Instant::now();
    let (drift, missing) = seed_exams(&m, &ws, n).await;
    let seeded = t0.elapsed();

    let t1 = Instant::now();
    let s = shared::bookings::reconcile::run(&m.app)
        .await
        .expect("reconcile");
    let took = t1.elapsed();
    eprintln!(
        "reconcile of {n} exams against moto: seeded in {seeded:?}, reconciled in {took:?}: {s:?}"
    );
    assert_eq!(s.exams_checked, n as u64);
    assert_eq!(s.drift_fixed, drift);
    assert_eq!(s.missing_counters_fixed, missing);
    assert_eq!(s.syncs_queued, drift);
    assert_eq!(
        (s.errors, s.skipped_version_moved, s.hubspot_behind),
        (0, 0, 0)
    );
    assert_eq!(queue_depth(&m).await, drift);

    // Every counter now equals its markers (read back through the tolerant walk).
    let mut cursor: Option<String> = None;
    let mut checked = 0;
    loop {
        let page = m
            .app
            .bookings
            .list_exam_counters(&ws, cursor.as_deref(), 1000)
            .await
            .unwrap();
        for c in &page.items {
            let i: usize = c.exam_id[2..].parse().unwrap();
            assert_eq!(c.total_bookings, Some((i % 4) as i64), "{}", c.exam_id);
            checked += 1;
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(checked, n);
}

#[tokio::test]
async fn three_hundred_exams_reconcile_correctly_against_moto() {
    exams_reconcile_correctly_against_moto(300).await;
}

/// `RECONCILE_SCALE_EXAMS` (default 10,000); run with `bash infra/measure/scale_reconcile.sh`.
#[tokio::test]
#[ignore = "minutes against moto; run by infra/measure/scale_reconcile.sh"]
async fn ten_thousand_exams_reconcile_correctly_against_moto() {
    let n = std::env::var("RECONCILE_SCALE_EXAMS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    exams_reconcile_correctly_against_moto(n).await;
}
