//! A local webhook receiver (HubSpot/GHL/subscriber stand-in) on a loopback port. It records
//! every request and answers with scripted status codes (then a default).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Router;

#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
    /// When it arrived (pacing tests measure the gaps).
    pub at: std::time::Instant,
}

impl Received {
    /// A request as it arrived: its headers (names lower-case) and body.
    pub fn new(headers: &HeaderMap, body: Bytes) -> Self {
        let headers = headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    v.to_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        Self {
            headers,
            body: body.to_vec(),
            at: std::time::Instant::now(),
        }
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

#[derive(Default)]
struct TargetState {
    requests: Mutex<Vec<Received>>,
    script: Mutex<VecDeque<u16>>,
    default_status: AtomicU16,
    /// `Retry-After` sent with every 429/503 answer.
    retry_after: Mutex<Option<String>>,
}

#[derive(Clone)]
pub struct Target {
    pub url: String,
    state: Arc<TargetState>,
}

async fn receive(
    State(state): State<Arc<TargetState>>,
    headers: HeaderMap,
    body: Bytes,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    state
        .requests
        .lock()
        .unwrap()
        .push(Received::new(&headers, body));
    let code = state
        .script
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or_else(|| state.default_status.load(Ordering::SeqCst));
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let retry_after = state.retry_after.lock().unwrap().clone();
    match retry_after {
        Some(value) if code == 429 || code == 503 => {
            (status, [(axum::http::header::RETRY_AFTER, value)]).into_response()
        }
        _ => status.into_response(),
    }
}

impl Target {
    /// Starts a target answering 202 (as HubSpot does) unless scripted otherwise.
    pub async fn start() -> Target {
        let state = Arc::new(TargetState::default());
        state.default_status.store(202, Ordering::SeqCst);
        let addr = super::serve(Router::new().fallback(receive).with_state(state.clone())).await;
        Target {
            url: format!("http://{addr}/webhook"),
            state,
        }
    }

    /// Makes this target workspace `ws`'s enabled HubSpot integration with `retry_attempts`
    /// (1 s apart).
    pub async fn integrate_hubspot(&self, app: &shared::App, ws: &str, retry_attempts: u32) {
        use shared::integrations::{IntegrationInput, IntegrationKind};
        app.integrations
            .put_integration(
                ws,
                IntegrationKind::Hubspot,
                &IntegrationInput {
                    webhook_url: self.url.clone(),
                    enabled: true,
                    retry_attempts,
                    retry_delay: 1,
                    alert: None,
                    sync_properties: false,
                },
                &shared::signing::WebhookSecret::generate(),
                &shared::time::now_string(),
            )
            .await
            .expect("put the HubSpot integration");
    }

    /// The next requests get these statuses in order, then the default.
    pub fn respond_with(&self, statuses: &[u16]) {
        self.state.script.lock().unwrap().extend(statuses);
    }

    /// Sends `Retry-After: value` with every 429 and 503 answer from now on.
    pub fn set_retry_after(&self, value: Option<&str>) {
        *self.state.retry_after.lock().unwrap() = value.map(str::to_owned);
    }

    pub fn set_default_status(&self, status: u16) {
        self.state.default_status.store(status, Ordering::SeqCst);
    }

    pub fn requests(&self) -> Vec<Received> {
        self.state.requests.lock().unwrap().clone()
    }

    pub fn last(&self) -> Option<Received> {
        self.state.requests.lock().unwrap().last().cloned()
    }
}
