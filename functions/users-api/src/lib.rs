//! Users API and export (seed 001, DESIGN §4 "Users and export"): user CRUD with events in
//! the same transaction (outbox), the filtered admin list, consent-aware CSV/JSON exports
//! (direct, or a job for the export worker past ~5 MB) with an audit record each, and the
//! GDPR erase as `DELETE /api/users/{id}`.

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};

use shared::bookings::Booking;
use shared::http::{success, Auth, JsonBody};
use shared::ids;
use shared::paging::{parse_limit, Pagination};
use shared::users::export::{export_view, run_direct, DirectOutcome};
use shared::users::query::{list_page, parse_export_params, parse_list_params, query_pairs};
use shared::users::{
    created_event, deleted_event, outbox_with, select_fields, update_events, ExportFormat,
    UserInput,
};
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

fn user_id(id: &str) -> AppResult<&str> {
    if ids::is_valid(ids::USER, id) {
        Ok(id)
    } else {
        Err(AppError::NotFound("user"))
    }
}

async fn create_user(
    State(app): State<App>,
    auth: Auth,
    JsonBody(input): JsonBody<UserInput>,
) -> AppResult<Response> {
    let ws = auth.workspace_id.as_str();
    let now = shared::time::now_string();
    let user = input.create(&now)?;
    let outbox = outbox_with(ws, vec![created_event(&user, &now)], &now);
    shared::retry::on_conflict(&app.config, || app.users.create_user(ws, &user, &outbox)).await?;
    shared::outbox::dispatch_after_commit(&app, &outbox).await;
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
    let ws = auth.workspace_id.as_str();
    let id = user_id(&id)?;
    let user = app
        .users
        .get_user(ws, id)
        .await?
        .ok_or(AppError::NotFound("user"))?;
    let bookings = app.users.bookings_of(ws, id).await?;
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
    let ws = auth.workspace_id.as_str();
    let id = user_id(&id)?;
    let (user, outbox) = shared::retry::on_conflict(&app.config, || async {
        let old = app
            .users
            .get_user(ws, id)
            .await?
            .ok_or(AppError::NotFound("user"))?;
        let now = shared::time::now_string();
        let mut new = old.clone();
        input.apply(&mut new, &now)?;
        let events = update_events(&old, &new, &now);
        if events.is_empty() {
            return Ok((old, None));
        }
        new.version = old.version + 1;
        new.updated_at = now.clone();
        let outbox = outbox_with(ws, events, &now);
        app.users.update_user(ws, &old, &new, &outbox).await?;
        Ok((new, Some(outbox)))
    })
    .await?;
    if let Some(o) = &outbox {
        shared::outbox::dispatch_after_commit(&app, o).await;
    }
    let bookings = app.users.bookings_of(ws, id).await?;
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
    let ws = auth.workspace_id.as_str();
    let id = user_id(&id)?;
    let now = shared::time::now_string();
    let outbox = outbox_with(ws, vec![deleted_event(id, &now)], &now);
    let report =
        shared::retry::on_conflict(&app.config, || app.users.erase_user(ws, id, &outbox, &now))
            .await?;
    tracing::info!(
        bookings_unlinked = report.bookings_unlinked,
        outbox_records_redacted = report.outbox_records_redacted,
        deliveries_redacted = report.deliveries_redacted,
        "user erased"
    );
    shared::outbox::dispatch_after_commit(&app, &outbox).await;
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
    let ws = auth.workspace_id.as_str();
    let params = parse_list_params(&query_pairs(raw.as_deref()))?;
    let page = list_page(app.users.as_ref(), ws, &params).await?;
    let mut users = Vec::with_capacity(page.users.len());
    for u in &page.users {
        let bookings = if params.includes.needs_bookings() {
            Some(app.users.bookings_of(ws, &u.id).await?)
        } else {
            None
        };
        let view = u.view_with(params.includes, bookings.as_deref());
        users.push(match &params.fields {
            Some(f) => select_fields(view, f),
            None => view,
        });
    }
    Ok(success(
        StatusCode::OK,
        json!({
            "users": users,
            "pagination": Pagination::new(params.limit, page.next_cursor)
                .with_offset(params.offset)
                .with_total(page.total),
        }),
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
    if !ids::is_valid(ids::EXPORT, &id) {
        return Err(AppError::NotFound("export"));
    }
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
