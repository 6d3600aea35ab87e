//! Re-driving a job's stored events: retry one, retry every failed one, replay a receive-time
//! window. Each event goes back to `pending` and onto the inbound queue at once (no batch wait:
//! someone is waiting for it); the ordering rules decide what each record keeps.

use std::time::Duration;

use futures::StreamExt;

use super::domain::{event_id_at, EventChange, EventStatus, InboundEvent, SyncJob};
use super::input::ReplayBody;
use super::receive::enqueue;
use super::service::load_event;
use crate::{App, AppResult};

/// Events re-queued by one `retry-failed` or `replay` call; `hasMore` says to call again.
const MAX_REQUEUE_PER_CALL: usize = 500;
const REQUEUE_CONCURRENCY: usize = 8;
/// Events per store call.
const PAGE: u32 = 100;

/// Back to `pending` and onto the queue.
async fn requeue(app: &App, ev: &InboundEvent) -> AppResult<()> {
    let change = EventChange::status(EventStatus::Pending, &crate::time::now_string());
    app.inbound_events
        .update_event(&ev.workspace_id, &ev.job_id, &ev.provider_event_id, &change)
        .await?;
    enqueue(app, ev, Duration::ZERO).await
}

/// Re-queues `events` with bounded concurrency, in their order; returns how many went.
async fn requeue_all(app: &App, events: Vec<InboundEvent>) -> AppResult<usize> {
    let results: Vec<AppResult<()>> = futures::stream::iter(events)
        .map(|ev| {
            let app = app.clone();
            async move { requeue(&app, &ev).await }
        })
        .buffered(REQUEUE_CONCURRENCY)
        .collect()
        .await;
    let mut n = 0;
    for r in results {
        r?;
        n += 1;
    }
    Ok(n)
}

/// Re-queues one event of a loaded job; returns it as it now stands (pending).
pub async fn retry_event(app: &App, job: &SyncJob, event_id: &str) -> AppResult<InboundEvent> {
    let mut ev = load_event(app, job, event_id).await?;
    requeue(app, &ev).await?;
    ev.status = EventStatus::Pending;
    Ok(ev)
}

/// What one `retry-failed` call did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retried {
    pub retried: usize,
    /// More failed events are left: call again.
    pub has_more: bool,
}

/// Re-queues up to [`MAX_REQUEUE_PER_CALL`] failed events of a loaded job, oldest first.
pub async fn retry_failed(app: &App, job: &SyncJob) -> AppResult<Retried> {
    let ws = job.workspace_id.as_str();
    let now = crate::time::now().timestamp();
    let mut failed = Vec::new();
    let mut cursor: Option<String> = None;
    let mut has_more = false;
    loop {
        let page = app
            .inbound_events
            .list_events(
                ws,
                &job.id,
                Some(EventStatus::Failed),
                cursor.as_deref(),
                PAGE,
                now,
            )
            .await?;
        failed.extend(page.items);
        cursor = page.next_cursor;
        if failed.len() >= MAX_REQUEUE_PER_CALL {
            has_more = cursor.is_some() || failed.len() > MAX_REQUEUE_PER_CALL;
            failed.truncate(MAX_REQUEUE_PER_CALL);
            break;
        }
        if cursor.is_none() {
            break;
        }
    }
    // Oldest first, so the records see them in arrival order.
    failed.reverse();
    let retried = requeue_all(app, failed).await?;
    Ok(Retried { retried, has_more })
}

/// What one `replay` call did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replayed {
    pub replayed: usize,
    /// Where the next call goes on; none when the window is done.
    pub next_cursor: Option<String>,
}

/// Re-processes a loaded job's stored events received in `[since, until]`, oldest first, up to about
/// [`MAX_REQUEUE_PER_CALL`] a call (ignored events stay ignored).
pub async fn replay(app: &App, job: &SyncJob, body: &ReplayBody) -> AppResult<Replayed> {
    let ws = job.workspace_id.as_str();
    let (since, until) = body.window()?;
    let now = crate::time::now().timestamp();
    let (from, to) = (event_id_at(since, false), event_id_at(until, true));
    let mut events = Vec::new();
    let mut cursor = body.cursor().map(str::to_owned);
    let next_cursor = loop {
        let page = app
            .inbound_events
            .list_events_between(ws, &job.id, (&from, &to), cursor.as_deref(), PAGE, now)
            .await?;
        events.extend(
            page.items
                .into_iter()
                .filter(|e| e.status != EventStatus::Ignored),
        );
        cursor = page.next_cursor;
        if cursor.is_none() || events.len() >= MAX_REQUEUE_PER_CALL {
            break cursor;
        }
    };
    let replayed = requeue_all(app, events).await?;
    Ok(Replayed {
        replayed,
        next_cursor,
    })
}

/// An automatic retry (`webhookConfig.autoRetry`) is due: the event goes back onto the inbound
/// queue if it still waits for retry number `retry`. An event applied, replayed or retried by
/// hand meanwhile (its `nextRetryAt` is cleared by any change) is left alone, as is one that is
/// gone: a late or duplicate retry message does nothing.
pub async fn auto_retry(
    app: &App,
    ws: &str,
    job_id: &str,
    provider_event_id: &str,
    event_id: &str,
    retry: u32,
) -> AppResult<()> {
    let now = crate::time::now().timestamp();
    let Some(ev) = app
        .inbound_events
        .get_event(ws, job_id, provider_event_id, now)
        .await?
    else {
        tracing::info!(event_id, "automatic retry: the event is gone");
        return Ok(());
    };
    let waiting = ev.id == event_id
        && ev.status == EventStatus::Pending
        && ev.next_retry_at.is_some()
        && ev.auto_retries == retry;
    if !waiting {
        tracing::info!(
            event_id,
            status = ev.status.as_str(),
            retry,
            "automatic retry: nothing to do"
        );
        return Ok(());
    }
    tracing::info!(event_id, retry, "automatic retry of a failed inbound event");
    enqueue(app, &ev, Duration::ZERO).await
}
