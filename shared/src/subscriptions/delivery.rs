//! One outbound webhook call per delivery message (DESIGN §5, §6).
//!
//! - The call is claimed first (conditional write on the call count), so a duplicate message
//!   never sends the same attempt twice; the attempt is recorded conditionally too.
//! - Every call is signed afresh with its own `webhook-timestamp`; `webhook-id` is the
//!   delivery id and the body the stored payload, byte for byte.
//! - 2xx → success; 410 → failed and the subscription disabled at once; any other failure is
//!   retried after `retryDelay · 2^(n−1)` ±20 % (scaled by `RETRY_DELAY_SCALE`) until
//!   1 + retryAttempts calls were made, then failed. Delays past 900 s are chained.
//! - A 429/503 with `Retry-After` defers the retry to max(backoff, Retry-After) (capped at
//!   1 h, [`crate::outbound::retry_after`]); a delivery that ends on one is counted failed but
//!   not toward `maxConsecutiveFailures`.
//! - `rateLimitPerSecond` paces calls across workers before the claim
//!   ([`subscriptions::pacing`]): over the rate, the message is deferred, not counted.
//! - A finished delivery is counted on its subscription (success resets the streak; the
//!   streak reaching `maxConsecutiveFailures` disables it).

use std::time::Duration;

use crate::alerts::Alert;
use crate::outbound::AttemptOutcome;
use crate::queue::QueueMessage;
use crate::subscriptions::{self, AttemptRecord, AttemptResult, DeliveryStatus};
use crate::time::Timestamp;
use crate::{App, AppResult};

/// A message this much before `nextAttemptAt` is early (SQS delays are whole seconds).
const EARLY_TOLERANCE: Duration = Duration::from_secs(5);
/// A claim outlives the call's timeout by this much (then another consumer may take over).
const CLAIM_MARGIN_MS: i64 = 30_000;

pub async fn run(app: &App, ws: &str, delivery_id: &str) -> AppResult<()> {
    run_at(app, ws, delivery_id, crate::time::now()).await
}

/// Processes the delivery as if the clock read `now` (tests move it to show that a late
/// retry carries its own fresh timestamp and signature).
pub async fn run_at(app: &App, ws: &str, delivery_id: &str, now: Timestamp) -> AppResult<()> {
    let Some(delivery) = app.deliveries.get_delivery(ws, delivery_id).await? else {
        tracing::warn!(
            delivery_id,
            "delivery not found (expired?): message dropped"
        );
        return Ok(());
    };
    if delivery.status != DeliveryStatus::Pending {
        tracing::debug!(
            delivery_id,
            "delivery already finished: duplicate message dropped"
        );
        return Ok(());
    }
    if crate::inbound::destination::is_destination_delivery(&delivery) {
        // A sync job's webhook destination (re-driven by the sweeper as a plain delivery).
        let job_id = delivery.subscription_id.clone();
        return crate::inbound::destination::deliver::run_at(app, ws, &job_id, delivery_id, now)
            .await;
    }
    if let Some(due) = delivery
        .next_attempt_at
        .as_deref()
        .and_then(crate::time::parse)
    {
        let early = (due - now).to_std().unwrap_or_default();
        if early > EARLY_TOLERANCE {
            // A stale duplicate, or a re-delivery after a failed hand-off: run it when due.
            return reschedule(app, ws, delivery_id, early).await;
        }
    }
    let now_str = crate::time::format(now);
    let subscription = match app
        .subscriptions
        .get_subscription(ws, &delivery.subscription_id)
        .await?
    {
        Some(s) if s.active => s,
        Some(s) => {
            let reason = s.disabled_reason.as_deref().unwrap_or("disabled");
            let error = format!("not sent: the webhook is disabled ({reason})");
            app.deliveries
                .fail_delivery(ws, delivery_id, &error, &now_str)
                .await?;
            return Ok(());
        }
        None => {
            app.deliveries
                .fail_delivery(
                    ws,
                    delivery_id,
                    "not sent: the webhook was deleted",
                    &now_str,
                )
                .await?;
            return Ok(());
        }
    };

    // Pacing comes before the claim: a delivery over the rate waits without using an attempt.
    if let subscriptions::pacing::Pace::Later(wait) =
        subscriptions::pacing::take_slot(app, &subscription).await?
    {
        tracing::debug!(
            delivery_id,
            webhook_id = %subscription.id,
            wait_ms = wait.as_millis() as u64,
            "over the webhook's rate limit: delivery deferred"
        );
        return reschedule(app, ws, delivery_id, wait).await;
    }
    // The wait for a pacing slot moved the clock on.
    let now = if subscription.rate_limit_per_second.is_some() {
        now.max(crate::time::now())
    } else {
        now
    };
    let now_ms = now.timestamp_millis();
    let until = now_ms + i64::from(subscription.timeout_ms) + CLAIM_MARGIN_MS;
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

    let attempt = subscriptions::send_attempt(
        app,
        &subscription,
        &delivery.id,
        &delivery.event,
        &delivery.payload,
        now,
        subscriptions::call_timeout(&subscription),
    )
    .await;
    let number = delivery.attempts + 1;
    let calls_in_round = number.saturating_sub(delivery.round_start);
    let record = AttemptRecord::from_attempt(number, &attempt, now);
    let mut retry_in = None;
    let status = match attempt.outcome {
        AttemptOutcome::Success => DeliveryStatus::Success,
        AttemptOutcome::Gone => DeliveryStatus::Failed,
        AttemptOutcome::Failure if calls_in_round < 1 + subscription.retry_attempts => {
            let schedule = crate::retry::backoff(
                subscription.retry_delay,
                calls_in_round,
                app.config.retry_delay_scale,
            );
            retry_in = Some(crate::outbound::retry_after::next_delay(schedule, &attempt));
            DeliveryStatus::Pending
        }
        AttemptOutcome::Failure => DeliveryStatus::Failed,
    };
    let next_attempt_at = retry_in
        .map(|d| crate::time::format(now + chrono::Duration::from_std(d).unwrap_or_default()));
    tracing::info!(
        delivery_id,
        webhook_id = %subscription.id,
        event = %delivery.event,
        attempt = number,
        status_code = attempt.status_code,
        duration_ms = attempt.duration_ms,
        retry_after_s = record.retry_after_seconds,
        error = record.error.as_deref().unwrap_or(""),
        outcome = status.as_str(),
        "webhook delivery attempt"
    );
    crate::telemetry::emit_metrics(
        "BookingSync",
        &[("Integration", "webhooks")],
        &[
            (
                "WebhookSuccess",
                if attempt.outcome == AttemptOutcome::Success {
                    1.0
                } else {
                    0.0
                },
                "Count",
            ),
            ("WebhookAttempts", 1.0, "Count"),
            (
                "WebhookDurationMs",
                attempt.duration_ms as f64,
                "Milliseconds",
            ),
        ],
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
        return reschedule(app, ws, delivery_id, delay).await;
    }
    if delivery.test {
        return Ok(());
    }
    let done =
        crate::time::format(now + chrono::Duration::milliseconds(attempt.duration_ms as i64));
    if attempt.outcome == AttemptOutcome::Gone {
        app.subscriptions
            .disable_subscription(ws, &subscription.id, subscriptions::GONE_REASON, &done)
            .await?;
        let alert = Alert::subscription_disabled(&subscription.id, subscriptions::GONE_REASON);
        crate::alerts::raise::raise(app, ws, alert).await;
    } else if status == DeliveryStatus::Failed {
        let alert = Alert::delivery_exhausted(
            &subscription.id,
            delivery_id,
            &delivery.event,
            number,
            attempt.status_code,
            record.error.as_deref(),
        );
        crate::alerts::raise::raise(app, ws, alert).await;
    }
    if status == DeliveryStatus::Failed && attempt.is_throttled() {
        // The target was busy, not broken: counted as failed, but not toward the streak.
        if let Err(e) = app
            .subscriptions
            .record_throttled_outcome(ws, &subscription.id, &done)
            .await
        {
            tracing::error!(
                webhook_id = %subscription.id,
                error = %e.log_detail(),
                "could not count a finished delivery on its webhook"
            );
        }
        return Ok(());
    }
    count_outcome(
        app,
        ws,
        &subscription.id,
        status == DeliveryStatus::Success,
        &done,
    )
    .await;
    Ok(())
}

/// Counts a finished delivery on its subscription. The delivery itself is final already, so
/// a failure here is logged rather than retried (a re-delivered message finds it finished).
pub async fn count_outcome(app: &App, ws: &str, subscription_id: &str, success: bool, now: &str) {
    match app
        .subscriptions
        .record_delivery_outcome(ws, subscription_id, success, now)
        .await
    {
        Ok(effect) if effect.disabled => {
            tracing::warn!(
                webhook_id = subscription_id,
                consecutive_failures = effect.consecutive_failures,
                "webhook disabled after consecutive failed deliveries"
            );
            let reason = subscriptions::streak_reason(effect.consecutive_failures);
            let alert = Alert::subscription_disabled(subscription_id, &reason);
            crate::alerts::raise::raise(app, ws, alert).await;
        }
        Ok(_) => {}
        Err(e) => tracing::error!(
            webhook_id = subscription_id,
            error = %e.log_detail(),
            "could not count a finished delivery on its webhook"
        ),
    }
}

async fn reschedule(app: &App, ws: &str, delivery_id: &str, delay: Duration) -> AppResult<()> {
    crate::queue::schedule(
        app,
        QueueMessage::Delivery {
            workspace_id: ws.to_owned(),
            delivery_id: delivery_id.to_owned(),
        },
        delay,
    )
    .await
}

/// A delivery-queue message failed on its last receive: if it is a delivery, the delivery is
/// marked failed with the reason and counted, so its log says why before SQS moves the message
/// to the DLQ. Other messages are left to their own handlers.
pub async fn fail_after_last_receive(app: &App, message: &QueueMessage) {
    let QueueMessage::Delivery {
        workspace_id,
        delivery_id,
    } = message
    else {
        return;
    };
    if let Err(e) = mark_failed_after_last_receive(app, workspace_id, delivery_id).await {
        tracing::error!(%delivery_id, error = %e.log_detail(), "could not mark the delivery failed");
    }
}

async fn mark_failed_after_last_receive(app: &App, ws: &str, delivery_id: &str) -> AppResult<()> {
    let Some(delivery) = app.deliveries.get_delivery(ws, delivery_id).await? else {
        return Ok(());
    };
    let now = crate::time::now_string();
    let failed = app
        .deliveries
        .fail_delivery(
            ws,
            delivery_id,
            "delivery could not be processed (internal error on every receive); moved to the dead-letter queue",
            &now,
        )
        .await?;
    if failed && !delivery.test {
        count_outcome(app, ws, &delivery.subscription_id, false, &now).await;
    }
    Ok(())
}
