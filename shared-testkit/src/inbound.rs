//! In-memory fake of the inbound ports on `MemoryStore` (its state lives in `with_ext`, one
//! call = one atomic transaction), with the same invariants as the DynamoDB adapter.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;

use crate::memory::MemoryStore;
use shared::error::{AppError, AppResult};
use shared::inbound::domain::{
    ApplyOutcome, EventChange, EventCounts, EventStatus, Execution, InboundEvent, Record, SyncJob,
};
use shared::inbound::ports::{
    InboundEventStore, InsertOutcome, RecordStore, SyncExecutionStore, SyncJobStore,
};
use shared::paging::Page;
use shared::paging::{cursor_of, decode_cursor};

type JobKey = (String, String);

#[derive(Default)]
pub(crate) struct InboundState {
    jobs: BTreeMap<JobKey, SyncJob>,
    /// (ws, job) → provider event id → event
    events: HashMap<JobKey, BTreeMap<String, InboundEvent>>,
    /// (ws, job, type, id) → record
    pub(crate) records: HashMap<(String, String, String, String), Record>,
    executions: HashMap<JobKey, BTreeMap<String, Execution>>,
    /// Sync-job destination tables (`destinations.rs`): in this state so a ledger write and
    /// a table write are one atomic step, as the adapter's transaction.
    pub(crate) tables: crate::destinations::FakeTables,
}

fn jk(ws: &str, job: &str) -> JobKey {
    (ws.to_owned(), job.to_owned())
}

impl InboundState {
    /// The job's events that have not expired at `now` and that `keep` accepts, without their
    /// bodies (as lists show them).
    fn listed_events(
        &self,
        ws: &str,
        job_id: &str,
        now: i64,
        keep: impl Fn(&InboundEvent) -> bool,
    ) -> Vec<InboundEvent> {
        self.events
            .get(&jk(ws, job_id))
            .map(|m| {
                m.values()
                    .filter(|e| !e.is_expired(now) && keep(e))
                    .map(without_body)
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Removes up to `limit` entries of the job's map in `maps` (and the map once it is empty):
/// how many it removed.
fn remove_up_to<V>(
    maps: &mut HashMap<JobKey, BTreeMap<String, V>>,
    job: &JobKey,
    limit: usize,
) -> u32 {
    let Some(m) = maps.get_mut(job) else {
        return 0;
    };
    let ids: Vec<String> = m.keys().take(limit).cloned().collect();
    ids.iter().for_each(|id| drop(m.remove(id)));
    if m.is_empty() {
        maps.remove(job);
    }
    ids.len() as u32
}

/// Cursors in the adapter's opaque format, holding the last id of the previous page and the
/// partition they belong to.
fn cursor_after(cursor: Option<&str>, partition: &str) -> AppResult<Option<String>> {
    let Some(c) = cursor else {
        return Ok(None);
    };
    let mut m = decode_cursor(c)?;
    match (m.remove("p"), m.remove("id")) {
        (Some(p), Some(id)) if p == partition => Ok(Some(id)),
        _ => Err(AppError::validation("cursor is invalid")),
    }
}

fn make_cursor(partition: &str, id: &str) -> String {
    cursor_of(&[("p", partition), ("id", id)])
}

/// `sorted` is already in page order and past the cursor.
fn page_of<T: Clone>(
    sorted: Vec<T>,
    limit: u32,
    partition: &str,
    id_of: impl Fn(&T) -> String,
) -> Page<T> {
    let limit = limit.clamp(1, 1000) as usize;
    let more = sorted.len() > limit;
    let items: Vec<T> = sorted.into_iter().take(limit).collect();
    let next_cursor = more
        .then(|| items.last().map(|i| make_cursor(partition, &id_of(i))))
        .flatten();
    Page { items, next_cursor }
}

fn without_body(e: &InboundEvent) -> InboundEvent {
    let mut e = e.clone();
    e.raw_body.clear();
    e
}

#[async_trait]
impl SyncJobStore for MemoryStore {
    async fn create_sync_job(&self, job: &SyncJob) -> AppResult<()> {
        self.with_ext::<InboundState, _>(|st| {
            let k = jk(&job.workspace_id, &job.id);
            if st.jobs.contains_key(&k) {
                return Err(AppError::internal_msg("sync job id collision"));
            }
            st.jobs.insert(k, job.clone());
            Ok(())
        })
    }

    async fn get_sync_job(&self, ws: &str, job_id: &str) -> AppResult<Option<SyncJob>> {
        Ok(self.with_ext::<InboundState, _>(|st| st.jobs.get(&jk(ws, job_id)).cloned()))
    }

    async fn list_sync_jobs(
        &self,
        ws: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> AppResult<Page<SyncJob>> {
        let partition = format!("jobs#{ws}");
        let after = cursor_after(cursor, &partition)?;
        let jobs: Vec<SyncJob> = self.with_ext::<InboundState, _>(|st| {
            st.jobs
                .values()
                .rev()
                .filter(|j| j.workspace_id == ws)
                .filter(|j| after.as_deref().is_none_or(|a| j.id.as_str() < a))
                .cloned()
                .collect()
        });
        Ok(page_of(jobs, limit, &partition, |j| j.id.clone()))
    }

    async fn update_sync_job(&self, job: &SyncJob) -> AppResult<()> {
        self.injected_conflict()?;
        self.with_ext::<InboundState, _>(|st| {
            let Some(stored) = st.jobs.get_mut(&jk(&job.workspace_id, &job.id)) else {
                return Err(AppError::NotFound("sync job"));
            };
            if stored.version != job.version - 1 {
                return Err(AppError::TransactionConflict);
            }
            *stored = job.clone();
            Ok(())
        })
    }

    async fn delete_sync_job(&self, ws: &str, job_id: &str) -> AppResult<Option<SyncJob>> {
        Ok(self.with_ext::<InboundState, _>(|st| st.jobs.remove(&jk(ws, job_id))))
    }
}

#[async_trait]
impl InboundEventStore for MemoryStore {
    async fn insert_event(&self, ev: &InboundEvent, now: i64) -> AppResult<InsertOutcome> {
        Ok(self.with_ext::<InboundState, _>(|st| {
            let events = st
                .events
                .entry(jk(&ev.workspace_id, &ev.job_id))
                .or_default();
            match events.get(&ev.provider_event_id) {
                Some(existing) if !existing.is_expired(now) => {
                    InsertOutcome::Duplicate(Box::new(existing.clone()))
                }
                _ => {
                    events.insert(ev.provider_event_id.clone(), ev.clone());
                    InsertOutcome::Inserted
                }
            }
        }))
    }

    async fn get_event(
        &self,
        ws: &str,
        job_id: &str,
        provider_event_id: &str,
        now: i64,
    ) -> AppResult<Option<InboundEvent>> {
        Ok(self.with_ext::<InboundState, _>(|st| {
            st.events
                .get(&jk(ws, job_id))
                .and_then(|m| m.get(provider_event_id))
                .filter(|e| !e.is_expired(now))
                .cloned()
        }))
    }

    async fn find_event(
        &self,
        ws: &str,
        job_id: &str,
        event_id: &str,
        now: i64,
    ) -> AppResult<Option<InboundEvent>> {
        Ok(self.with_ext::<InboundState, _>(|st| {
            st.events
                .get(&jk(ws, job_id))
                .and_then(|m| m.values().find(|e| e.id == event_id))
                .filter(|e| !e.is_expired(now))
                .cloned()
        }))
    }

    async fn list_events(
        &self,
        ws: &str,
        job_id: &str,
        status: Option<EventStatus>,
        cursor: Option<&str>,
        limit: u32,
        now: i64,
    ) -> AppResult<Page<InboundEvent>> {
        let partition = format!("events#{ws}#{job_id}#{:?}", status);
        let after = cursor_after(cursor, &partition)?;
        let mut events = self.with_ext::<InboundState, _>(|st| {
            st.listed_events(ws, job_id, now, |e| {
                status.is_none_or(|s| e.status == s)
                    && after.as_deref().is_none_or(|a| e.id.as_str() < a)
            })
        });
        events.sort_by(|a, b| b.id.cmp(&a.id));
        Ok(page_of(events, limit, &partition, |e| e.id.clone()))
    }

    async fn list_events_between(
        &self,
        ws: &str,
        job_id: &str,
        ids: (&str, &str),
        cursor: Option<&str>,
        limit: u32,
        now: i64,
    ) -> AppResult<Page<InboundEvent>> {
        let partition = format!("between#{ws}#{job_id}");
        let after = cursor_after(cursor, &partition)?;
        let mut events = self.with_ext::<InboundState, _>(|st| {
            st.listed_events(ws, job_id, now, |e| {
                (ids.0..=ids.1).contains(&e.id.as_str())
                    && after.as_deref().is_none_or(|a| e.id.as_str() > a)
            })
        });
        events.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(page_of(events, limit, &partition, |e| e.id.clone()))
    }

    async fn update_event(
        &self,
        ws: &str,
        job_id: &str,
        provider_event_id: &str,
        change: &EventChange,
    ) -> AppResult<bool> {
        self.with_ext::<InboundState, _>(|st| {
            match st
                .events
                .get_mut(&jk(ws, job_id))
                .and_then(|m| m.get_mut(provider_event_id))
            {
                Some(ev) if change.expect_status.is_some_and(|s| s != ev.status) => Ok(false),
                Some(ev) => {
                    change.apply_to(ev);
                    Ok(true)
                }
                None => Err(AppError::NotFound("event")),
            }
        })
    }

    async fn count_events(
        &self,
        ws: &str,
        job_id: &str,
        today_from_id: &str,
        now: i64,
    ) -> AppResult<EventCounts> {
        Ok(self.with_ext::<InboundState, _>(|st| {
            let mut c = EventCounts::default();
            if let Some(m) = st.events.get(&jk(ws, job_id)) {
                for e in m.values().filter(|e| !e.is_expired(now)) {
                    c.add(e.status, 1);
                    if e.id.as_str() >= today_from_id {
                        c.today += 1;
                    }
                }
            }
            c
        }))
    }
}

#[async_trait]
impl RecordStore for MemoryStore {
    async fn apply_record(&self, ws: &str, job_id: &str, r: &Record) -> AppResult<ApplyOutcome> {
        // Tests make record writes fail transiently with `inject_conflicts`.
        self.injected_conflict()?;
        Ok(self.with_ext::<InboundState, _>(|st| {
            let key = (
                ws.to_owned(),
                job_id.to_owned(),
                r.object_type.clone(),
                r.object_id.clone(),
            );
            if !r.supersedes(st.records.get(&key).map(|s| &s.meta)) {
                return ApplyOutcome::Unchanged;
            }
            let mut stored = r.clone();
            if stored.meta.deleted {
                stored.data = None;
            }
            st.records.insert(key, stored);
            ApplyOutcome::Applied
        }))
    }

    async fn get_record(
        &self,
        ws: &str,
        job_id: &str,
        object_type: &str,
        object_id: &str,
    ) -> AppResult<Option<Record>> {
        Ok(self.with_ext::<InboundState, _>(|st| {
            st.records
                .get(&(
                    ws.to_owned(),
                    job_id.to_owned(),
                    object_type.to_owned(),
                    object_id.to_owned(),
                ))
                .cloned()
        }))
    }

    async fn purge_job_data(&self, ws: &str, job_id: &str, limit: u32) -> AppResult<u32> {
        let limit = limit.clamp(1, 1000) as usize;
        Ok(self.with_ext::<InboundState, _>(|st| {
            let of_job = |k: &(String, String, String, String)| k.0 == ws && k.1 == job_id;
            let records: Vec<_> = st
                .records
                .keys()
                .filter(|k| of_job(k))
                .take(limit)
                .cloned()
                .collect();
            if !records.is_empty() {
                for k in &records {
                    st.records.remove(k);
                }
                return records.len() as u32;
            }
            match remove_up_to(&mut st.events, &jk(ws, job_id), limit) {
                0 => remove_up_to(&mut st.executions, &jk(ws, job_id), limit),
                events => events,
            }
        }))
    }
}

#[async_trait]
impl SyncExecutionStore for MemoryStore {
    async fn put_execution(&self, x: &Execution) -> AppResult<()> {
        self.with_ext::<InboundState, _>(|st| {
            st.executions
                .entry(jk(&x.workspace_id, &x.job_id))
                .or_default()
                .insert(x.id.clone(), x.clone());
        });
        Ok(())
    }

    async fn list_executions(
        &self,
        ws: &str,
        job_id: &str,
        cursor: Option<&str>,
        limit: u32,
        now: i64,
    ) -> AppResult<Page<Execution>> {
        let partition = format!("execs#{ws}#{job_id}");
        let after = cursor_after(cursor, &partition)?;
        let items: Vec<Execution> = self.with_ext::<InboundState, _>(|st| {
            st.executions
                .get(&jk(ws, job_id))
                .map(|m| {
                    m.values()
                        .rev()
                        .filter(|x| x.expires_at > now)
                        .filter(|x| after.as_deref().is_none_or(|a| x.id.as_str() < a))
                        .cloned()
                        .collect()
                })
                .unwrap_or_default()
        });
        Ok(page_of(items, limit, &partition, |x| x.id.clone()))
    }
}

impl MemoryStore {
    /// Test hook: how many records of a job are stored (tombstones included).
    pub fn inbound_record_count(&self, ws: &str, job_id: &str) -> usize {
        self.with_ext::<InboundState, _>(|st| {
            st.records
                .keys()
                .filter(|(w, j, _, _)| w == ws && j == job_id)
                .count()
        })
    }
}
