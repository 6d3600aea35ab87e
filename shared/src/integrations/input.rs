//! What a client may send for an integration (`PUT /api/integrations/{hubspot,ghl}`): the
//! body, its rules and defaults. The target URL is trimmed, bounded and checked against the
//! SSRF rules like a subscription's.

use serde::Deserialize;

use super::IntegrationInput;
use crate::app::App;
use crate::error::{AppError, AppResult};

pub const DEFAULT_RETRY_ATTEMPTS: u32 = 5;
pub const DEFAULT_RETRY_DELAY: u32 = 30;
/// The longest `webhookUrl` kept (as for subscriptions).
pub const MAX_URL_CHARS: usize = 2048;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IntegrationBody {
    pub webhook_url: String,
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub retry_attempts: Option<u32>,
    #[serde(default)]
    pub retry_delay: Option<u32>,
    /// HubSpot only (default false).
    #[serde(default)]
    pub sync_properties: Option<bool>,
}

/// Checks a body; GHL's requires `enabled` (seed 002), HubSpot's defaults it to true.
pub fn validate(
    app: &App,
    body: IntegrationBody,
    enabled_required: bool,
) -> AppResult<IntegrationInput> {
    let webhook_url = body.webhook_url.trim();
    if webhook_url.chars().count() > MAX_URL_CHARS {
        return Err(AppError::validation(format!(
            "webhookUrl must be at most {MAX_URL_CHARS} characters"
        )));
    }
    crate::outbound::validate_target_url(webhook_url, app.config.allow_private_targets)
        .map_err(|e| AppError::validation(format!("webhookUrl: {e}")))?;
    if enabled_required && body.enabled.is_none() {
        return Err(AppError::validation("enabled is required"));
    }
    let retry_attempts = body.retry_attempts.unwrap_or(DEFAULT_RETRY_ATTEMPTS);
    if retry_attempts > 10 {
        return Err(AppError::validation("retryAttempts must be from 0 to 10"));
    }
    let retry_delay = body.retry_delay.unwrap_or(DEFAULT_RETRY_DELAY);
    if !(1..=3600).contains(&retry_delay) {
        return Err(AppError::validation(
            "retryDelay must be from 1 to 3600 seconds",
        ));
    }
    Ok(IntegrationInput {
        webhook_url: webhook_url.to_owned(),
        enabled: body.enabled.unwrap_or(true),
        retry_attempts,
        retry_delay,
        alert: None,
        sync_properties: body.sync_properties.unwrap_or(false),
    })
}
