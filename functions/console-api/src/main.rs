//! Lambda entry point: wiring only. The console reads no table and sends nothing: no SDK
//! client is built, so its cold start is the router's.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    shared::http::serve(console_api::router()).await
}
