//! What the outbox needs from storage.

use async_trait::async_trait;

use super::OutboxRecord;
use crate::error::AppResult;

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
