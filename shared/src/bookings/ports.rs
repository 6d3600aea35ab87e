//! What bookings need from storage, and the outcomes of its transactions.

use async_trait::async_trait;

use super::{ActiveBookingRef, Booking, BookingStatus, ExamInput, IdempotencyRecord, MockExam};
use crate::error::AppResult;
use crate::outbox::OutboxRecord;
use crate::paging::Page;

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
    /// One transaction: an existing exam's name/capacity/examDate move from `before`'s values
    /// to `input` (conditioned on `before`'s values), `bump_version` also moves `version` (so
    /// the counter sync sends the change), and the outbox record is written. Errors:
    /// `TransactionConflict` (the settings changed meanwhile, or the exam is gone).
    async fn update_exam(
        &self,
        ws: &str,
        before: &MockExam,
        input: &ExamInput,
        bump_version: bool,
        outbox: &OutboxRecord,
        now: &str,
    ) -> AppResult<()>;
    /// Strongly consistent read.
    async fn get_exam(&self, ws: &str, exam_id: &str) -> AppResult<Option<MockExam>>;
    async fn list_exams(
        &self,
        ws: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> AppResult<Page<MockExam>>;
    /// An exam's bookings, newest first, optionally of one status.
    async fn list_exam_bookings(
        &self,
        ws: &str,
        exam_id: &str,
        status: Option<BookingStatus>,
        cursor: Option<&str>,
        limit: u32,
    ) -> AppResult<Page<Booking>>;
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
    /// `seen` is the booking as the caller read it: the transaction is conditioned on it
    /// still being active instead of reading it again. Idempotent: a cancelled booking is
    /// returned unchanged. Errors: `NotFound`, `Validation` (a completed booking),
    /// `TransactionConflict` (it changed since `seen`: read it again and retry).
    async fn cancel_booking(
        &self,
        ws: &str,
        seen: &Booking,
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
