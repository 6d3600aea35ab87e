//! `CalendarStore` over the in-memory fake: one `with_ext` call = one transaction, the same
//! conditions as the DynamoDB adapter (contract suite: tests/tests/contract_calendar.rs).

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;

use crate::memory::MemoryStore;
use shared::calendar::{
    CalendarEvent, CalendarStore, GhlState, StatusUpdate, SyncCounts, SyncMapping, SyncStatus,
};
use shared::error::{AppError, AppResult};
use shared::paging::Page;
use shared::paging::{cursor_of as cursor_from, decode_cursor};

type WsKey = (String, String);

#[derive(Default)]
struct CalendarState {
    events: BTreeMap<WsKey, CalendarEvent>,
    mappings: BTreeMap<WsKey, SyncMapping>,
    /// (owner, lease until in unix ms)
    leases: BTreeMap<WsKey, (String, i64)>,
}

fn k(ws: &str, id: &str) -> WsKey {
    (ws.to_owned(), id.to_owned())
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn holds(st: &CalendarState, key: &WsKey, owner: &str) -> bool {
    // Like the adapter's `leaseOwner = :owner`: an expired lease nobody took over still counts.
    st.leases.get(key).is_some_and(|(o, _)| o == owner)
}

/// The mapping of event `id` while `owner` holds its lease (else `None`).
fn held_mapping<'a>(
    st: &'a mut CalendarState,
    ws: &str,
    id: &str,
    owner: &str,
) -> Option<&'a mut SyncMapping> {
    let key = k(ws, id);
    if !holds(st, &key, owner) {
        return None;
    }
    st.mappings.get_mut(&key)
}

fn cursor_of(id: &str) -> String {
    cursor_from(&[("id", id)])
}

fn cursor_id(cursor: &str) -> AppResult<String> {
    match decode_cursor(cursor)?.get("id") {
        Some(id) => Ok(id.clone()),
        _ => Err(AppError::validation("cursor is invalid")),
    }
}

#[async_trait]
impl CalendarStore for MemoryStore {
    async fn create_calendar_event(
        &self,
        event: &CalendarEvent,
        mapping: &SyncMapping,
    ) -> AppResult<()> {
        self.injected_conflict()?;
        self.with_ext(|st: &mut CalendarState| {
            let key = k(&event.workspace_id, &event.id);
            if st.events.contains_key(&key) || st.mappings.contains_key(&key) {
                return Err(AppError::internal_msg("calendar event id already exists"));
            }
            st.events.insert(key.clone(), event.clone());
            st.mappings.insert(key, mapping.clone());
            Ok(())
        })
    }

    async fn get_calendar_event(&self, ws: &str, id: &str) -> AppResult<Option<CalendarEvent>> {
        Ok(self.with_ext(|st: &mut CalendarState| st.events.get(&k(ws, id)).cloned()))
    }

    async fn update_calendar_event(
        &self,
        event: &CalendarEvent,
        status: SyncStatus,
        now: &str,
    ) -> AppResult<SyncMapping> {
        self.injected_conflict()?;
        self.with_ext(|st: &mut CalendarState| {
            let key = k(&event.workspace_id, &event.id);
            let current = st
                .events
                .get(&key)
                .filter(|e| !e.is_deleted())
                .ok_or(AppError::NotFound("calendar event"))?;
            if current.revision + 1 != event.revision {
                return Err(AppError::TransactionConflict);
            }
            let mapping = st
                .mappings
                .get_mut(&key)
                .ok_or(AppError::NotFound("sync mapping"))?;
            mapping.version = event.revision;
            mapping.sync_status = status;
            mapping.attempts = 0;
            mapping.sync_error = None;
            mapping.updated_at = now.to_owned();
            let out = mapping.clone();
            st.events.insert(key, event.clone());
            Ok(out)
        })
    }

    async fn get_sync_mapping(&self, ws: &str, id: &str) -> AppResult<Option<SyncMapping>> {
        Ok(self.with_ext(|st: &mut CalendarState| st.mappings.get(&k(ws, id)).cloned()))
    }

    async fn list_sync_mappings(
        &self,
        ws: &str,
        status: Option<SyncStatus>,
        cursor: Option<&str>,
        limit: u32,
    ) -> AppResult<Page<SyncMapping>> {
        let after = cursor.map(cursor_id).transpose()?;
        let limit = limit.clamp(1, 1000) as usize;
        Ok(self.with_ext(|st: &mut CalendarState| {
            let mut matching = st
                .mappings
                .iter()
                .rev()
                .filter(|((w, id), m)| {
                    w == ws
                        && after.as_ref().is_none_or(|a| id < a)
                        && match status {
                            Some(s) => m.sync_status == s,
                            None => m.sync_status != SyncStatus::NotApplicable,
                        }
                })
                .map(|(_, m)| m.clone());
            let items: Vec<SyncMapping> = matching.by_ref().take(limit).collect();
            let more = matching.next().is_some();
            let next_cursor = more
                .then(|| items.last().map(|m| cursor_of(&m.sentra_event_id)))
                .flatten();
            Page { items, next_cursor }
        }))
    }

    async fn count_sync_mappings(&self, ws: &str) -> AppResult<SyncCounts> {
        Ok(self.with_ext(|st: &mut CalendarState| {
            let mut c = SyncCounts::default();
            for ((w, _), m) in &st.mappings {
                if w != ws {
                    continue;
                }
                match m.sync_status {
                    SyncStatus::Synced => c.synced += 1,
                    SyncStatus::Pending => c.pending += 1,
                    SyncStatus::Failed => c.failed += 1,
                    SyncStatus::NotApplicable => {}
                }
            }
            c
        }))
    }

    async fn claim_sync(
        &self,
        ws: &str,
        id: &str,
        owner: &str,
        ttl: Duration,
    ) -> AppResult<Option<SyncMapping>> {
        self.with_ext(|st: &mut CalendarState| {
            let key = k(ws, id);
            let mapping = st
                .mappings
                .get(&key)
                .cloned()
                .ok_or(AppError::NotFound("sync mapping"))?;
            let now = now_ms();
            if st.leases.get(&key).is_some_and(|(_, until)| *until >= now) {
                return Ok(None);
            }
            st.leases
                .insert(key, (owner.to_owned(), now + ttl.as_millis() as i64));
            Ok(Some(mapping))
        })
    }

    async fn record_ghl_state(
        &self,
        ws: &str,
        id: &str,
        owner: &str,
        state: &GhlState,
    ) -> AppResult<bool> {
        Ok(self.with_ext(|st: &mut CalendarState| {
            let Some(m) = held_mapping(st, ws, id, owner) else {
                return false;
            };
            m.ghl_appointment_id = state.ghl_appointment_id.clone();
            m.ghl_deleted = state.ghl_deleted;
            m.synced_version = state.synced_version;
            m.last_sync_attempt = Some(state.last_sync_attempt.clone());
            m.attempts += 1;
            m.updated_at = state.last_sync_attempt.clone();
            true
        }))
    }

    async fn set_sync_status(
        &self,
        ws: &str,
        id: &str,
        owner: &str,
        expected_version: u64,
        update: &StatusUpdate,
    ) -> AppResult<bool> {
        Ok(self.with_ext(|st: &mut CalendarState| {
            let Some(m) = held_mapping(st, ws, id, owner) else {
                return false;
            };
            if m.version != expected_version {
                return false;
            }
            m.sync_status = update.status;
            if let Some(a) = update.attempts {
                m.attempts = a;
            }
            m.sync_error = update.sync_error.clone();
            if let Some(t) = &update.last_sync_attempt {
                m.last_sync_attempt = Some(t.clone());
            }
            m.retry_at = update.retry_at.clone();
            m.updated_at = update.now.clone();
            true
        }))
    }

    async fn release_sync(&self, ws: &str, id: &str, owner: &str) -> AppResult<()> {
        self.with_ext(|st: &mut CalendarState| {
            let key = k(ws, id);
            if st.leases.get(&key).is_some_and(|(o, _)| o == owner) {
                st.leases.remove(&key);
            }
        });
        Ok(())
    }

    async fn requeue_sync(
        &self,
        ws: &str,
        id: &str,
        from: &[SyncStatus],
        now: &str,
    ) -> AppResult<Option<SyncMapping>> {
        self.with_ext(|st: &mut CalendarState| {
            let m = st
                .mappings
                .get_mut(&k(ws, id))
                .ok_or(AppError::NotFound("sync mapping"))?;
            if !from.contains(&m.sync_status) {
                return Ok(None);
            }
            m.sync_status = SyncStatus::Pending;
            m.attempts = 0;
            m.sync_error = None;
            m.updated_at = now.to_owned();
            Ok(Some(m.clone()))
        })
    }
}
