//! Workspaces and their API keys (DESIGN §3): a key belongs to one workspace; only its
//! SHA-256 is stored.

pub mod ports;

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Workspace {
    pub id: String,
    pub name: String,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ApiKey {
    pub id: String,
    pub workspace_id: String,
    /// The first characters of the key, to recognise it in a list.
    pub prefix: String,
    /// SHA-256 (hex) of the key; the key itself is never stored.
    pub hash: String,
    pub created_at: String,
    #[serde(default)]
    pub last_used_at: Option<String>,
    #[serde(default)]
    pub revoked_at: Option<String>,
}

impl ApiKey {
    /// What `GET …/api-keys` shows.
    pub fn public_view(&self) -> Value {
        serde_json::json!({
            "id": self.id,
            "prefix": self.prefix,
            "createdAt": self.created_at,
            "lastUsedAt": self.last_used_at,
        })
    }
}
