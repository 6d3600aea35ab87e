//! What tenancy needs from storage.

use async_trait::async_trait;

use super::{ApiKey, Workspace};
use crate::error::AppResult;
use crate::paging::Page;

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
