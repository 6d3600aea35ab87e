//! In-memory fakes of every port, for handler unit tests and benchmarks. They keep the same
//! invariants as the DynamoDB adapter (one mutex = one transaction) and can inject the
//! `TransactionConflict` that real DynamoDB produces under contention (moto never does).

use std::any::{Any, TypeId};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;

use shared::bookings::apply_transition;
use shared::bookings::ports::{
    BookingStore, BookingTransition, CancelOutcome, CreateBookingOutcome, ExamCounter, NewBooking,
};
use shared::bookings::{
    ActiveBookingRef, Booking, BookingStatus, ExamInput, IdempotencyRecord, MockExam,
};
use shared::error::{AppError, AppResult};
use shared::integrations::ports::IntegrationStore;
use shared::integrations::{AttemptStats, Integration, IntegrationInput, IntegrationKind};
use shared::lease::Lease;
use shared::lease::LeaseStore;
use shared::outbox::ports::OutboxStore;
use shared::outbox::OutboxRecord;
use shared::paging::decode_cursor;
use shared::paging::Page;
use shared::signing::WebhookSecret;
use shared::tenancy::ports::WorkspaceStore;
use shared::tenancy::{ApiKey, Workspace};

type WsKey = (String, String);

#[derive(Default)]
struct State {
    workspaces: BTreeMap<String, (Workspace, i64)>,
    api_keys: BTreeMap<String, ApiKey>,
    exams: BTreeMap<WsKey, MockExam>,
    /// (ws, exam) → contact → marker
    markers: BTreeMap<WsKey, BTreeMap<String, ActiveBookingRef>>,
    bookings: HashMap<WsKey, Booking>,
    idempotency: HashMap<WsKey, IdempotencyRecord>,
    integrations: HashMap<(String, IntegrationKind), Integration>,
    stats: HashMap<(String, IntegrationKind, String), AttemptStats>,
    leases: HashMap<Lease, (String, i64)>,
    outbox: BTreeMap<String, OutboxRecord>,
}

#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<State>,
    conflicts_to_inject: AtomicU32,
    /// State of the fakes of other areas (one value per type), so each area's fake lives in
    /// its own module next to its port.
    extensions: Mutex<HashMap<TypeId, Box<dyn Any + Send>>>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// The next `n` transactional writes fail with `TransactionConflict`, as concurrent
    /// transactions on one item do on real DynamoDB.
    pub fn inject_conflicts(&self, n: u32) {
        self.conflicts_to_inject.store(n, Ordering::SeqCst);
    }

    pub fn remaining_injected_conflicts(&self) -> u32 {
        self.conflicts_to_inject.load(Ordering::SeqCst)
    }

    fn conflict(&self) -> AppResult<()> {
        let hit = self
            .conflicts_to_inject
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if hit {
            Err(AppError::TransactionConflict)
        } else {
            Ok(())
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A poisoned lock means a test already panicked; keep serving its data.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Test hook: overwrite an exam's counter as drift would.
    pub fn set_total_bookings(&self, ws: &str, exam: &str, total: i64) {
        if let Some(e) = self.lock().exams.get_mut(&(ws.to_owned(), exam.to_owned())) {
            e.total_bookings = total;
        }
    }

    /// Runs `f` on this store's state of type `T` (created on first use) under one lock:
    /// one call = one atomic transaction, like the DynamoDB adapter's.
    pub fn with_ext<T: Default + Send + 'static, R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        let mut map = self.extensions.lock().unwrap_or_else(|p| p.into_inner());
        let entry = map
            .entry(TypeId::of::<T>())
            .or_insert_with(|| Box::new(T::default()));
        match entry.downcast_mut::<T>() {
            Some(state) => f(state),
            None => unreachable!("extension map is keyed by TypeId"),
        }
    }

    /// Fails with `TransactionConflict` while injected conflicts remain (for other areas' fakes).
    pub fn injected_conflict(&self) -> AppResult<()> {
        self.conflict()
    }

    pub fn outbox_len(&self) -> usize {
        self.lock().outbox.len()
    }

    // --- hooks for the users fake (users/fake.rs): its outbox records and the GDPR erase ---

    /// Stores an outbox record written with another area's change.
    pub fn put_outbox(&self, record: &OutboxRecord) {
        self.lock().outbox.insert(record.id.clone(), record.clone());
    }

    /// Applies `redact` to every outbox record; returns how many it changed.
    pub fn redact_outbox(&self, mut redact: impl FnMut(&mut OutboxRecord) -> bool) -> usize {
        let mut st = self.lock();
        st.outbox
            .values_mut()
            .map(&mut redact)
            .filter(|changed| *changed)
            .count()
    }

    /// The bookings whose contactId is `contact`.
    pub fn bookings_of_contact(&self, ws: &str, contact: &str) -> Vec<Booking> {
        let mut v: Vec<Booking> = self
            .lock()
            .bookings
            .iter()
            .filter(|((w, _), b)| w == ws && b.contact_id.as_deref() == Some(contact))
            .map(|(_, b)| b.clone())
            .collect();
        v.sort_by(|a, b| a.id.cmp(&b.id));
        v
    }

    /// GDPR erase: removes `contact` from its bookings and active markers (the markers stay,
    /// re-keyed by booking, so counts do not change). Returns how many bookings changed.
    pub fn unlink_contact(&self, ws: &str, contact: &str) -> usize {
        let mut st = self.lock();
        let mut changed = 0;
        let mut exams = Vec::new();
        for ((w, _), b) in st.bookings.iter_mut() {
            if w == ws && b.contact_id.as_deref() == Some(contact) {
                b.contact_id = None;
                exams.push(b.mock_exam_id.clone());
                changed += 1;
            }
        }
        for exam in exams {
            if let Some(m) = st.markers.get_mut(&key(ws, &exam)) {
                if let Some(mut r) = m.remove(contact) {
                    r.contact_id = String::new();
                    m.insert(format!("ERASED#{}", r.booking_id), r);
                }
            }
        }
        changed
    }
}

fn key(a: &str, b: &str) -> WsKey {
    (a.to_owned(), b.to_owned())
}

#[async_trait]
impl WorkspaceStore for MemoryStore {
    async fn create_workspace(&self, ws: &Workspace, first_key: &ApiKey) -> AppResult<()> {
        let mut st = self.lock();
        if st.workspaces.contains_key(&ws.id) {
            return Err(AppError::internal_msg("workspace id collision"));
        }
        st.workspaces.insert(ws.id.clone(), (ws.clone(), 1));
        st.api_keys.insert(first_key.id.clone(), first_key.clone());
        Ok(())
    }

    async fn get_workspace(&self, id: &str) -> AppResult<Option<Workspace>> {
        Ok(self.lock().workspaces.get(id).map(|(w, _)| w.clone()))
    }

    async fn list_workspaces(
        &self,
        cursor: Option<&str>,
        limit: u32,
    ) -> AppResult<Page<Workspace>> {
        let after = after_cursor(cursor)?;
        let st = self.lock();
        let items: Vec<Workspace> = st
            .workspaces
            .values()
            .filter(|(w, _)| after.as_deref().is_none_or(|c| w.id.as_str() > c))
            .take(page_size(limit) + 1)
            .map(|(w, _)| w.clone())
            .collect();
        Ok(page(items, limit, |w| w.id.clone()))
    }

    async fn add_api_key(&self, k: &ApiKey) -> AppResult<()> {
        let mut st = self.lock();
        let Some(entry) = st.workspaces.get_mut(&k.workspace_id) else {
            return Err(AppError::NotFound("workspace"));
        };
        entry.1 += 1;
        st.api_keys.insert(k.id.clone(), k.clone());
        Ok(())
    }

    async fn find_api_key(&self, hash_hex: &str) -> AppResult<Option<ApiKey>> {
        Ok(self
            .lock()
            .api_keys
            .values()
            .find(|k| k.hash == hash_hex && k.revoked_at.is_none())
            .cloned())
    }

    async fn list_api_keys(&self, workspace_id: &str) -> AppResult<Vec<ApiKey>> {
        let mut v: Vec<ApiKey> = self
            .lock()
            .api_keys
            .values()
            .filter(|k| k.workspace_id == workspace_id && k.revoked_at.is_none())
            .cloned()
            .collect();
        v.sort_by(|a, b| b.id.cmp(&a.id));
        Ok(v)
    }

    async fn revoke_api_key(
        &self,
        workspace_id: &str,
        key_id: &str,
        now: &str,
    ) -> AppResult<ApiKey> {
        let mut st = self.lock();
        let found = st
            .api_keys
            .get(key_id)
            .filter(|k| k.workspace_id == workspace_id && k.revoked_at.is_none())
            .cloned();
        let Some(mut k) = found else {
            return Err(AppError::NotFound("api key"));
        };
        let active = st
            .workspaces
            .get(workspace_id)
            .map(|(_, n)| *n)
            .unwrap_or(0);
        if active <= 1 {
            return Err(AppError::validation(
                "the last active API key of a workspace cannot be revoked",
            ));
        }
        if let Some(e) = st.workspaces.get_mut(workspace_id) {
            e.1 -= 1;
        }
        k.revoked_at = Some(now.to_owned());
        st.api_keys.insert(k.id.clone(), k.clone());
        Ok(k)
    }

    async fn touch_api_key(&self, k: &ApiKey, now: &str) -> AppResult<()> {
        if let Some(stored) = self.lock().api_keys.get_mut(&k.id) {
            stored.last_used_at = Some(now.to_owned());
        }
        Ok(())
    }
}

/// The adapter's page size: `limit` clamped to 1..=1000.
fn page_size(limit: u32) -> usize {
    limit.clamp(1, 1000) as usize
}

/// The last id of the previous page. Cursors use the adapter's opaque format, so a malformed
/// one is refused here too.
fn after_cursor(cursor: Option<&str>) -> AppResult<Option<String>> {
    let Some(cursor) = cursor else {
        return Ok(None);
    };
    match decode_cursor(cursor)?.remove("id") {
        Some(id) => Ok(Some(id)),
        _ => Err(AppError::validation("cursor is invalid")),
    }
}

fn page<T>(mut items: Vec<T>, limit: u32, cursor_of: impl Fn(&T) -> String) -> Page<T> {
    let limit = page_size(limit);
    let more = items.len() > limit;
    items.truncate(limit);
    let next_cursor = if more {
        items
            .last()
            .map(|i| shared::paging::cursor_of(&[("id", &cursor_of(i))]))
    } else {
        None
    };
    Page { items, next_cursor }
}

#[async_trait]
impl BookingStore for MemoryStore {
    async fn put_exam(
        &self,
        ws: &str,
        exam_id: &str,
        input: &ExamInput,
        now: &str,
    ) -> AppResult<MockExam> {
        let mut st = self.lock();
        let exam = st
            .exams
            .entry(key(ws, exam_id))
            .or_insert_with(|| MockExam {
                id: exam_id.to_owned(),
                name: String::new(),
                capacity: 0,
                total_bookings: 0,
                version: 0,
                last_synced_version: 0,
                exam_date: None,
                created_at: now.to_owned(),
                updated_at: now.to_owned(),
            });
        exam.name = input.name.clone();
        exam.capacity = input.capacity;
        exam.exam_date = input.exam_date.clone();
        exam.updated_at = now.to_owned();
        Ok(exam.clone())
    }

    async fn update_exam(
        &self,
        ws: &str,
        before: &MockExam,
        input: &ExamInput,
        bump_version: bool,
        outbox: &OutboxRecord,
        now: &str,
    ) -> AppResult<()> {
        self.conflict()?;
        let mut st = self.lock();
        let Some(exam) = st.exams.get_mut(&key(ws, &before.id)) else {
            return Err(AppError::TransactionConflict);
        };
        if (&exam.name, exam.capacity, &exam.exam_date)
            != (&before.name, before.capacity, &before.exam_date)
        {
            return Err(AppError::TransactionConflict);
        }
        exam.name = input.name.clone();
        exam.capacity = input.capacity;
        exam.exam_date = input.exam_date.clone();
        exam.updated_at = now.to_owned();
        if bump_version {
            exam.version += 1;
        }
        st.outbox.insert(outbox.id.clone(), outbox.clone());
        Ok(())
    }

    async fn get_exam(&self, ws: &str, exam_id: &str) -> AppResult<Option<MockExam>> {
        Ok(self.lock().exams.get(&key(ws, exam_id)).cloned())
    }

    async fn list_exams(
        &self,
        ws: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> AppResult<Page<MockExam>> {
        let after = after_cursor(cursor)?;
        let st = self.lock();
        let items: Vec<MockExam> = st
            .exams
            .iter()
            .filter(|((w, id), _)| w == ws && after.as_deref().is_none_or(|c| id.as_str() > c))
            .take(page_size(limit) + 1)
            .map(|(_, e)| e.clone())
            .collect();
        Ok(page(items, limit, |e| e.id.clone()))
    }

    async fn create_booking(&self, new: &NewBooking) -> AppResult<CreateBookingOutcome> {
        self.conflict()?;
        let mut st = self.lock();
        let ws = new.workspace_id.as_str();
        let b = &new.booking;
        if let Some((hash, _)) = &new.idempotency {
            let now = shared::time::parse(&new.now)
                .map(|t| t.timestamp())
                .unwrap_or(0);
            if let Some(rec) = st.idempotency.get(&key(ws, hash)) {
                if rec.expires_at >= now {
                    return Ok(CreateBookingOutcome::IdempotencyKeyExists(rec.clone()));
                }
            }
        }
        let contact = b.contact_id.clone().unwrap_or_default();
        let exam_key = key(ws, &b.mock_exam_id);
        if st
            .markers
            .get(&exam_key)
            .is_some_and(|m| m.contains_key(&contact))
        {
            return Err(AppError::AlreadyBooked);
        }
        let Some(exam) = st.exams.get_mut(&exam_key) else {
            return Err(AppError::NotFound("mock exam"));
        };
        if exam.total_bookings >= exam.capacity {
            return Err(AppError::CapacityExceeded);
        }
        exam.total_bookings += 1;
        exam.version += 1;
        exam.updated_at = new.now.clone();
        st.markers.entry(exam_key).or_default().insert(
            contact.clone(),
            ActiveBookingRef {
                booking_id: b.id.clone(),
                contact_id: contact,
            },
        );
        st.bookings.insert(key(ws, &b.id), b.clone());
        st.outbox.insert(new.outbox.id.clone(), new.outbox.clone());
        if let Some((hash, rec)) = &new.idempotency {
            st.idempotency.insert(key(ws, hash), rec.clone());
        }
        Ok(CreateBookingOutcome::Created)
    }

    async fn get_idempotency(
        &self,
        ws: &str,
        key_hash: &str,
    ) -> AppResult<Option<IdempotencyRecord>> {
        let now = chrono::Utc::now().timestamp();
        Ok(self
            .lock()
            .idempotency
            .get(&key(ws, key_hash))
            .filter(|r| r.expires_at >= now)
            .cloned())
    }

    async fn list_exam_bookings(
        &self,
        ws: &str,
        exam_id: &str,
        status: Option<BookingStatus>,
        cursor: Option<&str>,
        limit: u32,
    ) -> AppResult<Page<Booking>> {
        let items: Vec<(String, Booking)> = self
            .lock()
            .bookings
            .iter()
            .filter(|((w, _), b)| {
                w == ws && b.mock_exam_id == exam_id && status.is_none_or(|s| b.status == s)
            })
            .map(|((_, id), b)| (id.clone(), b.clone()))
            .collect();
        crate::subscriptions::newest_first_page(
            items,
            cursor,
            &format!("bookings:{ws}:{exam_id}"),
            limit,
        )
    }

    async fn get_booking(&self, ws: &str, booking_id: &str) -> AppResult<Option<Booking>> {
        Ok(self.lock().bookings.get(&key(ws, booking_id)).cloned())
    }

    async fn cancel_booking(
        &self,
        ws: &str,
        seen: &Booking,
        outbox: &OutboxRecord,
        now: &str,
    ) -> AppResult<CancelOutcome> {
        self.conflict()?;
        let booking_id = seen.id.as_str();
        let mut st = self.lock();
        let Some(booking) = st.bookings.get(&key(ws, booking_id)).cloned() else {
            return Err(AppError::NotFound("booking"));
        };
        // As the table's condition: the booking must still be as the caller saw it.
        if booking.status != seen.status {
            return match booking.status {
                BookingStatus::Cancelled => Ok(CancelOutcome::AlreadyCancelled(booking)),
                _ => Err(AppError::TransactionConflict),
            };
        }
        match booking.status {
            BookingStatus::Cancelled => return Ok(CancelOutcome::AlreadyCancelled(booking)),
            BookingStatus::Completed => {
                return Err(AppError::validation(format!(
                    "booking {booking_id} is completed and cannot be cancelled"
                )))
            }
            BookingStatus::Active => {}
        }
        let exam_key = key(ws, &booking.mock_exam_id);
        if let Some(m) = st.markers.get_mut(&exam_key) {
            m.retain(|_, r| r.booking_id != booking_id);
        }
        if let Some(exam) = st.exams.get_mut(&exam_key) {
            exam.total_bookings -= 1;
            exam.version += 1;
            exam.updated_at = now.to_owned();
        }
        let mut b = booking;
        b.status = BookingStatus::Cancelled;
        b.cancelled_at = Some(now.to_owned());
        b.updated_at = Some(now.to_owned());
        st.bookings.insert(key(ws, booking_id), b.clone());
        st.outbox.insert(outbox.id.clone(), outbox.clone());
        Ok(CancelOutcome::Cancelled(b))
    }

    async fn transition_booking(
        &self,
        ws: &str,
        booking_id: &str,
        transition: BookingTransition,
        scanned_by: Option<&str>,
        outbox: &OutboxRecord,
        now: &str,
    ) -> AppResult<Booking> {
        self.conflict()?;
        let mut st = self.lock();
        let Some(mut booking) = st.bookings.get(&key(ws, booking_id)).cloned() else {
            return Err(AppError::NotFound("booking"));
        };
        apply_transition(&mut booking, transition, scanned_by, now)?;
        st.bookings.insert(key(ws, booking_id), booking.clone());
        st.outbox.insert(outbox.id.clone(), outbox.clone());
        Ok(booking)
    }

    async fn list_active_bookings(
        &self,
        ws: &str,
        exam_id: &str,
    ) -> AppResult<Vec<ActiveBookingRef>> {
        Ok(self
            .lock()
            .markers
            .get(&key(ws, exam_id))
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default())
    }

    async fn list_exam_counters(
        &self,
        ws: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> AppResult<Page<ExamCounter>> {
        let exams = self.list_exams(ws, cursor, limit).await?;
        Ok(Page {
            items: exams
                .items
                .into_iter()
                .map(|e| ExamCounter {
                    exam_id: e.id,
                    total_bookings: Some(e.total_bookings),
                    version: Some(e.version),
                    last_synced_version: e.last_synced_version,
                })
                .collect(),
            next_cursor: exams.next_cursor,
        })
    }

    async fn mark_synced(&self, ws: &str, exam_id: &str, version: i64) -> AppResult<()> {
        if let Some(e) = self.lock().exams.get_mut(&key(ws, exam_id)) {
            e.last_synced_version = e.last_synced_version.max(version);
        }
        Ok(())
    }

    async fn fix_counter(
        &self,
        ws: &str,
        exam_id: &str,
        expected_version: i64,
        count: i64,
        now: &str,
    ) -> AppResult<bool> {
        let mut st = self.lock();
        match st.exams.get_mut(&key(ws, exam_id)) {
            Some(e) if e.version == expected_version => {
                e.total_bookings = count;
                e.version += 1;
                e.updated_at = now.to_owned();
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

#[async_trait]
impl IntegrationStore for MemoryStore {
    async fn put_integration(
        &self,
        ws: &str,
        kind: IntegrationKind,
        input: &IntegrationInput,
        new_secret: &WebhookSecret,
        now: &str,
    ) -> AppResult<Integration> {
        let mut st = self.lock();
        let entry = st
            .integrations
            .entry((ws.to_owned(), kind))
            .or_insert_with(|| Integration {
                kind,
                webhook_url: String::new(),
                enabled: true,
                retry_attempts: 0,
                retry_delay: 1,
                secret: new_secret.clone(),
                previous_secret: None,
                previous_secret_expires_at: None,
                last_error: None,
                last_error_at: None,
                alert: None,
                sync_properties: false,
                created_at: now.to_owned(),
                updated_at: now.to_owned(),
            });
        entry.webhook_url = input.webhook_url.clone();
        entry.sync_properties = input.sync_properties;
        if input.alert.is_some() {
            entry.alert = input.alert.clone();
        }
        entry.enabled = input.enabled;
        entry.retry_attempts = input.retry_attempts;
        entry.retry_delay = input.retry_delay;
        entry.updated_at = now.to_owned();
        Ok(entry.clone())
    }

    async fn get_integration(
        &self,
        ws: &str,
        kind: IntegrationKind,
    ) -> AppResult<Option<Integration>> {
        Ok(self
            .lock()
            .integrations
            .get(&(ws.to_owned(), kind))
            .cloned())
    }

    async fn record_attempt(
        &self,
        ws: &str,
        kind: IntegrationKind,
        now: &str,
        error: Option<&str>,
    ) -> AppResult<()> {
        let mut st = self.lock();
        let hour: String = now
            .chars()
            .filter(|c| c.is_ascii_digit())
            .take(10)
            .collect();
        let s = st.stats.entry((ws.to_owned(), kind, hour)).or_default();
        if let Some(err) = error {
            s.failed += 1;
            if let Some(i) = st.integrations.get_mut(&(ws.to_owned(), kind)) {
                i.last_error = Some(err.to_owned());
                i.last_error_at = Some(now.to_owned());
            }
        } else {
            s.succeeded += 1;
        }
        Ok(())
    }

    async fn attempt_stats(
        &self,
        ws: &str,
        kind: IntegrationKind,
        since: &str,
    ) -> AppResult<AttemptStats> {
        let from: String = since
            .chars()
            .filter(|c| c.is_ascii_digit())
            .take(10)
            .collect();
        let st = self.lock();
        let mut out = AttemptStats::default();
        for ((w, k, hour), s) in &st.stats {
            if w == ws && *k == kind && *hour >= from {
                out.succeeded += s.succeeded;
                out.failed += s.failed;
            }
        }
        Ok(out)
    }
}

#[async_trait]
impl LeaseStore for MemoryStore {
    async fn try_acquire(&self, k: &Lease, owner: &str, ttl: Duration) -> AppResult<bool> {
        let now = chrono::Utc::now().timestamp_millis();
        let mut st = self.lock();
        match st.leases.get(k) {
            Some((_, until)) if *until >= now => Ok(false),
            _ => {
                st.leases
                    .insert(k.clone(), (owner.to_owned(), now + ttl.as_millis() as i64));
                Ok(true)
            }
        }
    }

    async fn release(&self, k: &Lease, owner: &str) -> AppResult<()> {
        let mut st = self.lock();
        if st.leases.get(k).is_some_and(|(o, _)| o == owner) {
            st.leases.remove(k);
        }
        Ok(())
    }
}

#[async_trait]
impl OutboxStore for MemoryStore {
    async fn get_outbox(&self, id: &str) -> AppResult<Option<OutboxRecord>> {
        Ok(self.lock().outbox.get(id).cloned())
    }

    async fn mark_enqueued(&self, id: &str, now: &str) -> AppResult<()> {
        match self.lock().outbox.get_mut(id) {
            Some(r) => {
                r.enqueued_at = Some(now.to_owned());
                Ok(())
            }
            None => Err(AppError::NotFound("outbox record")),
        }
    }

    async fn list_unenqueued(
        &self,
        created_before: &str,
        limit: u32,
    ) -> AppResult<Vec<OutboxRecord>> {
        let mut v: Vec<OutboxRecord> = self
            .lock()
            .outbox
            .values()
            .filter(|r| r.enqueued_at.is_none() && r.created_at.as_str() < created_before)
            .cloned()
            .collect();
        v.sort_by(|a, b| a.created_at.cmp(&b.created_at));
        v.truncate(limit as usize);
        Ok(v)
    }
}

/// An SQS event of `bodies` as the Lambda event source hands it over: message ids `m0`, `m1`,
/// … in order, each on its `receive_count`-th receive.
pub fn sqs_event(
    bodies: impl IntoIterator<Item = impl AsRef<str>>,
    receive_count: u32,
) -> aws_lambda_events::event::sqs::SqsEvent {
    let bodies: Vec<_> = bodies.into_iter().collect();
    let ids: Vec<String> = (0..bodies.len()).map(|i| format!("m{i}")).collect();
    let records: Vec<(&str, &str, u32)> = ids
        .iter()
        .zip(&bodies)
        .map(|(id, body)| (id.as_str(), body.as_ref(), receive_count))
        .collect();
    shared::sqs_runner::event_from_bodies(&records)
}

pub use crate::sqs::MemoryQueue;
