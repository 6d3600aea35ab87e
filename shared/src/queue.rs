//! The queues: their names, the one message type of the delivery queue and its envelope,
//! the `Queue` port, and the scheduler that chains delays past SQS's 900 s.

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::error::AppResult;

/// The body of every message on the delivery queue.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum QueueMessage {
    /// Push an exam's current count to HubSpot. `attempt` counts failed HTTP calls so far;
    /// `delivery_id` is the `webhook-id` kept stable across retries.
    #[serde(rename_all = "camelCase")]
    CounterSync {
        workspace_id: String,
        mock_exam_id: String,
        #[serde(default)]
        attempt: u32,
        #[serde(default)]
        delivery_id: Option<String>,
    },
    /// Turn an outbox record's events into one delivery per matching subscription.
    #[serde(rename_all = "camelCase")]
    FanOut {
        workspace_id: String,
        outbox_id: String,
    },
    /// One outbound webhook delivery attempt.
    #[serde(rename_all = "camelCase")]
    Delivery {
        workspace_id: String,
        delivery_id: String,
    },
    /// Delete what a deleted sync job left behind (records, stored events, executions), a
    /// bounded amount per message; `pass` 1 is the final sweep after in-flight work settled.
    #[serde(rename_all = "camelCase")]
    PurgeSyncJob {
        workspace_id: String,
        job_id: String,
        #[serde(default)]
        pass: u32,
    },
    /// Bring a calendar event's GHL appointment up to date (seed 002); `attempt` is the retry
    /// number, for logs (the mapping counts the calls).
    #[serde(rename_all = "camelCase")]
    CalendarSync {
        workspace_id: String,
        event_id: String,
        #[serde(default)]
        attempt: u32,
    },
    /// An operational alert (DESIGN §8): debounced, then sent to the alerts integration.
    /// `attempt` counts failed calls; `deliveryId` (the `webhook-id`) and `suppressed` are
    /// set once it passed the debounce, so retries send the same body. The alert itself rides
    /// along: it is small (error texts are cut) and exists nowhere else.
    #[serde(rename_all = "camelCase")]
    Alert {
        workspace_id: String,
        alert: crate::alerts::Alert,
        #[serde(default)]
        attempt: u32,
        #[serde(default)]
        delivery_id: Option<String>,
        #[serde(default)]
        suppressed: u64,
    },
    /// An automatic retry of a failed inbound event (`webhookConfig.autoRetry`, DESIGN §8):
    /// puts the event back on the inbound queue if it still waits for retry number `retry`.
    #[serde(rename_all = "camelCase")]
    InboundRetry {
        workspace_id: String,
        job_id: String,
        provider_event_id: String,
        event_id: String,
        retry: u32,
    },
    /// One call of a sync job's webhook destination delivery (DESIGN §8); the delivery (its
    /// payload, attempts, retries) lives in the delivery log like a subscription's.
    #[serde(rename_all = "camelCase")]
    DestinationDelivery {
        workspace_id: String,
        job_id: String,
        delivery_id: String,
    },
    /// One backfill run of a sync job (DESIGN §8): read the provider's event log since the
    /// job's cursor and store each event like the receiver. `leased`: the API already took the
    /// job's backfill lease for this execution (a scheduled run takes it itself).
    #[serde(rename_all = "camelCase")]
    Backfill {
        workspace_id: String,
        job_id: String,
        execution_id: String,
        #[serde(default)]
        leased: bool,
    },
}

/// A queue message plus the time before which it must not run: SQS delays stop at 900 s, so
/// longer waits are chained (re-sent with the remaining delay, not counted as an attempt).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct QueueEnvelope {
    #[serde(flatten)]
    pub message: QueueMessage,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<i64>,
}

impl QueueEnvelope {
    pub fn now(message: QueueMessage) -> Self {
        Self {
            message,
            not_before: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QueueName {
    Delivery,
    Inbound,
    Export,
}

/// SQS's longest DelaySeconds: `send` caps delays to it; the scheduler chains longer waits.
pub const MAX_QUEUE_DELAY: Duration = Duration::from_secs(900);

#[async_trait]
pub trait Queue: Send + Sync {
    /// Sends a JSON body; delays above SQS's 900 s are capped (longer waits are chained by
    /// the consumer through `QueueEnvelope::not_before`).
    async fn send_raw(&self, queue: QueueName, body: &str, delay: Duration) -> AppResult<()>;

    async fn send(&self, queue: QueueName, body: &QueueEnvelope, delay: Duration) -> AppResult<()> {
        let json = serde_json::to_string(body)?;
        self.send_raw(queue, &json, delay).await
    }
}

/// The queue of an `App` built without SQS (`shared_aws::Clients` without `.sqs()`): every
/// send is a 500 naming the missing wiring (in the log).
pub struct NoQueue;

#[async_trait]
impl Queue for NoQueue {
    async fn send_raw(&self, _: QueueName, _: &str, _: Duration) -> AppResult<()> {
        Err(crate::AppError::internal_msg(
            "this function is wired without SQS (add .sqs() to its Clients)",
        ))
    }
}

/// Sends `message` on the delivery queue to run after `delay`. SQS delays stop at 900 s:
/// longer waits are chained through `notBefore` (the consumer re-sends with the remaining
/// delay, not counted as an attempt).
pub async fn schedule(app: &crate::App, message: QueueMessage, delay: Duration) -> AppResult<()> {
    let envelope = QueueEnvelope {
        message,
        not_before: (delay > MAX_QUEUE_DELAY)
            .then(|| crate::time::now().timestamp() + delay.as_secs() as i64),
    };
    app.queue.send(QueueName::Delivery, &envelope, delay).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_messages_round_trip_with_not_before() {
        let env = QueueEnvelope {
            message: QueueMessage::CounterSync {
                workspace_id: "ws_1".into(),
                mock_exam_id: "40577087837".into(),
                attempt: 2,
                delivery_id: Some("dlv_1".into()),
            },
            not_before: Some(1_700_000_000),
        };
        let s = serde_json::to_string(&env).unwrap();
        assert!(s.contains("\"type\":\"counter_sync\""), "{s}");
        assert!(s.contains("\"mockExamId\":\"40577087837\""), "{s}");
        let back: QueueEnvelope = serde_json::from_str(&s).unwrap();
        assert_eq!(back, env);
    }
}
