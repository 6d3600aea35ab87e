//! One call of a webhook destination's delivery (the delivery queue's `destination_delivery`):
//! the same claim → signed call → recorded attempt → retry steps as subscription deliveries
//! (`subscriptions::delivery`), with the job's destination as the target. A failing
//! destination only delays its own deliveries: each is its own queue message.

use std::time::Duration;

use super::{enqueue, Destination, CALL_TIMEOUT, RETRY_ATTEMPTS, RETRY_DELAY_SECS};
use crate::outbound::AttemptOutcome;
use crate::subscriptions::{AttemptRecord, AttemptResult, DeliveryStatus};
use crate::time::Timestamp;
use crate::{App, AppResult};

/// A message this much before `nextAttemptAt` is early (SQS delays are whole seconds).
const EARLY_TOLERANCE: Duration = Duration::from_secs(5);
/// A claim outlives the call's timeout by this much (then another consumer may take over).
const CLAIM_MARGIN_MS: i64 = 30_000;

pub async fn run(app: &App, ws: &str, job_id: &str, delivery_id: &str) -> AppResult<()> {
    run_at(app, ws, job_id, delivery_id, crate::time::now()).await
}

pub async fn run_at(
    app: &App,
    ws: &str,
    job_id: &str,
    delivery_id: &str,
    now: Timestamp,
) -> AppResult<()> {
    let Some(delivery) = app.deliveries.get_delivery(ws, delivery_id).await? else {
        tracing::warn!(
            delivery_id,
            "destination delivery not found (expired?): message dropped"
        );
        return Ok(());
    };
    if delivery.status != DeliveryStatus::Pending || delivery.subscription_id != job_id {
        tracing::debug!(
            delivery_id,
            "destination delivery already finished: duplicate dropped"
        );
        return Ok(());
    }
    if let Some(due) = delivery
        .next_attempt_at
        .as_deref()
        .and_then(crate::time::parse)
    {
        let early = (due - now).to_std().unwrap_or_default();
        if early > EARLY_TOLERANCE {
            return enqueue(app, ws, job_id, delivery_id, early).await;
        }
    }
    let now_str = crate::time::format(now);
    let (url, headers, secret) = match app.sync_jobs.get_sync_job(ws, job_id).await? {
        Some(job) => match job.destination {
            Destination::Webhook {
                url,
                headers,
                secret,
            } => (url, headers, secret),
            _ => {
                app.deliveries
                    .fail_delivery(
                        ws,
                        delivery_id,
                        "not sent: the sync job's destination is no longer a webhook",
                        &now_str,
                    )
                    .await?;
                return Ok(());
            }
        },
        None => {
            app.deliveries
                .fail_delivery(
                    ws,
                    delivery_id,
                    "not sent: the sync job was deleted",
                    &now_str,
                )
                .await?;
            return Ok(());
        }
    };

    let now_ms = now.timestamp_millis();
    let until = now_ms + CALL_TIMEOUT.as_millis() as i64 + CLAIM_MARGIN_MS;
    if !app
        .deliveries
        .claim_attempt(ws, delivery_id, delivery.attempts, until, now_ms)
        .await?
    {
        tracing::info!(
            delivery_id,
            "another consumer holds this attempt: duplicate dropped"
        );
        return Ok(());
    }

    // Signed afresh with this attempt's timestamp; the body is the stored payload, byte for byte.
    let mut call_headers = crate::signing::outbound_headers(
        &secret,
        None,
        &delivery.id,
        &delivery.event,
        now.timestamp(),
        delivery.payload.as_bytes(),
    );
    call_headers.extend(headers);
    let attempt = app
        .http
        .post(
            &url,
            &call_headers,
            bytes::Bytes::copy_from_slice(delivery.payload.as_bytes()),
            CALL_TIMEOUT,
        )
        .await;
    let number = delivery.attempts + 1;
    let calls_in_round = number.saturating_sub(delivery.round_start);
    let record = AttemptRecord::from_attempt(number, &attempt, now);
    let mut retry_in = None;
    let status = match attempt.outcome {
        AttemptOutcome::Success => DeliveryStatus::Success,
        _ if calls_in_round < 1 + RETRY_ATTEMPTS => {
            // A 429/503 with Retry-After defers the retry like every sender (DESIGN §8).
            retry_in = Some(crate::outbound::retry_after::next_delay(
                crate::retry::backoff(
                    RETRY_DELAY_SECS,
                    calls_in_round,
                    app.config.retry_delay_scale,
                ),
                &attempt,
            ));
            DeliveryStatus::Pending
        }
        _ => DeliveryStatus::Failed,
    };
    let next_attempt_at = retry_in
        .map(|d| crate::time::format(now + chrono::Duration::from_std(d).unwrap_or_default()));
    tracing::info!(
        delivery_id,
        job_id,
        event = %delivery.event,
        attempt = number,
        status_code = attempt.status_code,
        duration_ms = attempt.duration_ms,
        error = record.error.as_deref().unwrap_or(""),
        outcome = status.as_str(),
        "sync-job destination delivery attempt"
    );
    let result = AttemptResult {
        status,
        next_attempt_at,
    };
    if !app
        .deliveries
        .record_attempt(ws, delivery_id, &record, &result)
        .await?
    {
        tracing::warn!(
            delivery_id,
            "delivery changed while the call was in flight; attempt not recorded"
        );
        return Ok(());
    }
    if let Some(delay) = retry_in {
        return enqueue(app, ws, job_id, delivery_id, delay).await;
    }
    Ok(())
}

/// A destination delivery's message failed on its last receive: the delivery is marked failed
/// with the reason before SQS moves the message to the DLQ.
pub async fn fail_after_last_receive(app: &App, ws: &str, delivery_id: &str) {
    let now = crate::time::now_string();
    if let Err(e) = app
        .deliveries
        .fail_delivery(
            ws,
            delivery_id,
            "delivery could not be processed (internal error on every receive); moved to the dead-letter queue",
            &now,
        )
        .await
    {
        tracing::error!(%delivery_id, error = %e.log_detail(), "could not mark the destination delivery failed");
    }
}
