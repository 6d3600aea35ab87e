//! Lambda entry point: wiring only.

use shared_aws::Clients;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    // Table + SQS: outbox hand-offs after each commit.
    let app = shared_aws::app_from_env(Clients::dynamodb().sqs()).await?;
    shared::http::serve(bookings_api::router(app)).await
}
