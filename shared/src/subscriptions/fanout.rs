//! Fan-out: the consumer of an outbox record's message. It queues the record's counter sync,
//! marks the record handed off (`outbox` module), and turns the record's events into one
//! delivery per matching active subscription of the workspace (DESIGN §4, §6).
//!
//! Idempotent on (event, subscription): the delivery id is derived from both and written
//! with a conditional put, so a repeated fan-out (SQS duplicate, sweeper re-send, retry after
//! a crash) finds the existing delivery. It re-enqueues one only while it has made no call
//! yet — the hand-off may have been lost — and duplicate delivery messages are harmless (a
//! call needs a claim on the delivery).

use std::time::Duration;

use futures::StreamExt;

use crate::queue::QueueMessage;
use crate::subscriptions::{self, Delivery, DeliveryStatus};
use crate::{App, AppResult};

/// Deliveries written and enqueued concurrently per record.
const CONCURRENCY: usize = 8;

pub async fn run(app: &App, ws: &str, outbox_id: &str) -> AppResult<()> {
    let Some(record) = app.outbox.get_outbox(outbox_id).await? else {
        tracing::warn!(
            outbox_id,
            "fan-out: outbox record not found (expired?); nothing to deliver"
        );
        return Ok(());
    };
    if record.workspace_id != ws {
        return Ok(());
    }
    // The record's counter sync is queued and the record marked handed off, beside the
    // subscriptions read. Should the send fail, this message fails and SQS brings it back: the
    // counter sync is queued on every delivery of the message, marked or not (a duplicate is
    // harmless: counter syncs coalesce on the exam's version).
    let handed_off = async {
        let send = async {
            match record.counter_sync_message() {
                Some(message) => crate::queue::schedule(app, message, Duration::ZERO).await,
                None => Ok(()),
            }
        };
        let mark = async {
            if record.enqueued_at.is_some() {
                return Ok(());
            }
            app.outbox
                .mark_enqueued(&record.id, &crate::time::now_string())
                .await
        };
        futures::future::try_join(send, mark).await.map(|_| ())
    };
    let subscriptions = async {
        if record.events.is_empty() {
            return Ok(Vec::new());
        }
        app.subscriptions.active_subscriptions(ws).await
    };
    let (handed_off, subscriptions) = tokio::join!(handed_off, subscriptions);
    handed_off?;
    let subscriptions = subscriptions?;
    let now = crate::time::now();
    let mut deliveries = Vec::new();
    for event in &record.events {
        let matching: Vec<_> = subscriptions
            .iter()
            .filter(|s| s.subscribes_to(&event.event_type))
            .collect();
        if matching.is_empty() {
            continue;
        }
        let payload = subscriptions::payload_body(ws, event, subscriptions::SOURCE_API)?;
        for sub in matching {
            deliveries.push(Delivery::pending(
                ws,
                &sub.id,
                event,
                payload.clone(),
                now,
                app.config.delivery_log_ttl_days,
            ));
        }
    }
    let total = deliveries.len();
    let results: Vec<AppResult<()>> = futures::stream::iter(deliveries)
        .map(|d| async move { create_and_enqueue(app, d).await })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    tracing::info!(
        outbox_id,
        events = record.events.len(),
        deliveries = total,
        "fan-out done"
    );
    // Any failure fails the message: SQS re-sends it and the idempotent fan-out completes.
    results.into_iter().collect()
}

async fn create_and_enqueue(app: &App, delivery: Delivery) -> AppResult<()> {
    let created = app.deliveries.create_delivery(&delivery).await?;
    let enqueue = created
        || matches!(
            app.deliveries.get_delivery(&delivery.workspace_id, &delivery.id).await?,
            Some(d) if d.status == DeliveryStatus::Pending && d.attempts == 0
        );
    if !enqueue {
        return Ok(());
    }
    let message = QueueMessage::Delivery {
        workspace_id: delivery.workspace_id.clone(),
        delivery_id: delivery.id.clone(),
    };
    crate::queue::schedule(app, message, Duration::ZERO).await
}
