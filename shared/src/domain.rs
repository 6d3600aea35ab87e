//! Domain types in the product's words. JSON is camelCase (seed 001); the same structs are
//! stored in DynamoDB (serde_dynamo) next to their key attributes.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::AppError;
use crate::signing::WebhookSecret;

// --- workspaces ---------------------------------------------------------------------------

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Workspace {
    pub id: String,
    pub name: String,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ApiKey {
    pub id: String,
    pub workspace_id: String,
    /// The first characters of the key, to recognise it in a list.
    pub prefix: String,
    /// SHA-256 (hex) of the key; the key itself is never stored.
    pub hash: String,
    pub created_at: String,
    #[serde(default)]
    pub last_used_at: Option<String>,
    #[serde(default)]
    pub revoked_at: Option<String>,
}

impl ApiKey {
    /// What `GET …/api-keys` shows.
    pub fn public_view(&self) -> Value {
        serde_json::json!({
            "id": self.id,
            "prefix": self.prefix,
            "createdAt": self.created_at,
            "lastUsedAt": self.last_used_at,
        })
    }
}

// --- mock exams and bookings ---------------------------------------------------------------

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MockExam {
    pub id: String,
    pub name: String,
    pub capacity: i64,
    pub total_bookings: i64,
    pub version: i64,
    pub last_synced_version: i64,
    #[serde(default)]
    pub exam_date: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ExamInput {
    pub name: String,
    pub capacity: i64,
    pub exam_date: Option<String>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum BookingStatus {
    Active,
    Cancelled,
    Completed,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct QrCode {
    pub id: String,
    pub code: String,
    pub scanned_at: Option<String>,
    pub scanned_by: Option<String>,
    pub validated_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Booking {
    pub id: String,
    pub mock_exam_id: String,
    /// `None` after a GDPR erase removed the link to the person.
    pub contact_id: Option<String>,
    pub status: BookingStatus,
    pub created_at: String,
    #[serde(default)]
    pub updated_at: Option<String>,
    #[serde(default)]
    pub cancelled_at: Option<String>,
    #[serde(default)]
    pub completed_at: Option<String>,
    pub qr_code: QrCode,
}

/// An active booking as counted in its exam's partition.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ActiveBookingRef {
    pub booking_id: String,
    pub contact_id: String,
}

/// Stored under an `Idempotency-Key`: what the first request was and what it produced.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct IdempotencyRecord {
    pub request_hash: String,
    pub booking_id: String,
    pub expires_at: i64,
}

// --- integrations ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum IntegrationKind {
    Hubspot,
    Ghl,
}

impl IntegrationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hubspot => "hubspot",
            Self::Ghl => "ghl",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Integration {
    #[serde(rename = "type")]
    pub kind: IntegrationKind,
    pub webhook_url: String,
    pub enabled: bool,
    pub retry_attempts: u32,
    /// Seconds, 1..3600.
    pub retry_delay: u32,
    pub secret: WebhookSecret,
    #[serde(default)]
    pub previous_secret: Option<WebhookSecret>,
    #[serde(default)]
    pub previous_secret_expires_at: Option<String>,
    #[serde(default)]
    pub last_error: Option<String>,
    #[serde(default)]
    pub last_error_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct IntegrationInput {
    pub webhook_url: String,
    pub enabled: bool,
    pub retry_attempts: u32,
    pub retry_delay: u32,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AttemptStats {
    pub succeeded: u64,
    pub failed: u64,
}

impl AttemptStats {
    /// Fraction 0–1; with no attempts nothing has failed, so 1.
    pub fn success_rate(&self) -> f64 {
        let total = self.succeeded + self.failed;
        if total == 0 {
            1.0
        } else {
            self.succeeded as f64 / total as f64
        }
    }
}

// --- outbox and queue messages --------------------------------------------------------------

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

// --- input validation ------------------------------------------------------------------------

/// Ids that become part of DynamoDB keys: 1..=128 visible ASCII characters, no `#` (the key
/// separator) and no whitespace.
pub fn validate_external_id(field: &str, value: &str) -> Result<(), AppError> {
    if value.is_empty() {
        return Err(AppError::validation(format!("{field} must not be empty")));
    }
    if value.len() > 128 {
        return Err(AppError::validation(format!(
            "{field} must be at most 128 characters"
        )));
    }
    if !value.bytes().all(|b| b.is_ascii_graphic() && b != b'#') {
        return Err(AppError::validation(format!(
            "{field} may contain only visible ASCII characters other than '#'"
        )));
    }
    Ok(())
}

/// The state machine of complete / QR scan / QR validate (every store applies it).
pub fn apply_transition(
    booking: &mut Booking,
    transition: crate::ports::BookingTransition,
    scanned_by: Option<&str>,
    now: &str,
) -> crate::error::AppResult<()> {
    if booking.status == BookingStatus::Cancelled {
        return Err(crate::error::AppError::validation(format!(
            "booking {} is cancelled",
            booking.id
        )));
    }
    match transition {
        crate::ports::BookingTransition::Complete => {
            if booking.status == BookingStatus::Completed {
                return Err(crate::error::AppError::validation(format!(
                    "booking {} is already completed",
                    booking.id
                )));
            }
            booking.status = BookingStatus::Completed;
            booking.completed_at = Some(now.to_owned());
        }
        crate::ports::BookingTransition::QrScan => {
            booking.qr_code.scanned_at = Some(now.to_owned());
            booking.qr_code.scanned_by = scanned_by.map(str::to_owned);
        }
        crate::ports::BookingTransition::QrValidate => {
            if booking.qr_code.validated_at.is_some() {
                return Err(crate::error::AppError::validation(format!(
                    "the QR code of booking {} is already validated",
                    booking.id
                )));
            }
            booking.qr_code.validated_at = Some(now.to_owned());
        }
    }
    booking.updated_at = Some(now.to_owned());
    Ok(())
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

    #[test]
    fn external_ids_reject_key_separators() {
        assert!(validate_external_id("mockExamId", "40577087837").is_ok());
        assert!(validate_external_id("mockExamId", "a#b").is_err());
        assert!(validate_external_id("mockExamId", "").is_err());
        assert!(validate_external_id("mockExamId", "a b").is_err());
        let long = "x".repeat(129);
        let msg = validate_external_id("contactId", &long)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("contactId"));
    }

    #[test]
    fn success_rate_is_a_fraction() {
        let s = AttemptStats {
            succeeded: 99,
            failed: 1,
        };
        assert!((s.success_rate() - 0.99).abs() < 1e-9);
        assert_eq!(AttemptStats::default().success_rate(), 1.0);
    }
}
