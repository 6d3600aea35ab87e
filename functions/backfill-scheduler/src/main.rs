//! Lambda entry point: wiring only. Invoked by EventBridge `rate(1 minute)`.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use shared_aws::Clients;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    // Table (due plans, jobs) + SQS (one run message per due job on the delivery queue).
    let app = shared_aws::app_from_env(Clients::dynamodb().sqs()).await?;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<EventBridgeEvent<serde_json::Value>>| {
            let app = app.clone();
            async move { backfill_scheduler::on_schedule(&app, event.payload).await }
        },
    ))
    .await
}
