//! The public receiver's pipeline (DESIGN §4): job → signature on the raw bytes → parse the
//! head → store the raw event (conditional on the provider event id) → enqueue the ids.
//! Shared by the receiver function and the Bearer `…/test` route, which pushes a synthetic
//! signed event through exactly this code.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{json, Value};

use super::domain::{EventStatus, InboundEvent, InboundMessage, SigningSecret, Source, SyncJob};
use super::mapping::check_and_parse_head;
use super::ports::InsertOutcome;
use crate::app::App;
use crate::error::{AppError, AppResult};
use crate::ids;
use crate::queue::QueueName;
use crate::signing::{self, WebhookSecret};

/// Headers never stored with an event (credentials of any kind).
const DROPPED_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "x-api-key",
    "x-amz-security-token",
];
const MAX_STORED_HEADERS: usize = 64;
const MAX_STORED_HEADER_VALUE: usize = 1024;

/// What the receiver answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub event_id: String,
    pub provider_event_id: String,
    pub event_type: String,
    pub duplicate: bool,
    pub ignored: bool,
}

impl Received {
    /// `{"received":true,"eventId"}` (+ `duplicate` / `ignored` when true).
    pub fn body(&self) -> Value {
        let mut v = json!({ "success": true, "received": true, "eventId": self.event_id });
        if self.duplicate {
            v["duplicate"] = json!(true);
        } else if self.ignored {
            v["ignored"] = json!(true);
        }
        v
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// Verifies the request's signature on the raw bytes with the job's secret, then — during the
/// 24 h after a rotation — with the previous one (DESIGN §8). Each comparison is constant-time.
/// A tolerance of 0 turns the timestamp check off (Close only). `now`: unix seconds (the
/// clock is the caller's, so tests can move it).
pub fn verify(job: &SyncJob, headers: &HeaderMap, body: &[u8], now_unix: i64) -> AppResult<()> {
    let secret = job
        .signing_secret
        .as_ref()
        .ok_or_else(|| AppError::InvalidSignature("the sync job has no signing secret".into()))?;
    let now = chrono::DateTime::from_timestamp(now_unix, 0).unwrap_or_default();
    let result = match verify_with(job, secret, headers, body, now_unix) {
        Err(e) => match job.previous_secret_at(now) {
            Some(previous) => verify_with(job, previous, headers, body, now_unix).map_err(|_| e),
            None => Err(e),
        },
        ok => ok,
    };
    result.map_err(|e| AppError::InvalidSignature(e.to_string()))
}

/// One secret's verdict.
fn verify_with(
    job: &SyncJob,
    secret: &SigningSecret,
    headers: &HeaderMap,
    body: &[u8],
    now: i64,
) -> Result<(), signing::SignatureError> {
    let tolerance = match job.webhook_config.tolerance_seconds {
        0 => i64::MAX,
        t => t,
    };
    match job.source {
        Source::Stripe => signing::verify_stripe(
            header(headers, signing::HEADER_STRIPE_SIGNATURE),
            body,
            secret.expose(),
            now,
            tolerance,
        ),
        Source::Close => signing::verify_close(
            header(headers, signing::HEADER_CLOSE_SIG_HASH),
            header(headers, signing::HEADER_CLOSE_SIG_TIMESTAMP),
            body,
            secret.expose(),
            now,
            job.webhook_config.tolerance_seconds,
        ),
        Source::Generic => WebhookSecret::parse(secret.expose()).and_then(|s| {
            signing::verify_standard(
                &[s],
                header(headers, signing::HEADER_WEBHOOK_ID),
                header(headers, signing::HEADER_WEBHOOK_TIMESTAMP),
                header(headers, signing::HEADER_WEBHOOK_SIGNATURE),
                body,
                now,
                tolerance,
            )
        }),
    }
}

/// The request headers as stored with the event: credentials dropped, bounded.
pub fn stored_headers(headers: &HeaderMap) -> BTreeMap<String, String> {
    headers
        .iter()
        .filter(|(name, _)| !DROPPED_HEADERS.contains(&name.as_str()))
        .filter_map(|(name, value)| {
            let v = value.to_str().ok()?;
            let mut end = v.len().min(MAX_STORED_HEADER_VALUE);
            while !v.is_char_boundary(end) {
                end -= 1;
            }
            Some((name.as_str().to_owned(), v[..end].to_owned()))
        })
        .take(MAX_STORED_HEADERS)
        .collect()
}

/// Sends the event's ids to the inbound queue after `delay` (SQS DelaySeconds).
pub async fn enqueue(app: &App, ev: &InboundEvent, delay: Duration) -> AppResult<()> {
    let msg = InboundMessage {
        workspace_id: ev.workspace_id.clone(),
        job_id: ev.job_id.clone(),
        provider_event_id: ev.provider_event_id.clone(),
        event_id: ev.id.clone(),
    };
    let body = serde_json::to_string(&msg)?;
    app.queue.send_raw(QueueName::Inbound, &body, delay).await
}

/// Loads a job addressed by a public path: malformed ids and unknown jobs are 404 alike.
pub async fn load_job(app: &App, ws: &str, job_id: &str) -> AppResult<SyncJob> {
    if !ids::is_valid(ids::WORKSPACE, ws) {
        return Err(AppError::NotFound("sync job"));
    }
    super::service::load_job(app, ws, job_id).await
}

/// The whole receiver: 404 unknown job, 409 disabled, 401 signature, 400 body, then store and
/// enqueue. Duplicates (same provider event id) are answered with the stored event and not
/// processed again.
pub async fn receive(
    app: &App,
    ws: &str,
    job_id: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> AppResult<Received> {
    let job = load_job(app, ws, job_id).await?;
    receive_for(app, &job, headers, body).await
}

/// [`receive`] for a job already loaded.
pub async fn receive_for(
    app: &App,
    job: &SyncJob,
    headers: &HeaderMap,
    body: &[u8],
) -> AppResult<Received> {
    if !job.enabled {
        return Err(AppError::JobDisabled);
    }
    let now = crate::time::now();
    let now_unix = now.timestamp();
    // Never parse before verifying.
    if let Err(rejected) = verify(job, headers, body, now_unix) {
        crate::alerts::raise::signature_rejected(app, &job.workspace_id, &job.id, &job.name).await;
        return Err(rejected);
    }
    let head = check_and_parse_head(
        job.source,
        header(headers, signing::HEADER_WEBHOOK_ID),
        body,
    )?;
    let raw = std::str::from_utf8(body)
        .map_err(|_| AppError::InvalidJson("request body is not UTF-8".into()))?;
    store_event(app, job, head, raw, stored_headers(headers)).await
}

/// Stores one verified provider event (conditional on its provider event id) and enqueues it
/// for the worker: the one path of the receiver and of backfill runs, so an event that
/// arrives both ways is stored and applied once. A duplicate answers the stored event.
pub async fn store_event(
    app: &App,
    job: &SyncJob,
    head: super::mapping::EventHead,
    raw: &str,
    headers: BTreeMap<String, String>,
) -> AppResult<Received> {
    let now = crate::time::now();
    let now_unix = now.timestamp();
    let accepted = job.webhook_config.accepts(&head.event_type);
    let now_s = crate::time::format(now);
    let ttl_days = i64::from(app.config.inbound_event_ttl_days.max(1));
    let event = InboundEvent {
        id: super::domain::monotonic_id(ids::INBOUND_EVENT),
        workspace_id: job.workspace_id.clone(),
        job_id: job.id.clone(),
        source: job.source,
        provider_event_id: head.provider_event_id,
        event_type: head.event_type,
        status: if accepted {
            EventStatus::Pending
        } else {
            EventStatus::Ignored
        },
        headers,
        raw_body: raw.to_owned(),
        attempts: 0,
        last_error: None,
        errors: Vec::new(),
        object_type: None,
        object_id: None,
        event_created: None,
        outcome: None,
        received_at: now_s.clone(),
        updated_at: now_s,
        processed_at: None,
        auto_retries: 0,
        next_retry_at: None,
        expires_at: crate::time::ttl_after(now, ttl_days * 86_400),
    };
    let delay = Duration::from_secs(u64::from(job.webhook_config.batch_wait_seconds));
    let outcome = crate::retry::on_conflict(&app.config, || {
        app.inbound_events.insert_event(&event, now_unix)
    })
    .await?;
    match outcome {
        InsertOutcome::Inserted => {
            if accepted {
                enqueue(app, &event, delay).await?;
            }
            tracing::info!(
                workspace_id = %event.workspace_id, job_id = %event.job_id, event_id = %event.id,
                event_type = %event.event_type, ignored = !accepted, "inbound event stored"
            );
            Ok(Received {
                event_id: event.id,
                provider_event_id: event.provider_event_id,
                event_type: event.event_type,
                duplicate: false,
                ignored: !accepted,
            })
        }
        InsertOutcome::Duplicate(existing) => {
            // Still pending: its first enqueue may have failed (the sender retries because we
            // answered 5xx). Enqueuing again is harmless: the worker skips events that are no
            // longer pending and record writes are conditional.
            if existing.status == EventStatus::Pending {
                enqueue(app, &existing, delay).await?;
            }
            tracing::info!(event_id = %existing.id, "duplicate inbound event");
            Ok(Received {
                event_id: existing.id.clone(),
                provider_event_id: existing.provider_event_id.clone(),
                event_type: existing.event_type.clone(),
                duplicate: true,
                ignored: existing.status == EventStatus::Ignored,
            })
        }
    }
}

/// A type the job's filters accept, for synthetic test events.
fn test_type(job: &SyncJob) -> String {
    match job.webhook_config.event_filters.first().map(String::as_str) {
        Some("*") | None => {}
        Some(f) => {
            return match f.strip_suffix(".*") {
                Some(prefix) => format!("{prefix}.updated"),
                None => f.to_owned(),
            }
        }
    }
    match job.source {
        Source::Stripe => "customer.updated",
        Source::Close => "lead.updated",
        Source::Generic => "test.updated",
    }
    .to_owned()
}

fn insert(headers: &mut HeaderMap, name: &'static str, value: &str) -> AppResult<()> {
    let v = HeaderValue::from_str(value).map_err(|e| AppError::internal("test header", e))?;
    headers.insert(HeaderName::from_static(name), v);
    Ok(())
}

/// A synthetic event of the job's source, signed with its secret exactly as the provider
/// would sign it: (headers, body).
pub fn synthetic_event(
    job: &SyncJob,
    event_type: Option<&str>,
    now: i64,
) -> AppResult<(HeaderMap, Vec<u8>)> {
    let secret = job
        .signing_secret
        .as_ref()
        .ok_or_else(|| AppError::validation("the sync job has no signing secret yet"))?;
    let ty = event_type
        .map(str::to_owned)
        .unwrap_or_else(|| test_type(job));
    let segments: Vec<&str> = ty.split('.').collect();
    let suffix = ids::new_id("test");
    let mut headers = HeaderMap::new();
    insert(&mut headers, "content-type", "application/json")?;
    let body = match job.source {
        Source::Stripe => {
            let object = if segments.len() >= 2 {
                segments[segments.len() - 2]
            } else {
                segments[0]
            };
            let body = json!({
                "id": format!("evt_{suffix}"),
                "object": "event",
                "api_version": "2024-06-20",
                "created": now,
                "data": { "object": {
                    "id": format!("{object}_{suffix}"),
                    "object": object,
                    "livemode": false,
                    "metadata": { "sync_job_test": "true" },
                } },
                "livemode": false,
                "pending_webhooks": 1,
                "request": { "id": null, "idempotency_key": null },
                "type": ty,
            })
            .to_string()
            .into_bytes();
            insert(
                &mut headers,
                "stripe-signature",
                &signing::sign_stripe(secret.expose(), now, &body),
            )?;
            body
        }
        Source::Close => {
            let (object_type, action) = match ty.rsplit_once('.') {
                Some((o, a)) => (o.to_owned(), a.to_owned()),
                None => (ty.clone(), "updated".to_owned()),
            };
            let first = object_type.split('.').next().unwrap_or("lead").to_owned();
            let object_id = format!("{first}_{suffix}");
            let at = chrono::DateTime::from_timestamp(now, 0)
                .unwrap_or_default()
                .format("%Y-%m-%dT%H:%M:%S%.6f")
                .to_string();
            let body = json!({
                "subscription_id": "whsub_sync_job_test",
                "event": {
                    "id": format!("ev_{suffix}"),
                    "date_created": at,
                    "date_updated": at,
                    "object_type": object_type,
                    "object_id": object_id,
                    "action": action,
                    "changed_fields": [],
                    "meta": { "sync_job_test": true },
                    "data": { "id": object_id, "display_name": "Sync job test" },
                    "previous_data": {},
                },
            })
            .to_string()
            .into_bytes();
            let ts = now.to_string();
            let sig = signing::sign_close(secret.expose(), &ts, &body)
                .map_err(|e| AppError::internal("sign close test event", e))?;
            insert(&mut headers, "close-sig-hash", &sig)?;
            insert(&mut headers, "close-sig-timestamp", &ts)?;
            body
        }
        Source::Generic => {
            let msg_id = format!("msg_{suffix}");
            let body = json!({
                "type": ty,
                "timestamp": crate::time::format(chrono::DateTime::from_timestamp(now, 0).unwrap_or_default()),
                "data": { "id": format!("{}_{suffix}", segments[0]), "sync_job_test": true },
            })
            .to_string()
            .into_bytes();
            let key = WebhookSecret::parse(secret.expose())
                .map_err(|e| AppError::internal("generic job secret", e))?;
            insert(&mut headers, "webhook-id", &msg_id)?;
            insert(&mut headers, "webhook-timestamp", &now.to_string())?;
            insert(
                &mut headers,
                "webhook-signature",
                &signing::sign(&key, &msg_id, now, &body),
            )?;
            body
        }
    };
    Ok((headers, body))
}

/// `POST /api/webhooks/{ws}/{job}/test`: a synthetic event through the real pipeline.
pub async fn send_test_event(
    app: &App,
    job: &SyncJob,
    event_type: Option<&str>,
) -> AppResult<Received> {
    if !job.enabled {
        return Err(AppError::JobDisabled);
    }
    let (headers, body) = synthetic_event(job, event_type, crate::time::now().timestamp())?;
    receive_for(app, job, &headers, &body).await
}
