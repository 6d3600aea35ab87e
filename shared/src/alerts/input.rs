//! What a client may send for the alerts integration (`PUT /api/integrations/alerts`): the
//! common integration fields (URL trimmed, bounded and checked against the SSRF rules; retries)
//! plus `format` and `events`.

use serde::Deserialize;

use super::{AlertFormat, AlertSettings, AlertType};
use crate::app::App;
use crate::error::{AppError, AppResult};
use crate::integrations::input::IntegrationBody;
use crate::integrations::IntegrationInput;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertsBody {
    pub webhook_url: String,
    #[serde(default)]
    pub format: Option<String>,
    #[serde(default)]
    pub events: Option<Vec<String>>,
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub retry_attempts: Option<u32>,
    #[serde(default)]
    pub retry_delay: Option<u32>,
}

/// Checks a body: `format` defaults to standard, `events` to every type, `enabled` to true.
pub fn validate(app: &App, body: AlertsBody) -> AppResult<IntegrationInput> {
    let format = match body.format.as_deref().map(str::trim) {
        None | Some("standard") => AlertFormat::Standard,
        Some("slack") => AlertFormat::Slack,
        Some(other) => {
            return Err(AppError::validation(format!(
                "format must be \"standard\" or \"slack\", got {other:?}"
            )))
        }
    };
    let events = match body.events {
        None => AlertType::ALL.to_vec(),
        Some(names) if names.is_empty() => {
            return Err(AppError::validation(
                "events must name at least one alert type (omit it for all)",
            ))
        }
        Some(names) => {
            let mut events = Vec::with_capacity(names.len());
            for name in &names {
                let kind = AlertType::parse(name.trim()).ok_or_else(|| {
                    AppError::validation(format!(
                        "events: unknown alert type {name:?} (known: {})",
                        AlertType::ALL.map(AlertType::as_str).join(", ")
                    ))
                })?;
                if !events.contains(&kind) {
                    events.push(kind);
                }
            }
            events
        }
    };
    let mut input = crate::integrations::input::validate(
        app,
        IntegrationBody {
            webhook_url: body.webhook_url,
            enabled: body.enabled,
            retry_attempts: body.retry_attempts,
            retry_delay: body.retry_delay,
            sync_properties: None,
        },
        false,
    )?;
    input.alert = Some(AlertSettings {
        format,
        events,
        base_url: None,
    });
    Ok(input)
}
