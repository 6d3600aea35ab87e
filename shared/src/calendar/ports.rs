//! What the calendar sync needs from storage: events and their mappings, written together,
//! and the conditional status writes of the sync (adapter `shared-aws/src/calendar.rs`, fake
//! `shared-testkit/src/calendar.rs`).

use std::time::Duration;

use async_trait::async_trait;

use super::{CalendarEvent, SyncMapping, SyncStatus};
use crate::error::AppResult;
use crate::paging::Page;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncCounts {
    pub synced: u64,
    pub pending: u64,
    pub failed: u64,
}

/// What a successful call changed on GHL's side.
#[derive(Debug, Clone, PartialEq)]
pub struct GhlState {
    pub ghl_appointment_id: Option<String>,
    pub ghl_deleted: bool,
    pub synced_version: u64,
    pub last_sync_attempt: String,
}

/// A status write of the sync (end of a run, or a failed call).
#[derive(Debug, Clone, PartialEq)]
pub struct StatusUpdate {
    pub status: SyncStatus,
    /// `None` keeps the stored count.
    pub attempts: Option<u32>,
    pub sync_error: Option<String>,
    /// `None` keeps the stored time.
    pub last_sync_attempt: Option<String>,
    pub now: String,
    /// A throttled call's `Retry-After`: no call before this time (`None` clears it).
    pub retry_at: Option<String>,
}

#[async_trait]
pub trait CalendarStore: Send + Sync {
    /// One transaction: the new event and its new mapping.
    async fn create_calendar_event(
        &self,
        event: &CalendarEvent,
        mapping: &SyncMapping,
    ) -> AppResult<()>;
    /// Strongly consistent; a deleted event comes back as its tombstone (`deletedAt`).
    async fn get_calendar_event(&self, ws: &str, id: &str) -> AppResult<Option<CalendarEvent>>;
    /// One transaction: replaces the event, if it is not deleted and still at
    /// `event.revision - 1`, and moves its mapping to `event.revision` with `status`,
    /// `attempts` 0 and no `syncError`. Errors: `NotFound` (missing or deleted),
    /// `TransactionConflict` (a concurrent change moved the revision). Returns the mapping.
    async fn update_calendar_event(
        &self,
        event: &CalendarEvent,
        status: SyncStatus,
        now: &str,
    ) -> AppResult<SyncMapping>;
    async fn get_sync_mapping(&self, ws: &str, id: &str) -> AppResult<Option<SyncMapping>>;
    /// Newest first. Without `status`: every mapping but `not_applicable` ones.
    async fn list_sync_mappings(
        &self,
        ws: &str,
        status: Option<SyncStatus>,
        cursor: Option<&str>,
        limit: u32,
    ) -> AppResult<Page<SyncMapping>>;
    async fn count_sync_mappings(&self, ws: &str) -> AppResult<SyncCounts>;
    /// Takes the mapping's send lease for `ttl` unless another holder's has not expired:
    /// `Some(mapping)` when taken, `None` when busy, `NotFound` without a mapping.
    async fn claim_sync(
        &self,
        ws: &str,
        id: &str,
        owner: &str,
        ttl: Duration,
    ) -> AppResult<Option<SyncMapping>>;
    /// Records a successful call (and counts it in `attempts`) while `owner` holds the lease;
    /// false when it does not.
    async fn record_ghl_state(
        &self,
        ws: &str,
        id: &str,
        owner: &str,
        state: &GhlState,
    ) -> AppResult<bool>;
    /// Writes a status while `owner` holds the lease and the mapping is still at
    /// `expected_version`; false otherwise (nothing written).
    async fn set_sync_status(
        &self,
        ws: &str,
        id: &str,
        owner: &str,
        expected_version: u64,
        update: &StatusUpdate,
    ) -> AppResult<bool>;
    /// Gives the lease up if `owner` still holds it.
    async fn release_sync(&self, ws: &str, id: &str, owner: &str) -> AppResult<()>;
    /// A manual retry: a mapping whose status is in `from` becomes `pending` with `attempts`
    /// 0 and no `syncError`. `None` when its status is not in `from`; `NotFound` without one.
    async fn requeue_sync(
        &self,
        ws: &str,
        id: &str,
        from: &[SyncStatus],
        now: &str,
    ) -> AppResult<Option<SyncMapping>>;
}
