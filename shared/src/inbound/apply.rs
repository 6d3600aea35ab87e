//! Applying stored inbound events to the destination store: the inbound worker's use case.
//!
//! An SQS batch is grouped by sync job; each job's records are applied in write groups of at
//! most the job's `batchSize` (DESIGN §6), each group through the shared `BatchRunner` (records
//! concurrent, a failing or panicking record fails alone) and recorded as one execution.
//! - The job's jq `filter` (false → `ignored`) and `transform` (the record's data) run in
//!   `super::jq::evaluate`, with time and size limits.
//! - Permanent failures (the payload cannot be mapped, jq fails) and transient failures on the
//!   message's last receive go through [`fail_event`]: the job's `autoRetry` retries the event
//!   by itself with backoff (delivery queue, `QueueMessage::InboundRetry`) before it stays
//!   `failed` and raises `inbound.event_failed`; `…/retry` re-drives it after a fix.
//! - Transient failures (storage) are reported as batch item failures; each attempt's error is
//!   kept on the event.
//! - Record writes are conditional (ordering, tombstones), so a message delivered twice, or an
//!   event replayed, never moves a record backwards.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use async_trait::async_trait;
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use serde_json::Value;

use super::domain::{
    monotonic_id, truncate_error, ApplyOutcome, EventChange, EventError, EventStatus, Execution,
    InboundEvent, InboundMessage, Record, SyncJob, SyncMetadata, DEFAULT_BATCH_SIZE,
};
use super::mapping::{map_event, Mapping};
use crate::queue::QueueMessage;
use crate::sqs_runner::{BatchRunner, RecordHandler, SqsRecord};
use crate::{ids, App, AppError, AppResult};

/// The queue's name, for the error of a body that is not an [`InboundMessage`].
const INBOUND_QUEUE: &str = "inbound-queue";

// --- one event ---------------------------------------------------------------------------------

/// What happened to one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The record (or its tombstone) was written.
    Applied,
    /// An equal or newer state was stored already, or the event was no longer pending
    /// (a duplicate delivery), or it expired.
    Unchanged,
    /// The object type is not kept.
    Skipped,
    /// The payload cannot be mapped: the event is marked failed.
    Failed,
}

/// An attempt on a pending event: it ends in `status` and counts, with its error if any.
fn attempt(status: EventStatus, now: &str, error: Option<&str>) -> EventChange {
    let mut change = EventChange::status(status, now);
    change.expect_status = Some(EventStatus::Pending);
    change.count_attempt = true;
    change.error = error.map(|e| EventError {
        at: now.to_owned(),
        error: truncate_error(e),
    });
    change
}

/// Applies one stored event to its record, with its job's jq filter and transform (`job`: the
/// job as the write group read it; None → read here). `Err` = transient (retry); permanent
/// problems return `Ok(Outcome::Failed)` after [`fail_event`] recorded them.
pub async fn apply_event(
    app: &App,
    job: Option<&SyncJob>,
    msg: &InboundMessage,
) -> AppResult<Outcome> {
    let now = crate::time::now();
    let now_s = crate::time::format(now);
    let Some(ev) = app
        .inbound_events
        .get_event(
            &msg.workspace_id,
            &msg.job_id,
            &msg.provider_event_id,
            now.timestamp(),
        )
        .await?
    else {
        tracing::warn!(event_id = %msg.event_id, "inbound event is gone (expired or its job deleted)");
        return Ok(Outcome::Unchanged);
    };
    if ev.id != msg.event_id || ev.status != EventStatus::Pending {
        tracing::info!(event_id = %ev.id, status = ev.status.as_str(), "event is not pending: nothing to do");
        return Ok(Outcome::Unchanged);
    }
    let loaded;
    let job = match job {
        Some(j) => Some(j),
        None => {
            loaded = app
                .sync_jobs
                .get_sync_job(&msg.workspace_id, &msg.job_id)
                .await?;
            loaded.as_ref()
        }
    };
    let body: Value = match serde_json::from_str(&ev.raw_body) {
        Ok(v) => v,
        Err(e) => {
            let why = format!("stored payload is not JSON: {e}");
            return fail_event(app, job, msg, Some(&ev), &why).await;
        }
    };
    let mapping = match map_event(ev.source, &ev.event_type, &body) {
        Ok(m) => m,
        Err(why) => {
            tracing::warn!(event_id = %ev.id, error = %why, "inbound event cannot be mapped");
            return fail_event(app, job, msg, Some(&ev), &why).await;
        }
    };
    let mapping = match job {
        Some(job) => match super::jq::evaluate(&job.webhook_config, &ev.raw_body, mapping).await {
            Ok(super::jq::Verdict::Apply(m)) => m,
            Ok(super::jq::Verdict::Filtered) => {
                let mut change = attempt(EventStatus::Ignored, &now_s, None);
                change.processed_at = Some(now_s.clone());
                change.outcome = Some("filtered".into());
                return finish(app, msg, &change, Outcome::Skipped).await;
            }
            Err(e) if e.is_permanent() => {
                tracing::warn!(event_id = %ev.id, error = %e, "jq failed on the event");
                return fail_event(app, Some(job), msg, Some(&ev), &e.to_string()).await;
            }
            Err(_) => {
                return Err(AppError::internal_msg(
                    "jq: too many expressions still running past their time limit",
                ))
            }
        },
        None => mapping,
    };
    let mut change = attempt(EventStatus::Processed, &now_s, None);
    change.processed_at = Some(now_s.clone());
    let outcome = match mapping {
        Mapping::Skip { object_type } => {
            change.status = EventStatus::Skipped;
            change.object_type = object_type;
            change.outcome = Some("skipped".into());
            Outcome::Skipped
        }
        Mapping::Apply {
            object_type,
            object_id,
            event_created,
            delete,
            data,
        } => {
            let record = Record {
                object_type: object_type.clone(),
                object_id: object_id.clone(),
                data,
                meta: SyncMetadata {
                    source: ev.source,
                    event_id: ev.provider_event_id.clone(),
                    inbound_event_id: ev.id.clone(),
                    event_type: ev.event_type.clone(),
                    event_created: event_created.clone(),
                    synced_at: now_s.clone(),
                    deleted: delete,
                },
            };
            // The job's destination (records, dynamodb, webhook); a refusal fails the event.
            let applied = match super::destination::apply(app, &ev, &record).await? {
                Ok(applied) => applied,
                Err(why) => return fail_event(app, job, msg, Some(&ev), &why).await,
            };
            change.object_type = Some(object_type);
            change.object_id = Some(object_id);
            change.event_created = Some(event_created);
            let (label, outcome) = match (applied, delete) {
                (ApplyOutcome::Applied, false) => ("applied", Outcome::Applied),
                (ApplyOutcome::Applied, true) => ("deleted", Outcome::Applied),
                (ApplyOutcome::Unchanged, _) => ("unchanged", Outcome::Unchanged),
            };
            change.outcome = Some(label.into());
            outcome
        }
    };
    finish(app, msg, &change, outcome).await
}

/// Records the outcome on the event, unless a concurrent copy of the message finished it
/// first (then this run changed nothing).
async fn finish(
    app: &App,
    msg: &InboundMessage,
    change: &EventChange,
    outcome: Outcome,
) -> AppResult<Outcome> {
    if mark(app, msg, change).await? {
        Ok(outcome)
    } else {
        tracing::info!(event_id = %msg.event_id, "a concurrent copy finished the event first");
        Ok(Outcome::Unchanged)
    }
}

/// Applies `change` to the message's event: false when its expected status no longer held.
async fn mark(app: &App, msg: &InboundMessage, change: &EventChange) -> AppResult<bool> {
    app.inbound_events
        .update_event(
            &msg.workspace_id,
            &msg.job_id,
            &msg.provider_event_id,
            change,
        )
        .await
}

/// The one place where processing a pending event fails (a permanent problem, or a transient
/// one on the message's last receive). While the job's `autoRetry` allows, the event stays
/// `pending` with `nextRetryAt` and retry n is scheduled after `delaySeconds · 2^(n−1)`
/// (`crate::retry::backoff`) through the delivery queue; otherwise it becomes finally `failed`
/// and `inbound.event_failed` is raised — only here, after the automatic retries. `ev`: the
/// event as read (None → read here); `job` None (deleted) → no retry.
pub async fn fail_event(
    app: &App,
    job: Option<&SyncJob>,
    msg: &InboundMessage,
    ev: Option<&InboundEvent>,
    error: &str,
) -> AppResult<Outcome> {
    let now = crate::time::now();
    let now_s = crate::time::format(now);
    let loaded;
    let ev = match ev {
        Some(ev) => Some(ev),
        None => {
            loaded = app
                .inbound_events
                .get_event(
                    &msg.workspace_id,
                    &msg.job_id,
                    &msg.provider_event_id,
                    now.timestamp(),
                )
                .await?;
            loaded.as_ref()
        }
    };
    let retry = ev.map_or(1, |e| e.auto_retries + 1);
    if let Some(auto) = job
        .map(|j| j.webhook_config.auto_retry)
        .filter(|a| retry <= a.attempts)
    {
        let delay = crate::retry::backoff(auto.delay_seconds, retry, app.config.retry_delay_scale);
        let mut change = attempt(EventStatus::Pending, &now_s, Some(error));
        change.next_retry_at = Some(crate::time::format(
            now + chrono::Duration::from_std(delay).unwrap_or_default(),
        ));
        change.count_auto_retry = true;
        if !mark(app, msg, &change).await? {
            tracing::info!(event_id = %msg.event_id, "a concurrent copy finished the event first");
            return Ok(Outcome::Unchanged);
        }
        let retry_message = QueueMessage::InboundRetry {
            workspace_id: msg.workspace_id.clone(),
            job_id: msg.job_id.clone(),
            provider_event_id: msg.provider_event_id.clone(),
            event_id: msg.event_id.clone(),
            retry,
        };
        crate::queue::schedule(app, retry_message, delay).await?;
        tracing::info!(event_id = %msg.event_id, retry, delay_secs = delay.as_secs(), "inbound event failed: automatic retry scheduled");
        return Ok(Outcome::Failed);
    }
    let change = attempt(EventStatus::Failed, &now_s, Some(error));
    if !mark(app, msg, &change).await? {
        tracing::info!(event_id = %msg.event_id, "a concurrent copy finished the event first");
        return Ok(Outcome::Unchanged);
    }
    let alert = crate::alerts::Alert::inbound_event_failed(
        &msg.job_id,
        &msg.event_id,
        &msg.provider_event_id,
        &change
            .error
            .as_ref()
            .map(|e| e.error.clone())
            .unwrap_or_default(),
    );
    crate::alerts::raise::raise(app, &msg.workspace_id, alert).await;
    Ok(Outcome::Failed)
}

/// Error text stored on events: the public message, plus the detail of internal errors
/// (events are only shown to their own workspace; secrets never enter these errors).
fn public_detail(e: &AppError) -> String {
    match e {
        AppError::Internal { .. } => e.log_detail(),
        other => other.public_message(),
    }
}

// --- the record handler ------------------------------------------------------------------------

/// The per-record handler run by the `BatchRunner`: applies the event and keeps its outcome
/// for the write group's execution.
pub struct ApplyEvent {
    pub app: App,
    outcomes: Mutex<HashMap<String, Outcome>>,
    /// The jobs of the write groups being applied, as read once per group.
    jobs: Mutex<HashMap<(String, String), SyncJob>>,
}

impl ApplyEvent {
    pub fn new(app: App) -> Self {
        Self {
            app,
            outcomes: Mutex::new(HashMap::new()),
            jobs: Mutex::new(HashMap::new()),
        }
    }

    fn job(&self, ws: &str, job_id: &str) -> Option<SyncJob> {
        self.jobs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(ws.to_owned(), job_id.to_owned()))
            .cloned()
    }

    fn remember_job(&self, job: Option<SyncJob>, ws: &str, job_id: &str) {
        let mut jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        let key = (ws.to_owned(), job_id.to_owned());
        match job {
            Some(j) => jobs.insert(key, j),
            None => jobs.remove(&key),
        };
    }

    fn take_outcome(&self, message_id: &str) -> Option<Outcome> {
        self.outcomes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(message_id)
    }
}

#[async_trait]
impl RecordHandler for ApplyEvent {
    type Message = InboundMessage;
    const QUEUE: &'static str = INBOUND_QUEUE;

    async fn handle(&self, msg: &InboundMessage, record: &SqsRecord) -> Result<(), AppError> {
        let job = self.job(&msg.workspace_id, &msg.job_id);
        match apply_event(&self.app, job.as_ref(), msg).await {
            Ok(outcome) => {
                self.outcomes
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(record.message_id.clone(), outcome);
                Ok(())
            }
            Err(e) => {
                // Keep each attempt's error on the event (the last receive is recorded by
                // `on_final_failure`, with the final status).
                if record.receive_count < self.app.config.max_receive_count {
                    let now = crate::time::now_string();
                    let change = attempt(EventStatus::Pending, &now, Some(&public_detail(&e)));
                    if let Err(e2) = mark(&self.app, msg, &change).await {
                        tracing::warn!(error = %e2.log_detail(), "could not record the attempt's error");
                    }
                }
                Err(e)
            }
        }
    }

    async fn on_final_failure(
        &self,
        msg: Option<&InboundMessage>,
        _record: &SqsRecord,
        error: &str,
    ) {
        let Some(msg) = msg else {
            return;
        };
        let job = match self.job(&msg.workspace_id, &msg.job_id) {
            Some(j) => Some(j),
            None => self
                .app
                .sync_jobs
                .get_sync_job(&msg.workspace_id, &msg.job_id)
                .await
                .ok()
                .flatten(),
        };
        if let Err(e) = fail_event(&self.app, job.as_ref(), msg, None, error).await {
            tracing::error!(error = %e.log_detail(), event_id = %msg.event_id, "could not mark the event failed");
        }
    }
}

// --- write groups ------------------------------------------------------------------------------

/// A batch of the inbound queue, grouped by job and applied in write groups, each recorded as
/// an execution.
pub struct SyncWorker {
    runner: BatchRunner<ApplyEvent>,
    emit_metrics: bool,
}

/// Counts of one write group.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct GroupCounts {
    pub applied: u32,
    pub unchanged: u32,
    pub skipped: u32,
    pub failed: u32,
}

impl SyncWorker {
    pub fn new(app: App) -> Self {
        let max = app.config.max_receive_count;
        Self {
            runner: BatchRunner::new(ApplyEvent::new(app), max),
            emit_metrics: true,
        }
    }

    /// Without CloudWatch EMF lines on stdout (benchmarks).
    pub fn quiet(mut self) -> Self {
        self.emit_metrics = false;
        self
    }

    fn app(&self) -> &App {
        &self.runner.handler().app
    }

    pub async fn run(&self, event: SqsEvent) -> SqsBatchResponse {
        // Group by job, keeping arrival order; unreadable messages form their own group
        // (they fail alone and reach the DLQ).
        let mut order: Vec<Option<(String, String)>> = Vec::new();
        let mut groups: HashMap<Option<(String, String)>, Vec<SqsMessage>> = HashMap::new();
        for m in event.records {
            let key = crate::sqs_runner::parse::<InboundMessage>(
                INBOUND_QUEUE,
                m.body.as_deref().unwrap_or_default(),
            )
            .ok()
            .map(|msg| (msg.workspace_id, msg.job_id));
            if !groups.contains_key(&key) {
                order.push(key.clone());
            }
            groups.entry(key).or_default().push(m);
        }
        let mut response = SqsBatchResponse::default();
        for key in order {
            let records = groups.remove(&key).unwrap_or_default();
            let Some((ws, job_id)) = key else {
                let mut sub = SqsEvent::default();
                sub.records = records;
                let r = self.runner.run(sub).await;
                response.batch_item_failures.extend(r.batch_item_failures);
                continue;
            };
            let job = match self.app().sync_jobs.get_sync_job(&ws, &job_id).await {
                Ok(job) => job,
                Err(e) => {
                    tracing::warn!(error = %e.log_detail(), "could not read the sync job; default batch size");
                    None
                }
            };
            let batch_size = job
                .as_ref()
                .map_or(DEFAULT_BATCH_SIZE, |j| j.webhook_config.batch_size);
            self.runner.handler().remember_job(job, &ws, &job_id);
            for chunk in records.chunks(batch_size.max(1) as usize) {
                let failures = self.run_group(&ws, &job_id, chunk.to_vec()).await;
                response.batch_item_failures.extend(failures);
            }
        }
        response
    }

    /// One write group of one job: applies it and records the execution.
    async fn run_group(
        &self,
        ws: &str,
        job_id: &str,
        records: Vec<SqsMessage>,
    ) -> Vec<BatchItemFailure> {
        let started_at = crate::time::now();
        let clock = Instant::now();
        let message_ids: Vec<String> = records
            .iter()
            .map(|m| m.message_id.clone().unwrap_or_default())
            .collect();
        let mut sub = SqsEvent::default();
        sub.records = records;
        let resp = self.runner.run(sub).await;
        let failed: Vec<&str> = resp
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect();
        let mut counts = GroupCounts::default();
        for id in &message_ids {
            let outcome = self.runner.handler().take_outcome(id);
            if failed.contains(&id.as_str()) {
                counts.failed += 1;
                continue;
            }
            match outcome {
                Some(Outcome::Applied) => counts.applied += 1,
                Some(Outcome::Unchanged) | None => counts.unchanged += 1,
                Some(Outcome::Skipped) => counts.skipped += 1,
                Some(Outcome::Failed) => counts.failed += 1,
            }
        }
        let duration_ms = clock.elapsed().as_millis() as u64;
        let ttl_days = i64::from(self.app().config.inbound_event_ttl_days.max(1));
        let execution = Execution {
            id: monotonic_id(ids::EXECUTION),
            workspace_id: ws.to_owned(),
            job_id: job_id.to_owned(),
            started_at: crate::time::format(started_at),
            finished_at: crate::time::now_string(),
            duration_ms,
            batch_size: message_ids.len() as u32,
            applied: counts.applied,
            unchanged: counts.unchanged,
            skipped: counts.skipped,
            failed: counts.failed,
            expires_at: crate::time::ttl_after(started_at, ttl_days * 86_400),
            kind: super::domain::ExecutionKind::Worker,
            backfill: None,
        };
        if let Err(e) = self.app().sync_executions.put_execution(&execution).await {
            tracing::warn!(error = %e.log_detail(), "could not record the execution");
        }
        tracing::info!(
            workspace_id = ws,
            job_id,
            records = message_ids.len(),
            applied = counts.applied,
            unchanged = counts.unchanged,
            skipped = counts.skipped,
            failed = counts.failed,
            duration_ms,
            "write group applied"
        );
        if self.emit_metrics {
            crate::telemetry::emit_metrics(
                "BookingSync/Inbound",
                &[("Function", "inbound-worker")],
                &[
                    ("RecordsApplied", f64::from(counts.applied), "Count"),
                    ("RecordsFailed", f64::from(counts.failed), "Count"),
                    ("WriteGroupDuration", duration_ms as f64, "Milliseconds"),
                ],
            );
        }
        resp.batch_item_failures
    }
}
