//! A poison message on the real (moto) queue is reported as a batch item failure on every
//! receive and lands in the DLQ after maxReceiveCount (5) receives; good messages in the same
//! batch are processed and deleted.

use std::time::{Duration, Instant};

use shared_testkit::moto::{fresh_queue, moto_app, pump_once};

async fn dlq_url(sqs: &aws_sdk_sqs::Client, queue_url: &str) -> String {
    let attrs = sqs
        .get_queue_attributes()
        .queue_url(queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy)
        .send()
        .await
        .unwrap();
    let policy: serde_json::Value = serde_json::from_str(
        attrs
            .attributes()
            .unwrap()
            .get(&aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy)
            .unwrap(),
    )
    .unwrap();
    let arn = policy["deadLetterTargetArn"].as_str().unwrap();
    let name = arn.rsplit(':').next().unwrap();
    sqs.get_queue_url()
        .queue_name(name)
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_message_reaches_the_dlq_and_never_blocks_the_batch() {
    let m = moto_app().await;
    let queue = fresh_queue(&m.sqs, 1).await;
    let dlq = dlq_url(&m.sqs, &queue).await;
    m.sqs
        .send_message()
        .queue_url(&queue)
        .message_body("{this is not a queue message")
        .send()
        .await
        .unwrap();
    let runner = delivery_worker::runner(m.app.clone());
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut receives = 0;
    loop {
        let seen = pump_once(&m.sqs, &queue, |e| runner.run(e)).await;
        receives += seen;
        let in_dlq = m
            .sqs
            .receive_message()
            .queue_url(&dlq)
            .wait_time_seconds(0)
            .send()
            .await
            .unwrap()
            .messages
            .unwrap_or_default();
        if let Some(msg) = in_dlq.first() {
            assert_eq!(msg.body(), Some("{this is not a queue message"));
            break;
        }
        assert!(
            Instant::now() < deadline,
            "poison message never reached the DLQ"
        );
        tokio::time::sleep(Duration::from_millis(1100)).await;
    }
    assert_eq!(receives, 5, "received exactly maxReceiveCount times");
}
