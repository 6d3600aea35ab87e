//! The sweeper schedule (EventBridge `rate(5 minutes)`): one run of
//! `shared::outbox::sweep` per event — lost outbox hand-offs re-sent, stuck GHL mappings and
//! webhook deliveries re-driven.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use shared::App;

/// One scheduled run. The detail is logged; the invoker sees the summary or a bare error.
pub async fn on_schedule(
    app: &App,
    _event: EventBridgeEvent<serde_json::Value>,
) -> Result<shared::outbox::sweep::Summary, lambda_runtime::Error> {
    shared::outbox::sweep::run(app).await.map_err(|e| {
        tracing::error!(error = %e.log_detail(), "outbox sweep failed");
        lambda_runtime::Error::from("outbox sweep failed (see logs)")
    })
}
