//! Calendar events and their GoHighLevel sync (seed 002, DESIGN §4 "GHL calendar events"),
//! and the sync-mappings dashboard under `/api/admin/sync-mappings`. The rules and use cases
//! are in `shared::calendar` (`input`, `service`); retries run in the delivery worker.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};
use shared::http::Path;

use shared::calendar::{input, service, CalendarEvent, SyncMapping, SyncStatus};
use shared::http::{success, Auth, JsonBody, QueryMap};
use shared::ids::CalendarEventId;
use shared::paging::{parse_limit, Pagination};
use shared::{App, AppError, AppResult};

pub fn router(app: App) -> Router {
    let routes = Router::new()
        .route("/api/calendar-events", post(create_event))
        .route(
            "/api/calendar-events/{id}",
            get(get_event).patch(patch_event).delete(delete_event),
        )
        .route("/api/admin/sync-mappings", get(list_mappings))
        .route("/api/admin/sync-mappings/retry-failed", post(retry_failed))
        .route("/api/admin/sync-mappings/{id}/retry", post(retry_one));
    shared::http::finish_router(routes, app)
}

fn event_reply(status: StatusCode, (event, mapping): (CalendarEvent, SyncMapping)) -> Response {
    success(
        status,
        json!({ "event": event.view(), "sync": mapping.sync_view() }),
    )
}

// --- calendar events -----------------------------------------------------------------------

async fn create_event(
    State(app): State<App>,
    auth: Auth,
    JsonBody(body): JsonBody<Value>,
) -> AppResult<Response> {
    let created = service::create(&app, &auth.workspace_id, input::object(&body)?).await?;
    Ok(event_reply(StatusCode::CREATED, created))
}

async fn get_event(
    State(app): State<App>,
    auth: Auth,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let id = CalendarEventId::parse(&id)?;
    let found = service::get(&app, &auth.workspace_id, &id).await?;
    Ok(event_reply(StatusCode::OK, found))
}

async fn patch_event(
    State(app): State<App>,
    auth: Auth,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> AppResult<Response> {
    let id = CalendarEventId::parse(&id)?;
    let changed = service::patch(&app, &auth.workspace_id, &id, input::object(&body)?).await?;
    Ok(event_reply(StatusCode::OK, changed))
}

async fn delete_event(
    State(app): State<App>,
    auth: Auth,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let id = CalendarEventId::parse(&id)?;
    let deleted = service::delete(&app, &auth.workspace_id, &id).await?;
    Ok(event_reply(StatusCode::OK, deleted))
}

// --- sync mappings (the dashboard of seed 002) ----------------------------------------------

async fn list_mappings(State(app): State<App>, auth: Auth, q: QueryMap) -> AppResult<Response> {
    let ws = auth.workspace_id.as_str();
    let status = q.parsed(
        "status",
        SyncStatus::parse,
        "status must be one of synced, pending, failed, not_applicable",
    )?;
    let limit = parse_limit(q.get("limit"))?;
    let cursor = q.cursor();
    let (page, counts) = tokio::try_join!(
        app.calendar.list_sync_mappings(ws, status, cursor, limit),
        app.calendar.count_sync_mappings(ws),
    )?;
    let mappings: Vec<Value> = page.items.iter().map(SyncMapping::view).collect();
    Ok(success(
        StatusCode::OK,
        json!({
            "mappings": mappings,
            "counts": {
                "synced": counts.synced,
                "pending": counts.pending,
                "failed": counts.failed,
            },
            "pagination": Pagination::of(&page, limit),
        }),
    ))
}

async fn retry_failed(State(app): State<App>, auth: Auth) -> AppResult<Response> {
    let (retried, has_more) = service::retry_failed(&app, &auth.workspace_id).await?;
    let mappings: Vec<Value> = retried.iter().map(SyncMapping::view).collect();
    Ok(success(
        StatusCode::OK,
        json!({ "retried": mappings.len(), "mappings": mappings, "hasMore": has_more }),
    ))
}

async fn retry_one(
    State(app): State<App>,
    auth: Auth,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let id = CalendarEventId::parse(&id).map_err(|_| AppError::NotFound("sync mapping"))?;
    let (mapping, retried) = service::retry_one(&app, &auth.workspace_id, &id).await?;
    Ok(success(
        StatusCode::OK,
        json!({ "mapping": mapping.view(), "retried": retried }),
    ))
}
