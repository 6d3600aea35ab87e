//! Sync-job CRUD routes: extract, call `shared::inbound::service`, shape the JSON. A job is shown
//! with `hasSigningSecret` (the secret is write-only); a generated Standard Webhooks secret
//! (generic jobs) is shown once as `webhookSecret`.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::json;
use shared::http::Path;

use shared::http::{success, Auth, JsonBody};
use shared::inbound::backfill;
use shared::inbound::destination;
use shared::inbound::input::{CreateBody, PatchBody};
use shared::inbound::service::{
    create_job_with_destination, delete_job, load_job, patch_job_with_destination,
};
use shared::paging::{parse_limit, Pagination};
use shared::{App, AppResult};

use crate::base_url;

pub async fn create(
    State(app): State<App>,
    auth: Auth,
    Path(workspace_id): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<CreateBody>,
) -> AppResult<Response> {
    auth.require_workspace(&workspace_id)?;
    let (job, generated, destination_secret) =
        create_job_with_destination(&app, &workspace_id, body).await?;
    let mut view = backfill::view(&app, &job, &base_url(&app, &headers)).await?;
    if let Some(g) = &generated {
        view["webhookSecret"] = json!(g.expose());
    }
    // A webhook destination's secret: shown here once, never again.
    view["destination"] = destination::view_with_secret(&job, destination_secret.as_ref());
    Ok(success(StatusCode::CREATED, json!({ "syncJob": view })))
}

pub async fn list(
    State(app): State<App>,
    auth: Auth,
    Path(workspace_id): Path<String>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> AppResult<Response> {
    auth.require_workspace(&workspace_id)?;
    let limit = parse_limit(q.get("limit").map(String::as_str))?;
    let page = app
        .sync_jobs
        .list_sync_jobs(&workspace_id, q.get("cursor").map(String::as_str), limit)
        .await?;
    let base = base_url(&app, &headers);
    let jobs = backfill::views(&app, &page.items, &base).await?;
    Ok(success(
        StatusCode::OK,
        json!({ "syncJobs": jobs, "pagination": Pagination::of(&page, limit) }),
    ))
}

pub async fn get_one(
    State(app): State<App>,
    auth: Auth,
    Path((workspace_id, job_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> AppResult<Response> {
    auth.require_workspace(&workspace_id)?;
    let job = load_job(&app, &workspace_id, &job_id).await?;
    let view = backfill::view(&app, &job, &base_url(&app, &headers)).await?;
    Ok(success(StatusCode::OK, json!({ "syncJob": view })))
}

pub async fn patch(
    State(app): State<App>,
    auth: Auth,
    Path((workspace_id, job_id)): Path<(String, String)>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<PatchBody>,
) -> AppResult<Response> {
    auth.require_workspace(&workspace_id)?;
    let (job, destination_secret) =
        patch_job_with_destination(&app, &workspace_id, &job_id, &body).await?;
    let mut view = backfill::view(&app, &job, &base_url(&app, &headers)).await?;
    // A destination that became a webhook with this PATCH: its new secret, shown once.
    view["destination"] = destination::view_with_secret(&job, destination_secret.as_ref());
    Ok(success(StatusCode::OK, json!({ "syncJob": view })))
}

pub async fn delete(
    State(app): State<App>,
    auth: Auth,
    Path((workspace_id, job_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> AppResult<Response> {
    auth.require_workspace(&workspace_id)?;
    let job = delete_job(&app, &workspace_id, &job_id).await?;
    let mut view = job.view(&base_url(&app, &headers));
    view["deleted"] = json!(true);
    Ok(success(StatusCode::OK, json!({ "syncJob": view })))
}

/// `POST …/sync-jobs/{jobId}/backfill`: one backfill run now → 202 `execution {id}`; 409 while
/// one runs, 400 for a job without an apiKey.
pub async fn run_backfill(
    State(app): State<App>,
    auth: Auth,
    Path((workspace_id, job_id)): Path<(String, String)>,
) -> AppResult<Response> {
    auth.require_workspace(&workspace_id)?;
    let execution = backfill::start(&app, &workspace_id, &job_id).await?;
    Ok(success(
        StatusCode::ACCEPTED,
        json!({ "execution": execution.view() }),
    ))
}
