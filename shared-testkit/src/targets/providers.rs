//! A local Stripe and Close API stand-in for backfills, on one loopback port. It pages like the
//! real event logs:
//! - Stripe `GET /v1/events?created[gt]&starting_after&limit` (≤ 100, default 10): newest first,
//!   `{"object":"list","data","has_more"}`, `Authorization: Bearer <key>` else 401;
//! - Close `GET /api/v1/event/?date_updated__gt&_cursor&_limit` (default 50): newest first,
//!   `{"data","cursor_next","cursor_previous"}`, Basic auth `<key>:` else 401.
//!
//! It can be scripted with an HTTP status (e.g. 401, 503) or made to hang, and records every
//! request's path and query.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::Engine;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

#[derive(Default)]
struct ApiState {
    key: String,
    stripe: Mutex<Vec<Value>>,
    close: Mutex<Vec<Value>>,
    /// Answer every request with this status (0: behave).
    status: AtomicU16,
    hang_ms: AtomicU64,
    requests: Mutex<Vec<String>>,
}

/// The stand-in. Clones share its state.
#[derive(Clone)]
pub struct ProviderApi {
    /// Base URL: set as `STRIPE_API_BASE` and `CLOSE_API_BASE`.
    pub url: String,
    state: Arc<ApiState>,
}

fn unauthorized(provider: &str) -> Response {
    let body = match provider {
        "stripe" => {
            json!({"error": {"type": "invalid_request_error", "message": "Invalid API Key provided"}})
        }
        _ => json!({"error": "Invalid API key"}),
    };
    (StatusCode::UNAUTHORIZED, axum::Json(body)).into_response()
}

async fn gate(
    state: &ApiState,
    headers: &HeaderMap,
    expected: &str,
    provider: &str,
) -> Option<Response> {
    let hang = state.hang_ms.load(Ordering::SeqCst);
    if hang > 0 {
        tokio::time::sleep(Duration::from_millis(hang)).await;
    }
    let status = state.status.load(Ordering::SeqCst);
    if status != 0 {
        let s = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return Some((s, axum::Json(json!({"error": "scripted"}))).into_response());
    }
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    (auth != expected).then(|| unauthorized(provider))
}

async fn stripe_events(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    state
        .requests
        .lock()
        .unwrap()
        .push(format!("/v1/events?{q:?}"));
    if let Some(r) = gate(&state, &headers, &format!("Bearer {}", state.key), "stripe").await {
        return r;
    }
    let limit: usize = q
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(10)
        .clamp(1, 100);
    let gt: i64 = q
        .get("created[gt]")
        .and_then(|l| l.parse().ok())
        .unwrap_or(i64::MIN);
    let mut events: Vec<Value> = state
        .stripe
        .lock()
        .unwrap()
        .iter()
        .filter(|e| e["created"].as_i64().unwrap_or(0) > gt)
        .cloned()
        .collect();
    // Newest first, as Stripe lists.
    events.sort_by(|a, b| {
        (b["created"].as_i64(), b["id"].as_str()).cmp(&(a["created"].as_i64(), a["id"].as_str()))
    });
    let start = match q.get("starting_after") {
        Some(after) => match events.iter().position(|e| e["id"].as_str() == Some(after)) {
            Some(i) => i + 1,
            None => {
                return (
                    StatusCode::BAD_REQUEST,
                    axum::Json(json!({"error": {"message": "No such event"}})),
                )
                    .into_response()
            }
        },
        None => 0,
    };
    let page: Vec<Value> = events.iter().skip(start).take(limit).cloned().collect();
    let has_more = start + page.len() < events.len();
    axum::Json(json!({"object": "list", "url": "/v1/events", "data": page, "has_more": has_more}))
        .into_response()
}

fn close_time(v: &Value) -> Option<DateTime<Utc>> {
    shared::inbound::providers::parse_close_time(v["date_updated"].as_str()?)
}

async fn close_events(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    state
        .requests
        .lock()
        .unwrap()
        .push(format!("/api/v1/event/?{q:?}"));
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{}:", state.key))
    );
    if let Some(r) = gate(&state, &headers, &basic, "close").await {
        return r;
    }
    let limit: usize = q
        .get("_limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(50)
        .clamp(1, 100);
    let gt = q
        .get("date_updated__gt")
        .and_then(|t| shared::inbound::providers::parse_close_time(t));
    let mut events: Vec<Value> = state
        .close
        .lock()
        .unwrap()
        .iter()
        .filter(|e| match (gt, close_time(e)) {
            (Some(gt), Some(t)) => t > gt,
            (None, _) => true,
            _ => false,
        })
        .cloned()
        .collect();
    events.sort_by_key(|e| std::cmp::Reverse(close_time(e)));
    let start: usize = q
        .get("_cursor")
        .and_then(|c| c.strip_prefix("page:"))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let page: Vec<Value> = events.iter().skip(start).take(limit).cloned().collect();
    let next = (start + page.len() < events.len()).then(|| format!("page:{}", start + page.len()));
    axum::Json(json!({"data": page, "cursor_next": next, "cursor_previous": null})).into_response()
}

impl ProviderApi {
    /// Starts the stand-in; requests must carry `key`.
    pub async fn start(key: &str) -> ProviderApi {
        let state = Arc::new(ApiState {
            key: key.to_owned(),
            ..ApiState::default()
        });
        let app = Router::new()
            .route("/v1/events", get(stripe_events))
            .route("/api/v1/event/", get(close_events))
            .with_state(state.clone());
        let addr = super::serve(app).await;
        ProviderApi {
            url: format!("http://{addr}"),
            state,
        }
    }

    /// Adds a Stripe event to the log.
    pub fn add_stripe(&self, event: Value) {
        self.state.stripe.lock().unwrap().push(event);
    }

    /// Adds a Close event (the event object, as the log lists it).
    pub fn add_close(&self, event: Value) {
        self.state.close.lock().unwrap().push(event);
    }

    /// Answers every request with `status` (0: behave again).
    pub fn answer_with(&self, status: u16) {
        self.state.status.store(status, Ordering::SeqCst);
    }

    pub fn hang(&self, ms: u64) {
        self.state.hang_ms.store(ms, Ordering::SeqCst);
    }

    /// Requests served so far (path and query).
    pub fn requests(&self) -> Vec<String> {
        self.state.requests.lock().unwrap().clone()
    }
}

/// A Stripe `customer.updated`-style event of `object` (`customer`, …) id `object_id`.
pub fn stripe_event(id: &str, ty: &str, object_id: &str, created: i64) -> Value {
    let object = ty.rsplit('.').nth(1).unwrap_or("customer");
    json!({
        "id": id,
        "object": "event",
        "api_version": "2024-06-20",
        "created": created,
        "type": ty,
        "livemode": false,
        "pending_webhooks": 1,
        "request": {"id": null, "idempotency_key": null},
        "data": {"object": {"id": object_id, "object": object, "email": format!("{object_id}@example.com")}},
    })
}

/// A Close event as its event log lists it (`object_type`, `action`, `object_id`, `data`).
pub fn close_event(
    id: &str,
    object_type: &str,
    action: &str,
    object_id: &str,
    at: DateTime<Utc>,
) -> Value {
    let t = at.format("%Y-%m-%dT%H:%M:%S%.6f").to_string();
    json!({
        "id": id,
        "date_created": t,
        "date_updated": t,
        "object_type": object_type,
        "object_id": object_id,
        "action": action,
        "changed_fields": [],
        "data": {"id": object_id, "display_name": format!("Lead {object_id}")},
        "previous_data": {},
    })
}
