//! Calendar events and their GoHighLevel sync (seed 002, DESIGN §4 "GHL calendar events").
//!
//! A change is committed locally first (event + mapping in one transaction), whatever GHL
//! does. When GHL is involved the mapping is `pending`, a retry is queued, and ONE inline
//! attempt runs within `GHL_INLINE_BUDGET_MS` so the answer already says `synced` when GHL is
//! up. Retries run in the delivery-queue consumer (`deliver`), the dashboard and the manual
//! retries live under `/api/admin/sync-mappings`.

use std::collections::HashMap;
use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Map, Value};

use shared::calendar::sync::{self, RunOutcome};
use shared::calendar::{status_after_change, CalendarEvent, SyncMapping, SyncStatus};
use shared::email::Email;
use shared::http::{success, Auth, JsonBody};
use shared::ids;
use shared::integrations::{Integration, IntegrationKind};
use shared::paging::{parse_limit, Pagination};
use shared::patch::Patch;
use shared::{App, AppError, AppResult};

/// Failed mappings one `retry-failed` call re-queues (the answer says when more are left).
const MAX_BULK_RETRY: usize = 500;

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

// --- input ---------------------------------------------------------------------------------

/// Field limits (characters).
const MAX_TYPE: usize = 50;
const MAX_TITLE: usize = 200;
const MAX_DESCRIPTION: usize = 5000;
const MAX_NAME: usize = 200;
const MAX_EMAIL: usize = 254;
const MAX_PHONE: usize = 40;
const MAX_CLIENT_ID: usize = 128;

fn text(name: &str, v: &Value, max: usize) -> AppResult<String> {
    let s = v
        .as_str()
        .ok_or_else(|| AppError::validation(format!("{name} must be a string")))?
        .trim();
    if s.is_empty() {
        return Err(AppError::validation(format!("{name} must not be empty")));
    }
    if s.chars().count() > max {
        return Err(AppError::validation(format!(
            "{name} must be at most {max} characters"
        )));
    }
    if s.chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        return Err(AppError::validation(format!(
            "{name} must not contain control characters"
        )));
    }
    Ok(s.to_owned())
}

fn required(body: &Map<String, Value>, name: &str, max: usize) -> AppResult<Option<String>> {
    Patch::of_key(body, name)
        .not_null(name)?
        .map(|v| text(name, v, max))
        .transpose()
}

/// Absent keeps, `null` clears (PATCH); a value must be text.
fn optional(body: &Map<String, Value>, name: &str, max: usize) -> AppResult<Patch<String>> {
    Patch::of_key(body, name).try_map(|v| text(name, v, max))
}

fn date(name: &str, s: &str) -> AppResult<()> {
    let ok = s.len() == 10 && chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok();
    if ok {
        Ok(())
    } else {
        Err(AppError::validation(format!(
            "{name} must be a date YYYY-MM-DD"
        )))
    }
}

fn time(name: &str, s: &str) -> AppResult<()> {
    let ok = s.len() == 5 && chrono::NaiveTime::parse_from_str(s, "%H:%M").is_ok();
    if ok {
        Ok(())
    } else {
        Err(AppError::validation(format!("{name} must be a time HH:MM")))
    }
}

fn client_id(v: &Value) -> AppResult<Value> {
    match v {
        Value::Number(_) => Ok(v.clone()),
        Value::String(_) => text("clientId", v, MAX_CLIENT_ID).map(Value::String),
        _ => Err(AppError::validation(
            "clientId must be a string or a number",
        )),
    }
}

fn email(s: String) -> AppResult<Option<String>> {
    Email::parse(&s)
        .map(|e| Some(e.into_string()))
        .map_err(|_| AppError::validation("clientEmail must be an email address"))
}

/// Applies the fields present in `body` to `event` (all of them on create), then checks the
/// whole event: formats, and end not before start.
fn apply(event: &mut CalendarEvent, body: &Map<String, Value>, creating: bool) -> AppResult<()> {
    let must = |name: &str, max: usize| -> AppResult<Option<String>> {
        let v = required(body, name, max)?;
        if creating && v.is_none() {
            return Err(AppError::validation(format!("{name} is required")));
        }
        Ok(v)
    };
    if let Some(v) = must("eventType", MAX_TYPE)? {
        event.event_type = v;
    }
    if let Some(v) = must("eventTitle", MAX_TITLE)? {
        event.event_title = v;
    }
    if let Some(v) = must("startDate", 10)? {
        event.start_date = v;
    }
    if let Some(v) = must("endDate", 10)? {
        event.end_date = v;
    }
    if let Some(v) = must("startTime", 5)? {
        event.start_time = v;
    }
    if let Some(v) = must("endTime", 5)? {
        event.end_time = v;
    }
    match Patch::of_key(body, "clientId") {
        Patch::Absent if creating => return Err(AppError::validation("clientId is required")),
        Patch::Absent => {}
        Patch::Null => return Err(AppError::validation("clientId must not be null")),
        Patch::Value(v) => event.client_id = client_id(v)?,
    }
    optional(body, "description", MAX_DESCRIPTION)?
        .apply_to(&mut event.description, |v| Ok(Some(v)))?;
    optional(body, "clientEmail", MAX_EMAIL)?.apply_to(&mut event.client_email, email)?;
    optional(body, "clientPhone", MAX_PHONE)?.apply_to(&mut event.client_phone, |v| Ok(Some(v)))?;
    optional(body, "clientName", MAX_NAME)?.apply_to(&mut event.client_name, |v| Ok(Some(v)))?;
    date("startDate", &event.start_date)?;
    date("endDate", &event.end_date)?;
    time("startTime", &event.start_time)?;
    time("endTime", &event.end_time)?;
    // Fixed-width formats: string order is time order.
    if (event.end_date.as_str(), event.end_time.as_str())
        < (event.start_date.as_str(), event.start_time.as_str())
    {
        return Err(AppError::validation(
            "endDate/endTime must not be before startDate/startTime",
        ));
    }
    Ok(())
}

fn object(body: &Value) -> AppResult<&Map<String, Value>> {
    body.as_object()
        .ok_or_else(|| AppError::InvalidJson("request body must be a JSON object".into()))
}

/// Path ids that are not ours answer 404 (never reach a key).
fn event_id(id: &str) -> AppResult<&str> {
    if ids::is_valid(ids::CALENDAR_EVENT, id) {
        Ok(id)
    } else {
        Err(AppError::NotFound("calendar event"))
    }
}

// --- sync ----------------------------------------------------------------------------------

async fn enabled_ghl(app: &App, ws: &str) -> AppResult<Option<Integration>> {
    Ok(app
        .integrations
        .get_integration(ws, IntegrationKind::Ghl)
        .await?
        .filter(|i| i.enabled))
}

/// After a committed change: queue the first retry (so a crash mid-call loses nothing), then
/// one inline attempt within the budget. Never fails the request; answers the mapping as it
/// stands afterwards.
async fn sync_inline(
    app: &App,
    ws: &str,
    id: &str,
    integration: &Integration,
) -> Option<SyncMapping> {
    let first_retry =
        shared::retry::backoff(integration.retry_delay, 1, app.config.retry_delay_scale);
    let queued = match sync::schedule(app, ws, id, 1, first_retry).await {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(event_id = id, error = %e.log_detail(), "could not queue the GHL retry");
            false
        }
    };
    let budget = app.config.ghl_inline_budget;
    let follow_up = match sync::run(app, ws, id, budget, budget).await {
        // The create (or another change) is in flight: this change waits for its mapping.
        Ok(RunOutcome::Busy) => Some((0, app.config.lease_busy_retry_delay)),
        Ok(RunOutcome::Retry(delay)) if !queued => Some((1, delay)),
        Ok(_) => None,
        Err(e) => {
            tracing::warn!(event_id = id, error = %e.log_detail(), "inline GHL sync failed");
            (!queued).then_some((1, first_retry))
        }
    };
    if let Some((attempt, delay)) = follow_up {
        if let Err(e) = sync::schedule(app, ws, id, attempt, delay).await {
            tracing::warn!(event_id = id, error = %e.log_detail(), "could not queue the GHL retry");
        }
    }
    match app.calendar.get_sync_mapping(ws, id).await {
        Ok(m) => m,
        Err(e) => {
            tracing::warn!(event_id = id, error = %e.log_detail(), "could not re-read the mapping");
            None
        }
    }
}

fn event_reply(status: StatusCode, event: &CalendarEvent, mapping: &SyncMapping) -> Response {
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
    let ws = auth.workspace_id.as_str();
    let now = shared::time::now_string();
    let mut event = CalendarEvent {
        id: ids::new_id(ids::CALENDAR_EVENT),
        workspace_id: ws.to_owned(),
        event_type: String::new(),
        event_title: String::new(),
        start_date: String::new(),
        end_date: String::new(),
        start_time: String::new(),
        end_time: String::new(),
        description: None,
        client_id: Value::Null,
        client_email: None,
        client_phone: None,
        client_name: None,
        revision: 1,
        created_at: now.clone(),
        updated_at: now.clone(),
        deleted_at: None,
    };
    apply(&mut event, object(&body)?, true)?;
    let integration = enabled_ghl(&app, ws).await?;
    let status = status_after_change(integration.is_some(), None, &event, None);
    let mapping = SyncMapping::new(&event, status, &now);
    shared::retry::on_conflict(&app.config, || {
        app.calendar.create_calendar_event(&event, &mapping)
    })
    .await?;
    let mapping = match (&integration, status) {
        (Some(i), SyncStatus::Pending) => {
            sync_inline(&app, ws, &event.id, i).await.unwrap_or(mapping)
        }
        _ => mapping,
    };
    Ok(event_reply(StatusCode::CREATED, &event, &mapping))
}

async fn get_event(
    State(app): State<App>,
    auth: Auth,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let ws = auth.workspace_id.as_str();
    let id = event_id(&id)?;
    let event = app
        .calendar
        .get_calendar_event(ws, id)
        .await?
        .filter(|e| !e.is_deleted())
        .ok_or(AppError::NotFound("calendar event"))?;
    let mapping = app
        .calendar
        .get_sync_mapping(ws, id)
        .await?
        .ok_or(AppError::NotFound("calendar event"))?;
    Ok(event_reply(StatusCode::OK, &event, &mapping))
}

/// A PATCH or DELETE: read, change, commit conditionally on the revision read (re-read on a
/// concurrent change), then sync.
async fn change_event(
    app: &App,
    ws: &str,
    id: &str,
    change: &(dyn Fn(&mut CalendarEvent, &str) -> AppResult<()> + Sync),
) -> AppResult<Response> {
    let integration = enabled_ghl(app, ws).await?;
    let (event, mapping) = shared::retry::on_conflict(&app.config, || async {
        let current = app
            .calendar
            .get_calendar_event(ws, id)
            .await?
            .filter(|e| !e.is_deleted())
            .ok_or(AppError::NotFound("calendar event"))?;
        let before = app.calendar.get_sync_mapping(ws, id).await?;
        let now = shared::time::now_string();
        let mut next = current.clone();
        change(&mut next, &now)?;
        next.revision = current.revision + 1;
        next.updated_at = now.clone();
        let status = status_after_change(
            integration.is_some(),
            Some(&current),
            &next,
            before.as_ref(),
        );
        let mapping = app
            .calendar
            .update_calendar_event(&next, status, &now)
            .await?;
        Ok((next, mapping))
    })
    .await?;
    let mapping = match (&integration, mapping.sync_status) {
        (Some(i), SyncStatus::Pending) => sync_inline(app, ws, id, i).await.unwrap_or(mapping),
        _ => mapping,
    };
    Ok(event_reply(StatusCode::OK, &event, &mapping))
}

async fn patch_event(
    State(app): State<App>,
    auth: Auth,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> AppResult<Response> {
    let id = event_id(&id)?;
    let body = object(&body)?;
    change_event(&app, &auth.workspace_id, id, &|event, _now| {
        apply(event, body, false)
    })
    .await
}

async fn delete_event(
    State(app): State<App>,
    auth: Auth,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let id = event_id(&id)?;
    change_event(&app, &auth.workspace_id, id, &|event, now| {
        event.deleted_at = Some(now.to_owned());
        Ok(())
    })
    .await
}

// --- sync mappings (the dashboard of seed 002) ----------------------------------------------

fn query(
    q: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> AppResult<HashMap<String, String>> {
    q.map(|Query(m)| m)
        .map_err(|_| AppError::validation("query string is malformed"))
}

async fn list_mappings(
    State(app): State<App>,
    auth: Auth,
    q: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> AppResult<Response> {
    let ws = auth.workspace_id.as_str();
    let q = query(q)?;
    let status = q
        .get("status")
        .filter(|s| !s.is_empty())
        .map(|s| {
            SyncStatus::parse(s).ok_or_else(|| {
                AppError::validation(
                    "status must be one of synced, pending, failed, not_applicable",
                )
            })
        })
        .transpose()?;
    let limit = parse_limit(q.get("limit").map(String::as_str))?;
    let cursor = q
        .get("cursor")
        .map(String::as_str)
        .filter(|c| !c.is_empty());
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

/// Re-queues one mapping that is `pending` or `failed` (fresh attempts, immediate run).
async fn requeue(
    app: &App,
    ws: &str,
    id: &str,
    from: &[SyncStatus],
) -> AppResult<Option<SyncMapping>> {
    let now = shared::time::now_string();
    let Some(mapping) = app.calendar.requeue_sync(ws, id, from, &now).await? else {
        return Ok(None);
    };
    sync::schedule(app, ws, id, 0, Duration::ZERO).await?;
    Ok(Some(mapping))
}

async fn retry_failed(State(app): State<App>, auth: Auth) -> AppResult<Response> {
    let ws = auth.workspace_id.as_str();
    let mut retried: Vec<Value> = Vec::new();
    let mut cursor: Option<String> = None;
    let mut has_more = false;
    loop {
        let page = app
            .calendar
            .list_sync_mappings(ws, Some(SyncStatus::Failed), cursor.as_deref(), 100)
            .await?;
        for m in &page.items {
            if retried.len() == MAX_BULK_RETRY {
                has_more = true;
                break;
            }
            // Only what is still failed: a mapping synced meanwhile is left alone.
            if let Some(m) = requeue(&app, ws, &m.sentra_event_id, &[SyncStatus::Failed]).await? {
                retried.push(m.view());
            }
        }
        match page.next_cursor {
            Some(c) if !has_more => cursor = Some(c),
            _ => break,
        }
    }
    Ok(success(
        StatusCode::OK,
        json!({ "retried": retried.len(), "mappings": retried, "hasMore": has_more }),
    ))
}

async fn retry_one(
    State(app): State<App>,
    auth: Auth,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let ws = auth.workspace_id.as_str();
    let id = event_id(&id).map_err(|_| AppError::NotFound("sync mapping"))?;
    let requeued = match requeue(&app, ws, id, &[SyncStatus::Failed, SyncStatus::Pending]).await {
        Err(AppError::NotFound(_)) => return Err(AppError::NotFound("sync mapping")),
        other => other?,
    };
    let (mapping, retried) = match requeued {
        Some(m) => (m, true),
        // Synced or not applicable: nothing to retry.
        None => (
            app.calendar
                .get_sync_mapping(ws, id)
                .await?
                .ok_or(AppError::NotFound("sync mapping"))?,
            false,
        ),
    };
    Ok(success(
        StatusCode::OK,
        json!({ "mapping": mapping.view(), "retried": retried }),
    ))
}
