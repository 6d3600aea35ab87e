//! HubSpot counter sync: the workflow webhook receives exactly
//! `{"mock_exam_id": "...", "total_bookings": N}` (seed 000), signed with the integration's
//! secret like every outbound request (DESIGN §5).

use std::time::Duration;

use serde_json::json;

use crate::app::App;
use crate::bookings::MockExam;
use crate::integrations::{Integration, IntegrationKind};
use crate::outbound::Attempt;

/// The event name carried in `X-Webhook-Event` for counter syncs.
pub const COUNTER_EVENT: &str = "mock_exam.bookings_changed";

pub fn counter_body(mock_exam_id: &str, total_bookings: i64) -> Vec<u8> {
    json!({ "mock_exam_id": mock_exam_id, "total_bookings": total_bookings })
        .to_string()
        .into_bytes()
}

/// The body HubSpot receives for `exam`: seed 000's exactly, plus `"capacity"` when the
/// integration has `syncProperties` (seed 000's "capacity changes" future).
pub fn exam_body(integration: &Integration, exam: &MockExam) -> Vec<u8> {
    if !integration.sync_properties {
        return counter_body(&exam.id, exam.total_bookings);
    }
    json!({
        "mock_exam_id": exam.id,
        "total_bookings": exam.total_bookings,
        "capacity": exam.capacity,
    })
    .to_string()
    .into_bytes()
}

/// One signed POST of the exam's count (and capacity, with `syncProperties`), recorded in the
/// integration's 24 h statistics.
pub async fn send_count(
    app: &App,
    workspace_id: &str,
    integration: &Integration,
    exam: &MockExam,
    delivery_id: &str,
    timeout: Duration,
) -> Attempt {
    let body = exam_body(integration, exam);
    let (mock_exam_id, total_bookings) = (exam.id.as_str(), exam.total_bookings);
    let now = crate::time::now();
    let mut headers = crate::signing::outbound_headers(
        &integration.secret,
        integration.previous_secret_at(now),
        delivery_id,
        COUNTER_EVENT,
        now.timestamp(),
        &body,
    );
    headers.push(("content-type".to_owned(), "application/json".to_owned()));
    let attempt = app
        .http
        .post(&integration.webhook_url, &headers, body, timeout)
        .await;
    let error = failure_message(&attempt);
    if let Err(e) = app
        .integrations
        .record_attempt(
            workspace_id,
            IntegrationKind::Hubspot,
            &crate::time::now_string(),
            error.as_deref(),
        )
        .await
    {
        tracing::warn!(error = %e.log_detail(), "could not record hubspot attempt");
    }
    tracing::info!(
        mock_exam_id,
        total_bookings,
        status_code = attempt.status_code,
        duration_ms = attempt.duration_ms,
        retry_after_ms = attempt.retry_after_ms,
        error = error.as_deref().unwrap_or(""),
        "hubspot counter sync attempt"
    );
    crate::telemetry::emit_metrics(
        "BookingSync",
        &[("Integration", "hubspot")],
        &[
            (
                "WebhookSuccess",
                if error.is_none() { 1.0 } else { 0.0 },
                "Count",
            ),
            ("WebhookAttempts", 1.0, "Count"),
            (
                "WebhookDurationMs",
                attempt.duration_ms as f64,
                "Milliseconds",
            ),
        ],
    );
    attempt
}

/// `None` for a 2xx; otherwise what went wrong, for `lastError` and logs.
pub fn failure_message(attempt: &Attempt) -> Option<String> {
    if attempt.outcome == crate::outbound::AttemptOutcome::Success {
        return None;
    }
    let message = match (&attempt.error, attempt.status_code) {
        (Some(e), _) => e.clone(),
        (None, Some(code)) => format!("HTTP {code}"),
        (None, None) => "request failed".to_owned(),
    };
    Some(match attempt.retry_after() {
        // The deferral is part of what the logs and `lastError` say.
        Some(wait) => format!("{message} (Retry-After {} s)", wait.as_secs()),
        None => message,
    })
}
