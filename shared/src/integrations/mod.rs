//! The workspace's HubSpot, GHL and alerts integrations: their settings, secret and attempt
//! statistics (DESIGN §4 "Integrations").

pub mod counter_sync;
pub mod hubspot;
pub mod input;
pub mod ports;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::signing::WebhookSecret;

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum IntegrationKind {
    Hubspot,
    Ghl,
    /// Operational alerts (DESIGN §8; `crate::alerts`).
    Alerts,
}

impl IntegrationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hubspot => "hubspot",
            Self::Ghl => "ghl",
            Self::Alerts => "alerts",
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
    /// The alerts integration's `format` and `events` (absent on the others).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert: Option<crate::alerts::AlertSettings>,
    /// HubSpot's `syncProperties` (DESIGN §8): send `capacity` too, and sync on its changes.
    #[serde(default)]
    pub sync_properties: bool,
    pub created_at: String,
    pub updated_at: String,
}

impl Integration {
    /// What the API shows; the secret only where it was just made (a PUT).
    pub fn view(&self, with_secret: bool) -> Value {
        let mut v = json!({
            "type": self.kind,
            "webhookUrl": self.webhook_url,
            "enabled": self.enabled,
            "retryAttempts": self.retry_attempts,
            "retryDelay": self.retry_delay,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
        });
        if self.kind == IntegrationKind::Hubspot {
            v["syncProperties"] = json!(self.sync_properties);
        }
        if let Some(alert) = &self.alert {
            v["format"] = json!(alert.format);
            v["events"] = json!(alert.events);
        }
        if with_secret {
            v["secret"] = json!(self.secret.expose());
        }
        v
    }

    /// The old secret still signs while its rotation overlap lasts.
    pub fn previous_secret_at(&self, now: crate::time::Timestamp) -> Option<&WebhookSecret> {
        crate::signing::previous_secret_at(
            self.previous_secret.as_ref(),
            self.previous_secret_expires_at.as_deref(),
            now,
        )
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct IntegrationInput {
    pub webhook_url: String,
    pub enabled: bool,
    pub retry_attempts: u32,
    pub retry_delay: u32,
    /// The alerts integration's own settings (`None` for HubSpot and GHL).
    pub alert: Option<crate::alerts::AlertSettings>,
    /// HubSpot only: the payload also carries `capacity`, and a capacity change syncs.
    pub sync_properties: bool,
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

#[cfg(test)]
mod tests {
    use super::*;

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
