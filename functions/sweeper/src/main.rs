//! Lambda entry point: wiring only. Invoked by EventBridge `rate(5 minutes)`.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use shared_aws::Clients;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    // Table + SQS: lost hand-offs and stuck deliveries are re-sent.
    let app = shared_aws::app_from_env(Clients::dynamodb().sqs()).await?;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<EventBridgeEvent<serde_json::Value>>| {
            let app = app.clone();
            async move { sweeper::on_schedule(&app, event.payload).await }
        },
    ))
    .await
}
