//! Lambda entry point: wiring only.

use shared_aws::Clients;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    // Table + SQS: retried and recovered deliveries go back on the delivery queue.
    let app = shared_aws::app_from_env(Clients::dynamodb().sqs()).await?;
    shared::http::serve(subscriptions_api::router(app)).await
}
