//! Raising an alert: one message on the delivery queue, handled by [`super::deliver`]. The
//! operation that raises it pays one `SendMessage` at most, and a failure is logged, never
//! propagated: an alert must not fail what it reports on.

use std::time::Duration;

use super::{Alert, AlertType};
use crate::app::App;
use crate::queue::QueueMessage;

/// Hands `alert` to the delivery worker. Also counts it as the EMF metric `AlertsRaised`
/// (dimension `AlertType`), which the template's CloudWatch alarms watch.
pub async fn raise(app: &App, ws: &str, alert: Alert) {
    let kind = alert.kind;
    crate::telemetry::emit_metrics(
        "BookingSync",
        &[("AlertType", kind.as_str())],
        &[("AlertsRaised", 1.0, "Count")],
    );
    let message = QueueMessage::Alert {
        workspace_id: ws.to_owned(),
        alert,
        attempt: 0,
        delivery_id: None,
        suppressed: 0,
    };
    match crate::queue::schedule(app, message, Duration::ZERO).await {
        Ok(()) => tracing::info!(workspace_id = ws, alert = kind.as_str(), "alert raised"),
        Err(e) => tracing::error!(
            workspace_id = ws,
            alert = kind.as_str(),
            error = %e.log_detail(),
            "could not raise an alert"
        ),
    }
}

/// The receiver rejected a signature for `job`: one atomic count in the job's 5-minute
/// window; the rejection that reaches the threshold raises `inbound.signature_failures`.
pub async fn signature_rejected(app: &App, ws: &str, job_id: &str, job_name: &str) {
    let now = crate::time::now().timestamp();
    let window = super::SIGNATURE_FAILURE_WINDOW_SECS;
    let start = now - now.rem_euclid(window);
    match app.alerts.count_signature_failure(ws, job_id, start).await {
        Ok(count) if count == super::SIGNATURE_FAILURE_THRESHOLD => {
            let since = chrono::DateTime::from_timestamp(start, 0)
                .map(crate::time::format)
                .unwrap_or_default();
            raise(
                app,
                ws,
                Alert::inbound_signature_failures(job_id, job_name, count, &since),
            )
            .await;
        }
        Ok(_) => {}
        Err(e) => tracing::error!(
            workspace_id = ws,
            job_id,
            error = %e.log_detail(),
            "could not count a rejected signature"
        ),
    }
}

/// Whether alerts of `kind` are held back by the debounce window (all but `alert.test`).
pub fn debounced(kind: AlertType) -> bool {
    kind != AlertType::AlertTest
}
