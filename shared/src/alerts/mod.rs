//! Operational alerts (DESIGN §8 "Alerts"): when a subscription is disabled, a delivery or a
//! HubSpot/GHL sync used up its retries, an inbound event cannot be applied or a sync job keeps
//! rejecting signatures, the workspace's alerts integration hears of it.
//!
//! - Raising is one queue message ([`raise::raise`]): the operation that raised it never
//!   waits for more, and a failure to raise is logged, not propagated.
//! - The delivery worker ([`deliver`]) holds back repeats (one alert per type and subject
//!   per 15 minutes, counted atomically, the next one carries `data.suppressed`), fills in
//!   names, and sends through the integrations' path: signed like every integration (§5),
//!   retried through the queue with the integration's backoff, counted in its statistics.
//! - An alert never raises an alert: nothing on the alert path calls [`raise::raise`].

pub mod deliver;
pub mod input;
pub mod ports;
pub mod raise;

pub use ports::{AlertStore, Debounce};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// One alert per (type, subject) per this long; repeats are held back and counted.
pub const DEBOUNCE_SECS: i64 = 15 * 60;
/// `inbound.signature_failures` fires when a job rejects this many signatures…
pub const SIGNATURE_FAILURE_THRESHOLD: u64 = 10;
/// …within one window of this many seconds.
pub const SIGNATURE_FAILURE_WINDOW_SECS: i64 = 5 * 60;

/// The alert types of DESIGN §8.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AlertType {
    #[serde(rename = "subscription.disabled")]
    SubscriptionDisabled,
    #[serde(rename = "delivery.exhausted")]
    DeliveryExhausted,
    #[serde(rename = "hubspot.sync_failing")]
    HubspotSyncFailing,
    #[serde(rename = "ghl.sync_failed")]
    GhlSyncFailed,
    #[serde(rename = "inbound.event_failed")]
    InboundEventFailed,
    #[serde(rename = "inbound.signature_failures")]
    InboundSignatureFailures,
    #[serde(rename = "alert.test")]
    AlertTest,
}

impl AlertType {
    pub const ALL: [AlertType; 7] = [
        Self::SubscriptionDisabled,
        Self::DeliveryExhausted,
        Self::HubspotSyncFailing,
        Self::GhlSyncFailed,
        Self::InboundEventFailed,
        Self::InboundSignatureFailures,
        Self::AlertTest,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::SubscriptionDisabled => "subscription.disabled",
            Self::DeliveryExhausted => "delivery.exhausted",
            Self::HubspotSyncFailing => "hubspot.sync_failing",
            Self::GhlSyncFailed => "ghl.sync_failed",
            Self::InboundEventFailed => "inbound.event_failed",
            Self::InboundSignatureFailures => "inbound.signature_failures",
            Self::AlertTest => "alert.test",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// `format` of the alerts integration: our JSON body, or a Slack incoming webhook's `text`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertFormat {
    #[default]
    Standard,
    Slack,
}

impl AlertFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Standard => "standard",
            Self::Slack => "slack",
        }
    }
}

/// What the alerts integration adds to the common integration settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertSettings {
    #[serde(default)]
    pub format: AlertFormat,
    /// The types sent; every type when the PUT named none.
    pub events: Vec<AlertType>,
    /// The API's own base URL as the PUT saw it: `consoleUrl`s start with it when
    /// `PUBLIC_BASE_URL` is not set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
}

impl Default for AlertSettings {
    fn default() -> Self {
        Self {
            format: AlertFormat::Standard,
            events: AlertType::ALL.to_vec(),
            base_url: None,
        }
    }
}

impl AlertSettings {
    pub fn wants(&self, kind: AlertType) -> bool {
        self.events.contains(&kind)
    }
}

/// An alert as raised: its type, the subject it is debounced by (DESIGN §8: the webhook id,
/// the `mockExamId`, the `sentraEventId`, or the sync job id), when it happened and its `data`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Alert {
    #[serde(rename = "type")]
    pub kind: AlertType,
    pub subject: String,
    pub occurred_at: String,
    pub data: Value,
}

/// Error texts carried in alerts are cut to this many characters (queue messages stay small).
const MAX_TEXT_CHARS: usize = 500;

fn cut(text: &str) -> String {
    text.chars().take(MAX_TEXT_CHARS).collect()
}

impl Alert {
    fn new(kind: AlertType, subject: &str, data: Value) -> Self {
        Self {
            kind,
            subject: subject.to_owned(),
            occurred_at: crate::time::now_string(),
            data,
        }
    }

    /// `webhook.name`/`url` are filled in by the worker.
    pub fn subscription_disabled(webhook_id: &str, reason: &str) -> Self {
        Self::new(
            AlertType::SubscriptionDisabled,
            webhook_id,
            json!({ "webhook": { "id": webhook_id, "name": null, "url": null }, "reason": cut(reason) }),
        )
    }

    /// `webhook.name` is filled in by the worker.
    pub fn delivery_exhausted(
        webhook_id: &str,
        delivery_id: &str,
        event: &str,
        attempts: u32,
        status_code: Option<u16>,
        error: Option<&str>,
    ) -> Self {
        Self::new(
            AlertType::DeliveryExhausted,
            webhook_id,
            json!({
                "webhook": { "id": webhook_id, "name": null },
                "delivery": {
                    "id": delivery_id,
                    "event": event,
                    "attempts": attempts,
                    "statusCode": status_code,
                    "error": error.map(cut),
                },
            }),
        )
    }

    pub fn hubspot_sync_failing(mock_exam_id: &str, attempts: u32, last_error: &str) -> Self {
        Self::new(
            AlertType::HubspotSyncFailing,
            mock_exam_id,
            json!({ "mockExamId": mock_exam_id, "attempts": attempts, "lastError": cut(last_error) }),
        )
    }

    pub fn ghl_sync_failed(sentra_event_id: &str, sync_error: &str) -> Self {
        Self::new(
            AlertType::GhlSyncFailed,
            sentra_event_id,
            json!({ "sentraEventId": sentra_event_id, "syncError": cut(sync_error) }),
        )
    }

    /// `syncJob.name` is filled in by the worker.
    pub fn inbound_event_failed(
        job_id: &str,
        event_id: &str,
        provider_event_id: &str,
        error: &str,
    ) -> Self {
        Self::new(
            AlertType::InboundEventFailed,
            job_id,
            json!({
                "syncJob": { "id": job_id, "name": null },
                "eventId": event_id,
                "providerEventId": provider_event_id,
                "error": cut(error),
            }),
        )
    }

    pub fn inbound_signature_failures(
        job_id: &str,
        job_name: &str,
        count: u64,
        since: &str,
    ) -> Self {
        Self::new(
            AlertType::InboundSignatureFailures,
            job_id,
            json!({
                "syncJob": { "id": job_id, "name": job_name },
                "count": count,
                "since": since,
            }),
        )
    }

    pub fn test() -> Self {
        Self::new(
            AlertType::AlertTest,
            "test",
            json!({ "message": "This is a test alert: the alerts integration works." }),
        )
    }

    fn text(&self, pointer: &str) -> String {
        match self.data.pointer(pointer) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) | None => String::new(),
            Some(other) => other.to_string(),
        }
    }

    /// The webhook or sync job as a person knows it: its name in quotes, else its id.
    fn named(&self, base: &str) -> String {
        let name = self.text(&format!("{base}/name"));
        if name.is_empty() {
            self.text(&format!("{base}/id"))
        } else {
            format!("\"{name}\"")
        }
    }

    /// One sentence for a person.
    pub fn message(&self) -> String {
        let or_unknown = |s: String| {
            if s.is_empty() {
                "unknown error".to_owned()
            } else {
                s
            }
        };
        match self.kind {
            AlertType::SubscriptionDisabled => format!(
                "Webhook {} was disabled: {}.",
                self.named("/webhook"),
                self.text("/reason")
            ),
            AlertType::DeliveryExhausted => format!(
                "A {} delivery to webhook {} failed after {} attempts: {}.",
                self.text("/delivery/event"),
                self.named("/webhook"),
                self.text("/delivery/attempts"),
                or_unknown(self.text("/delivery/error"))
            ),
            AlertType::HubspotSyncFailing => format!(
                "The HubSpot sync of mock exam {} failed after {} attempts: {}.",
                self.text("/mockExamId"),
                self.text("/attempts"),
                or_unknown(self.text("/lastError"))
            ),
            AlertType::GhlSyncFailed => format!(
                "The GHL sync of calendar event {} failed: {}.",
                self.text("/sentraEventId"),
                or_unknown(self.text("/syncError"))
            ),
            AlertType::InboundEventFailed => format!(
                "Event {} of sync job {} could not be applied: {}.",
                self.text("/providerEventId"),
                self.named("/syncJob"),
                or_unknown(self.text("/error"))
            ),
            AlertType::InboundSignatureFailures => format!(
                "Sync job {} rejected {} requests with a bad signature since {}.",
                self.named("/syncJob"),
                self.text("/count"),
                self.text("/since")
            ),
            AlertType::AlertTest => {
                "This is a test alert: the alerts integration works.".to_owned()
            }
        }
    }

    /// The console view of the subject (DESIGN §8 deep links), from `/console` on.
    pub fn deep_link(&self) -> String {
        let path = match self.kind {
            AlertType::SubscriptionDisabled | AlertType::DeliveryExhausted => {
                format!("#/webhooks/{}", self.subject)
            }
            AlertType::HubspotSyncFailing => format!("#/mock-exams/{}", self.subject),
            AlertType::GhlSyncFailed => "#/calendar-sync".to_owned(),
            AlertType::InboundEventFailed => format!(
                "#/sync-jobs/{}/events/{}",
                self.subject,
                self.text("/eventId")
            ),
            AlertType::InboundSignatureFailures => format!("#/sync-jobs/{}", self.subject),
            AlertType::AlertTest => "#/overview".to_owned(),
        };
        format!("/console{path}")
    }

    /// The request body in `format`: the standard JSON body (with `data.suppressed` when
    /// repeats were held back) or Slack's `{"text"}`.
    pub fn body(
        &self,
        workspace_id: &str,
        base_url: &str,
        format: AlertFormat,
        suppressed: u64,
    ) -> Vec<u8> {
        let console_url = format!("{}{}", base_url.trim_end_matches('/'), self.deep_link());
        let message = self.message();
        let body = match format {
            AlertFormat::Slack => json!({ "text": format!("{message} {console_url}") }),
            AlertFormat::Standard => {
                let mut data = self.data.clone();
                if suppressed > 0 {
                    data["suppressed"] = json!(suppressed);
                }
                json!({
                    "type": self.kind,
                    "occurredAt": self.occurred_at,
                    "workspaceId": workspace_id,
                    "message": message,
                    "consoleUrl": console_url,
                    "data": data,
                })
            }
        };
        body.to_string().into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_round_trip_by_their_names() {
        for t in AlertType::ALL {
            assert_eq!(AlertType::parse(t.as_str()), Some(t));
            assert_eq!(serde_json::to_value(t).unwrap(), json!(t.as_str()));
        }
        assert_eq!(AlertType::parse("subscription.*"), None);
    }

    #[test]
    fn standard_body_carries_message_console_url_and_suppressed_count() {
        let mut a = Alert::hubspot_sync_failing("40577087837", 6, "http status 500");
        a.occurred_at = "2026-01-01T00:00:00.000Z".into();
        let body: Value =
            serde_json::from_slice(&a.body("ws_1", "https://x.test/", AlertFormat::Standard, 0))
                .unwrap();
        assert_eq!(
            body,
            json!({
                "type": "hubspot.sync_failing",
                "occurredAt": "2026-01-01T00:00:00.000Z",
                "workspaceId": "ws_1",
                "message": "The HubSpot sync of mock exam 40577087837 failed after 6 attempts: http status 500.",
                "consoleUrl": "https://x.test/console#/mock-exams/40577087837",
                "data": { "mockExamId": "40577087837", "attempts": 6, "lastError": "http status 500" },
            })
        );
        let held: Value =
            serde_json::from_slice(&a.body("ws_1", "https://x.test", AlertFormat::Standard, 3))
                .unwrap();
        assert_eq!(held["data"]["suppressed"], 3);
    }

    #[test]
    fn slack_body_is_message_and_link() {
        let a = Alert::inbound_event_failed("job_1", "iev_2", "evt_3", "boom");
        let body: Value =
            serde_json::from_slice(&a.body("ws_1", "https://x.test", AlertFormat::Slack, 0))
                .unwrap();
        assert_eq!(
            body,
            json!({ "text": "Event evt_3 of sync job job_1 could not be applied: boom. https://x.test/console#/sync-jobs/job_1/events/iev_2" })
        );
    }

    #[test]
    fn each_type_links_to_its_subject() {
        let links = [
            (
                Alert::subscription_disabled("wh_1", "r"),
                "/console#/webhooks/wh_1",
            ),
            (
                Alert::delivery_exhausted("wh_1", "dlv_1", "user.created", 4, Some(500), None),
                "/console#/webhooks/wh_1",
            ),
            (
                Alert::hubspot_sync_failing("e1", 1, "x"),
                "/console#/mock-exams/e1",
            ),
            (
                Alert::ghl_sync_failed("cal_1", "x"),
                "/console#/calendar-sync",
            ),
            (
                Alert::inbound_event_failed("job_1", "iev_1", "p", "x"),
                "/console#/sync-jobs/job_1/events/iev_1",
            ),
            (
                Alert::inbound_signature_failures("job_1", "n", 10, "t"),
                "/console#/sync-jobs/job_1",
            ),
            (Alert::test(), "/console#/overview"),
        ];
        for (alert, link) in links {
            assert_eq!(alert.deep_link(), link, "{:?}", alert.kind);
            assert!(alert.message().ends_with('.'), "{}", alert.message());
        }
    }
}
