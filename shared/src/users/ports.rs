//! What users need from storage and files: the user and export stores, the blob store.

use std::time::Duration;

use async_trait::async_trait;

use super::{ExportRecord, IndexScan, ScanPage, User};
use crate::bookings::Booking;
use crate::error::{AppError, AppResult};
use crate::outbox::OutboxRecord;
use crate::paging::Page;

/// How an erase went (for the log and the report; the response is just `{id, deleted}`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EraseReport {
    pub bookings_unlinked: usize,
    pub outbox_records_redacted: usize,
    pub deliveries_redacted: usize,
}

#[async_trait]
pub trait UserStore: Send + Sync {
    /// Creates the user, its index entries and `outbox` in one transaction; `EmailTaken`
    /// when another user of the workspace has the address (case-insensitive).
    async fn create_user(&self, ws: &str, user: &User, outbox: &OutboxRecord) -> AppResult<()>;
    /// A live user (erased ones are absent).
    async fn get_user(&self, ws: &str, id: &str) -> AppResult<Option<User>>;
    /// Replaces `old` by `new` (same id) if the stored version is still `old.version`
    /// (else `TransactionConflict`), keeping the email and index entries in step, with
    /// `outbox` in the same transaction.
    async fn update_user(
        &self,
        ws: &str,
        old: &User,
        new: &User,
        outbox: &OutboxRecord,
    ) -> AppResult<()>;
    /// GDPR erase: removes the user's personal data everywhere this store reaches, keeps a
    /// tombstone, writes `outbox` (`user.deleted`). `NotFound` when absent or already erased.
    async fn erase_user(
        &self,
        ws: &str,
        id: &str,
        outbox: &OutboxRecord,
        now: &str,
    ) -> AppResult<EraseReport>;
    /// One page of an index in position order (see `query::IndexScan`).
    async fn scan_users(&self, ws: &str, scan: &IndexScan) -> AppResult<ScanPage>;
    /// Live users of the workspace (a counter, no scan).
    async fn count_users(&self, ws: &str) -> AppResult<u64>;
    /// The bookings whose contactId is `contact` (any status).
    async fn bookings_of(&self, ws: &str, contact: &str) -> AppResult<Vec<Booking>>;
}

#[async_trait]
pub trait ExportStore: Send + Sync {
    async fn create_export(&self, record: &ExportRecord) -> AppResult<()>;
    async fn get_export(&self, ws: &str, id: &str) -> AppResult<Option<ExportRecord>>;
    /// Newest first.
    async fn list_exports(
        &self,
        ws: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> AppResult<Page<ExportRecord>>;
    /// Takes a job that is pending, or running with an expired claim: status `running`,
    /// claim until `until_ms`. None when it is done, failed, or claimed by another worker.
    async fn claim_export(
        &self,
        ws: &str,
        id: &str,
        now: &str,
        now_ms: i64,
        until_ms: i64,
    ) -> AppResult<Option<ExportRecord>>;
    /// Records the rows written so far by a running job (`rowCount`, shown while it runs).
    /// Only while the job is `running`: a finished job keeps its final count.
    async fn record_export_progress(&self, ws: &str, id: &str, rows: u64) -> AppResult<()>;
    /// Stores the final state of a job (done or failed).
    async fn finish_export(&self, record: &ExportRecord) -> AppResult<()>;
}

/// Object storage for export files: multipart upload (bounded memory), presigned download.
#[async_trait]
pub trait BlobStore: Send + Sync {
    async fn start_upload(&self, key: &str, content_type: &str) -> AppResult<String>;
    /// Part numbers start at 1; every part but the last must be ≥ 5 MiB (S3's rule).
    async fn upload_part(
        &self,
        key: &str,
        upload_id: &str,
        part_number: i32,
        body: Vec<u8>,
    ) -> AppResult<String>;
    async fn complete_upload(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[(i32, String)],
    ) -> AppResult<()>;
    async fn abort_upload(&self, key: &str, upload_id: &str) -> AppResult<()>;
    async fn presign_get(&self, key: &str, expires: Duration) -> AppResult<String>;
    /// The whole object (tests and tools; exports are downloaded through the presigned URL).
    async fn read_all(&self, key: &str) -> AppResult<Vec<u8>>;
}

/// The blob store of an `App` built without S3 (`shared_aws::Clients` without `.s3()`): every
/// call is a 500 naming the missing wiring (in the log).
pub struct NoBlobStore;

const NO_S3: &str = "this function is wired without S3 (add .s3() to its Clients)";

#[async_trait]
impl BlobStore for NoBlobStore {
    async fn start_upload(&self, _: &str, _: &str) -> AppResult<String> {
        Err(AppError::internal_msg(NO_S3))
    }
    async fn upload_part(&self, _: &str, _: &str, _: i32, _: Vec<u8>) -> AppResult<String> {
        Err(AppError::internal_msg(NO_S3))
    }
    async fn complete_upload(&self, _: &str, _: &str, _: &[(i32, String)]) -> AppResult<()> {
        Err(AppError::internal_msg(NO_S3))
    }
    async fn abort_upload(&self, _: &str, _: &str) -> AppResult<()> {
        Ok(())
    }
    async fn presign_get(&self, _: &str, _: Duration) -> AppResult<String> {
        Err(AppError::internal_msg(NO_S3))
    }
    async fn read_all(&self, _: &str) -> AppResult<Vec<u8>> {
        Err(AppError::internal_msg(NO_S3))
    }
}
