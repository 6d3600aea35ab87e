//! Lambda entry point: wiring only.

use shared_aws::Clients;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    // Table + SQS (outbox hand-offs, export jobs) + S3 download links (presigned with SigV4;
    // the S3 client itself is not linked: uploads run in export-worker).
    let app = shared_aws::app_from_env(Clients::dynamodb().sqs().s3_presign()).await?;
    shared::http::serve(users_api::router(app)).await
}
