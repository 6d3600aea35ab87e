//! What this process has learnt about API keys, and the check a request may run beside its
//! first reads.
//!
//! A key never changes workspace (its hash item is written once, with a condition), so
//! `key hash → workspace` is a memo that cannot go stale. Revocation can: every request still
//! reads the key. The memo only lets that read run concurrently with the reads a use case
//! needs anyway; the use case awaits [`KeyCheck::passed`] before it writes anything, and the
//! check's verdict decides the answer (a revoked key is 401 whatever the reads found).

use std::collections::HashMap;
use std::sync::Mutex;

use futures::channel::oneshot;

use crate::error::{AppError, AppResult};

/// At most this many keys are remembered (about 150 bytes each); past it the memo starts over.
const MAX_KEYS: usize = 10_000;

/// `key hash → (workspace id, key id)` for the keys this process has checked.
#[derive(Debug, Default)]
pub struct SeenKeys {
    keys: Mutex<HashMap<String, (String, String)>>,
}

impl SeenKeys {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (String, String)>> {
        self.keys.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The workspace and key id of a key this process has checked before.
    pub fn get(&self, hash: &str) -> Option<(String, String)> {
        self.lock().get(hash).cloned()
    }

    pub fn remember(&self, hash: &str, workspace_id: &str, key_id: &str) {
        let mut keys = self.lock();
        if keys.len() >= MAX_KEYS && !keys.contains_key(hash) {
            keys.clear();
        }
        keys.insert(
            hash.to_owned(),
            (workspace_id.to_owned(), key_id.to_owned()),
        );
    }

    pub fn forget(&self, hash: &str) {
        self.lock().remove(hash);
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The outcome of a request's key check, possibly still running. A use case handed one must
/// await [`KeyCheck::passed`] before its first write.
#[derive(Debug)]
pub struct KeyCheck(Option<oneshot::Receiver<bool>>);

impl KeyCheck {
    /// A check that has already passed (the key was read before the use case started).
    pub fn done() -> Self {
        Self(None)
    }

    /// A check still running; it sends its verdict on the other end.
    pub fn pending() -> (oneshot::Sender<bool>, Self) {
        let (tx, rx) = oneshot::channel();
        (tx, Self(Some(rx)))
    }

    /// Ok once the key is known good; `Unauthorized` when it is not (or the check was
    /// dropped). The request's answer is then the check's own error, not this one.
    pub async fn passed(self) -> AppResult<()> {
        match self.0 {
            None => Ok(()),
            Some(rx) => match rx.await {
                Ok(true) => Ok(()),
                _ => Err(AppError::Unauthorized),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_forgets_and_starts_over_when_full() {
        let seen = SeenKeys::default();
        seen.remember("h1", "ws_1", "key_1");
        assert_eq!(seen.get("h1"), Some(("ws_1".into(), "key_1".into())));
        seen.forget("h1");
        assert_eq!(seen.get("h1"), None);
        for i in 0..MAX_KEYS {
            seen.remember(&format!("h{i}"), "ws", "k");
        }
        assert_eq!(seen.len(), MAX_KEYS);
        seen.remember("h0", "ws", "k");
        assert_eq!(seen.len(), MAX_KEYS, "a known key does not start over");
        seen.remember("new", "ws", "k");
        assert_eq!(seen.len(), 1);
        assert!(seen.get("new").is_some());
    }

    #[tokio::test]
    async fn a_check_passes_only_on_a_good_verdict() {
        assert!(KeyCheck::done().passed().await.is_ok());
        let (tx, check) = KeyCheck::pending();
        tx.send(true).unwrap();
        assert!(check.passed().await.is_ok());
        let (tx, check) = KeyCheck::pending();
        tx.send(false).unwrap();
        assert!(matches!(check.passed().await, Err(AppError::Unauthorized)));
        let (tx, check) = KeyCheck::pending();
        drop(tx);
        assert!(matches!(check.passed().await, Err(AppError::Unauthorized)));
    }
}
