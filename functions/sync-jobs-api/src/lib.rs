//! Sync jobs API (seed 003, DESIGN §4 "Inbound sync jobs"), Bearer-authenticated. The routes
//! shape HTTP around the use cases of `shared::inbound` (`service`, `requeue`, `input`):
//! - `jobs`: sync-job CRUD under `/api/workspaces/{workspaceId}/sync-jobs`, and
//!   `…/sync-jobs/{jobId}/backfill` (one backfill run now);
//! - `admin`: `…/sync-jobs/{jobId}/webhook/*` (stats, events, retry, replay, executions,
//!   regenerate-secret, preview), `…/records/{objectType}/{objectId}`, and
//!   `…/deliveries` (the webhook destination's delivery log), and
//!   `POST /api/webhooks/{workspaceId}/{jobId}/test` (a synthetic signed event through the
//!   real receiver pipeline).

pub mod admin;
pub mod jobs;

use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::Router;
use shared::App;

pub fn router(app: App) -> Router {
    const JOB: &str = "/api/workspaces/{workspace_id}/sync-jobs/{job_id}";
    let routes = Router::new()
        .route(
            "/api/workspaces/{workspace_id}/sync-jobs",
            post(jobs::create).get(jobs::list),
        )
        .route(
            JOB,
            get(jobs::get_one).patch(jobs::patch).delete(jobs::delete),
        )
        .route(&format!("{JOB}/webhook/stats"), get(admin::stats))
        .route(&format!("{JOB}/webhook/events"), get(admin::list_events))
        .route(
            &format!("{JOB}/webhook/events/{{event_id}}"),
            get(admin::get_event),
        )
        .route(
            &format!("{JOB}/webhook/events/{{event_id}}/retry"),
            post(admin::retry_event),
        )
        .route(
            &format!("{JOB}/webhook/retry-failed"),
            post(admin::retry_failed),
        )
        .route(&format!("{JOB}/webhook/replay"), post(admin::replay))
        .route(&format!("{JOB}/webhook/executions"), get(admin::executions))
        .route(
            &format!("{JOB}/webhook/regenerate-secret"),
            post(admin::regenerate_secret),
        )
        .route(
            &format!("{JOB}/records/{{object_type}}/{{object_id}}"),
            get(admin::get_record),
        )
        .route(
            "/api/webhooks/{workspace_id}/{job_id}/test",
            post(admin::send_test),
        )
        .route(&format!("{JOB}/webhook/preview"), post(admin::preview))
        .route(&format!("{JOB}/deliveries"), get(admin::deliveries))
        .route(&format!("{JOB}/backfill"), post(jobs::run_backfill));
    shared::http::finish_router(routes, app)
}

/// Where `webhookUrl`s point: `PUBLIC_BASE_URL`, else the API's own host (API Gateway's
/// `https://{domainName}`).
pub fn base_url(app: &App, headers: &HeaderMap) -> String {
    shared::http::public_base_url(app, headers)
}
