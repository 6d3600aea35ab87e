//! Workspaces and their API keys (DESIGN §3): a key belongs to one workspace; only its
//! SHA-256 is stored.

pub mod ports;
pub mod seen;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{AppError, AppResult};
use crate::ids;

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

/// A new workspace named `name` (trimmed, 1..200 characters) and its first API key: (the
/// workspace, the key's plaintext — shown once —, the key's record).
pub fn new_workspace(name: &str, now: &str) -> AppResult<(Workspace, String, ApiKey)> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(AppError::validation("name must be 1 to 200 characters"));
    }
    let ws = Workspace {
        id: ids::new_id(ids::WORKSPACE),
        name: name.to_owned(),
        created_at: now.to_owned(),
    };
    let (plaintext, key) = new_api_key(&ws.id, now);
    Ok((ws, plaintext, key))
}

/// A new API key: `bsk_` + 32 random bytes (base64url). Returns (plaintext, record).
pub fn new_api_key(workspace_id: &str, now: &str) -> (String, ApiKey) {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    let plaintext = format!("bsk_{}", URL_SAFE_NO_PAD.encode(bytes));
    let record = ApiKey {
        id: ids::new_id(ids::API_KEY),
        workspace_id: workspace_id.to_owned(),
        prefix: plaintext.chars().take(12).collect(),
        hash: crate::http::sha256_hex(plaintext.as_bytes()),
        created_at: now.to_owned(),
        last_used_at: None,
        revoked_at: None,
    };
    (plaintext, record)
}
