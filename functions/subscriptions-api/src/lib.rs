//! Outbound webhook subscriptions (seed 001, DESIGN §4): CRUD, the delivery log, test sends,
//! manual retry, recovery of failed deliveries and secret rotation. Deliveries themselves run
//! in the `deliver` function; this API only writes state and enqueues ids.

use std::collections::HashMap;
use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use futures::StreamExt;
use serde::Deserialize;
use serde_json::{json, Value};

use shared::outbox::DomainEvent;

use shared::http::{success, Auth, JsonBody, OptionalJsonBody};
use shared::ids;
use shared::outbound::AttemptOutcome;
use shared::paging::{parse_limit, Pagination};
use shared::patch::Patch;
use shared::queue::QueueName;
use shared::queue::{QueueEnvelope, QueueMessage};
use shared::signing::WebhookSecret;
use shared::webhooks::{
    self, AttemptRecord, Delivery, DeliveryStatus, Subscription, SubscriptionPatch,
};
use shared::{App, AppError, AppResult};

pub const DEFAULT_RETRY_ATTEMPTS: u32 = 3;
pub const DEFAULT_RETRY_DELAY: u32 = 60;
pub const DEFAULT_TIMEOUT_MS: u32 = 10_000;
pub const DEFAULT_MAX_CONSECUTIVE_FAILURES: u32 = 5;
/// API Gateway answers 504 after 30 s: a synchronous test send waits at most this long.
pub const TEST_SEND_BUDGET: Duration = Duration::from_secs(25);
/// Failed deliveries re-queued by one `recover` call (call again while `hasMore`).
pub const RECOVER_BATCH: u32 = 500;
const MAX_URL_CHARS: usize = 2048;
const MAX_NAME_CHARS: usize = 200;
const MAX_DESCRIPTION_CHARS: usize = 2000;

pub fn router(app: App) -> Router {
    let routes = Router::new()
        .route(
            "/api/admin/webhooks",
            get(list_webhooks).post(create_webhook),
        )
        .route(
            "/api/admin/webhooks/{id}",
            get(get_webhook)
                .patch(update_webhook)
                .delete(delete_webhook),
        )
        .route("/api/admin/webhooks/{id}/test", post(test_webhook))
        .route("/api/admin/webhooks/{id}/deliveries", get(list_deliveries))
        .route(
            "/api/admin/webhooks/{id}/deliveries/{delivery_id}/retry",
            post(retry_delivery),
        )
        .route("/api/admin/webhooks/{id}/recover", post(recover))
        .route(
            "/api/admin/webhooks/{id}/rotate-secret",
            post(rotate_secret),
        );
    shared::http::finish_router(routes, app)
}

// --- validation ---------------------------------------------------------------------------------

fn validate_name(name: &str) -> AppResult<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(AppError::validation(format!(
            "name must be 1 to {MAX_NAME_CHARS} characters"
        )));
    }
    Ok(name.to_owned())
}

fn validate_url(app: &App, url: &str) -> AppResult<String> {
    let url = url.trim();
    if url.chars().count() > MAX_URL_CHARS {
        return Err(AppError::validation(format!(
            "url must be at most {MAX_URL_CHARS} characters"
        )));
    }
    shared::outbound::validate_target_url(url, app.config.allow_private_targets)
        .map_err(|e| AppError::validation(e.to_string()))?;
    Ok(url.to_owned())
}

fn validate_description(d: String) -> AppResult<String> {
    if d.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(AppError::validation(format!(
            "description must be at most {MAX_DESCRIPTION_CHARS} characters"
        )));
    }
    Ok(d)
}

fn in_range(field: &str, value: i64, min: u32, max: u32, unit: &str) -> AppResult<u32> {
    match u32::try_from(value) {
        Ok(v) if (min..=max).contains(&v) => Ok(v),
        _ => Err(AppError::validation(format!(
            "{field} must be an integer from {min} to {max}{unit}"
        ))),
    }
}

fn retry_attempts(v: i64) -> AppResult<u32> {
    in_range("retryAttempts", v, 0, 10, "")
}
fn retry_delay(v: i64) -> AppResult<u32> {
    in_range("retryDelay", v, 1, 3600, " seconds")
}
fn timeout_ms(v: i64) -> AppResult<u32> {
    in_range("timeoutMs", v, 1000, 25_000, " ms")
}
fn max_consecutive_failures(v: i64) -> AppResult<u32> {
    in_range("maxConsecutiveFailures", v, 1, 1000, "")
}

fn load_id(id: &str) -> AppResult<&str> {
    if ids::is_valid(ids::WEBHOOK, id) {
        Ok(id)
    } else {
        Err(AppError::NotFound("webhook"))
    }
}

async fn load(app: &App, ws: &str, id: &str) -> AppResult<Subscription> {
    app.subscriptions
        .get_subscription(ws, load_id(id)?)
        .await?
        .ok_or(AppError::NotFound("webhook"))
}

fn query_params(
    q: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> AppResult<HashMap<String, String>> {
    q.map(|Query(m)| m)
        .map_err(|_| AppError::validation("query string is malformed"))
}

// --- CRUD ----------------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateBody {
    name: String,
    url: String,
    events: Vec<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    retry_attempts: Option<i64>,
    #[serde(default)]
    retry_delay: Option<i64>,
    #[serde(default)]
    timeout_ms: Option<i64>,
    #[serde(default)]
    max_consecutive_failures: Option<i64>,
    #[serde(default)]
    active: Option<bool>,
}

async fn create_webhook(
    State(app): State<App>,
    auth: Auth,
    JsonBody(body): JsonBody<CreateBody>,
) -> AppResult<Response> {
    let now = shared::time::now_string();
    let sub = Subscription {
        id: ids::new_id(ids::WEBHOOK),
        workspace_id: auth.workspace_id.clone(),
        name: validate_name(&body.name)?,
        url: validate_url(&app, &body.url)?,
        events: webhooks::validate_patterns(&body.events)?,
        description: body.description.map(validate_description).transpose()?,
        retry_attempts: body
            .retry_attempts
            .map(retry_attempts)
            .transpose()?
            .unwrap_or(DEFAULT_RETRY_ATTEMPTS),
        retry_delay: body
            .retry_delay
            .map(retry_delay)
            .transpose()?
            .unwrap_or(DEFAULT_RETRY_DELAY),
        timeout_ms: body
            .timeout_ms
            .map(timeout_ms)
            .transpose()?
            .unwrap_or(DEFAULT_TIMEOUT_MS),
        max_consecutive_failures: body
            .max_consecutive_failures
            .map(max_consecutive_failures)
            .transpose()?
            .unwrap_or(DEFAULT_MAX_CONSECUTIVE_FAILURES),
        active: body.active.unwrap_or(true),
        disabled_reason: None,
        secret: WebhookSecret::generate(),
        previous_secret: None,
        previous_secret_expires_at: None,
        success_count: 0,
        failed_count: 0,
        consecutive_failures: 0,
        last_delivery_status: None,
        last_delivery_at: None,
        created_at: now.clone(),
        updated_at: now,
    };
    app.subscriptions.create_subscription(&sub).await?;
    tracing::info!(webhook_id = %sub.id, "webhook created");
    Ok(success(
        StatusCode::CREATED,
        json!({ "webhook": sub.view(true) }),
    ))
}

async fn list_webhooks(
    State(app): State<App>,
    auth: Auth,
    q: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> AppResult<Response> {
    let q = query_params(q)?;
    let limit = parse_limit(q.get("limit").map(String::as_str))?;
    let page = app
        .subscriptions
        .list_subscriptions(
            &auth.workspace_id,
            q.get("cursor").map(String::as_str),
            limit,
        )
        .await?;
    let webhooks: Vec<Value> = page.items.iter().map(|s| s.view(false)).collect();
    Ok(success(
        StatusCode::OK,
        json!({ "webhooks": webhooks, "pagination": Pagination::of(&page, limit) }),
    ))
}

async fn get_webhook(
    State(app): State<App>,
    auth: Auth,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let ws = auth.workspace_id.as_str();
    let sub = load(&app, ws, &id).await?;
    let recent = app
        .deliveries
        .list_deliveries(ws, &sub.id, None, webhooks::RECENT_DELIVERIES)
        .await?;
    let deliveries: Vec<Value> = recent.items.iter().map(Delivery::view).collect();
    let mut view = sub.view(false);
    // Seed 001: "Response includes last 50 deliveries" — on the webhook, and at top level.
    view["deliveries"] = json!(deliveries);
    Ok(success(
        StatusCode::OK,
        json!({ "webhook": view, "deliveries": deliveries }),
    ))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct PatchBody {
    #[serde(default)]
    name: Patch<String>,
    #[serde(default)]
    url: Patch<String>,
    #[serde(default)]
    events: Patch<Vec<String>>,
    #[serde(default)]
    description: Patch<String>,
    #[serde(default)]
    retry_attempts: Patch<i64>,
    #[serde(default)]
    retry_delay: Patch<i64>,
    #[serde(default)]
    timeout_ms: Patch<i64>,
    #[serde(default)]
    max_consecutive_failures: Patch<i64>,
    #[serde(default)]
    active: Patch<bool>,
}

fn validate_patch(app: &App, body: PatchBody) -> AppResult<SubscriptionPatch> {
    Ok(SubscriptionPatch {
        name: body
            .name
            .not_null("name")?
            .map(|n| validate_name(&n))
            .transpose()?,
        url: body
            .url
            .not_null("url")?
            .map(|u| validate_url(app, &u))
            .transpose()?,
        events: body
            .events
            .not_null("events")?
            .map(|e| webhooks::validate_patterns(&e))
            .transpose()?,
        description: body.description.try_map(validate_description)?,
        retry_attempts: body
            .retry_attempts
            .not_null("retryAttempts")?
            .map(retry_attempts)
            .transpose()?,
        retry_delay: body
            .retry_delay
            .not_null("retryDelay")?
            .map(retry_delay)
            .transpose()?,
        timeout_ms: body
            .timeout_ms
            .not_null("timeoutMs")?
            .map(timeout_ms)
            .transpose()?,
        max_consecutive_failures: body
            .max_consecutive_failures
            .not_null("maxConsecutiveFailures")?
            .map(max_consecutive_failures)
            .transpose()?,
        active: body.active.not_null("active")?,
    })
}

async fn update_webhook(
    State(app): State<App>,
    auth: Auth,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<PatchBody>,
) -> AppResult<Response> {
    let id = load_id(&id)?;
    let patch = validate_patch(&app, body)?;
    let sub = app
        .subscriptions
        .update_subscription(&auth.workspace_id, id, &patch, &shared::time::now_string())
        .await?;
    Ok(success(
        StatusCode::OK,
        json!({ "webhook": sub.view(false) }),
    ))
}

async fn delete_webhook(
    State(app): State<App>,
    auth: Auth,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let id = load_id(&id)?;
    let sub = app
        .subscriptions
        .delete_subscription(&auth.workspace_id, id)
        .await?;
    tracing::info!(webhook_id = %sub.id, "webhook deleted");
    Ok(success(
        StatusCode::OK,
        json!({ "webhook": sub.view(false) }),
    ))
}

async fn rotate_secret(
    State(app): State<App>,
    auth: Auth,
    Path(id): Path<String>,
    OptionalJsonBody(_body): OptionalJsonBody<Value>,
) -> AppResult<Response> {
    let id = load_id(&id)?;
    let now = shared::time::now();
    let until = shared::signing::overlap_ends(now);
    let sub = app
        .subscriptions
        .rotate_secret(
            &auth.workspace_id,
            id,
            &WebhookSecret::generate(),
            &shared::time::format(until),
            &shared::time::format(now),
        )
        .await?;
    tracing::info!(webhook_id = %sub.id, "webhook secret rotated");
    Ok(success(
        StatusCode::OK,
        json!({ "webhook": sub.view(true) }),
    ))
}

// --- deliveries ----------------------------------------------------------------------------------

async fn list_deliveries(
    State(app): State<App>,
    auth: Auth,
    Path(id): Path<String>,
    q: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> AppResult<Response> {
    let ws = auth.workspace_id.as_str();
    let q = query_params(q)?;
    let limit = parse_limit(q.get("limit").map(String::as_str))?;
    let sub = load(&app, ws, &id).await?;
    let page = app
        .deliveries
        .list_deliveries(ws, &sub.id, q.get("cursor").map(String::as_str), limit)
        .await?;
    let deliveries: Vec<Value> = page.items.iter().map(Delivery::view).collect();
    Ok(success(
        StatusCode::OK,
        json!({ "deliveries": deliveries, "pagination": Pagination::of(&page, limit) }),
    ))
}

fn require_active(sub: &Subscription) -> AppResult<()> {
    if sub.active {
        Ok(())
    } else {
        Err(AppError::validation(
            "the webhook is disabled: enable it with PATCH {\"active\":true} first",
        ))
    }
}

/// Back to pending with a fresh round of retries, then onto the queue.
async fn requeue(
    app: &App,
    ws: &str,
    subscription_id: &str,
    delivery_id: &str,
) -> AppResult<Delivery> {
    let now = shared::time::now();
    let delivery = app
        .deliveries
        .requeue_delivery(
            ws,
            subscription_id,
            delivery_id,
            &shared::time::format(now),
            webhooks::expires_at(now, app.config.delivery_log_ttl_days),
        )
        .await?;
    let message = QueueMessage::Delivery {
        workspace_id: ws.to_owned(),
        delivery_id: delivery_id.to_owned(),
    };
    app.queue
        .send(
            QueueName::Delivery,
            &QueueEnvelope::now(message),
            Duration::ZERO,
        )
        .await?;
    Ok(delivery)
}

async fn retry_delivery(
    State(app): State<App>,
    auth: Auth,
    Path((id, delivery_id)): Path<(String, String)>,
    OptionalJsonBody(_body): OptionalJsonBody<Value>,
) -> AppResult<Response> {
    let ws = auth.workspace_id.as_str();
    let sub = load(&app, ws, &id).await?;
    if !ids::is_valid(ids::DELIVERY, &delivery_id) {
        return Err(AppError::NotFound("delivery"));
    }
    require_active(&sub)?;
    let delivery = requeue(&app, ws, &sub.id, &delivery_id).await?;
    tracing::info!(webhook_id = %sub.id, %delivery_id, "delivery re-queued by request");
    Ok(success(
        StatusCode::OK,
        json!({ "delivery": delivery.view() }),
    ))
}

#[derive(Deserialize)]
struct RecoverBody {
    since: String,
}

/// `since` as RFC 3339, or a date (midnight UTC).
fn parse_since(since: &str) -> AppResult<shared::time::Timestamp> {
    let since = since.trim();
    if let Some(t) = shared::time::parse(since) {
        return Ok(t);
    }
    chrono::NaiveDate::parse_from_str(since, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|dt| dt.and_utc())
        .ok_or_else(|| {
            AppError::validation("since must be an RFC 3339 timestamp or a date (YYYY-MM-DD)")
        })
}

async fn recover(
    State(app): State<App>,
    auth: Auth,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<RecoverBody>,
) -> AppResult<Response> {
    let ws = auth.workspace_id.as_str();
    let since = parse_since(&body.since)?;
    let sub = load(&app, ws, &id).await?;
    require_active(&sub)?;
    let failed = app
        .deliveries
        .failed_deliveries_since(
            ws,
            &sub.id,
            &webhooks::delivery_id_floor(since),
            RECOVER_BATCH,
        )
        .await?;
    let has_more = failed.len() >= RECOVER_BATCH as usize;
    let results: Vec<AppResult<String>> = futures::stream::iter(failed)
        .map(|d| {
            let app = &app;
            let sub_id = sub.id.as_str();
            async move { requeue(app, ws, sub_id, &d.id).await.map(|d| d.id) }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    let mut ids = Vec::with_capacity(results.len());
    for r in results {
        match r {
            Ok(id) => ids.push(id),
            // Expired between the query and the update: nothing to recover.
            Err(AppError::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
    }
    ids.sort();
    tracing::info!(webhook_id = %sub.id, recovered = ids.len(), "failed deliveries re-queued");
    Ok(success(
        StatusCode::OK,
        json!({
            "recovered": ids.len(),
            "deliveryIds": ids,
            "since": shared::time::format(since),
            "hasMore": has_more,
        }),
    ))
}

// --- test send -----------------------------------------------------------------------------------

/// Sends a `webhook.test` event now and answers with the attempt (waits at most 25 s). The
/// send is kept in the delivery log (`test: true`) but not counted in the statistics, and
/// works on a disabled webhook too (to check an endpoint before re-enabling it).
async fn test_webhook(
    State(app): State<App>,
    auth: Auth,
    Path(id): Path<String>,
    OptionalJsonBody(_body): OptionalJsonBody<Value>,
) -> AppResult<Response> {
    let ws = auth.workspace_id.as_str();
    let sub = load(&app, ws, &id).await?;
    let now = shared::time::now();
    let event = DomainEvent::new(
        webhooks::TEST_EVENT,
        json!({ "message": format!("Test event for webhook {:?} ({})", sub.name, sub.id) }),
        &shared::time::format(now),
    );
    let payload = webhooks::payload_body(ws, &event, webhooks::SOURCE_TEST)?;
    let mut delivery = Delivery::pending(
        ws,
        &sub.id,
        &event,
        payload,
        now,
        app.config.delivery_log_ttl_days,
    );
    let timeout = webhooks::call_timeout(&sub).min(TEST_SEND_BUDGET);
    let attempt = webhooks::send_attempt(
        &app,
        &sub,
        &delivery.id,
        &delivery.event,
        &delivery.payload,
        now,
        timeout,
    )
    .await;
    let record = AttemptRecord::from_attempt(1, &attempt, now);
    delivery.test = true;
    delivery.attempts = 1;
    delivery.status = if attempt.outcome == AttemptOutcome::Success {
        DeliveryStatus::Success
    } else {
        DeliveryStatus::Failed
    };
    delivery.status_code = record.status_code;
    delivery.response_body = Some(record.response_body.clone());
    delivery.error = record.error.clone();
    delivery.duration_ms = Some(record.duration_ms);
    delivery.last_attempt_at = Some(record.at.clone());
    delivery.next_attempt_at = None;
    delivery.updated_at = record.completed_at.clone();
    delivery.attempt_log.push(record.clone());
    app.deliveries.create_delivery(&delivery).await?;
    tracing::info!(
        webhook_id = %sub.id,
        status_code = attempt.status_code,
        duration_ms = attempt.duration_ms,
        "webhook test send"
    );
    Ok(success(
        StatusCode::OK,
        json!({
            "attempt": {
                "statusCode": record.status_code,
                "durationMs": record.duration_ms,
                "error": record.error,
                "responseBody": record.response_body,
            },
            "deliveryId": delivery.id,
        }),
    ))
}
