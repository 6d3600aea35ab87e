//! Store ports of the inbound sync jobs. DynamoDB adapter in `shared-aws/src/inbound/`, fake in
//! `shared-testkit/src/inbound.rs`; `tests/it/contract/inbound.rs` runs the same assertions
//! against both.

use async_trait::async_trait;

use super::domain::{
    ApplyOutcome, EventChange, EventCounts, EventStatus, Execution, InboundEvent, Record, SyncJob,
};
use crate::error::AppResult;
use crate::paging::Page;

#[async_trait]
pub trait SyncJobStore: Send + Sync {
    async fn create_sync_job(&self, job: &SyncJob) -> AppResult<()>;
    /// Strongly consistent read.
    async fn get_sync_job(&self, ws: &str, job_id: &str) -> AppResult<Option<SyncJob>>;
    /// Newest first.
    async fn list_sync_jobs(
        &self,
        ws: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> AppResult<Page<SyncJob>>;
    /// Replaces the job if its stored version is still `job.version - 1` (the caller bumped
    /// it): `TransactionConflict` when another change came first, `NotFound` when it is gone.
    async fn update_sync_job(&self, job: &SyncJob) -> AppResult<()>;
    /// Deletes the job and returns what it was (None when it did not exist).
    async fn delete_sync_job(&self, ws: &str, job_id: &str) -> AppResult<Option<SyncJob>>;
}

#[derive(Debug, Clone, PartialEq)]
pub enum InsertOutcome {
    Inserted,
    /// An unexpired event with the same provider event id is stored already.
    Duplicate(Box<InboundEvent>),
}

/// Raw inbound events. `now` is unix seconds: items whose `expires_at` has passed are treated
/// as absent everywhere (DynamoDB's TTL deletes them only eventually).
#[async_trait]
pub trait InboundEventStore: Send + Sync {
    /// Stores the event unless (workspace, job, provider event id) is stored and unexpired —
    /// one conditional write, race-safe.
    async fn insert_event(&self, event: &InboundEvent, now: i64) -> AppResult<InsertOutcome>;
    /// By the provider event id; consistent; includes the raw body.
    async fn get_event(
        &self,
        ws: &str,
        job_id: &str,
        provider_event_id: &str,
        now: i64,
    ) -> AppResult<Option<InboundEvent>>;
    /// By our `iev_` id; includes the raw body.
    async fn find_event(
        &self,
        ws: &str,
        job_id: &str,
        event_id: &str,
        now: i64,
    ) -> AppResult<Option<InboundEvent>>;
    /// Newest first, optionally one status; `raw_body` is left empty.
    async fn list_events(
        &self,
        ws: &str,
        job_id: &str,
        status: Option<EventStatus>,
        cursor: Option<&str>,
        limit: u32,
        now: i64,
    ) -> AppResult<Page<InboundEvent>>;
    /// Events whose `iev_` id lies in `[ids.0, ids.1]` (i.e. received in that window),
    /// oldest first; `raw_body` is left empty.
    async fn list_events_between(
        &self,
        ws: &str,
        job_id: &str,
        ids: (&str, &str),
        cursor: Option<&str>,
        limit: u32,
        now: i64,
    ) -> AppResult<Page<InboundEvent>>;
    /// Applies a status change: false (and nothing changed) when `change.expect_status` does
    /// not hold; `NotFound` when the event is not stored. One conditional write.
    async fn update_event(
        &self,
        ws: &str,
        job_id: &str,
        provider_event_id: &str,
        change: &EventChange,
    ) -> AppResult<bool>;
    /// Unexpired events per status, and how many have an id ≥ `today_from_id`.
    async fn count_events(
        &self,
        ws: &str,
        job_id: &str,
        today_from_id: &str,
        now: i64,
    ) -> AppResult<EventCounts>;
}

#[async_trait]
pub trait RecordStore: Send + Sync {
    /// Writes the record (or its tombstone) only if it supersedes what is stored
    /// ([`Record::supersedes`]) — one conditional write, race-safe.
    async fn apply_record(
        &self,
        ws: &str,
        job_id: &str,
        record: &Record,
    ) -> AppResult<ApplyOutcome>;
    async fn get_record(
        &self,
        ws: &str,
        job_id: &str,
        object_type: &str,
        object_id: &str,
    ) -> AppResult<Option<Record>>;
    /// Deletes up to about `limit` stored items of a deleted job — its records, then its stored
    /// events (with their raw-body pieces), then its executions — and returns how many it
    /// deleted: 0 when nothing is left. Idempotent; call until it returns 0.
    async fn purge_job_data(&self, ws: &str, job_id: &str, limit: u32) -> AppResult<u32>;
}

#[async_trait]
pub trait SyncExecutionStore: Send + Sync {
    async fn put_execution(&self, execution: &Execution) -> AppResult<()>;
    /// Newest first, unexpired only.
    async fn list_executions(
        &self,
        ws: &str,
        job_id: &str,
        cursor: Option<&str>,
        limit: u32,
        now: i64,
    ) -> AppResult<Page<Execution>>;
}

/// Backfill plans (DESIGN §8): one per job that pulls its provider's event log — its schedule,
/// apiKey, cursor and next due run. Due plans are found through an index, never a scan.
#[async_trait]
pub trait BackfillStore: Send + Sync {
    /// Creates or replaces the job's plan.
    async fn put_backfill(&self, plan: &super::backfill::BackfillPlan) -> AppResult<()>;
    /// Strongly consistent read.
    async fn get_backfill(
        &self,
        ws: &str,
        job_id: &str,
    ) -> AppResult<Option<super::backfill::BackfillPlan>>;
    /// Idempotent.
    async fn delete_backfill(&self, ws: &str, job_id: &str) -> AppResult<()>;
    /// Moves the next run from `expected` to `next` (`None` leaves the due index): false, and
    /// nothing changed, when the stored value is no longer `expected` or the plan is gone —
    /// so of two schedulers only one enqueues a due run.
    async fn reschedule_backfill(
        &self,
        ws: &str,
        job_id: &str,
        expected: Option<i64>,
        next: Option<i64>,
    ) -> AppResult<bool>;
    /// Stores the cursor a finished run reached; false when the plan is gone.
    async fn set_backfill_cursor(&self, ws: &str, job_id: &str, cursor: &str) -> AppResult<bool>;
    /// Plans whose next run is at or before `now` (unix seconds), earliest first, at most
    /// `limit`.
    async fn list_due_backfills(
        &self,
        now: i64,
        limit: u32,
    ) -> AppResult<Vec<super::backfill::BackfillPlan>>;
}

/// A sync job's DynamoDB destination tables (adapter `shared-aws/src/inbound/destinations.rs`,
/// fake `shared-testkit/src/destinations.rs`).
#[async_trait]
pub trait DestinationTableStore: Send + Sync {
    /// In ONE transaction: the job's ordering ledger (the record's metadata in the built-in
    /// store, written only if it supersedes what is there — [`Record::supersedes`]) and the
    /// destination item (a put of the fields with `_sync_metadata`, or a delete). `Unchanged`
    /// when the ledger keeps an equal or newer state (or a tombstone); `Refused(why)` when the
    /// table refuses (missing, access denied, another key schema, too large): nothing written.
    async fn apply_to_table(
        &self,
        ws: &str,
        job_id: &str,
        target: &super::destination::TableTarget,
        record: &Record,
    ) -> AppResult<super::destination::TableWrite>;
    /// The destination item of (type, id) as JSON; None when absent.
    async fn get_table_item(
        &self,
        target: &super::destination::TableTarget,
        object_type: &str,
        object_id: &str,
    ) -> AppResult<Option<serde_json::Value>>;
}
