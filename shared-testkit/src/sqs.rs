//! The fake of `shared-aws/src/sqs.rs`: a queue that keeps its messages in memory, with
//! injectable send failures; tests drain it and feed the consumer.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;

use shared::error::{AppError, AppResult};
use shared::queue::{Queue, QueueName};

/// A queue that keeps messages in memory; tests drain it and feed the consumer.
#[derive(Default)]
pub struct MemoryQueue {
    messages: Mutex<Vec<(QueueName, String, Duration)>>,
    fail_sends: AtomicU32,
}

impl MemoryQueue {
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes every message of `queue` (with the delay it was sent with).
    pub fn drain(&self, queue: QueueName) -> Vec<(String, Duration)> {
        let mut all = self.messages.lock().unwrap_or_else(|p| p.into_inner());
        let (taken, kept): (Vec<_>, Vec<_>) = all.drain(..).partition(|(q, _, _)| *q == queue);
        *all = kept;
        taken.into_iter().map(|(_, b, d)| (b, d)).collect()
    }

    pub fn len(&self, queue: QueueName) -> usize {
        self.messages
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|(q, _, _)| *q == queue)
            .count()
    }

    /// The next `n` sends fail, as an SQS outage would.
    pub fn fail_next_sends(&self, n: u32) {
        self.fail_sends.store(n, Ordering::SeqCst);
    }
}

#[async_trait]
impl Queue for MemoryQueue {
    async fn send_raw(&self, queue: QueueName, body: &str, delay: Duration) -> AppResult<()> {
        if self
            .fail_sends
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(AppError::internal_msg("injected queue failure"));
        }
        self.messages
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((
                queue,
                body.to_owned(),
                delay.min(shared::queue::MAX_QUEUE_DELAY),
            ));
        Ok(())
    }
}
