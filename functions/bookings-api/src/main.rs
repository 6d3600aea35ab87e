//! Lambda entry point: wiring only.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let app = shared_aws::app_from_env().await?;
    shared::http::serve(bookings_api::router(app)).await
}
