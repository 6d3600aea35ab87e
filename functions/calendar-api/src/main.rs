//! Lambda entry point: wiring only.

use shared_aws::Clients;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    // Table + SQS: GHL syncs and their retries are queued.
    let app = shared_aws::app_from_env(Clients::dynamodb().sqs()).await?;
    shared::http::serve(calendar_api::router(app)).await
}
