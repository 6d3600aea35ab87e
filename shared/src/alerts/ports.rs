//! What alerts need from storage: the debounce item and the signature-failure counter, both
//! single conditional/atomic writes on one item with a TTL (never a scan).

use async_trait::async_trait;

use crate::error::AppResult;

/// What the debounce item said about an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Debounce {
    /// Send it; `suppressed` repeats were held back since the last one sent.
    Send { suppressed: u64 },
    /// A window is open for this (type, subject): held back and counted.
    Held,
}

#[async_trait]
pub trait AlertStore: Send + Sync {
    /// One item per (workspace, type, subject). When no window is open at `now` (unix
    /// seconds), opens one of `window_secs` and answers `Send` with the count held back
    /// (resetting it); otherwise counts this one as held back and answers `Held`.
    async fn debounce_alert(
        &self,
        ws: &str,
        kind: &str,
        subject: &str,
        now: i64,
        window_secs: i64,
    ) -> AppResult<Debounce>;

    /// Counts one rejected signature of `job_id` in the window starting at `window_start`
    /// (unix seconds); returns the window's count after this one.
    async fn count_signature_failure(
        &self,
        ws: &str,
        job_id: &str,
        window_start: i64,
    ) -> AppResult<u64>;
}
