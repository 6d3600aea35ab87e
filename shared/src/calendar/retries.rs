//! GHL calendar sync retries (seed 002): one sync run per message with the queued budget.
//! The run decides from the mapping what GHL still needs (create/update/delete); this module
//! only turns its outcome into the next message: a retry with the integration's backoff, a
//! short re-try when another run holds the mapping's lease, nothing when done or failed.

use std::time::Duration;

use crate::calendar::sync::{self, RunOutcome};
use crate::queue::QueueMessage;
use crate::{App, AppResult};

/// Budget of one queued run, in per-call timeouts (a create followed by an update).
const CALLS_PER_RUN: u32 = 2;

pub async fn run(app: &App, ws: &str, event_id: &str, attempt: u32) -> AppResult<()> {
    let timeout = app.config.ghl_timeout;
    let outcome = sync::run(app, ws, event_id, timeout, timeout * CALLS_PER_RUN).await?;
    tracing::info!(event_id, attempt, outcome = ?outcome, "calendar sync run");
    let next = |attempt: u32, delay: Duration| {
        crate::queue::schedule(
            app,
            QueueMessage::CalendarSync {
                workspace_id: ws.to_owned(),
                event_id: event_id.to_owned(),
                attempt,
            },
            delay,
        )
    };
    match outcome {
        RunOutcome::Busy => next(attempt, app.config.lease_busy_retry_delay).await,
        RunOutcome::Retry(delay) => next(attempt + 1, delay).await,
        RunOutcome::Done | RunOutcome::Failed | RunOutcome::Gone => Ok(()),
    }
}
