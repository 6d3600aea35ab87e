//! What an operator does to a subscription besides editing it: rotate its secret, re-queue a
//! delivery, recover failed deliveries since a time, and send a test event now. Deliveries
//! themselves run in the delivery worker (`delivery.rs`); these write state and enqueue ids.

use std::time::Duration;

use futures::StreamExt;
use serde_json::json;

use super::{AttemptRecord, Delivery, DeliveryStatus, Subscription};
use crate::app::App;
use crate::error::{AppError, AppResult};
use crate::ids::{DeliveryId, WebhookId};
use crate::outbound::AttemptOutcome;
use crate::outbox::DomainEvent;
use crate::queue::QueueMessage;
use crate::signing::WebhookSecret;
use crate::time::Timestamp;

/// API Gateway answers 504 after 30 s: a synchronous test send waits at most this long.
pub const TEST_SEND_BUDGET: Duration = Duration::from_secs(25);
/// Failed deliveries re-queued by one `recover` call (call again while `hasMore`).
pub const RECOVER_BATCH: u32 = 500;

// --- loading ---------------------------------------------------------------------------------

/// The workspace's subscription, or `not_found`.
pub async fn load(app: &App, ws: &str, id: &WebhookId) -> AppResult<Subscription> {
    app.subscriptions
        .get_subscription(ws, id)
        .await?
        .ok_or(AppError::NotFound("webhook"))
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

// --- secret ------------------------------------------------------------------------------------

/// A new secret; the previous one keeps verifying for the overlap (`signing::overlap_ends`).
pub async fn rotate_secret(app: &App, ws: &str, id: &WebhookId) -> AppResult<Subscription> {
    let now = crate::time::now();
    let until = crate::signing::overlap_ends(now);
    let sub = app
        .subscriptions
        .rotate_secret(
            ws,
            id,
            &WebhookSecret::generate(),
            &crate::time::format(until),
            &crate::time::format(now),
        )
        .await?;
    tracing::info!(webhook_id = %sub.id, "webhook secret rotated");
    Ok(sub)
}

// --- re-queueing -------------------------------------------------------------------------------

/// Back to pending with a fresh round of retries, then onto the queue.
async fn requeue(
    app: &App,
    ws: &str,
    subscription_id: &str,
    delivery_id: &str,
) -> AppResult<Delivery> {
    let now = crate::time::now();
    let delivery = app
        .deliveries
        .requeue_delivery(
            ws,
            subscription_id,
            delivery_id,
            &crate::time::format(now),
            super::expires_at(now, app.config.delivery_log_ttl_days),
        )
        .await?;
    let message = QueueMessage::Delivery {
        workspace_id: ws.to_owned(),
        delivery_id: delivery_id.to_owned(),
    };
    crate::queue::schedule(app, message, Duration::ZERO).await?;
    Ok(delivery)
}

/// Re-queues one delivery of an active subscription.
pub async fn retry_delivery(
    app: &App,
    ws: &str,
    id: &WebhookId,
    delivery_id: &DeliveryId,
) -> AppResult<Delivery> {
    let sub = load(app, ws, id).await?;
    require_active(&sub)?;
    let delivery = requeue(app, ws, &sub.id, delivery_id).await?;
    tracing::info!(webhook_id = %sub.id, %delivery_id, "delivery re-queued by request");
    Ok(delivery)
}

/// What one recover call re-queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovered {
    /// Sorted.
    pub delivery_ids: Vec<String>,
    /// More failed deliveries are left: call again.
    pub has_more: bool,
}

/// Re-queues up to `RECOVER_BATCH` failed deliveries created since `since`.
pub async fn recover(
    app: &App,
    ws: &str,
    id: &WebhookId,
    since: Timestamp,
) -> AppResult<Recovered> {
    let sub = load(app, ws, id).await?;
    require_active(&sub)?;
    let failed = app
        .deliveries
        .failed_deliveries_since(ws, &sub.id, &super::delivery_id_floor(since), RECOVER_BATCH)
        .await?;
    let has_more = failed.len() >= RECOVER_BATCH as usize;
    let results: Vec<AppResult<String>> = futures::stream::iter(failed)
        .map(|d| {
            let sub_id = sub.id.as_str();
            async move { requeue(app, ws, sub_id, &d.id).await.map(|d| d.id) }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    let mut delivery_ids = Vec::with_capacity(results.len());
    for r in results {
        match r {
            Ok(id) => delivery_ids.push(id),
            // Expired between the query and the update: nothing to recover.
            Err(AppError::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
    }
    delivery_ids.sort();
    tracing::info!(webhook_id = %sub.id, recovered = delivery_ids.len(), "failed deliveries re-queued");
    Ok(Recovered {
        delivery_ids,
        has_more,
    })
}

// --- test send -----------------------------------------------------------------------------------

/// Sends a `webhook.test` event now and returns the attempt with its delivery id (waits at
/// most `TEST_SEND_BUDGET`). The send is kept in the delivery log (`test: true`) but not
/// counted in the statistics, and works on a disabled webhook too (to check an endpoint
/// before re-enabling it).
pub async fn send_test(app: &App, ws: &str, id: &WebhookId) -> AppResult<(AttemptRecord, String)> {
    let sub = load(app, ws, id).await?;
    let now = crate::time::now();
    let event = DomainEvent::new(
        super::TEST_EVENT,
        json!({ "message": format!("Test event for webhook {:?} ({})", sub.name, sub.id) }),
        &crate::time::format(now),
    );
    let payload = super::payload_body(ws, &event, super::SOURCE_TEST)?;
    let mut delivery = Delivery::pending(
        ws,
        &sub.id,
        &event,
        payload,
        now,
        app.config.delivery_log_ttl_days,
    );
    let timeout = super::call_timeout(&sub).min(TEST_SEND_BUDGET);
    let attempt = super::send_attempt(
        app,
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
    Ok((record, delivery.id))
}
