//! Outbox hand-off: right after a commit, the committing function sends the record's
//! messages and marks it `enqueuedAt`. If that fails (or the function dies), the sweeper
//! re-sends records older than two minutes. Consumers are idempotent, so duplicates are harmless.

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

    /// The SQS messages that carry this record's work (ids only; payloads stay in DynamoDB).
    pub fn messages(&self) -> Vec<QueueMessage> {
        let mut out = Vec::new();
        if let Some(exam) = &self.counter_sync {
            out.push(QueueMessage::CounterSync {
                workspace_id: self.workspace_id.clone(),
                mock_exam_id: exam.clone(),
                attempt: 0,
                delivery_id: None,
            });
        }
        if !self.events.is_empty() {
            out.push(QueueMessage::FanOut {
                workspace_id: self.workspace_id.clone(),
                outbox_id: self.id.clone(),
            });
        }
        out
    }
}

/// Sends and marks; errors are returned to the caller (the sweeper counts them).
pub async fn dispatch(app: &App, record: &OutboxRecord) -> AppResult<()> {
    // The counter sync and the fan-out go out together (one wait, not one per message).
    futures::future::try_join_all(
        record
            .messages()
            .into_iter()
            .map(|message| crate::queue::schedule(app, message, Duration::ZERO)),
    )
    .await?;
    app.outbox
        .mark_enqueued(&record.id, &crate::time::now_string())
        .await
}

/// After a commit: never fails the request — the change is committed and the sweeper
/// guarantees the hand-off.
pub async fn dispatch_after_commit(app: &App, record: &OutboxRecord) {
    if let Err(e) = dispatch(app, record).await {
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
    fn outbox_messages_carry_ids_only() {
        let mut r = OutboxRecord::new("ws_1", "2026-01-01T00:00:00.000Z");
        assert!(r.messages().is_empty());
        r.counter_sync = Some("e1".into());
        r.events.push(DomainEvent::new(
            "booking.created",
            serde_json::json!({}),
            "t",
        ));
        let msgs = r.messages();
        assert_eq!(msgs.len(), 2);
        assert!(matches!(msgs[1], QueueMessage::FanOut { .. }));
    }
}
