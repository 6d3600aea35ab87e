//! Users API and export (seed 001, DESIGN §4 "Users and export"): user CRUD with events in
//! the same transaction (outbox), the filtered admin list, consent-aware CSV/JSON exports
//! (direct, or a job for the export worker past ~5 MB) with an audit record each, and the
//! GDPR erase as `DELETE /api/users/{id}`.

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};
use shared::http::Path;

use shared::bookings::Booking;
use shared::http::{success, Auth, JsonBody};
use shared::ids::{ExportId, UserId};
use shared::paging::{parse_limit, Pagination};
use shared::users::export::{export_view, run_direct, DirectOutcome};
use shared::users::query::{parse_export_params, parse_list_params, query_pairs};
use shared::users::{service, ExportFormat, UserInput};
use shared::{App, AppError, AppResult};

pub fn router(app: App) -> Router {
    let routes = Router::new()
        .route("/api/users", axum::routing::post(create_user))
        .route(
            "/api/users/{id}",
            get(get_user).patch(patch_user).delete(erase_user),
        )
        .route("/api/admin/users", get(list_users))
        .route("/api/admin/export/users/csv", get(export_csv))
        .route("/api/admin/export/users/json", get(export_json))
        .route("/api/admin/exports", get(list_exports))
        .route("/api/admin/exports/{id}", get(get_export));
    shared::http::finish_router(routes, app)
}

async fn create_user(
    State(app): State<App>,
    auth: Auth,
    JsonBody(input): JsonBody<UserInput>,
) -> AppResult<Response> {
    let user = service::create(&app, &auth.workspace_id, input).await?;
    let none: &[Booking] = &[];
    Ok(success(
        StatusCode::CREATED,
        json!({ "user": user.full_view(Some(none)) }),
    ))
}

async fn get_user(
    State(app): State<App>,
    auth: Auth,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let (user, bookings) = service::get(&app, &auth.workspace_id, &UserId::parse(&id)?).await?;
    Ok(success(
        StatusCode::OK,
        json!({ "user": user.full_view(Some(&bookings)) }),
    ))
}

async fn patch_user(
    State(app): State<App>,
    auth: Auth,
    Path(id): Path<String>,
    JsonBody(input): JsonBody<UserInput>,
) -> AppResult<Response> {
    let id = UserId::parse(&id)?;
    let (user, bookings) = service::update(&app, &auth.workspace_id, &id, &input).await?;
    Ok(success(
        StatusCode::OK,
        json!({ "user": user.full_view(Some(&bookings)) }),
    ))
}

async fn erase_user(
    State(app): State<App>,
    auth: Auth,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let id = UserId::parse(&id)?;
    service::erase(&app, &auth.workspace_id, &id).await?;
    Ok(success(
        StatusCode::OK,
        json!({ "user": { "id": id, "deleted": true } }),
    ))
}

async fn list_users(
    State(app): State<App>,
    auth: Auth,
    RawQuery(raw): RawQuery,
) -> AppResult<Response> {
    let params = parse_list_params(&query_pairs(raw.as_deref()))?;
    let (users, pagination) = service::list(&app, &auth.workspace_id, &params).await?;
    Ok(success(
        StatusCode::OK,
        json!({ "users": users, "pagination": pagination }),
    ))
}

async fn export(
    app: App,
    auth: Auth,
    raw: Option<String>,
    format: ExportFormat,
) -> AppResult<Response> {
    let ws = auth.workspace_id.as_str();
    let (query, is_async) = parse_export_params(&query_pairs(raw.as_deref()))?;
    match run_direct(&app, ws, &auth.key_id, format, &query, is_async).await? {
        DirectOutcome::Served { body, record } => {
            let mut resp = Body::from(body).into_response();
            let h = resp.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(format.content_type()),
            );
            let disposition = format!(
                "attachment; filename=\"users-{}.{}\"",
                record.id,
                format.extension()
            );
            for (name, value) in [
                (header::CONTENT_DISPOSITION.as_str(), disposition),
                ("x-export-id", record.id.clone()),
                ("x-export-sha256", record.sha256.clone().unwrap_or_default()),
                (
                    "x-export-row-count",
                    record.row_count.unwrap_or(0).to_string(),
                ),
            ] {
                if let Ok(v) = HeaderValue::from_str(&value) {
                    h.insert(
                        header::HeaderName::from_bytes(name.as_bytes())
                            .map_err(|e| AppError::internal("header name", e))?,
                        v,
                    );
                }
            }
            Ok(resp)
        }
        DirectOutcome::Queued(record) => Ok(success(
            StatusCode::ACCEPTED,
            json!({ "export": record.view(None) }),
        )),
    }
}

async fn export_csv(
    State(app): State<App>,
    auth: Auth,
    RawQuery(raw): RawQuery,
) -> AppResult<Response> {
    export(app, auth, raw, ExportFormat::Csv).await
}

async fn export_json(
    State(app): State<App>,
    auth: Auth,
    RawQuery(raw): RawQuery,
) -> AppResult<Response> {
    export(app, auth, raw, ExportFormat::Json).await
}

async fn list_exports(
    State(app): State<App>,
    auth: Auth,
    RawQuery(raw): RawQuery,
) -> AppResult<Response> {
    let pairs = query_pairs(raw.as_deref());
    let get = |k: &str| {
        pairs
            .iter()
            .rev()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    };
    let limit = parse_limit(get("limit"))?;
    let cursor = get("cursor").filter(|c| !c.is_empty());
    let page = app
        .exports
        .list_exports(&auth.workspace_id, cursor, limit)
        .await?;
    let exports: Vec<Value> = page.items.iter().map(|r| r.view(None)).collect();
    Ok(success(
        StatusCode::OK,
        json!({
            "exports": exports,
            "pagination": Pagination::of(&page, limit),
        }),
    ))
}

async fn get_export(
    State(app): State<App>,
    auth: Auth,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let id = ExportId::parse(&id)?;
    let record = app
        .exports
        .get_export(&auth.workspace_id, &id)
        .await?
        .ok_or(AppError::NotFound("export"))?;
    Ok(success(
        StatusCode::OK,
        json!({ "export": export_view(&app, &record).await? }),
    ))
}
