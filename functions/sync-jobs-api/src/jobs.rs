//! Sync-job CRUD. `signingSecret` is write-only (responses show `hasSigningSecret`); a stripe or
//! close job needs it before it can be enabled; a generic job gets a generated Standard Webhooks
//! secret, shown once as `webhookSecret`.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use shared::http::{success, Auth, JsonBody};
use shared::inbound::domain::{SigningSecret, Source, SyncJob, WebhookConfig};
use shared::paging::{parse_limit, Pagination};
use shared::patch::Patch;
use shared::signing::WebhookSecret;
use shared::{ids, App, AppError, AppResult};

use crate::{base_url, load_job};

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ConfigInput {
    #[serde(default)]
    event_filters: Option<Vec<String>>,
    #[serde(default)]
    signing_secret: Patch<String>,
    #[serde(default)]
    tolerance_seconds: Option<i64>,
    #[serde(default)]
    batch_size: Option<i64>,
    #[serde(default)]
    batch_wait_seconds: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateBody {
    name: String,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    source: String,
    #[serde(default)]
    enabled: Option<bool>,
    #[serde(default)]
    webhook_config: Option<ConfigInput>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PatchBody {
    #[serde(default)]
    name: Option<String>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    enabled: Option<bool>,
    #[serde(default)]
    webhook_config: Option<ConfigInput>,
}

fn check_kind(kind: Option<&str>) -> AppResult<()> {
    match kind {
        None | Some("webhook") => Ok(()),
        Some("scheduled") => Err(AppError::validation(
            "type \"scheduled\" (pulling from the provider's API) is not supported yet; use \"webhook\"",
        )),
        Some(_) => Err(AppError::validation("type must be \"webhook\"")),
    }
}

fn check_name(name: &str) -> AppResult<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(AppError::validation("name must be 1 to 200 characters"));
    }
    Ok(name.to_owned())
}

fn in_range(field: &str, v: i64, min: i64, max: i64) -> AppResult<i64> {
    if (min..=max).contains(&v) {
        Ok(v)
    } else {
        Err(AppError::validation(format!(
            "webhookConfig.{field} must be an integer from {min} to {max}"
        )))
    }
}

/// Applies the given settings onto `config` (absent fields keep their value).
fn merge_config(config: &mut WebhookConfig, input: &ConfigInput) -> AppResult<()> {
    use shared::inbound::domain::{MAX_BATCH_SIZE, MAX_BATCH_WAIT_SECONDS, MAX_TOLERANCE_SECONDS};
    if let Some(f) = &input.event_filters {
        config.event_filters = f.iter().map(|s| s.trim().to_owned()).collect();
    }
    if let Some(t) = input.tolerance_seconds {
        config.tolerance_seconds = in_range("toleranceSeconds", t, 0, MAX_TOLERANCE_SECONDS)?;
    }
    if let Some(b) = input.batch_size {
        config.batch_size = in_range("batchSize", b, 1, i64::from(MAX_BATCH_SIZE))? as u32;
    }
    if let Some(w) = input.batch_wait_seconds {
        config.batch_wait_seconds =
            in_range("batchWaitSeconds", w, 0, i64::from(MAX_BATCH_WAIT_SECONDS))? as u32;
    }
    config.validate()
}

pub async fn create(
    State(app): State<App>,
    auth: Auth,
    Path(workspace_id): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<CreateBody>,
) -> AppResult<Response> {
    auth.require_workspace(&workspace_id)?;
    check_kind(body.kind.as_deref())?;
    let name = check_name(&body.name)?;
    let source = Source::parse(body.source.trim())?;
    let input = body.webhook_config.unwrap_or_default();
    let mut config = WebhookConfig::default();
    merge_config(&mut config, &input)?;
    let given = input
        .signing_secret
        .into_value()
        .map(|s| SigningSecret::validate(source, &s))
        .transpose()?;
    // A generic job signs with a secret we generate, unless the sender brings its own.
    let generated = (source == Source::Generic && given.is_none()).then(WebhookSecret::generate);
    let signing_secret =
        given.or_else(|| generated.as_ref().map(|g| SigningSecret::new(g.expose())));
    let now = shared::time::now_string();
    let job = SyncJob {
        id: shared::inbound::domain::monotonic_id(ids::SYNC_JOB),
        workspace_id: workspace_id.clone(),
        name,
        kind: "webhook".to_owned(),
        source,
        enabled: body.enabled.unwrap_or(true),
        webhook_config: config,
        signing_secret,
        version: 1,
        created_at: now.clone(),
        updated_at: now,
    };
    job.check_enable()?;
    app.sync_jobs.create_sync_job(&job).await?;
    tracing::info!(job_id = %job.id, source = source.as_str(), "sync job created");
    let mut view = job.view(&base_url(&app, &headers));
    if let Some(g) = &generated {
        view["webhookSecret"] = json!(g.expose());
    }
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
    let jobs: Vec<_> = page.items.iter().map(|j| j.view(&base)).collect();
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
    let job = load_job(&app, &auth.workspace_id, &workspace_id, &job_id).await?;
    Ok(success(
        StatusCode::OK,
        json!({ "syncJob": job.view(&base_url(&app, &headers)) }),
    ))
}

/// The patched job (version bumped), validated; not yet stored.
fn patched(mut job: SyncJob, body: &PatchBody, now: &str) -> AppResult<SyncJob> {
    check_kind(body.kind.as_deref())?;
    if let Some(src) = &body.source {
        if Source::parse(src.trim())? != job.source {
            return Err(AppError::validation(
                "source cannot be changed; create a new sync job",
            ));
        }
    }
    if let Some(name) = &body.name {
        job.name = check_name(name)?;
    }
    if let Some(enabled) = body.enabled {
        job.enabled = enabled;
    }
    if let Some(input) = &body.webhook_config {
        merge_config(&mut job.webhook_config, input)?;
        match &input.signing_secret {
            Patch::Absent => {}
            Patch::Value(s) => job.signing_secret = Some(SigningSecret::validate(job.source, s)?),
            Patch::Null if job.source == Source::Generic => {
                return Err(AppError::validation(
                    "webhookConfig.signingSecret of a generic job cannot be removed; use POST …/webhook/regenerate-secret",
                ))
            }
            Patch::Null => job.signing_secret = None,
        }
    }
    job.check_enable()?;
    job.version += 1;
    job.updated_at = now.to_owned();
    Ok(job)
}

pub async fn patch(
    State(app): State<App>,
    auth: Auth,
    Path((workspace_id, job_id)): Path<(String, String)>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<PatchBody>,
) -> AppResult<Response> {
    let now = shared::time::now_string();
    // Read-modify-write conditional on the version; a concurrent change is retried.
    let job = shared::retry::on_conflict(&app.config, || async {
        let job = load_job(&app, &auth.workspace_id, &workspace_id, &job_id).await?;
        let job = patched(job, &body, &now)?;
        app.sync_jobs.update_sync_job(&job).await?;
        Ok(job)
    })
    .await?;
    Ok(success(
        StatusCode::OK,
        json!({ "syncJob": job.view(&base_url(&app, &headers)) }),
    ))
}

pub async fn delete(
    State(app): State<App>,
    auth: Auth,
    Path((workspace_id, job_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> AppResult<Response> {
    load_job(&app, &auth.workspace_id, &workspace_id, &job_id).await?;
    // Before the delete: a purge that finds the job alive does nothing (shared::inbound::purge).
    shared::inbound::purge::request(&app, &workspace_id, &job_id).await?;
    let job = app
        .sync_jobs
        .delete_sync_job(&workspace_id, &job_id)
        .await?
        .ok_or(AppError::NotFound("sync job"))?;
    tracing::info!(job_id = %job.id, "sync job deleted");
    let mut view = job.view(&base_url(&app, &headers));
    view["deleted"] = json!(true);
    Ok(success(StatusCode::OK, json!({ "syncJob": view })))
}
