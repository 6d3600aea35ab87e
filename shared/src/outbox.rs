//! Outbox hand-off: right after a commit, the committing function sends the record's
//! messages and marks it `enqueuedAt`. If that fails (or the function dies), the sweeper
//! re-sends records older than two minutes. Consumers are idempotent, so duplicates are harmless.

use std::time::Duration;

use crate::app::App;
use crate::domain::{OutboxRecord, QueueEnvelope};
use crate::error::AppResult;
use crate::ports::QueueName;

/// Sends and marks; errors are returned to the caller (the sweeper counts them).
pub async fn dispatch(app: &App, record: &OutboxRecord) -> AppResult<()> {
    for message in record.messages() {
        app.queue
            .send(
                QueueName::Delivery,
                &QueueEnvelope::now(message),
                Duration::ZERO,
            )
            .await?;
    }
    app.outbox
        .mark_enqueued(&record.id, &crate::time::now_string())
        .await
}

/// After a commit: never fails the request — the change is committed and the sweeper
/// guarantees the hand-off.
pub async fn dispatch_after_commit(app: &App, record: &OutboxRecord) {
    if let Err(e) = dispatch(app, record).await {
        tracing::warn!(
            outbox_id = %record.id,
            error = %e.log_detail(),
            "outbox hand-off failed; the sweeper will re-send it"
        );
    }
}

/// Sends `message` on the delivery queue to run after `delay`. SQS delays stop at 900 s:
/// longer waits are chained through `notBefore` (the consumer re-sends with the remaining
/// delay, not counted as an attempt).
pub async fn schedule(
    app: &App,
    message: crate::domain::QueueMessage,
    delay: Duration,
) -> AppResult<()> {
    let envelope = QueueEnvelope {
        message,
        not_before: (delay > crate::ports::MAX_QUEUE_DELAY)
            .then(|| crate::time::now().timestamp() + delay.as_secs() as i64),
    };
    app.queue.send(QueueName::Delivery, &envelope, delay).await
}
