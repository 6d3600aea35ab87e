//! Contract of `Queue`: every behaviour is written once and runs against the in-memory fake
//! (`fake::…`, read with `drain`) and the SQS adapter on moto (`sqs::…`, read with
//! ReceiveMessage).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use shared::queue::{Queue, QueueName};
use shared::queue::{QueueEnvelope, QueueMessage};
use shared_aws::sqs::{SqsQueue, MAX_DELAY};
use shared_testkit::memory::MemoryQueue;
use shared_testkit::moto::{fresh_queue, sqs_client};

shared_testkit::contract!(
    fake: Harness::memory(),
    sqs: Harness::sqs().await;
    a_sent_envelope_arrives_as_its_json,
    a_raw_body_arrives_unchanged,
    a_delayed_message_is_not_visible_at_once,
    a_delay_beyond_the_sqs_limit_is_capped,
    each_queue_name_reaches_its_own_queue,
);

/// A queue under test and a way to read what became visible on it.
enum Harness {
    /// The fake records each message with its delay; the harness makes it visible when the
    /// delay has passed, as SQS would.
    Memory {
        queue: MemoryQueue,
        waiting: Mutex<Vec<(QueueName, String, Instant)>>,
    },
    Sqs {
        queue: SqsQueue,
        client: aws_sdk_sqs::Client,
        urls: HashMap<QueueName, String>,
    },
}

impl Harness {
    fn memory() -> Self {
        Self::Memory {
            queue: MemoryQueue::new(),
            waiting: Mutex::new(Vec::new()),
        }
    }

    async fn sqs() -> Self {
        let client = sqs_client().await;
        let urls = HashMap::from([
            (QueueName::Delivery, fresh_queue(&client, 30).await),
            (QueueName::Inbound, fresh_queue(&client, 30).await),
        ]);
        Self::Sqs {
            queue: SqsQueue::new(client.clone(), urls.clone()),
            client,
            urls,
        }
    }

    fn queue(&self) -> &dyn Queue {
        match self {
            Self::Memory { queue, .. } => queue,
            Self::Sqs { queue, .. } => queue,
        }
    }

    /// The bodies visible on `name` right now (taken off the queue).
    async fn receive(&self, name: QueueName) -> Vec<String> {
        match self {
            Self::Memory { queue, waiting } => {
                let now = Instant::now();
                let mut waiting = waiting.lock().unwrap();
                for (body, delay) in queue.drain(name) {
                    waiting.push((name, body, now + delay));
                }
                let (due, later): (Vec<_>, Vec<_>) = waiting
                    .drain(..)
                    .partition(|(q, _, at)| *q == name && *at <= now);
                *waiting = later;
                due.into_iter().map(|(_, body, _)| body).collect()
            }
            Self::Sqs { client, urls, .. } => {
                let url = &urls[&name];
                let resp = client
                    .receive_message()
                    .queue_url(url)
                    .max_number_of_messages(10)
                    .wait_time_seconds(0)
                    .send()
                    .await
                    .expect("receive");
                let mut bodies = Vec::new();
                for m in resp.messages.unwrap_or_default() {
                    client
                        .delete_message()
                        .queue_url(url)
                        .receipt_handle(m.receipt_handle().unwrap_or_default())
                        .send()
                        .await
                        .expect("delete");
                    bodies.push(m.body.unwrap_or_default());
                }
                bodies
            }
        }
    }

    /// Receives until something is visible on `name` or `timeout` passes.
    async fn receive_within(&self, name: QueueName, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let bodies = self.receive(name).await;
            if !bodies.is_empty() || Instant::now() >= deadline {
                return bodies;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

const SOON: Duration = Duration::from_secs(5);

fn counter_sync(exam: &str) -> QueueEnvelope {
    QueueEnvelope::now(QueueMessage::CounterSync {
        workspace_id: "ws_contract".into(),
        mock_exam_id: exam.into(),
        attempt: 2,
        delivery_id: Some("dlv_1".into()),
    })
}

async fn a_sent_envelope_arrives_as_its_json(h: &Harness) {
    let mut envelope = counter_sync("40577087837");
    envelope.not_before = Some(1_700_000_000);
    h.queue()
        .send(QueueName::Delivery, &envelope, Duration::ZERO)
        .await
        .unwrap();
    let bodies = h.receive_within(QueueName::Delivery, SOON).await;
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    let back: QueueEnvelope = serde_json::from_str(&bodies[0]).unwrap();
    assert_eq!(back, envelope);
}

async fn a_raw_body_arrives_unchanged(h: &Harness) {
    let body = r#"{"type":"fan_out","workspaceId":"ws_contract","outboxId":"obx_1"}"#;
    h.queue()
        .send_raw(QueueName::Delivery, body, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(
        h.receive_within(QueueName::Delivery, SOON).await,
        vec![body.to_owned()]
    );
}

async fn a_delayed_message_is_not_visible_at_once(h: &Harness) {
    let sent = Instant::now();
    h.queue()
        .send_raw(QueueName::Delivery, "later", Duration::from_secs(2))
        .await
        .unwrap();
    h.queue()
        .send_raw(QueueName::Delivery, "now", Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(
        h.receive_within(QueueName::Delivery, SOON).await,
        vec!["now".to_owned()]
    );
    assert!(h.receive(QueueName::Delivery).await.is_empty());
    let bodies = h
        .receive_within(QueueName::Delivery, Duration::from_secs(10))
        .await;
    assert_eq!(bodies, vec!["later".to_owned()]);
    assert!(
        sent.elapsed() >= Duration::from_secs(2),
        "visible after {:?}",
        sent.elapsed()
    );
}

async fn a_delay_beyond_the_sqs_limit_is_capped(h: &Harness) {
    // SQS refuses DelaySeconds > 900: the adapter caps it (longer waits are chained).
    h.queue()
        .send_raw(QueueName::Delivery, "in an hour", Duration::from_secs(3600))
        .await
        .unwrap();
    assert!(h.receive(QueueName::Delivery).await.is_empty());
    if let Harness::Memory { waiting, .. } = h {
        let waiting = waiting.lock().unwrap();
        let until = waiting[0].2.saturating_duration_since(Instant::now());
        assert!(until <= MAX_DELAY, "{until:?}");
    }
}

async fn each_queue_name_reaches_its_own_queue(h: &Harness) {
    h.queue()
        .send(QueueName::Delivery, &counter_sync("1"), Duration::ZERO)
        .await
        .unwrap();
    h.queue()
        .send_raw(QueueName::Inbound, "inbound", Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(
        h.receive_within(QueueName::Inbound, SOON).await,
        vec!["inbound".to_owned()]
    );
    let delivery = h.receive_within(QueueName::Delivery, SOON).await;
    assert_eq!(delivery.len(), 1);
    assert!(
        delivery[0].contains("\"mockExamId\":\"1\""),
        "{}",
        delivery[0]
    );
    assert!(h.receive(QueueName::Inbound).await.is_empty());
}
