//! Monitoring and repair routes of a job's inbound events: stats, event list and detail (raw
//! payload), retry, retry-failed, replay, executions, secret regeneration, records, and the test
//! event. Extract, call `shared::inbound::service` / `requeue`, shape the JSON.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};
use shared::http::Path;

use shared::http::{success, Auth, JsonBody, OptionalJsonBody};
use shared::inbound::domain::{EventStatus, InboundEvent};
use shared::inbound::input::{ReplayBody, TestBody};
use shared::inbound::requeue;
use shared::inbound::service::{self, load_event, load_job, load_record};
use shared::paging::{parse_limit, Pagination};
use shared::{App, AppResult};

use crate::base_url;

type JobPath = Path<(String, String)>;
type EventPath = Path<(String, String, String)>;

pub async fn stats(
    State(app): State<App>,
    auth: Auth,
    Path((ws, job_id)): JobPath,
) -> AppResult<Response> {
    auth.require_workspace(&ws)?;
    let job = load_job(&app, &ws, &job_id).await?;
    let service::Stats { counts, recent } = service::stats(&app, &job).await?;
    let recent: Vec<Value> = recent.iter().map(InboundEvent::summary).collect();
    Ok(success(
        StatusCode::OK,
        json!({ "stats": {
            "total": counts.total(),
            "today": counts.today,
            "succeeded": counts.succeeded(),
            "processed": counts.processed,
            "skipped": counts.skipped,
            "failed": counts.failed,
            "pending": counts.pending,
            "ignored": counts.ignored,
            "successRate": counts.success_rate(),
            "recent": recent,
        } }),
    ))
}

pub async fn list_events(
    State(app): State<App>,
    auth: Auth,
    Path((ws, job_id)): JobPath,
    Query(q): Query<HashMap<String, String>>,
) -> AppResult<Response> {
    auth.require_workspace(&ws)?;
    let job = load_job(&app, &ws, &job_id).await?;
    let limit = parse_limit(q.get("limit").map(String::as_str))?;
    let status = q
        .get("status")
        .filter(|s| !s.is_empty())
        .map(|s| EventStatus::parse(s))
        .transpose()?;
    let cursor = q.get("cursor").map(String::as_str);
    let page = service::list_events(&app, &job, status, cursor, limit).await?;
    let events: Vec<Value> = page.items.iter().map(InboundEvent::summary).collect();
    Ok(success(
        StatusCode::OK,
        json!({ "events": events, "pagination": Pagination::of(&page, limit) }),
    ))
}

pub async fn get_event(
    State(app): State<App>,
    auth: Auth,
    Path((ws, job_id, event_id)): EventPath,
) -> AppResult<Response> {
    auth.require_workspace(&ws)?;
    let job = load_job(&app, &ws, &job_id).await?;
    let ev = load_event(&app, &job, &event_id).await?;
    Ok(success(StatusCode::OK, json!({ "event": ev.detail() })))
}

pub async fn retry_event(
    State(app): State<App>,
    auth: Auth,
    Path((ws, job_id, event_id)): EventPath,
) -> AppResult<Response> {
    auth.require_workspace(&ws)?;
    let job = load_job(&app, &ws, &job_id).await?;
    let ev = requeue::retry_event(&app, &job, &event_id).await?;
    Ok(success(StatusCode::OK, json!({ "event": ev.summary() })))
}

pub async fn retry_failed(
    State(app): State<App>,
    auth: Auth,
    Path((ws, job_id)): JobPath,
) -> AppResult<Response> {
    auth.require_workspace(&ws)?;
    let job = load_job(&app, &ws, &job_id).await?;
    let r = requeue::retry_failed(&app, &job).await?;
    Ok(success(
        StatusCode::OK,
        json!({ "retried": r.retried, "hasMore": r.has_more }),
    ))
}

/// Re-processes stored events received in `[since, until]` (see `shared::inbound::requeue`).
pub async fn replay(
    State(app): State<App>,
    auth: Auth,
    Path((ws, job_id)): JobPath,
    JsonBody(body): JsonBody<ReplayBody>,
) -> AppResult<Response> {
    auth.require_workspace(&ws)?;
    let job = load_job(&app, &ws, &job_id).await?;
    let r = requeue::replay(&app, &job, &body).await?;
    Ok(success(
        StatusCode::OK,
        json!({ "replayed": r.replayed, "hasMore": r.next_cursor.is_some(), "nextCursor": r.next_cursor }),
    ))
}

pub async fn executions(
    State(app): State<App>,
    auth: Auth,
    Path((ws, job_id)): JobPath,
    Query(q): Query<HashMap<String, String>>,
) -> AppResult<Response> {
    auth.require_workspace(&ws)?;
    let job = load_job(&app, &ws, &job_id).await?;
    let limit = parse_limit(q.get("limit").map(String::as_str))?;
    let cursor = q.get("cursor").map(String::as_str);
    let page = service::list_executions(&app, &job, cursor, limit).await?;
    let items: Vec<Value> = page.items.iter().map(|x| x.view()).collect();
    Ok(success(
        StatusCode::OK,
        json!({ "executions": items, "pagination": Pagination::of(&page, limit) }),
    ))
}

pub async fn regenerate_secret(
    State(app): State<App>,
    auth: Auth,
    Path((ws, job_id)): JobPath,
    headers: HeaderMap,
) -> AppResult<Response> {
    auth.require_workspace(&ws)?;
    let (job, secret) = service::regenerate_secret(&app, &ws, &job_id).await?;
    let mut view = job.view(&base_url(&app, &headers));
    view["webhookSecret"] = json!(secret.expose());
    Ok(success(
        StatusCode::OK,
        json!({ "syncJob": view, "webhookSecret": secret.expose() }),
    ))
}

pub async fn get_record(
    State(app): State<App>,
    auth: Auth,
    Path((ws, job_id, object_type, object_id)): Path<(String, String, String, String)>,
) -> AppResult<Response> {
    auth.require_workspace(&ws)?;
    let job = load_job(&app, &ws, &job_id).await?;
    let record = load_record(&app, &job, &object_type, &object_id).await?;
    Ok(success(StatusCode::OK, json!({ "record": record.view() })))
}

pub async fn send_test(
    State(app): State<App>,
    auth: Auth,
    Path((ws, job_id)): JobPath,
    OptionalJsonBody(body): OptionalJsonBody<TestBody>,
) -> AppResult<Response> {
    auth.require_workspace(&ws)?;
    let job = load_job(&app, &ws, &job_id).await?;
    let received = service::send_test(&app, &job, body.unwrap_or_default()).await?;
    Ok(success(
        StatusCode::OK,
        json!({
            "eventId": received.event_id,
            "providerEventId": received.provider_event_id,
            "type": received.event_type,
            "ignored": received.ignored,
            "duplicate": received.duplicate,
        }),
    ))
}

/// `GET …/sync-jobs/{jobId}/deliveries?limit=&cursor=`: the webhook destination's delivery
/// log, newest first, paginated like a subscription's.
pub async fn deliveries(
    State(app): State<App>,
    auth: Auth,
    Path((ws, job_id)): JobPath,
    Query(q): Query<HashMap<String, String>>,
) -> AppResult<Response> {
    auth.require_workspace(&ws)?;
    let job = load_job(&app, &ws, &job_id).await?;
    let limit = parse_limit(q.get("limit").map(String::as_str))?;
    let cursor = q.get("cursor").map(String::as_str);
    let filter = shared::subscriptions::DeliveryFilter::subscription(&job.id);
    let page = app
        .deliveries
        .list_deliveries(&ws, &filter, cursor, limit)
        .await?;
    let deliveries: Vec<Value> = page
        .items
        .iter()
        .map(shared::inbound::destination::delivery_view)
        .collect();
    Ok(success(
        StatusCode::OK,
        json!({ "deliveries": deliveries, "pagination": Pagination::of(&page, limit) }),
    ))
}
