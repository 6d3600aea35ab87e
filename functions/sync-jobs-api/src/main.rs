//! Lambda entry point: wiring only.

use shared_aws::Clients;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    // Table + SQS: replayed events and sync-job purges are queued.
    let app = shared_aws::app_from_env(Clients::dynamodb().sqs()).await?;
    shared::http::serve(sync_jobs_api::router(app)).await
}
