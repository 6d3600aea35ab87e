//! Outbox hand-off: right after a commit, the committing function sends the record's one
//! message (`FanOut`, the record's id). Its consumer (the delivery worker's fan-out) queues
//! the record's counter sync, marks the record `enqueuedAt`, then fans its events out. A record
//! still unmarked after two minutes — the send failed, the function died, or the queue is that
//! far behind — is re-sent by the sweeper, which marks it itself. Consumers are idempotent, so
//! the duplicates a backlog can cause (one per record at most) are harmless.
//!
//! Marking in the consumer instead of after the send keeps a write off every request path
//! (issue 16: booking create in three sequential calls); one message per record keeps the
//! counter sync as safe as the fan-out: it is queued from the record, after the record's
//! message has arrived, so it cannot be lost separately.

pub mod ports;
pub mod sweep;

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::app::App;
use crate::error::AppResult;
use crate::queue::QueueMessage;

/// A domain event waiting to be fanned out to subscriptions (DESIGN §4 events table).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DomainEvent {
    /// `msg_…`
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub timestamp: String,
    pub data: Value,
    /// `metadata.action` of the payload, e.g. "created".
    pub action: String,
}

impl DomainEvent {
    pub fn new(event_type: &str, data: Value, now: &str) -> Self {
        let action = event_type
            .rsplit('.')
            .next()
            .unwrap_or(event_type)
            .to_owned();
        Self {
            id: crate::ids::new_id(crate::ids::EVENT),
            event_type: event_type.to_owned(),
            timestamp: now.to_owned(),
            data,
            action,
        }
    }
}

/// Written in the same transaction as the change it describes; handed to SQS right after the
/// commit (and by the sweeper if that hand-off was lost).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct OutboxRecord {
    pub id: String,
    pub workspace_id: String,
    pub created_at: String,
    /// The exam whose count changed: HubSpot needs a counter sync.
    #[serde(default)]
    pub counter_sync: Option<String>,
    #[serde(default)]
    pub events: Vec<DomainEvent>,
    #[serde(default)]
    pub enqueued_at: Option<String>,
}

impl OutboxRecord {
    pub fn new(workspace_id: &str, now: &str) -> Self {
        Self {
            id: crate::ids::new_id(crate::ids::OUTBOX),
            workspace_id: workspace_id.to_owned(),
            created_at: now.to_owned(),
            counter_sync: None,
            events: Vec::new(),
            enqueued_at: None,
        }
    }

    /// The SQS message that carries this record's work — its id only; the counter sync and
    /// the events stay in DynamoDB — or none for a record with nothing to do.
    pub fn message(&self) -> Option<QueueMessage> {
        (self.counter_sync.is_some() || !self.events.is_empty()).then(|| QueueMessage::FanOut {
            workspace_id: self.workspace_id.clone(),
            outbox_id: self.id.clone(),
        })
    }

    /// The counter sync the record asks for (queued by the consumer of its message).
    pub fn counter_sync_message(&self) -> Option<QueueMessage> {
        self.counter_sync
            .as_ref()
            .map(|exam| QueueMessage::CounterSync {
                workspace_id: self.workspace_id.clone(),
                mock_exam_id: exam.clone(),
                attempt: 0,
                delivery_id: None,
            })
    }
}

async fn send(app: &App, record: &OutboxRecord) -> AppResult<()> {
    match record.message() {
        Some(message) => crate::queue::schedule(app, message, Duration::ZERO).await,
        None => Ok(()),
    }
}

/// The sweeper's re-send: sends and marks; errors are returned to the caller (the sweeper
/// counts them).
pub async fn dispatch(app: &App, record: &OutboxRecord) -> AppResult<()> {
    send(app, record).await?;
    app.outbox
        .mark_enqueued(&record.id, &crate::time::now_string())
        .await
}

/// After a commit: sends the record's message (the consumer marks it). Never fails the
/// request — the change is committed and the sweeper guarantees the hand-off.
pub async fn hand_off(app: &App, record: &OutboxRecord) {
    if let Err(e) = send(app, record).await {
        tracing::warn!(
            outbox_id = %record.id,
            error = %e.log_detail(),
            "outbox hand-off failed; the sweeper will re-send it"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_message_per_record_carrying_its_id_only() {
        let mut r = OutboxRecord::new("ws_1", "2026-01-01T00:00:00.000Z");
        assert!(r.message().is_none());
        assert!(r.counter_sync_message().is_none());
        r.counter_sync = Some("e1".into());
        assert!(
            matches!(r.message(), Some(QueueMessage::FanOut { ref outbox_id, .. }) if *outbox_id == r.id),
            "a counter sync alone still needs the record's message"
        );
        assert!(matches!(
            r.counter_sync_message(),
            Some(QueueMessage::CounterSync { ref mock_exam_id, attempt: 0, .. }) if mock_exam_id == "e1"
        ));
        r.counter_sync = None;
        r.events.push(DomainEvent::new(
            "booking.created",
            serde_json::json!({}),
            "t",
        ));
        assert!(matches!(r.message(), Some(QueueMessage::FanOut { .. })));
    }
}
