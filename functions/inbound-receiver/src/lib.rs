//! The public inbound receiver (no Bearer auth): `POST /api/webhooks/{workspaceId}/{jobId}`.
//! Reads the raw body (≤ 1 MiB), verifies the provider's signature on those exact bytes before
//! anything parses them, stores the raw event idempotently and enqueues its ids — the worker
//! does the rest, so the sender gets its 200 fast.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use shared::http::Path;

use shared::http::{read_body, MAX_INBOUND_BODY};
use shared::inbound::receive::receive;
use shared::{App, AppResult};

pub fn router(app: App) -> Router {
    let routes = Router::new().route(
        "/api/webhooks/{workspace_id}/{job_id}",
        post(receive_webhook),
    );
    shared::http::finish_router(routes, app)
}

async fn receive_webhook(
    State(app): State<App>,
    Path((workspace_id, job_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> AppResult<Response> {
    let bytes = read_body(body, &headers, MAX_INBOUND_BODY).await?;
    let received = receive(&app, &workspace_id, &job_id, &headers, &bytes).await?;
    Ok((StatusCode::OK, axum::Json(received.body())).into_response())
}
