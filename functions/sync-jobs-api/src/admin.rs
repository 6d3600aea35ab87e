//! Monitoring and repair of a job's inbound events: stats, event list and detail (raw payload),
//! retry, retry-failed, replay, executions, secret regeneration, records, and the test event.

use std::collections::HashMap;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use futures::StreamExt;
use serde::Deserialize;
use serde_json::{json, Value};

use shared::http::{success, Auth, JsonBody, OptionalJsonBody};
use shared::inbound::domain::{EventChange, EventStatus, InboundEvent, Source};
use shared::inbound::receive::{enqueue, send_test_event};
use shared::paging::{parse_limit, Pagination};
use shared::signing::WebhookSecret;
use shared::{ids, App, AppError, AppResult};

use crate::{base_url, load_job};

/// Events re-queued by one `retry-failed` or `replay` call; `hasMore` says to call again.
const MAX_REQUEUE_PER_CALL: usize = 500;
const REQUEUE_CONCURRENCY: usize = 8;
const RECENT_EVENTS: u32 = 10;

type JobPath = Path<(String, String)>;

/// The lowest `iev_` id of anything received at or after `t` (ids are ULIDs: time first).
fn id_at(t: chrono::DateTime<chrono::Utc>, high: bool) -> String {
    let ms = t.timestamp_millis().max(0) as u64;
    let random = if high { (1u128 << 80) - 1 } else { 0 };
    format!(
        "{}_{}",
        ids::INBOUND_EVENT,
        ulid::Ulid::from_parts(ms, random)
            .to_string()
            .to_ascii_lowercase()
    )
}

pub async fn stats(
    State(app): State<App>,
    auth: Auth,
    Path((ws, job_id)): JobPath,
) -> AppResult<Response> {
    let job = load_job(&app, &auth.workspace_id, &ws, &job_id).await?;
    let now = shared::time::now();
    let midnight = now
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .map(|d| d.and_utc())
        .unwrap_or(now);
    let counts = app
        .inbound_events
        .count_events(&ws, &job.id, &id_at(midnight, false), now.timestamp())
        .await?;
    let recent = app
        .inbound_events
        .list_events(&ws, &job.id, None, None, RECENT_EVENTS, now.timestamp())
        .await?;
    let succeeded = counts.processed + counts.skipped;
    let finished = succeeded + counts.failed;
    let success_rate = (finished > 0).then(|| succeeded as f64 / finished as f64);
    let recent: Vec<Value> = recent.items.iter().map(InboundEvent::summary).collect();
    Ok(success(
        StatusCode::OK,
        json!({ "stats": {
            "total": counts.total(),
            "today": counts.today,
            "succeeded": succeeded,
            "processed": counts.processed,
            "skipped": counts.skipped,
            "failed": counts.failed,
            "pending": counts.pending,
            "ignored": counts.ignored,
            "successRate": success_rate,
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
    let job = load_job(&app, &auth.workspace_id, &ws, &job_id).await?;
    let limit = parse_limit(q.get("limit").map(String::as_str))?;
    let status = q
        .get("status")
        .filter(|s| !s.is_empty())
        .map(|s| EventStatus::parse(s))
        .transpose()?;
    let page = app
        .inbound_events
        .list_events(
            &ws,
            &job.id,
            status,
            q.get("cursor").map(String::as_str),
            limit,
            shared::time::now().timestamp(),
        )
        .await?;
    let events: Vec<Value> = page.items.iter().map(InboundEvent::summary).collect();
    Ok(success(
        StatusCode::OK,
        json!({ "events": events, "pagination": Pagination::of(&page, limit) }),
    ))
}

async fn load_event(app: &App, ws: &str, job_id: &str, event_id: &str) -> AppResult<InboundEvent> {
    if !ids::is_valid(ids::INBOUND_EVENT, event_id) {
        return Err(AppError::NotFound("event"));
    }
    app.inbound_events
        .find_event(ws, job_id, event_id, shared::time::now().timestamp())
        .await?
        .ok_or(AppError::NotFound("event"))
}

pub async fn get_event(
    State(app): State<App>,
    auth: Auth,
    Path((ws, job_id, event_id)): Path<(String, String, String)>,
) -> AppResult<Response> {
    let job = load_job(&app, &auth.workspace_id, &ws, &job_id).await?;
    let ev = load_event(&app, &ws, &job.id, &event_id).await?;
    Ok(success(StatusCode::OK, json!({ "event": ev.detail() })))
}

/// Back to `pending` and onto the queue (no batch wait: someone is waiting for it).
async fn requeue(app: &App, ev: &InboundEvent) -> AppResult<()> {
    let change = EventChange::status(EventStatus::Pending, &shared::time::now_string());
    app.inbound_events
        .update_event(&ev.workspace_id, &ev.job_id, &ev.provider_event_id, &change)
        .await?;
    enqueue(app, ev, Duration::ZERO).await
}

pub async fn retry_event(
    State(app): State<App>,
    auth: Auth,
    Path((ws, job_id, event_id)): Path<(String, String, String)>,
) -> AppResult<Response> {
    let job = load_job(&app, &auth.workspace_id, &ws, &job_id).await?;
    let mut ev = load_event(&app, &ws, &job.id, &event_id).await?;
    requeue(&app, &ev).await?;
    ev.status = EventStatus::Pending;
    Ok(success(StatusCode::OK, json!({ "event": ev.summary() })))
}

/// Re-queues `events` with bounded concurrency, in their order; returns how many went.
async fn requeue_all(app: &App, events: Vec<InboundEvent>) -> AppResult<usize> {
    let results: Vec<AppResult<()>> = futures::stream::iter(events)
        .map(|ev| {
            let app = app.clone();
            async move { requeue(&app, &ev).await }
        })
        .buffered(REQUEUE_CONCURRENCY)
        .collect()
        .await;
    let mut n = 0;
    for r in results {
        r?;
        n += 1;
    }
    Ok(n)
}

pub async fn retry_failed(
    State(app): State<App>,
    auth: Auth,
    Path((ws, job_id)): JobPath,
) -> AppResult<Response> {
    let job = load_job(&app, &auth.workspace_id, &ws, &job_id).await?;
    let now = shared::time::now().timestamp();
    let mut failed = Vec::new();
    let mut cursor: Option<String> = None;
    let mut has_more = false;
    loop {
        let page = app
            .inbound_events
            .list_events(
                &ws,
                &job.id,
                Some(EventStatus::Failed),
                cursor.as_deref(),
                100,
                now,
            )
            .await?;
        failed.extend(page.items);
        cursor = page.next_cursor;
        if failed.len() >= MAX_REQUEUE_PER_CALL {
            has_more = cursor.is_some() || failed.len() > MAX_REQUEUE_PER_CALL;
            failed.truncate(MAX_REQUEUE_PER_CALL);
            break;
        }
        if cursor.is_none() {
            break;
        }
    }
    // Oldest first, so the records see them in arrival order.
    failed.reverse();
    let retried = requeue_all(&app, failed).await?;
    Ok(success(
        StatusCode::OK,
        json!({ "retried": retried, "hasMore": has_more }),
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplayBody {
    since: String,
    #[serde(default)]
    until: Option<String>,
    /// `nextCursor` of a previous call that answered `hasMore`.
    #[serde(default)]
    cursor: Option<String>,
}

/// Re-processes stored events received in `[since, until]`, oldest first (ignored events stay
/// ignored). The ordering rules decide what each record keeps.
pub async fn replay(
    State(app): State<App>,
    auth: Auth,
    Path((ws, job_id)): JobPath,
    JsonBody(body): JsonBody<ReplayBody>,
) -> AppResult<Response> {
    let job = load_job(&app, &auth.workspace_id, &ws, &job_id).await?;
    let since = shared::time::parse(&body.since)
        .ok_or_else(|| AppError::validation("since must be an RFC 3339 timestamp"))?;
    let until = match &body.until {
        Some(u) => shared::time::parse(u)
            .ok_or_else(|| AppError::validation("until must be an RFC 3339 timestamp"))?,
        None => shared::time::now(),
    };
    if since > until {
        return Err(AppError::validation("since must not be after until"));
    }
    let now = shared::time::now().timestamp();
    let (from, to) = (id_at(since, false), id_at(until, true));
    let mut events = Vec::new();
    let mut cursor = body.cursor.clone();
    let next_cursor = loop {
        let page = app
            .inbound_events
            .list_events_between(&ws, &job.id, (&from, &to), cursor.as_deref(), 100, now)
            .await?;
        events.extend(
            page.items
                .into_iter()
                .filter(|e| e.status != EventStatus::Ignored),
        );
        cursor = page.next_cursor;
        if cursor.is_none() || events.len() >= MAX_REQUEUE_PER_CALL {
            break cursor;
        }
    };
    let replayed = requeue_all(&app, events).await?;
    Ok(success(
        StatusCode::OK,
        json!({ "replayed": replayed, "hasMore": next_cursor.is_some(), "nextCursor": next_cursor }),
    ))
}

pub async fn executions(
    State(app): State<App>,
    auth: Auth,
    Path((ws, job_id)): JobPath,
    Query(q): Query<HashMap<String, String>>,
) -> AppResult<Response> {
    let job = load_job(&app, &auth.workspace_id, &ws, &job_id).await?;
    let limit = parse_limit(q.get("limit").map(String::as_str))?;
    let page = app
        .sync_executions
        .list_executions(
            &ws,
            &job.id,
            q.get("cursor").map(String::as_str),
            limit,
            shared::time::now().timestamp(),
        )
        .await?;
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
    let secret = WebhookSecret::generate();
    let job = shared::retry::on_conflict(&app.config, || async {
        let mut job = load_job(&app, &auth.workspace_id, &ws, &job_id).await?;
        if job.source != Source::Generic {
            return Err(AppError::validation(format!(
                "a {} job verifies with the provider's own secret: PATCH webhookConfig.signingSecret instead",
                job.source.as_str()
            )));
        }
        job.signing_secret = Some(shared::inbound::domain::SigningSecret::new(secret.expose()));
        job.version += 1;
        job.updated_at = shared::time::now_string();
        app.sync_jobs.update_sync_job(&job).await?;
        Ok(job)
    })
    .await?;
    tracing::info!(job_id = %job.id, "sync job secret regenerated");
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
    let job = load_job(&app, &auth.workspace_id, &ws, &job_id).await?;
    let valid_type = !object_type.is_empty()
        && object_type.len() <= 64
        && object_type
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !valid_type || object_id.is_empty() || object_id.len() > 255 {
        return Err(AppError::NotFound("record"));
    }
    let record = app
        .records
        .get_record(&ws, &job.id, &object_type, &object_id)
        .await?
        .ok_or(AppError::NotFound("record"))?;
    Ok(success(StatusCode::OK, json!({ "record": record.view() })))
}

#[derive(Deserialize, Default)]
pub struct TestBody {
    #[serde(default, rename = "type")]
    kind: Option<String>,
}

pub async fn send_test(
    State(app): State<App>,
    auth: Auth,
    Path((ws, job_id)): JobPath,
    OptionalJsonBody(body): OptionalJsonBody<TestBody>,
) -> AppResult<Response> {
    let job = load_job(&app, &auth.workspace_id, &ws, &job_id).await?;
    let kind = body.unwrap_or_default().kind;
    if let Some(k) = &kind {
        let ok = !k.is_empty() && k.len() <= 200 && k.bytes().all(|b| b.is_ascii_graphic());
        if !ok {
            return Err(AppError::validation(
                "type must be 1 to 200 visible ASCII characters",
            ));
        }
    }
    let received = send_test_event(&app, &job, kind.as_deref()).await?;
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
