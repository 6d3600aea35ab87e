//! `AlertStore` over the in-memory fake: one `with_ext` call = one conditional write, the
//! same rules as the DynamoDB adapter (windows and counts by explicit times, no clock).

use std::collections::HashMap;

use async_trait::async_trait;
use shared::alerts::{AlertStore, Debounce};
use shared::error::AppResult;

use crate::memory::MemoryStore;

#[derive(Default)]
struct AlertState {
    /// (ws, type, subject) → (window ends at, held back).
    windows: HashMap<(String, String, String), (i64, u64)>,
    /// (ws, job, window start) → rejected signatures.
    rejected: HashMap<(String, String, i64), u64>,
}

#[async_trait]
impl AlertStore for MemoryStore {
    async fn debounce_alert(
        &self,
        ws: &str,
        kind: &str,
        subject: &str,
        now: i64,
        window_secs: i64,
    ) -> AppResult<Debounce> {
        Ok(self.with_ext(|st: &mut AlertState| {
            let key = (ws.to_owned(), kind.to_owned(), subject.to_owned());
            let window = st.windows.entry(key).or_insert((i64::MIN, 0));
            if window.0 > now {
                window.1 += 1;
                Debounce::Held
            } else {
                let suppressed = window.1;
                *window = (now + window_secs, 0);
                Debounce::Send { suppressed }
            }
        }))
    }

    async fn count_signature_failure(
        &self,
        ws: &str,
        job_id: &str,
        window_start: i64,
    ) -> AppResult<u64> {
        Ok(self.with_ext(|st: &mut AlertState| {
            let n = st
                .rejected
                .entry((ws.to_owned(), job_id.to_owned(), window_start))
                .or_default();
            *n += 1;
            *n
        }))
    }
}
