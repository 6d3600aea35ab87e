//! SQS adapter of the `Queue` port.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::Client;

use shared::error::{AppError, AppResult};
use shared::queue::{Queue, QueueName};

pub use shared::queue::MAX_QUEUE_DELAY as MAX_DELAY;

#[derive(Clone)]
pub struct SqsQueue {
    client: Client,
    urls: HashMap<QueueName, String>,
}

impl SqsQueue {
    pub fn new(client: Client, urls: HashMap<QueueName, String>) -> Self {
        Self { client, urls }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }
}

#[async_trait]
impl Queue for SqsQueue {
    async fn send_raw(&self, queue: QueueName, body: &str, delay: Duration) -> AppResult<()> {
        let url = self
            .urls
            .get(&queue)
            .ok_or_else(|| AppError::internal_msg("queue url not configured"))?;
        let delay = delay.min(MAX_DELAY).as_secs() as i32;
        self.client
            .send_message()
            .queue_url(url)
            .message_body(body)
            .delay_seconds(delay)
            .send()
            .await
            .map_err(|e| crate::errors::sdk("sqs SendMessage", e))?;
        Ok(())
    }
}
