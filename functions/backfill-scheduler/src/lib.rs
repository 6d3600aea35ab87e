//! The backfill schedule (EventBridge `rate(1 minute)`): one run of
//! `shared::inbound::backfill::schedule_due_at` per event — every sync job whose backfill is
//! due (found through the due index, never a scan) gets one run message on the delivery
//! queue; the delivery worker runs it under the job's lease.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use shared::inbound::backfill::ScheduleSummary;
use shared::App;

/// One scheduled run. The detail is logged; the invoker sees the summary or a bare error.
pub async fn on_schedule(
    app: &App,
    _event: EventBridgeEvent<serde_json::Value>,
) -> Result<ScheduleSummary, lambda_runtime::Error> {
    tick(app).await.map_err(|e| {
        tracing::error!(error = %e.log_detail(), "backfill schedule failed");
        lambda_runtime::Error::from("backfill schedule failed (see logs)")
    })
}

/// One tick at the current time: what the schedule runs.
pub async fn tick(app: &App) -> shared::AppResult<ScheduleSummary> {
    let now = shared::time::now().timestamp();
    shared::inbound::backfill::schedule_due_at(app, now).await
}
