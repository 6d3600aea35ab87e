//! Deleting a sync job removes what it left behind: its records, stored events (raw payloads)
//! and executions, in the background through the delivery queue.
//!
//! - The purge is requested BEFORE the job item is deleted, with [`PURGE_DELAY`]: if the delete
//!   then fails, the purge finds the job alive and does nothing; a lost request cannot happen
//!   after a successful delete (the DELETE answers 5xx instead and can be repeated).
//! - A message deletes at most [`ITEMS_PER_MESSAGE`] items, then queues the rest.
//! - When nothing is left, a final pass runs [`FINAL_PASS_DELAY`] later, so records written by
//!   worker runs that were in flight while the job was deleted are removed too.

use std::time::Duration;

use crate::queue::QueueMessage;
use crate::{App, AppResult};

pub const PURGE_DELAY: Duration = Duration::from_secs(10);
pub const ITEMS_PER_MESSAGE: u32 = 1000;
/// Items per store call.
pub const PAGE: u32 = 100;
/// Longer than an inbound-worker run can take (its timeout plus the queue's visibility window).
pub const FINAL_PASS_DELAY: Duration = Duration::from_secs(900);

fn message(ws: &str, job_id: &str, pass: u32) -> QueueMessage {
    QueueMessage::PurgeSyncJob {
        workspace_id: ws.to_owned(),
        job_id: job_id.to_owned(),
        pass,
    }
}

/// Queues the purge of `job_id` (call before deleting the job).
pub async fn request(app: &App, ws: &str, job_id: &str) -> AppResult<()> {
    crate::queue::schedule(app, message(ws, job_id, 0), PURGE_DELAY).await
}

/// What one purge message did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// The job exists (its delete failed or has not happened): nothing was touched.
    JobAlive,
    /// This many items deleted; more remain, the rest is queued.
    Continued(u32),
    /// This many items deleted and nothing is left (the final pass is queued after pass 0).
    Done(u32),
}

/// Runs one purge message.
pub async fn run(app: &App, ws: &str, job_id: &str, pass: u32) -> AppResult<Progress> {
    if app.sync_jobs.get_sync_job(ws, job_id).await?.is_some() {
        tracing::warn!(
            workspace_id = ws,
            job_id,
            "purge requested for a sync job that still exists: ignored"
        );
        return Ok(Progress::JobAlive);
    }
    let mut deleted = 0;
    loop {
        let n = app.records.purge_job_data(ws, job_id, PAGE).await?;
        deleted += n;
        if n == 0 {
            break;
        }
        if deleted >= ITEMS_PER_MESSAGE {
            crate::queue::schedule(app, message(ws, job_id, pass), Duration::ZERO).await?;
            tracing::info!(
                workspace_id = ws,
                job_id,
                deleted,
                "sync job purge continues"
            );
            return Ok(Progress::Continued(deleted));
        }
    }
    if pass == 0 {
        crate::queue::schedule(app, message(ws, job_id, 1), FINAL_PASS_DELAY).await?;
    }
    tracing::info!(workspace_id = ws, job_id, deleted, pass, "sync job purged");
    Ok(Progress::Done(deleted))
}
