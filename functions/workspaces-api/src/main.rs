//! Lambda entry point: wiring only.

use shared_aws::Clients;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    // The table only: workspaces, keys and integration settings send nothing.
    let app = shared_aws::app_from_env(Clients::dynamodb()).await?;
    // Workspace creation needs the root key: fail the cold start, not the first request.
    app.config.require_root_api_key()?;
    shared::http::serve(workspaces_api::router(app)).await
}
