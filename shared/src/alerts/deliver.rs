//! The delivery worker's side of alerts: hold back repeats, fill in names, send through the
//! integrations' path (signed with the alerts integration's secret, counted in its 24 h
//! statistics) and retry through the queue with its backoff. Delivering an alert never raises
//! one: a failure here is logged and counted, nothing more.

use std::time::Duration;

use serde_json::json;

use super::{Alert, AlertType, Debounce};
use crate::app::App;
use crate::error::{AppError, AppResult};
use crate::integrations::hubspot::failure_message;
use crate::integrations::{Integration, IntegrationKind};
use crate::outbound::{Attempt, AttemptOutcome};
use crate::queue::QueueMessage;

/// Per-call timeout of an alert (the test send waits for it too, well within API Gateway's 30 s).
pub const ALERT_TIMEOUT: Duration = Duration::from_secs(10);

/// Handles one alert message. `attempt` counts failed calls so far; `delivery_id` is set once
/// the alert passed the debounce (then it is the `webhook-id` of every retry).
pub async fn run(
    app: &App,
    ws: &str,
    alert: &Alert,
    attempt: u32,
    delivery_id: Option<&str>,
    suppressed: u64,
) -> AppResult<()> {
    let Some(integration) = app
        .integrations
        .get_integration(ws, IntegrationKind::Alerts)
        .await?
    else {
        tracing::debug!(
            alert = alert.kind.as_str(),
            "no alerts integration: alert dropped"
        );
        return Ok(());
    };
    let settings = integration.alert.clone().unwrap_or_default();
    if !integration.enabled || !settings.wants(alert.kind) {
        tracing::info!(
            alert = alert.kind.as_str(),
            "alerts disabled or type not chosen: alert dropped"
        );
        return Ok(());
    }
    let (delivery_id, suppressed, alert) = match delivery_id {
        Some(id) => (id.to_owned(), suppressed, alert.clone()),
        None => {
            let suppressed = match admit(app, ws, alert).await? {
                Debounce::Send { suppressed } => suppressed,
                Debounce::Held => {
                    tracing::info!(
                        alert = alert.kind.as_str(),
                        subject = %alert.subject,
                        "alert held back: one was sent for this subject within 15 minutes"
                    );
                    return Ok(());
                }
            };
            let enriched = enrich(app, ws, alert).await;
            (
                crate::ids::new_id(crate::ids::DELIVERY),
                suppressed,
                enriched,
            )
        }
    };
    let result = send(app, ws, &integration, &alert, &delivery_id, suppressed).await;
    if result.outcome == AttemptOutcome::Success {
        return Ok(());
    }
    let failed = attempt + 1;
    if failed > integration.retry_attempts {
        tracing::error!(
            alert = alert.kind.as_str(),
            delivery_id,
            calls = failed,
            "alert could not be delivered after its last attempt"
        );
        return Ok(());
    }
    // A throttling answer's Retry-After (capped at 1 h) outweighs a shorter backoff.
    let delay = crate::outbound::retry_after::next_delay(
        crate::retry::backoff(
            integration.retry_delay,
            failed,
            app.config.retry_delay_scale,
        ),
        &result,
    );
    crate::queue::schedule(
        app,
        QueueMessage::Alert {
            workspace_id: ws.to_owned(),
            alert,
            attempt: failed,
            delivery_id: Some(delivery_id),
            suppressed,
        },
        delay,
    )
    .await
}

/// The debounce window of the alert's (type, subject), at the time it occurred.
async fn admit(app: &App, ws: &str, alert: &Alert) -> AppResult<Debounce> {
    if !super::raise::debounced(alert.kind) {
        return Ok(Debounce::Send { suppressed: 0 });
    }
    let at = crate::time::parse(&alert.occurred_at)
        .unwrap_or_else(crate::time::now)
        .timestamp();
    app.alerts
        .debounce_alert(
            ws,
            alert.kind.as_str(),
            &alert.subject,
            at,
            super::DEBOUNCE_SECS,
        )
        .await
}

/// Fills in the names the raising code did not have at hand (a read it should not pay for).
/// What cannot be read stays null: the alert still goes out.
async fn enrich(app: &App, ws: &str, alert: &Alert) -> Alert {
    let mut alert = alert.clone();
    match alert.kind {
        AlertType::SubscriptionDisabled | AlertType::DeliveryExhausted => {
            if let Ok(Some(s)) = app.subscriptions.get_subscription(ws, &alert.subject).await {
                alert.data["webhook"]["name"] = json!(s.name);
                if alert.kind == AlertType::SubscriptionDisabled {
                    alert.data["webhook"]["url"] = json!(s.url);
                }
            }
        }
        AlertType::InboundEventFailed => {
            if let Ok(Some(job)) = app.sync_jobs.get_sync_job(ws, &alert.subject).await {
                alert.data["syncJob"]["name"] = json!(job.name);
            }
        }
        _ => {}
    }
    alert
}

/// Where `consoleUrl`s point: `PUBLIC_BASE_URL`, else the API host the integration was saved on.
fn base_url(app: &App, integration: &Integration) -> String {
    app.config
        .public_base_url
        .clone()
        .or_else(|| integration.alert.as_ref().and_then(|s| s.base_url.clone()))
        .unwrap_or_default()
}

/// One signed POST of the alert in the integration's format, counted in its statistics.
pub async fn send(
    app: &App,
    ws: &str,
    integration: &Integration,
    alert: &Alert,
    delivery_id: &str,
    suppressed: u64,
) -> Attempt {
    let format = integration
        .alert
        .as_ref()
        .map(|s| s.format)
        .unwrap_or_default();
    let body = alert.body(ws, &base_url(app, integration), format, suppressed);
    let now = crate::time::now();
    let mut headers = crate::signing::outbound_headers(
        &integration.secret,
        integration.previous_secret_at(now),
        delivery_id,
        alert.kind.as_str(),
        now.timestamp(),
        &body,
    );
    headers.push(("content-type".to_owned(), "application/json".to_owned()));
    let attempt = app
        .http
        .post(&integration.webhook_url, &headers, body, ALERT_TIMEOUT)
        .await;
    let error = failure_message(&attempt);
    if let Err(e) = app
        .integrations
        .record_attempt(
            ws,
            IntegrationKind::Alerts,
            &crate::time::now_string(),
            error.as_deref(),
        )
        .await
    {
        tracing::warn!(error = %e.log_detail(), "could not record the alert attempt");
    }
    tracing::info!(
        workspace_id = ws,
        alert = alert.kind.as_str(),
        delivery_id,
        status_code = attempt.status_code,
        duration_ms = attempt.duration_ms,
        retry_after_ms = attempt.retry_after_ms,
        error = error.as_deref().unwrap_or(""),
        "alert attempt"
    );
    crate::telemetry::emit_metrics(
        "BookingSync",
        &[("Integration", "alerts")],
        &[
            (
                "WebhookSuccess",
                if error.is_none() { 1.0 } else { 0.0 },
                "Count",
            ),
            ("WebhookAttempts", 1.0, "Count"),
        ],
    );
    attempt
}

/// `POST /api/integrations/alerts/test`: sends `alert.test` now (never held back, whatever
/// `events` or `enabled` say) and returns the attempt.
pub async fn send_test(app: &App, ws: &str) -> AppResult<Attempt> {
    let integration = app
        .integrations
        .get_integration(ws, IntegrationKind::Alerts)
        .await?
        .ok_or(AppError::NotFound("alerts integration"))?;
    let delivery_id = crate::ids::new_id(crate::ids::DELIVERY);
    Ok(send(app, ws, &integration, &Alert::test(), &delivery_id, 0).await)
}
