//! Ports: what handlers need from storage and queues. DynamoDB/SQS adapters live in the
//! `shared-aws` crate, in-memory fakes in `shared-testkit`; the contract suites in `tests/` run the same
//! assertions against both.

use std::time::Duration;

use async_trait::async_trait;

use crate::domain::{
    ActiveBookingRef, ApiKey, AttemptStats, Booking, ExamInput, IdempotencyRecord, Integration,
    IntegrationInput, IntegrationKind, MockExam, OutboxRecord, QueueEnvelope, Workspace,
};
use crate::error::AppResult;
use crate::lease::Lease;
use crate::signing::WebhookSecret;

/// A page of results and the opaque cursor of the next one.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

#[async_trait]
pub trait WorkspaceStore: Send + Sync {
    /// Creates the workspace with its first API key, atomically.
    async fn create_workspace(&self, workspace: &Workspace, first_key: &ApiKey) -> AppResult<()>;
    async fn get_workspace(&self, id: &str) -> AppResult<Option<Workspace>>;
    async fn list_workspaces(&self, cursor: Option<&str>, limit: u32)
        -> AppResult<Page<Workspace>>;
    /// Adds a key to an existing workspace (`NotFound` when it does not exist).
    async fn add_api_key(&self, key: &ApiKey) -> AppResult<()>;
    async fn find_api_key(&self, hash_hex: &str) -> AppResult<Option<ApiKey>>;
    /// Active (not revoked) keys of a workspace.
    async fn list_api_keys(&self, workspace_id: &str) -> AppResult<Vec<ApiKey>>;
    /// Revokes a key; `NotFound` for unknown/foreign/already revoked keys, `Validation` when it
    /// is the workspace's last active key.
    async fn revoke_api_key(
        &self,
        workspace_id: &str,
        key_id: &str,
        now: &str,
    ) -> AppResult<ApiKey>;
    async fn touch_api_key(&self, key: &ApiKey, now: &str) -> AppResult<()>;
}

/// What a booking transaction writes besides the booking.
#[derive(Debug, Clone)]
pub struct NewBooking {
    pub workspace_id: String,
    pub booking: Booking,
    /// The `Idempotency-Key` record to claim in the same transaction, with its hashed key.
    pub idempotency: Option<(String, IdempotencyRecord)>,
    pub outbox: OutboxRecord,
    pub now: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum CreateBookingOutcome {
    Created,
    /// The idempotency key was already claimed; here is what it recorded.
    IdempotencyKeyExists(IdempotencyRecord),
}

#[derive(Debug, Clone, PartialEq)]
pub enum CancelOutcome {
    Cancelled(Booking),
    /// Already cancelled earlier: nothing changed.
    AlreadyCancelled(Booking),
}

/// An exam's counter fields as reconcile reads them: tolerant of a damaged item, so one bad
/// exam cannot stop the run. `None` = the attribute is missing or not a number.
#[derive(Debug, Clone, PartialEq)]
pub struct ExamCounter {
    pub exam_id: String,
    pub total_bookings: Option<i64>,
    pub version: Option<i64>,
    /// A missing value counts as 0 (nothing synced).
    pub last_synced_version: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BookingTransition {
    Complete,
    QrScan,
    QrValidate,
}

#[async_trait]
pub trait BookingStore: Send + Sync {
    /// Creates or replaces name/capacity/examDate; never touches the counter fields.
    async fn put_exam(
        &self,
        ws: &str,
        exam_id: &str,
        input: &ExamInput,
        now: &str,
    ) -> AppResult<MockExam>;
    /// Strongly consistent read.
    async fn get_exam(&self, ws: &str, exam_id: &str) -> AppResult<Option<MockExam>>;
    async fn list_exams(
        &self,
        ws: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> AppResult<Page<MockExam>>;
    /// One transaction: booking + active marker + counter (+1, version +1, below capacity) +
    /// outbox (+ idempotency record). Errors: `NotFound` (exam), `CapacityExceeded`,
    /// `AlreadyBooked`, `TransactionConflict`.
    async fn create_booking(&self, new: &NewBooking) -> AppResult<CreateBookingOutcome>;
    async fn get_idempotency(
        &self,
        ws: &str,
        key_hash: &str,
    ) -> AppResult<Option<IdempotencyRecord>>;
    async fn get_booking(&self, ws: &str, booking_id: &str) -> AppResult<Option<Booking>>;
    /// One transaction: booking → cancelled, marker removed, counter −1 (version +1), outbox.
    /// Idempotent: a cancelled booking is returned unchanged. Errors: `NotFound`,
    /// `Validation` (a completed booking), `TransactionConflict`.
    async fn cancel_booking(
        &self,
        ws: &str,
        booking_id: &str,
        outbox: &OutboxRecord,
        now: &str,
    ) -> AppResult<CancelOutcome>;
    /// complete / qr scan / qr validate with their outbox record. Returns the updated booking.
    async fn transition_booking(
        &self,
        ws: &str,
        booking_id: &str,
        transition: BookingTransition,
        scanned_by: Option<&str>,
        outbox: &OutboxRecord,
        now: &str,
    ) -> AppResult<Booking>;
    /// Active bookings of an exam, read consistently from the exam's partition.
    async fn list_active_bookings(
        &self,
        ws: &str,
        exam_id: &str,
    ) -> AppResult<Vec<ActiveBookingRef>>;
    /// A page of a workspace's exams with their counter fields (reconcile's walk); an item
    /// whose counter is missing or garbled is listed with `None`, never an error.
    async fn list_exam_counters(
        &self,
        ws: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> AppResult<Page<ExamCounter>>;
    /// Records that HubSpot holds `version` (never moves backwards).
    async fn mark_synced(&self, ws: &str, exam_id: &str, version: i64) -> AppResult<()>;
    /// Reconcile's fix: sets the counter to `count` and bumps the version, only if the version
    /// is still `expected_version`. Returns false when it moved (someone booked meanwhile).
    async fn fix_counter(
        &self,
        ws: &str,
        exam_id: &str,
        expected_version: i64,
        count: i64,
        now: &str,
    ) -> AppResult<bool>;
}

#[async_trait]
pub trait IntegrationStore: Send + Sync {
    /// Creates or replaces the settings; the secret is created once and kept afterwards.
    async fn put_integration(
        &self,
        ws: &str,
        kind: IntegrationKind,
        input: &IntegrationInput,
        new_secret: &WebhookSecret,
        now: &str,
    ) -> AppResult<Integration>;
    async fn get_integration(
        &self,
        ws: &str,
        kind: IntegrationKind,
    ) -> AppResult<Option<Integration>>;
    /// Counts one HTTP attempt in its hour bucket; a failure also becomes `lastError`.
    async fn record_attempt(
        &self,
        ws: &str,
        kind: IntegrationKind,
        now: &str,
        error: Option<&str>,
    ) -> AppResult<()>;
    /// Attempts from the hour of `since` on.
    async fn attempt_stats(
        &self,
        ws: &str,
        kind: IntegrationKind,
        since: &str,
    ) -> AppResult<AttemptStats>;
}

#[async_trait]
pub trait LeaseStore: Send + Sync {
    /// Takes the named lease for `ttl` unless it is held (by anyone) and not yet expired.
    async fn try_acquire(&self, lease: &Lease, owner: &str, ttl: Duration) -> AppResult<bool>;
    /// Releases it if `owner` still holds it.
    async fn release(&self, lease: &Lease, owner: &str) -> AppResult<()>;
}

#[async_trait]
pub trait OutboxStore: Send + Sync {
    async fn get_outbox(&self, id: &str) -> AppResult<Option<OutboxRecord>>;
    /// Marks the record handed to SQS (removes it from the pending index).
    async fn mark_enqueued(&self, id: &str, now: &str) -> AppResult<()>;
    /// Records never enqueued, created before `created_before`, oldest first.
    async fn list_unenqueued(
        &self,
        created_before: &str,
        limit: u32,
    ) -> AppResult<Vec<OutboxRecord>>;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QueueName {
    Delivery,
    Inbound,
    Export,
}

/// SQS's longest DelaySeconds: `send` caps delays to it; the scheduler chains longer waits.
pub const MAX_QUEUE_DELAY: Duration = Duration::from_secs(900);

#[async_trait]
pub trait Queue: Send + Sync {
    /// Sends a JSON body; delays above SQS's 900 s are capped (longer waits are chained by
    /// the consumer through `QueueEnvelope::not_before`).
    async fn send_raw(&self, queue: QueueName, body: &str, delay: Duration) -> AppResult<()>;

    async fn send(&self, queue: QueueName, body: &QueueEnvelope, delay: Duration) -> AppResult<()> {
        let json = serde_json::to_string(body)?;
        self.send_raw(queue, &json, delay).await
    }
}
