//! In-memory fakes of the user, export and blob ports. Users live in `MemoryStore`'s
//! extension state (one `with_ext` call = one atomic change); outbox records and booking
//! links go through `MemoryStore`'s hooks, like the adapter's transaction items.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;

use crate::memory::MemoryStore;
use shared::bookings::Booking;
use shared::error::{AppError, AppResult};
use shared::outbox::OutboxRecord;
use shared::paging::Page;
use shared::paging::{cursor_of, decode_cursor};
use shared::users::query::{IndexScan, ScanPage};
use shared::users::{
    redact_event, BlobStore, EraseReport, ExportRecord, ExportStatus, ExportStore, User, UserStore,
};

#[derive(Default)]
struct UsersState {
    /// (ws, id) → user
    users: BTreeMap<(String, String), User>,
    /// (ws, email key) → user id
    emails: HashMap<(String, String), String>,
    /// (ws, id) of erased users (the tombstones)
    tombstones: BTreeMap<(String, String), String>,
    /// (ws, id) → export
    exports: BTreeMap<(String, String), ExportRecord>,
}

fn k(ws: &str, id: &str) -> (String, String) {
    (ws.to_owned(), id.to_owned())
}

#[async_trait]
impl UserStore for MemoryStore {
    async fn create_user(&self, ws: &str, user: &User, outbox: &OutboxRecord) -> AppResult<()> {
        self.injected_conflict()?;
        self.with_ext::<UsersState, _>(|st| {
            if let Some(e) = user.email_key() {
                if st.emails.contains_key(&k(ws, &e)) {
                    return Err(AppError::EmailTaken);
                }
                st.emails.insert(k(ws, &e), user.id.clone());
            }
            st.users.insert(k(ws, &user.id), user.clone());
            Ok(())
        })?;
        self.put_outbox(outbox);
        Ok(())
    }

    async fn get_user(&self, ws: &str, id: &str) -> AppResult<Option<User>> {
        Ok(self.with_ext::<UsersState, _>(|st| st.users.get(&k(ws, id)).cloned()))
    }

    async fn update_user(
        &self,
        ws: &str,
        old: &User,
        new: &User,
        outbox: &OutboxRecord,
    ) -> AppResult<()> {
        self.injected_conflict()?;
        self.with_ext::<UsersState, _>(|st| {
            match st.users.get(&k(ws, &old.id)) {
                Some(cur) if cur.version == old.version => {}
                Some(_) => return Err(AppError::TransactionConflict),
                None => return Err(AppError::NotFound("user")),
            }
            let (oe, ne) = (old.email_key(), new.email_key());
            if oe != ne {
                if let Some(e) = &ne {
                    if st.emails.contains_key(&k(ws, e)) {
                        return Err(AppError::EmailTaken);
                    }
                }
                if let Some(e) = &oe {
                    st.emails.remove(&k(ws, e));
                }
                if let Some(e) = ne {
                    st.emails.insert(k(ws, &e), new.id.clone());
                }
            }
            st.users.insert(k(ws, &new.id), new.clone());
            Ok(())
        })?;
        self.put_outbox(outbox);
        Ok(())
    }

    async fn erase_user(
        &self,
        ws: &str,
        id: &str,
        outbox: &OutboxRecord,
        now: &str,
    ) -> AppResult<EraseReport> {
        self.injected_conflict()?;
        self.with_ext::<UsersState, _>(|st| {
            let Some(user) = st.users.remove(&k(ws, id)) else {
                return Err(AppError::NotFound("user"));
            };
            if let Some(e) = user.email_key() {
                st.emails.remove(&k(ws, &e));
            }
            st.tombstones.insert(k(ws, id), now.to_owned());
            Ok(())
        })?;
        let bookings_unlinked = self.unlink_contact(ws, id);
        let outbox_records_redacted = self.redact_outbox(|r| {
            if r.workspace_id != ws {
                return false;
            }
            let mut changed = false;
            for e in &mut r.events {
                changed |= redact_event(e, id);
            }
            changed
        });
        self.put_outbox(outbox);
        Ok(EraseReport {
            bookings_unlinked,
            outbox_records_redacted,
            // Deliveries live in the webhooks fake's private state: the fake cannot reach
            // them (the DynamoDB adapter does).
            deliveries_redacted: 0,
        })
    }

    async fn scan_users(&self, ws: &str, scan: &IndexScan) -> AppResult<ScanPage> {
        let max = scan.max.clamp(1, 1000) as usize;
        Ok(self.with_ext::<UsersState, _>(|st| {
            let mut entries: Vec<(String, &User)> = st
                .users
                .range(k(ws, "")..)
                .take_while(|((w, _), _)| w == ws)
                .map(|(_, u)| u)
                .filter(|u| scan.index.holds(u))
                .map(|u| (scan.index.position(u), u))
                .filter(|(p, _)| {
                    scan.from.as_deref().is_none_or(|f| p.as_str() >= f)
                        && scan.to.as_deref().is_none_or(|t| p.as_str() < t)
                })
                .filter(|(p, _)| match scan.after.as_deref() {
                    None => true,
                    Some(a) if scan.descending => p.as_str() < a,
                    Some(a) => p.as_str() > a,
                })
                .collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            if scan.descending {
                entries.reverse();
            }
            let more = entries.len() > max;
            entries.truncate(max);
            let last = if more {
                entries.last().map(|(p, _)| p.clone())
            } else {
                None
            };
            ScanPage {
                examined: entries.len(),
                users: entries.into_iter().map(|(p, u)| (p, u.clone())).collect(),
                last,
            }
        }))
    }

    async fn count_users(&self, ws: &str) -> AppResult<u64> {
        Ok(self.with_ext::<UsersState, _>(|st| {
            st.users
                .range(k(ws, "")..)
                .take_while(|((w, _), _)| w == ws)
                .count() as u64
        }))
    }

    async fn bookings_of(&self, ws: &str, contact: &str) -> AppResult<Vec<Booking>> {
        Ok(self.bookings_of_contact(ws, contact))
    }
}

impl MemoryStore {
    /// Test hook: whether `id` was erased (its tombstone exists).
    pub fn user_tombstone(&self, ws: &str, id: &str) -> Option<String> {
        self.with_ext::<UsersState, _>(|st| st.tombstones.get(&k(ws, id)).cloned())
    }
}

#[async_trait]
impl ExportStore for MemoryStore {
    async fn create_export(&self, record: &ExportRecord) -> AppResult<()> {
        self.with_ext::<UsersState, _>(|st| {
            st.exports
                .insert(k(&record.workspace_id, &record.id), record.clone());
        });
        Ok(())
    }

    async fn get_export(&self, ws: &str, id: &str) -> AppResult<Option<ExportRecord>> {
        Ok(self.with_ext::<UsersState, _>(|st| st.exports.get(&k(ws, id)).cloned()))
    }

    async fn list_exports(
        &self,
        ws: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> AppResult<Page<ExportRecord>> {
        let after = match cursor {
            None => None,
            Some(c) => match decode_cursor(c)?.remove("id") {
                Some(id) => Some(id),
                _ => return Err(AppError::validation("cursor is invalid")),
            },
        };
        let limit = limit.clamp(1, 1000) as usize;
        let mut items: Vec<ExportRecord> = self.with_ext::<UsersState, _>(|st| {
            st.exports
                .range(k(ws, "")..)
                .take_while(|((w, _), _)| w == ws)
                .map(|(_, r)| r.clone())
                .collect()
        });
        items.sort_by(|a, b| b.id.cmp(&a.id));
        let mut page: Vec<ExportRecord> = items
            .into_iter()
            .filter(|r| after.as_deref().is_none_or(|a| r.id.as_str() < a))
            .take(limit + 1)
            .collect();
        let more = page.len() > limit;
        page.truncate(limit);
        let next_cursor = if more {
            page.last().map(|r| cursor_of(&[("id", &r.id)]))
        } else {
            None
        };
        Ok(Page {
            items: page,
            next_cursor,
        })
    }

    async fn claim_export(
        &self,
        ws: &str,
        id: &str,
        now: &str,
        now_ms: i64,
        until_ms: i64,
    ) -> AppResult<Option<ExportRecord>> {
        Ok(self.with_ext::<UsersState, _>(|st| {
            let r = st.exports.get_mut(&k(ws, id))?;
            let claimable = match r.status {
                ExportStatus::Pending => true,
                ExportStatus::Running => r.claim_until.is_none_or(|c| c < now_ms),
                ExportStatus::Done | ExportStatus::Failed => false,
            };
            if !claimable {
                return None;
            }
            r.status = ExportStatus::Running;
            r.started_at = Some(now.to_owned());
            r.claim_until = Some(until_ms);
            Some(r.clone())
        }))
    }

    async fn record_export_progress(&self, ws: &str, id: &str, rows: u64) -> AppResult<()> {
        self.with_ext::<UsersState, _>(|st| {
            if let Some(r) = st.exports.get_mut(&k(ws, id)) {
                if r.status == ExportStatus::Running {
                    r.row_count = Some(rows);
                }
            }
        });
        Ok(())
    }

    async fn finish_export(&self, record: &ExportRecord) -> AppResult<()> {
        self.create_export(record).await
    }
}

/// Objects in memory; a multipart upload becomes visible on completion, as on S3.
#[derive(Default)]
pub struct MemoryBlobStore {
    inner: Mutex<BlobState>,
}

#[derive(Default)]
struct BlobState {
    objects: HashMap<String, Vec<u8>>,
    uploads: HashMap<String, (String, BTreeMap<i32, Vec<u8>>)>,
    next: u64,
}

impl MemoryBlobStore {
    fn lock(&self) -> std::sync::MutexGuard<'_, BlobState> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn open_uploads(&self) -> usize {
        self.lock().uploads.len()
    }
}

#[async_trait]
impl BlobStore for MemoryBlobStore {
    async fn start_upload(&self, key: &str, _content_type: &str) -> AppResult<String> {
        let mut st = self.lock();
        st.next += 1;
        let id = format!("upload-{}", st.next);
        st.uploads
            .insert(id.clone(), (key.to_owned(), BTreeMap::new()));
        Ok(id)
    }

    async fn upload_part(
        &self,
        key: &str,
        upload_id: &str,
        part_number: i32,
        body: Vec<u8>,
    ) -> AppResult<String> {
        let mut st = self.lock();
        let Some((k, parts)) = st.uploads.get_mut(upload_id) else {
            return Err(AppError::internal_msg("no such upload"));
        };
        if k != key || part_number < 1 {
            return Err(AppError::internal_msg("bad part"));
        }
        let etag = shared::http::sha256_hex(&body);
        parts.insert(part_number, body);
        Ok(etag)
    }

    async fn complete_upload(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[(i32, String)],
    ) -> AppResult<()> {
        let mut st = self.lock();
        let Some((k, stored)) = st.uploads.remove(upload_id) else {
            return Err(AppError::internal_msg("no such upload"));
        };
        if k != key || parts.len() != stored.len() {
            return Err(AppError::internal_msg("parts do not match"));
        }
        let sizes: Vec<usize> = stored.values().map(Vec::len).collect();
        if sizes
            .iter()
            .take(sizes.len().saturating_sub(1))
            .any(|s| *s < 5 * 1024 * 1024)
        {
            return Err(AppError::internal_msg(
                "EntityTooSmall: a part before the last is under 5 MiB",
            ));
        }
        let body: Vec<u8> = stored.into_values().flatten().collect();
        st.objects.insert(key.to_owned(), body);
        Ok(())
    }

    async fn abort_upload(&self, _key: &str, upload_id: &str) -> AppResult<()> {
        self.lock().uploads.remove(upload_id);
        Ok(())
    }

    async fn presign_get(&self, key: &str, expires: Duration) -> AppResult<String> {
        Ok(format!(
            "memory://exports/{key}?expires={}",
            expires.as_secs()
        ))
    }

    async fn read_all(&self, key: &str) -> AppResult<Vec<u8>> {
        self.lock()
            .objects
            .get(key)
            .cloned()
            .ok_or(AppError::NotFound("export file"))
    }
}
