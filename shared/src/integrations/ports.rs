//! What integrations need from storage.

use async_trait::async_trait;

use super::{AttemptStats, Integration, IntegrationInput, IntegrationKind};
use crate::error::AppResult;
use crate::signing::WebhookSecret;

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
