//! A local GoHighLevel webhook stand-in (seed 002) on a loopback port. It records every
//! request and answers like GHL: a create gets `{"success":true,"appointment_id":"ghl_<n>",
//! "message":…}` with a fresh id, updates and deletes `{"success":true,…}`. It can be switched
//! down (connection refused is not needed: 503), scripted with raw answers, or made to hang.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Value};
use shared::integrations::{IntegrationInput, IntegrationKind};
use shared::signing::WebhookSecret;

use crate::targets::webhook::Received;

#[derive(Default)]
struct GhlState {
    requests: Mutex<Vec<Received>>,
    /// Raw (status, body) answers used before the default behaviour.
    script: Mutex<VecDeque<(u16, String)>>,
    down: AtomicBool,
    hang_ms: AtomicU64,
    appointments: AtomicU32,
    /// `Retry-After` sent with every scripted 429/503 answer.
    retry_after: Mutex<Option<String>>,
}

#[derive(Clone)]
pub struct Ghl {
    pub url: String,
    state: Arc<GhlState>,
}

async fn receive(State(state): State<Arc<GhlState>>, headers: HeaderMap, body: Bytes) -> Response {
    let received = Received::new(&headers, body);
    let payload = received.json();
    state.requests.lock().unwrap().push(received);
    let hang = state.hang_ms.load(Ordering::SeqCst);
    if hang > 0 {
        tokio::time::sleep(Duration::from_millis(hang)).await;
    }
    if let Some((status, body)) = state.script.lock().unwrap().pop_front() {
        let retry_after = state.retry_after.lock().unwrap().clone();
        let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return match retry_after {
            Some(value) if status == 429 || status == 503 => {
                (code, [(axum::http::header::RETRY_AFTER, value)], body).into_response()
            }
            _ => (code, body).into_response(),
        };
    }
    if state.down.load(Ordering::SeqCst) {
        return (StatusCode::SERVICE_UNAVAILABLE, "GHL is down").into_response();
    }
    let answer = match payload["event_type"].as_str() {
        Some("calendar_event_created") => {
            let n = state.appointments.fetch_add(1, Ordering::SeqCst) + 1;
            json!({
                "success": true,
                "appointment_id": format!("ghl_{n}"),
                "message": "Appointment created successfully",
            })
        }
        Some(_) => json!({ "success": true, "message": "ok" }),
        None => {
            json!({ "success": false, "error": "unknown payload", "error_code": "BAD_PAYLOAD" })
        }
    };
    (StatusCode::OK, axum::Json(answer)).into_response()
}

impl Ghl {
    pub async fn start() -> Ghl {
        let state = Arc::new(GhlState::default());
        let addr = super::serve(Router::new().fallback(receive).with_state(state.clone())).await;
        Ghl {
            url: format!("http://{addr}/hooks/test/webhook-trigger/calendar"),
            state,
        }
    }

    /// Makes this stand-in workspace `ws`'s GHL integration (3 retries, 1 s apart), enabled or
    /// not: its signing secret.
    pub async fn integrate(&self, app: &shared::App, ws: &str, enabled: bool) -> WebhookSecret {
        app.integrations
            .put_integration(
                ws,
                IntegrationKind::Ghl,
                &IntegrationInput {
                    webhook_url: self.url.clone(),
                    enabled,
                    retry_attempts: 3,
                    retry_delay: 1,
                    alert: None,
                    sync_properties: false,
                },
                &WebhookSecret::generate(),
                &shared::time::now_string(),
            )
            .await
            .expect("put the GHL integration")
            .secret
    }

    /// Waits (at most `within`) for a first request: the `sentra_event_id` it carries.
    pub async fn first_event_id(&self, within: Duration) -> String {
        let deadline = std::time::Instant::now() + within;
        while self.requests().is_empty() {
            assert!(
                std::time::Instant::now() < deadline,
                "the create never reached GHL"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.payloads()[0]["event_data"]["sentra_event_id"]
            .as_str()
            .expect("sentra_event_id")
            .to_owned()
    }

    /// While down, every request is answered 503.
    pub fn set_down(&self, down: bool) {
        self.state.down.store(down, Ordering::SeqCst);
    }

    /// Each request waits this long before answering (0 = no wait).
    pub fn set_hang(&self, d: Duration) {
        self.state
            .hang_ms
            .store(d.as_millis() as u64, Ordering::SeqCst);
    }

    /// The next requests get these raw answers, in order.
    pub fn respond_with(&self, answers: &[(u16, &str)]) {
        let mut s = self.state.script.lock().unwrap();
        for (status, body) in answers {
            s.push_back((*status, (*body).to_owned()));
        }
    }

    /// Sends `Retry-After: value` with every scripted 429/503 answer from now on.
    pub fn set_retry_after(&self, value: Option<&str>) {
        *self.state.retry_after.lock().unwrap() = value.map(str::to_owned);
    }

    pub fn requests(&self) -> Vec<Received> {
        self.state.requests.lock().unwrap().clone()
    }

    /// Payloads received, in order.
    pub fn payloads(&self) -> Vec<Value> {
        self.requests().iter().map(Received::json).collect()
    }

    /// How many payloads of this `event_type` arrived.
    pub fn count(&self, event_type: &str) -> usize {
        self.payloads()
            .iter()
            .filter(|p| p["event_type"] == event_type)
            .count()
    }

    /// Appointments handed out (successful creates).
    pub fn appointments(&self) -> u32 {
        self.state.appointments.load(Ordering::SeqCst)
    }
}
