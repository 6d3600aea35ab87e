//! Lambda entry point: wiring only.

use shared_aws::Clients;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    // Table + SQS: stored events are handed to the inbound queue.
    let app = shared_aws::app_from_env(Clients::dynamodb().sqs()).await?;
    shared::http::serve(inbound_receiver::router(app)).await
}
