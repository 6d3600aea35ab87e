//! Admin API: health, the OpenAPI document, workspaces and API keys (DESIGN §3), and the
//! HubSpot/GHL/alerts integrations (DESIGN §4 "Integrations", §8 "Alerts"). The rules are in
//! `shared::tenancy`, `shared::integrations` and `shared::alerts`.

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};
use shared::http::Path;

use shared::alerts::{self, input::AlertsBody};
use shared::http::{success, Auth, JsonBody, OptionalJsonBody, RootAuth};
use shared::ids::ApiKeyId;
use shared::integrations::input::{self, IntegrationBody};
use shared::integrations::{counter_sync, IntegrationInput, IntegrationKind};
use shared::signing::WebhookSecret;
use shared::tenancy::{new_api_key, new_workspace, ApiKey};
use shared::{App, AppResult};

pub fn router(app: App) -> Router {
    let routes = Router::new()
        .route("/api/health", get(health))
        .route("/api/openapi.json", get(openapi_document))
        .route("/api/workspaces", post(create_workspace))
        .route("/api/workspace", get(current_workspace))
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
        .route("/api/integrations/hubspot/test", post(test_hubspot))
        .route("/api/integrations/alerts", put(put_alerts))
        .route("/api/integrations/alerts/test", post(test_alerts));
    shared::http::finish_router(routes, app)
}

async fn health() -> Response {
    success(StatusCode::OK, json!({ "status": "ok" }))
}

/// The OpenAPI 3.1 document of the whole API, written by hand in `docs/openapi.json` and
/// checked against template.yaml's routes by `infra/checks/check_openapi.py`.
pub const OPENAPI_JSON: &str = include_str!("../../../docs/openapi.json");

/// `GET /api/openapi.json` (no auth): the embedded document as is.
async fn openapi_document() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI_JSON).into_response()
}

// --- workspaces and keys ---------------------------------------------------------------------

#[derive(Deserialize)]
struct WorkspaceBody {
    name: String,
}

async fn create_workspace(
    State(app): State<App>,
    _root: RootAuth,
    JsonBody(body): JsonBody<WorkspaceBody>,
) -> AppResult<Response> {
    let (ws, plaintext, key) = new_workspace(&body.name, &shared::time::now_string())?;
    app.workspaces.create_workspace(&ws, &key).await?;
    tracing::info!(workspace_id = %ws.id, "workspace created");
    Ok(success(
        StatusCode::CREATED,
        json!({ "workspace": { "id": ws.id, "name": ws.name, "createdAt": ws.created_at }, "apiKey": plaintext }),
    ))
}

/// The key's own workspace (the console needs its id for the sync-job routes).
async fn current_workspace(State(app): State<App>, auth: Auth) -> AppResult<Response> {
    let ws = app
        .workspaces
        .get_workspace(&auth.workspace_id)
        .await?
        .ok_or(shared::AppError::NotFound("workspace"))?;
    Ok(success(
        StatusCode::OK,
        json!({ "workspace": { "id": ws.id, "name": ws.name, "createdAt": ws.created_at } }),
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
    let key_id = ApiKeyId::parse(&key_id)?;
    let key = app
        .workspaces
        .revoke_api_key(&workspace_id, &key_id, &shared::time::now_string())
        .await?;
    let mut view = key.public_view();
    view["revokedAt"] = json!(key.revoked_at);
    Ok(success(StatusCode::OK, json!({ "key": view })))
}

// --- integrations ----------------------------------------------------------------------------

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
        json!({ "integration": integration.view(true) }),
    ))
}

async fn put_hubspot(
    State(app): State<App>,
    auth: Auth,
    JsonBody(body): JsonBody<IntegrationBody>,
) -> AppResult<Response> {
    let input = input::validate(&app, body, false)?;
    put_integration(&app, &auth.workspace_id, IntegrationKind::Hubspot, input).await
}

async fn put_ghl(
    State(app): State<App>,
    auth: Auth,
    JsonBody(body): JsonBody<IntegrationBody>,
) -> AppResult<Response> {
    let input = input::validate(&app, body, true)?;
    put_integration(&app, &auth.workspace_id, IntegrationKind::Ghl, input).await
}

/// `PUT /api/integrations/alerts`: the common integration fields plus `format` and `events`;
/// the API host seen here is kept as the base of `consoleUrl`s when `PUBLIC_BASE_URL` is unset.
async fn put_alerts(
    State(app): State<App>,
    auth: Auth,
    headers: HeaderMap,
    JsonBody(body): JsonBody<AlertsBody>,
) -> AppResult<Response> {
    let mut input = alerts::input::validate(&app, body)?;
    if let Some(settings) = input.alert.as_mut() {
        let base = shared::http::public_base_url(&app, &headers);
        settings.base_url = (!base.is_empty()).then_some(base);
    }
    put_integration(&app, &auth.workspace_id, IntegrationKind::Alerts, input).await
}

/// `POST /api/integrations/alerts/test`: sends `alert.test` now and answers the attempt.
async fn test_alerts(State(app): State<App>, auth: Auth) -> AppResult<Response> {
    let attempt = alerts::deliver::send_test(&app, &auth.workspace_id).await?;
    Ok(success(
        StatusCode::OK,
        json!({ "attempt": attempt_view(&attempt) }),
    ))
}

/// `attempt {statusCode, durationMs, error}` of the synchronous test sends.
fn attempt_view(attempt: &shared::outbound::Attempt) -> Value {
    json!({
        "statusCode": attempt.status_code,
        "durationMs": attempt.duration_ms,
        "error": shared::integrations::hubspot::failure_message(attempt),
    })
}

async fn list_integrations(State(app): State<App>, auth: Auth) -> AppResult<Response> {
    let ws = auth.workspace_id.as_str();
    let since = shared::time::format(shared::time::now() - chrono::Duration::hours(23));
    let mut out = serde_json::Map::new();
    for kind in [
        IntegrationKind::Hubspot,
        IntegrationKind::Ghl,
        IntegrationKind::Alerts,
    ] {
        let view = match app.integrations.get_integration(ws, kind).await? {
            None => Value::Null,
            Some(i) => {
                let stats = app.integrations.attempt_stats(ws, kind, &since).await?;
                let mut v = i.view(false);
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
    let (attempt, exam) =
        counter_sync::send_current_count(&app, &auth.workspace_id, &body.mock_exam_id).await?;
    Ok(success(
        StatusCode::OK,
        json!({
            "attempt": attempt_view(&attempt),
            "mockExamId": exam.id,
            "totalBookings": exam.total_bookings,
        }),
    ))
}
