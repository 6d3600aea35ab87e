//! Admin API: health, workspaces and API keys (DESIGN §3), and the HubSpot/GHL integrations
//! (DESIGN §4 "Integrations").

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{delete, get, post, put};
use axum::Router;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use serde::Deserialize;
use serde_json::{json, Value};

use shared::ids::validate_external_id;

use shared::integrations::{Integration, IntegrationInput, IntegrationKind};

use shared::http::{sha256_hex, success, Auth, JsonBody, OptionalJsonBody, RootAuth};
use shared::ids;
use shared::signing::WebhookSecret;
use shared::tenancy::{ApiKey, Workspace};
use shared::{App, AppError, AppResult};

pub fn router(app: App) -> Router {
    let routes = Router::new()
        .route("/api/health", get(health))
        .route("/api/workspaces", post(create_workspace))
        .route(
            "/api/workspaces/{workspace_id}/api-keys",
            post(create_api_key).get(list_api_keys),
        )
        .route(
            "/api/workspaces/{workspace_id}/api-keys/{key_id}",
            delete(revoke_api_key),
        )
        .route("/api/integrations", get(list_integrations))
        .route("/api/integrations/hubspot", put(put_hubspot))
        .route("/api/integrations/ghl", put(put_ghl))
        .route("/api/integrations/hubspot/test", post(test_hubspot));
    shared::http::finish_router(routes, app)
}

async fn health() -> Response {
    success(StatusCode::OK, json!({ "status": "ok" }))
}

// --- workspaces and keys ---------------------------------------------------------------------

/// A new API key: `bsk_` + 32 random bytes (base64url). Returns (plaintext, record).
pub fn new_api_key(workspace_id: &str, now: &str) -> (String, ApiKey) {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    let plaintext = format!("bsk_{}", URL_SAFE_NO_PAD.encode(bytes));
    let record = ApiKey {
        id: ids::new_id(ids::API_KEY),
        workspace_id: workspace_id.to_owned(),
        prefix: plaintext.chars().take(12).collect(),
        hash: sha256_hex(plaintext.as_bytes()),
        created_at: now.to_owned(),
        last_used_at: None,
        revoked_at: None,
    };
    (plaintext, record)
}

#[derive(Deserialize)]
struct WorkspaceBody {
    name: String,
}

async fn create_workspace(
    State(app): State<App>,
    _root: RootAuth,
    JsonBody(body): JsonBody<WorkspaceBody>,
) -> AppResult<Response> {
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(AppError::validation("name must be 1 to 200 characters"));
    }
    let now = shared::time::now_string();
    let ws = Workspace {
        id: ids::new_id(ids::WORKSPACE),
        name: name.to_owned(),
        created_at: now.clone(),
    };
    let (plaintext, key) = new_api_key(&ws.id, &now);
    app.workspaces.create_workspace(&ws, &key).await?;
    tracing::info!(workspace_id = %ws.id, "workspace created");
    Ok(success(
        StatusCode::CREATED,
        json!({ "workspace": { "id": ws.id, "name": ws.name, "createdAt": ws.created_at }, "apiKey": plaintext }),
    ))
}

async fn create_api_key(
    State(app): State<App>,
    auth: Auth,
    Path(workspace_id): Path<String>,
    OptionalJsonBody(_body): OptionalJsonBody<Value>,
) -> AppResult<Response> {
    auth.require_workspace(&workspace_id)?;
    let (plaintext, key) = new_api_key(&workspace_id, &shared::time::now_string());
    app.workspaces.add_api_key(&key).await?;
    Ok(success(
        StatusCode::CREATED,
        json!({
            "apiKey": plaintext,
            "key": { "id": key.id, "prefix": key.prefix, "createdAt": key.created_at },
        }),
    ))
}

async fn list_api_keys(
    State(app): State<App>,
    auth: Auth,
    Path(workspace_id): Path<String>,
) -> AppResult<Response> {
    auth.require_workspace(&workspace_id)?;
    let keys = app.workspaces.list_api_keys(&workspace_id).await?;
    let list: Vec<Value> = keys.iter().map(ApiKey::public_view).collect();
    Ok(success(StatusCode::OK, json!({ "apiKeys": list })))
}

async fn revoke_api_key(
    State(app): State<App>,
    auth: Auth,
    Path((workspace_id, key_id)): Path<(String, String)>,
) -> AppResult<Response> {
    auth.require_workspace(&workspace_id)?;
    if !ids::is_valid(ids::API_KEY, &key_id) {
        return Err(AppError::NotFound("api key"));
    }
    let key = app
        .workspaces
        .revoke_api_key(&workspace_id, &key_id, &shared::time::now_string())
        .await?;
    let mut view = key.public_view();
    view["revokedAt"] = json!(key.revoked_at);
    Ok(success(StatusCode::OK, json!({ "key": view })))
}

// --- integrations ----------------------------------------------------------------------------

const DEFAULT_RETRY_ATTEMPTS: u32 = 5;
const DEFAULT_RETRY_DELAY: u32 = 30;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IntegrationBody {
    webhook_url: String,
    #[serde(default)]
    enabled: Option<bool>,
    #[serde(default)]
    retry_attempts: Option<u32>,
    #[serde(default)]
    retry_delay: Option<u32>,
}

fn validate_integration(
    app: &App,
    body: IntegrationBody,
    enabled_required: bool,
) -> AppResult<IntegrationInput> {
    shared::outbound::validate_target_url(&body.webhook_url, app.config.allow_private_targets)
        .map_err(|e| AppError::validation(format!("webhookUrl: {e}")))?;
    if enabled_required && body.enabled.is_none() {
        return Err(AppError::validation("enabled is required"));
    }
    let retry_attempts = body.retry_attempts.unwrap_or(DEFAULT_RETRY_ATTEMPTS);
    if retry_attempts > 10 {
        return Err(AppError::validation("retryAttempts must be from 0 to 10"));
    }
    let retry_delay = body.retry_delay.unwrap_or(DEFAULT_RETRY_DELAY);
    if !(1..=3600).contains(&retry_delay) {
        return Err(AppError::validation(
            "retryDelay must be from 1 to 3600 seconds",
        ));
    }
    Ok(IntegrationInput {
        webhook_url: body.webhook_url,
        enabled: body.enabled.unwrap_or(true),
        retry_attempts,
        retry_delay,
    })
}

fn integration_view(i: &Integration, with_secret: bool) -> Value {
    let mut v = json!({
        "type": i.kind,
        "webhookUrl": i.webhook_url,
        "enabled": i.enabled,
        "retryAttempts": i.retry_attempts,
        "retryDelay": i.retry_delay,
        "createdAt": i.created_at,
        "updatedAt": i.updated_at,
    });
    if with_secret {
        v["secret"] = json!(i.secret.expose());
    }
    v
}

async fn put_integration(
    app: &App,
    ws: &str,
    kind: IntegrationKind,
    input: IntegrationInput,
) -> AppResult<Response> {
    let integration = app
        .integrations
        .put_integration(
            ws,
            kind,
            &input,
            &WebhookSecret::generate(),
            &shared::time::now_string(),
        )
        .await?;
    Ok(success(
        StatusCode::OK,
        json!({ "integration": integration_view(&integration, true) }),
    ))
}

async fn put_hubspot(
    State(app): State<App>,
    auth: Auth,
    JsonBody(body): JsonBody<IntegrationBody>,
) -> AppResult<Response> {
    let input = validate_integration(&app, body, false)?;
    put_integration(&app, &auth.workspace_id, IntegrationKind::Hubspot, input).await
}

async fn put_ghl(
    State(app): State<App>,
    auth: Auth,
    JsonBody(body): JsonBody<IntegrationBody>,
) -> AppResult<Response> {
    let input = validate_integration(&app, body, true)?;
    put_integration(&app, &auth.workspace_id, IntegrationKind::Ghl, input).await
}

async fn list_integrations(State(app): State<App>, auth: Auth) -> AppResult<Response> {
    let ws = auth.workspace_id.as_str();
    let since = shared::time::format(shared::time::now() - chrono::Duration::hours(23));
    let mut out = serde_json::Map::new();
    for kind in [IntegrationKind::Hubspot, IntegrationKind::Ghl] {
        let view = match app.integrations.get_integration(ws, kind).await? {
            None => Value::Null,
            Some(i) => {
                let stats = app.integrations.attempt_stats(ws, kind, &since).await?;
                let mut v = integration_view(&i, false);
                v["successRate"] = json!(stats.success_rate());
                v["succeeded"] = json!(stats.succeeded);
                v["failed"] = json!(stats.failed);
                v["lastError"] = json!(i.last_error);
                v["lastErrorAt"] = json!(i.last_error_at);
                v
            }
        };
        out.insert(kind.as_str().to_owned(), view);
    }
    Ok(success(StatusCode::OK, json!({ "integrations": out })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HubspotTestBody {
    #[serde(alias = "mock_exam_id")]
    mock_exam_id: String,
}

/// Seed 000's test script as an endpoint: sends the exam's current count now.
async fn test_hubspot(
    State(app): State<App>,
    auth: Auth,
    JsonBody(body): JsonBody<HubspotTestBody>,
) -> AppResult<Response> {
    let ws = auth.workspace_id.as_str();
    validate_external_id("mockExamId", &body.mock_exam_id)?;
    let integration = app
        .integrations
        .get_integration(ws, IntegrationKind::Hubspot)
        .await?
        .ok_or(AppError::NotFound("hubspot integration"))?;
    let exam = app
        .bookings
        .get_exam(ws, &body.mock_exam_id)
        .await?
        .ok_or(AppError::NotFound("mock exam"))?;
    let attempt = shared::integrations::hubspot::send_count(
        &app,
        ws,
        &integration,
        &exam.id,
        exam.total_bookings,
        &ids::new_id(ids::DELIVERY),
        app.config.hubspot_timeout,
    )
    .await;
    if attempt.outcome == shared::outbound::AttemptOutcome::Success {
        app.bookings.mark_synced(ws, &exam.id, exam.version).await?;
    }
    Ok(success(
        StatusCode::OK,
        json!({
            "attempt": {
                "statusCode": attempt.status_code,
                "durationMs": attempt.duration_ms,
                "error": shared::integrations::hubspot::failure_message(&attempt),
            },
            "mockExamId": exam.id,
            "totalBookings": exam.total_bookings,
        }),
    ))
}
