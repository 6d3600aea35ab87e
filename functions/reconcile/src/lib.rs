//! The hourly reconcile schedule (EventBridge `rate(1 hour)`; locally `bash infra/fire.sh
//! reconcile`): one run of `shared::bookings::reconcile` per event.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use shared::App;

/// One scheduled run. The detail is logged by the run; the invoker sees the summary or a bare
/// error.
pub async fn on_schedule(
    app: &App,
    _event: EventBridgeEvent<serde_json::Value>,
) -> Result<shared::bookings::reconcile::Summary, lambda_runtime::Error> {
    shared::bookings::reconcile::run(app)
        .await
        .map_err(|_| lambda_runtime::Error::from("reconcile run failed (see logs)"))
}

#[cfg(test)]
mod tests {
    use aws_lambda_events::event::eventbridge::EventBridgeEvent;

    /// What EventBridge (and infra/stack/schedule.py locally) sends to the handler.
    #[test]
    fn the_scheduled_event_deserializes() {
        let raw = r#"{"version":"0","id":"53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
            "detail-type":"Scheduled Event","source":"aws.events","account":"123456789012",
            "time":"2026-01-01T10:00:00Z","region":"us-east-1",
            "resources":["arn:aws:events:us-east-1:123456789012:rule/r"],"detail":{}}"#;
        let e: EventBridgeEvent<serde_json::Value> = serde_json::from_str(raw).unwrap();
        assert_eq!(e.detail_type, "Scheduled Event");
    }
}
