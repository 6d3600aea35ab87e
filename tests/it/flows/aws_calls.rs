//! AWS calls per request (issue 16 item 4), counted by an SDK interceptor on the DynamoDB and
//! SQS clients (`shared_testkit::calls`): booking create, cancel, inbound receive, and the
//! delivery worker's fan-out and one delivery. "Waves" are the sequential steps (calls that
//! overlap in time count once). The assertions pin today's sequences, so a change that adds a
//! call on a request path fails here and updates docs/performance.md with it.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::json;
use shared::config::Config;
use shared::queue::QueueName;
use shared::App;
use shared_aws::sqs::SqsQueue;
use shared_aws::table::DynamoStore;
use shared_testkit::calls::CallLog;
use shared_testkit::harness::{call_raw, Api};
use shared_testkit::moto::{
    dynamo_client_logged, fresh_queue, pump_once, sqs_client_logged, unique, workspace,
};
use shared_testkit::targets::webhook::Target;

const STRIPE_SECRET: &str = "whsec_calls_secret_0123456789";

struct Stack {
    app: App,
    log: CallLog,
    sqs: aws_sdk_sqs::Client,
    delivery_url: String,
    ws: String,
    key: String,
}

async fn stack() -> Stack {
    let log = CallLog::new();
    let client = dynamo_client_logged(Some(&log)).await;
    let table = unique("tbl");
    shared_aws::table::create_table(&client, &table)
        .await
        .expect("create table");
    let store = Arc::new(DynamoStore::new(client, table));
    let sqs = sqs_client_logged(Some(&log)).await;
    let delivery_url = fresh_queue(&sqs, 30).await;
    let inbound_url = fresh_queue(&sqs, 30).await;
    let mut config = Config::for_tests(store.table(), &delivery_url);
    config.inbound_queue_url = Some(inbound_url.clone());
    let queue = SqsQueue::new(
        sqs.clone(),
        HashMap::from([
            (QueueName::Delivery, delivery_url.clone()),
            (QueueName::Inbound, inbound_url),
        ]),
    );
    let app = App::new(config, store, Arc::new(queue));
    let (ws, key) = workspace(&app, "calls").await;
    Stack {
        app,
        log,
        sqs,
        delivery_url,
        ws,
        key,
    }
}

/// The Lambda event source's own calls (the harness makes them here): not the worker's.
const EVENT_SOURCE: &[&str] = &["SQS.ReceiveMessage", "SQS.DeleteMessage"];

/// The calls of one request: every operation (sorted by name) and the sequential steps.
fn measure(what: &str, log: &CallLog) -> (Vec<String>, usize) {
    let mut ops: Vec<String> = log
        .operations()
        .into_iter()
        .filter(|o| !EVENT_SOURCE.contains(&o.as_str()))
        .collect();
    let depth = log.depth_without(EVENT_SOURCE);
    eprintln!(
        "{what}: {} calls, {depth} sequential: {:?}",
        ops.len(),
        log.waves()
    );
    ops.sort();
    (ops, depth)
}

fn ops(list: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = list.iter().map(|s| (*s).to_owned()).collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_calls_per_request() {
    let s = stack().await;
    let bookings = Api::new(bookings_api::router(s.app.clone()), &s.key);
    let cancels = Api::new(cancellations_api::router(s.app.clone()), &s.key);
    bookings.put_exam("e1", 10).await;
    // The first authenticated request records the key's use (once a minute): not counted.
    bookings.get("/api/mock-exams/e1").await;

    // --- booking create, on an instance that has checked the key before (the usual case)
    s.log.clear();
    let r = bookings
        .post(
            "/api/bookings",
            Some(json!({"mockExamId": "e1", "contactId": "c1"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let create = measure("POST /api/bookings", &s.log);
    // {the key's re-check, the exam} → the transaction (counter + marker + booking + outbox)
    // → {the outbox record's one message, the exam's total for the answer}. The consumer
    // marks the record; the counter sync is queued from it.
    assert_eq!(
        create,
        (
            ops(&[
                "DynamoDB.GetItem",
                "DynamoDB.GetItem",
                "DynamoDB.TransactWriteItems",
                "SQS.SendMessage",
                "DynamoDB.GetItem",
            ]),
            3
        ),
        "booking create"
    );
    // The first request an instance sees with a key reads the key first.
    s.app
        .seen_keys
        .forget(&shared::http::sha256_hex(s.key.as_bytes()));
    s.log.clear();
    let r = bookings
        .post(
            "/api/bookings",
            Some(json!({"mockExamId": "e1", "contactId": "c0"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let first = measure("POST /api/bookings (key not seen before)", &s.log);
    assert_eq!(first, (create.0.clone(), 4), "booking create, key not seen");
    let booking = r.str_at("/booking/id");

    // --- a replayed `Idempotency-Key`: the exam read beside the record gives the count
    let body = br#"{"mockExamId":"e1","contactId":"c3"}"#.to_vec();
    let idem = [("idempotency-key", "calls-replay-1")];
    let r = bookings
        .send("POST", "/api/bookings", &idem, body.clone())
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    s.log.clear();
    let replayed = bookings.send("POST", "/api/bookings", &idem, body).await;
    assert_eq!(replayed.status, 200, "{}", replayed.body);
    assert_eq!(replayed.str_at("/booking/id"), r.str_at("/booking/id"));
    assert_eq!(replayed.body["totalBookings"], 3, "{}", replayed.body);
    // {the key's re-check, the idempotency record, the exam} → the booking.
    assert_eq!(
        measure("POST /api/bookings (replayed Idempotency-Key)", &s.log),
        (
            ops(&[
                "DynamoDB.GetItem",
                "DynamoDB.GetItem",
                "DynamoDB.GetItem",
                "DynamoDB.GetItem",
            ]),
            2
        ),
        "booking create, replayed"
    );

    // --- booking cancel
    s.log.clear();
    let r = cancels.delete(&format!("/api/bookings/{booking}")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let cancel = measure("DELETE /api/bookings/{id}", &s.log);
    // {the key's re-check, the booking} → the exam (event payload) → the transaction,
    // conditioned on the status read → {the record's message, the total}.
    assert_eq!(
        cancel,
        (
            ops(&[
                "DynamoDB.GetItem",
                "DynamoDB.GetItem",
                "DynamoDB.GetItem",
                "DynamoDB.TransactWriteItems",
                "SQS.SendMessage",
                "DynamoDB.GetItem",
            ]),
            4
        ),
        "booking cancel"
    );

    // --- inbound receive (signature verified before any call but the job read)
    let jobs = Api::new(sync_jobs_api::router(s.app.clone()), &s.key);
    let job = jobs
        .post(
            &format!("/api/workspaces/{}/sync-jobs", s.ws),
            Some(
                json!({"name": "calls", "type": "webhook", "source": "stripe",
                        "webhookConfig": {"signingSecret": STRIPE_SECRET}}),
            ),
        )
        .await
        .str_at("/syncJob/id");
    let receiver = inbound_receiver::router(s.app.clone());
    let body = json!({"id": "evt_calls_1", "object": "event", "type": "customer.updated",
                      "created": shared::time::now().timestamp(),
                      "data": {"object": {"id": "cus_1", "object": "customer"}}})
    .to_string();
    let header = shared::signing::sign_stripe(
        STRIPE_SECRET,
        shared::time::now().timestamp(),
        body.as_bytes(),
    );
    s.log.clear();
    let r = call_raw(
        &receiver,
        "POST",
        &format!("/api/webhooks/{}/{job}", s.ws),
        &[
            ("content-type", "application/json"),
            ("stripe-signature", &header),
        ],
        body.into_bytes(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let receive = measure("POST /api/webhooks/{ws}/{job}", &s.log);
    // The job (and its secret) → the event stored with its dedup key → the inbound queue.
    assert_eq!(
        receive,
        (
            ops(&["DynamoDB.GetItem", "DynamoDB.PutItem", "SQS.SendMessage"]),
            3
        ),
        "inbound receive"
    );

    // --- the delivery worker: fan-out of one booking event, then one delivery
    let target = Target::start().await;
    let hooks = Api::new(subscriptions_api::router(s.app.clone()), &s.key);
    let r = hooks
        .post(
            "/api/admin/webhooks",
            Some(json!({"name": "calls", "url": target.url, "events": ["booking.created"]})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    // Empty the delivery queue of what came before.
    let runner = delivery_worker::runner(s.app.clone());
    while pump_once(&s.sqs, &s.delivery_url, |ev| runner.run(ev)).await > 0 {}
    bookings
        .post(
            "/api/bookings",
            Some(json!({"mockExamId": "e1", "contactId": "c2"})),
        )
        .await;
    s.log.clear();
    pump_once(&s.sqs, &s.delivery_url, |ev| runner.run(ev)).await;
    let fanout = measure("delivery worker: one outbox hand-off (fan-out)", &s.log);
    // The queue now holds the delivery and the record's counter sync: measure the delivery
    // alone (the counter sync stays for later).
    s.log.clear();
    pump_once(&s.sqs, &s.delivery_url, |mut ev| async {
        let is_delivery = |body: &Option<String>| {
            serde_json::from_str::<shared::queue::QueueEnvelope>(body.as_deref().unwrap_or(""))
                .is_ok_and(|e| matches!(e.message, shared::queue::QueueMessage::Delivery { .. }))
        };
        let (deliveries, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut ev.records)
            .into_iter()
            .partition(|r| is_delivery(&r.body));
        assert_eq!(deliveries.len(), 1, "one delivery message");
        ev.records = deliveries;
        let mut response = runner.run(ev).await;
        response
            .batch_item_failures
            .extend(rest.into_iter().map(|r| {
                let mut failure = aws_lambda_events::event::sqs::BatchItemFailure::default();
                failure.item_identifier = r.message_id.unwrap_or_default();
                failure
            }));
        response
    })
    .await;
    let deliver = measure("delivery worker: one delivery", &s.log);
    assert_eq!(
        target.requests().len(),
        4,
        "c1's, c0's and c3's booking.created (fanned out while draining), then c2's"
    );
    // Fan-out: the outbox record → {the counter sync queued, the record marked,
    // subscriptions} → the delivery → its message.
    assert_eq!(
        fanout,
        (
            ops(&[
                "DynamoDB.GetItem",
                "SQS.SendMessage",
                "DynamoDB.UpdateItem",
                "DynamoDB.Query",
                "DynamoDB.PutItem",
                "SQS.SendMessage"
            ]),
            4
        ),
        "fan-out"
    );
    // One delivery: delivery → subscription → claim → (HTTP) → attempt → outcome count.
    assert_eq!(
        deliver,
        (
            ops(&[
                "DynamoDB.GetItem",
                "DynamoDB.GetItem",
                "DynamoDB.UpdateItem",
                "DynamoDB.UpdateItem",
                "DynamoDB.UpdateItem"
            ]),
            5
        ),
        "one delivery"
    );
}
