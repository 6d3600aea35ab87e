//! `GET /api/admin/users` and the exports' filters: parameter parsing (400 naming the
//! parameter), the index plan, and the paging engine over `UserStore::scan_users`.
//!
//! Access plan (what reads what, for a workspace of 100,000 users):
//! - `hasTag` → the tag's index partition; else `exportConsentOnly` → the consent partition;
//!   else `optedIn` → that platform's partition; else the by-created GSI. `createdAfter` /
//!   `createdBefore` are key conditions on all of these (positions start with createdAt).
//! - `sortBy=updatedAt` → the by-updated GSI; `updatedAfter` is its key condition.
//! - Everything else (`search`, `customField[...]`, a second index filter, `updatedAfter`
//!   under a created sort) is checked on the items the driving index yields: that reads more
//!   than it returns, bounded per request by [`READ_BUDGET`] (then a short page with a cursor).
//! - `sortBy=firstName|lastName` reads the whole filtered driving index and sorts in memory
//!   (a full read of the matching set; `total` is then free).

use std::collections::BTreeMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};

use super::{Includes, User, UserStore};
use crate::error::{AppError, AppResult};

mod params;

pub use params::{parse_date, parse_export_params, parse_list_params, query_pairs};

/// Items one list request may examine before it answers with what it has and a cursor.
pub const READ_BUDGET: usize = 20_000;
/// Items per store read when filters are checked after reading.
pub const SCAN_CHUNK: u32 = 1000;
/// Largest `limit` of an export.
pub const MAX_EXPORT_LIMIT: u64 = 10_000_000;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum UserIndex {
    Created,
    Updated,
    /// Lowercased tag name.
    Tag(String),
    Consent,
    OptIn(String),
}

impl UserIndex {
    /// Identifies the index inside cursors (a cursor of another query is refused).
    pub fn code(&self) -> String {
        match self {
            Self::Created => "c".into(),
            Self::Updated => "u".into(),
            Self::Tag(t) => format!("t:{t}"),
            Self::Consent => "e".into(),
            Self::OptIn(p) => format!("o:{p}"),
        }
    }

    /// The position of `user` in this index.
    pub fn position(&self, user: &User) -> String {
        match self {
            Self::Updated => user.updated_position(),
            _ => user.created_position(),
        }
    }

    /// Whether `user` has an entry in this index.
    pub fn holds(&self, user: &User) -> bool {
        match self {
            Self::Created | Self::Updated => true,
            Self::Tag(t) => user.tag_keys().contains(t),
            Self::Consent => user.export_consent.given,
            Self::OptIn(p) => user.opt_ins.get(p),
        }
    }
}

/// One read of an index: positions in `[from, to)`, strictly after `after` in the scan
/// direction, at most `max` entries.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexScan {
    pub index: UserIndex,
    pub from: Option<String>,
    pub to: Option<String>,
    pub descending: bool,
    pub after: Option<String>,
    pub max: u32,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScanPage {
    /// (position, user); entries whose user vanished meanwhile are left out.
    pub users: Vec<(String, User)>,
    /// Entries examined (≥ users.len()).
    pub examined: usize,
    /// The last examined position when more entries may follow; None at the end.
    pub last: Option<String>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub enum SortBy {
    #[default]
    CreatedAt,
    UpdatedAt,
    FirstName,
    LastName,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum SortOrder {
    Asc,
    #[default]
    Desc,
}

/// The filters shared by the list and the exports (stored in the audit record).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct UserFilter {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_after: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_before: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_after: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub has_tag: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub custom_fields: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opted_in: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search: Option<String>,
    #[serde(default)]
    pub export_consent_only: bool,
}

impl UserFilter {
    pub fn matches(&self, u: &User) -> bool {
        if let Some(a) = &self.created_after {
            if u.created_at.as_str() < a.as_str() {
                return false;
            }
        }
        if let Some(b) = &self.created_before {
            if u.created_at.as_str() >= b.as_str() {
                return false;
            }
        }
        if let Some(a) = &self.updated_after {
            if u.updated_at.as_str() < a.as_str() {
                return false;
            }
        }
        if let Some(t) = &self.has_tag {
            if !u.tag_keys().contains(&t.to_lowercase()) {
                return false;
            }
        }
        if let Some(p) = &self.opted_in {
            if !u.opt_ins.get(p) {
                return false;
            }
        }
        if self.export_consent_only && !u.export_consent.given {
            return false;
        }
        for (name, want) in &self.custom_fields {
            match u.custom_fields.get(name) {
                Some(v) if super::custom_field_text(v) == *want => {}
                _ => return false,
            }
        }
        if let Some(s) = &self.search {
            let needle = s.to_lowercase();
            let hit = [&u.first_name, &u.last_name, &u.instagram_username, &u.email]
                .into_iter()
                .flatten()
                .any(|f| f.to_lowercase().contains(&needle));
            if !hit {
                return false;
            }
        }
        true
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct UserQuery {
    pub filter: UserFilter,
    #[serde(default)]
    pub sort_by: SortBy,
    #[serde(default)]
    pub sort_order: SortOrder,
}

/// How a query reads the store.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub index: UserIndex,
    pub from: Option<String>,
    pub to: Option<String>,
    pub descending: bool,
    /// Names sort: read everything, sort in memory.
    pub in_memory_sort: bool,
    /// Every filter is answered by the index range (no item is read in vain).
    pub exact: bool,
}

impl UserQuery {
    pub fn plan(&self) -> Plan {
        let f = &self.filter;
        let descending = self.sort_order == SortOrder::Desc;
        if self.sort_by == SortBy::UpdatedAt {
            let exact = f.created_after.is_none()
                && f.created_before.is_none()
                && f.has_tag.is_none()
                && f.opted_in.is_none()
                && !f.export_consent_only
                && f.custom_fields.is_empty()
                && f.search.is_none();
            return Plan {
                index: UserIndex::Updated,
                from: f.updated_after.clone(),
                to: None,
                descending,
                in_memory_sort: false,
                exact,
            };
        }
        let mut index_filters = 0;
        let index = if let Some(t) = &f.has_tag {
            index_filters += 1;
            UserIndex::Tag(t.to_lowercase())
        } else if f.export_consent_only {
            index_filters += 1;
            UserIndex::Consent
        } else if let Some(p) = &f.opted_in {
            index_filters += 1;
            UserIndex::OptIn(p.clone())
        } else {
            UserIndex::Created
        };
        let all_index_filters = usize::from(f.has_tag.is_some())
            + usize::from(f.export_consent_only)
            + usize::from(f.opted_in.is_some());
        let exact = all_index_filters == index_filters
            && f.updated_after.is_none()
            && f.custom_fields.is_empty()
            && f.search.is_none();
        Plan {
            index,
            from: f.created_after.clone(),
            to: f.created_before.clone(),
            descending,
            in_memory_sort: matches!(self.sort_by, SortBy::FirstName | SortBy::LastName),
            exact,
        }
    }

    fn name_key(&self, u: &User) -> String {
        let v = match self.sort_by {
            SortBy::FirstName => &u.first_name,
            _ => &u.last_name,
        };
        v.as_deref().unwrap_or("").to_lowercase()
    }
}

/// `GET /api/admin/users` parameters.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ListParams {
    pub query: UserQuery,
    pub limit: u32,
    pub offset: u64,
    pub cursor: Option<String>,
    pub includes: Includes,
    pub fields: Option<Vec<String>>,
}

/// Export parameters (stored in the audit record and read by the worker).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct ExportQuery {
    pub filter: UserFilter,
    #[serde(default)]
    pub sort_by: SortBy,
    #[serde(default)]
    pub sort_order: SortOrder,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    #[serde(default)]
    pub includes: Includes,
    /// One user only (GDPR right of access, seed 001): the other filters still apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
}

impl ExportQuery {
    pub fn user_query(&self) -> UserQuery {
        UserQuery {
            filter: self.filter.clone(),
            sort_by: self.sort_by,
            sort_order: self.sort_order,
        }
    }
}

// --- cursors ------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
struct CursorState {
    /// Index code.
    x: String,
    /// Position of the last entry examined (index order).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    p: Option<String>,
    /// Name sort: (name key, id) of the last user returned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    n: Option<(String, String)>,
    /// Matches still to skip (an offset not consumed when the read budget ran out).
    #[serde(default, skip_serializing_if = "is_zero")]
    o: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn encode_cursor(c: &CursorState) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(c).unwrap_or_default())
}

fn decode_cursor(raw: &str, plan: &Plan) -> AppResult<CursorState> {
    let invalid = || AppError::validation("cursor is invalid");
    let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| invalid())?;
    let c: CursorState = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    if c.x != plan.index.code() {
        return Err(AppError::validation(
            "cursor belongs to a query with other filters or sort",
        ));
    }
    Ok(c)
}

/// A cursor that is a user id (seed 001: "cursor - user ID"): continue after that user.
async fn cursor_from_user(
    store: &dyn UserStore,
    ws: &str,
    q: &UserQuery,
    plan: &Plan,
    id: &str,
) -> AppResult<CursorState> {
    let user = store
        .get_user(ws, id)
        .await?
        .ok_or_else(|| AppError::validation("cursor names no user of this workspace"))?;
    let mut c = CursorState {
        x: plan.index.code(),
        ..CursorState::default()
    };
    if plan.in_memory_sort {
        c.n = Some((q.name_key(&user), user.id.clone()));
    } else {
        c.p = Some(plan.index.position(&user));
    }
    Ok(c)
}

// --- the engine -----------------------------------------------------------------------------------------

/// One page of the users list.
#[derive(Debug, Clone, PartialEq)]
pub struct ListPage {
    pub users: Vec<User>,
    pub next_cursor: Option<String>,
    /// Only when known without a full scan.
    pub total: Option<u64>,
}

pub async fn list_page(store: &dyn UserStore, ws: &str, p: &ListParams) -> AppResult<ListPage> {
    let plan = p.query.plan();
    let cursor = match &p.cursor {
        None => None,
        Some(c) if c.starts_with("usr_") => {
            Some(cursor_from_user(store, ws, &p.query, &plan, c).await?)
        }
        Some(c) => Some(decode_cursor(c, &plan)?),
    };
    if plan.in_memory_sort {
        return name_sorted_page(store, ws, p, &plan, cursor).await;
    }
    let unfiltered =
        plan.exact && plan.index == UserIndex::Created && plan.from.is_none() && plan.to.is_none();
    let total = if unfiltered {
        Some(store.count_users(ws).await?)
    } else {
        None
    };
    let limit = p.limit.clamp(1, 1000) as usize;
    let mut skip = cursor.as_ref().map_or(p.offset, |c| c.o);
    let mut after = cursor.and_then(|c| c.p);
    let mut users = Vec::new();
    let mut examined = 0usize;
    loop {
        let want = if plan.exact {
            (limit as u64 + 1 + skip).min(u64::from(SCAN_CHUNK)) as u32
        } else {
            SCAN_CHUNK
        };
        let page = store
            .scan_users(
                ws,
                &IndexScan {
                    index: plan.index.clone(),
                    from: plan.from.clone(),
                    to: plan.to.clone(),
                    descending: plan.descending,
                    after: after.clone(),
                    max: want,
                },
            )
            .await?;
        examined += page.examined;
        let mut entries = page.users.into_iter();
        for (pos, user) in entries.by_ref() {
            if !p.query.filter.matches(&user) {
                continue;
            }
            if skip > 0 {
                skip -= 1;
                continue;
            }
            users.push(user);
            if users.len() == limit {
                // More after this one? Look at the rest of the page first.
                let more_here = entries.any(|(_, u)| p.query.filter.matches(&u));
                let next = (more_here || page.last.is_some()).then(|| CursorState {
                    x: plan.index.code(),
                    p: Some(pos),
                    n: None,
                    o: 0,
                });
                return Ok(ListPage {
                    users,
                    next_cursor: next.as_ref().map(encode_cursor),
                    total,
                });
            }
        }
        match page.last {
            None => {
                return Ok(ListPage {
                    users,
                    next_cursor: None,
                    total,
                })
            }
            Some(last) if examined >= READ_BUDGET => {
                let c = CursorState {
                    x: plan.index.code(),
                    p: Some(last),
                    n: None,
                    o: skip,
                };
                return Ok(ListPage {
                    users,
                    next_cursor: Some(encode_cursor(&c)),
                    total,
                });
            }
            Some(last) => after = Some(last),
        }
    }
}

async fn name_sorted_page(
    store: &dyn UserStore,
    ws: &str,
    p: &ListParams,
    plan: &Plan,
    cursor: Option<CursorState>,
) -> AppResult<ListPage> {
    let mut all: Vec<(String, User)> = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .scan_users(
                ws,
                &IndexScan {
                    index: plan.index.clone(),
                    from: plan.from.clone(),
                    to: plan.to.clone(),
                    descending: false,
                    after: after.clone(),
                    max: SCAN_CHUNK,
                },
            )
            .await?;
        all.extend(
            page.users
                .into_iter()
                .filter(|(_, u)| p.query.filter.matches(u))
                .map(|(_, u)| (p.query.name_key(&u), u)),
        );
        match page.last {
            Some(l) => after = Some(l),
            None => break,
        }
    }
    all.sort_by(|(a, ua), (b, ub)| (a, &ua.id).cmp(&(b, &ub.id)));
    if plan.descending {
        all.reverse();
    }
    let total = all.len() as u64;
    let start = match cursor.as_ref().and_then(|c| c.n.clone()) {
        Some((name, id)) => all
            .iter()
            .position(|(n, u)| {
                let ord = (n, &u.id).cmp(&(&name, &id));
                if plan.descending {
                    ord.is_lt()
                } else {
                    ord.is_gt()
                }
            })
            .unwrap_or(all.len()),
        None => p.offset.min(total) as usize,
    };
    let limit = p.limit.clamp(1, 1000) as usize;
    let end = (start + limit).min(all.len());
    let next_cursor = (end < all.len()).then(|| {
        let (n, u) = &all[end - 1];
        encode_cursor(&CursorState {
            x: plan.index.code(),
            p: None,
            n: Some((n.clone(), u.id.clone())),
            o: 0,
        })
    });
    Ok(ListPage {
        users: all.drain(start..end).map(|(_, u)| u).collect(),
        next_cursor,
        total: Some(total),
    })
}

/// Reads an export's users in batches, in index order, without holding more than one batch.
pub struct UserStream {
    query: UserQuery,
    user_id: Option<String>,
    plan: Plan,
    after: Option<String>,
    done: bool,
    remaining: Option<u64>,
}

impl UserStream {
    pub fn new(q: &ExportQuery) -> Self {
        let query = q.user_query();
        let plan = query.plan();
        Self {
            query,
            user_id: q.user_id.clone(),
            plan,
            after: None,
            done: false,
            remaining: q.limit,
        }
    }

    /// The next batch of matching users (possibly empty while more follow); None at the end.
    pub async fn next_batch(
        &mut self,
        store: &dyn UserStore,
        ws: &str,
    ) -> AppResult<Option<Vec<User>>> {
        if self.done || self.remaining == Some(0) {
            return Ok(None);
        }
        if let Some(id) = &self.user_id {
            // One user by id: one read, no scan; the other filters still apply.
            self.done = true;
            let user = store.get_user(ws, id).await?;
            return Ok(Some(
                user.into_iter()
                    .filter(|u| self.query.filter.matches(u))
                    .collect(),
            ));
        }
        let page = store
            .scan_users(
                ws,
                &IndexScan {
                    index: self.plan.index.clone(),
                    from: self.plan.from.clone(),
                    to: self.plan.to.clone(),
                    descending: self.plan.descending,
                    after: self.after.take(),
                    max: SCAN_CHUNK,
                },
            )
            .await?;
        let mut users: Vec<User> = page
            .users
            .into_iter()
            .map(|(_, u)| u)
            .filter(|u| self.query.filter.matches(u))
            .collect();
        if let Some(r) = self.remaining.as_mut() {
            users.truncate((*r).min(usize::MAX as u64) as usize);
            *r -= users.len() as u64;
        }
        match page.last {
            Some(l) => self.after = Some(l),
            None => self.done = true,
        }
        Ok(Some(users))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(q: &str) -> Vec<(String, String)> {
        query_pairs(Some(q))
    }

    #[test]
    fn every_seed_parameter_parses() {
        let p = parse_list_params(&pairs(
            "limit=10&offset=5&createdAfter=2025-01-01&createdBefore=2025-02-01T00:00:00Z&\
             updatedAfter=2025-01-15&hasTag=vip&customField%5Bfavorite_drink%5D=latte&\
             optedIn=whatsapp&search=john&sortBy=lastName&sortOrder=asc&exportConsentOnly=true&\
             includeBookings=true&includeQRCodes=1&includeInteractions=false&fields=email,tags",
        ))
        .unwrap();
        assert_eq!(p.limit, 10);
        assert_eq!(p.offset, 5);
        let f = &p.query.filter;
        assert_eq!(f.created_after.as_deref(), Some("2025-01-01T00:00:00.000Z"));
        assert_eq!(
            f.created_before.as_deref(),
            Some("2025-02-01T00:00:00.000Z")
        );
        assert_eq!(
            f.custom_fields.get("favorite_drink").map(String::as_str),
            Some("latte")
        );
        assert_eq!(f.opted_in.as_deref(), Some("whatsapp"));
        assert!(f.export_consent_only);
        assert_eq!(p.query.sort_by, SortBy::LastName);
        assert_eq!(p.query.sort_order, SortOrder::Asc);
        assert!(p.includes.bookings && p.includes.qr_codes && !p.includes.interactions);
        assert_eq!(p.fields, Some(vec!["email".to_owned(), "tags".to_owned()]));
    }

    #[test]
    fn bad_values_name_the_parameter() {
        for (q, param) in [
            ("limit=0", "limit"),
            ("limit=1001", "limit"),
            ("offset=-1", "offset"),
            ("createdAfter=yesterday", "createdAfter"),
            ("createdBefore=2025-13-01", "createdBefore"),
            ("updatedAfter=x", "updatedAfter"),
            ("optedIn=fax", "optedIn"),
            ("sortBy=email", "sortBy"),
            ("sortOrder=up", "sortOrder"),
            ("exportConsentOnly=maybe", "exportConsentOnly"),
            ("includeBookings=yes", "includeBookings"),
            ("hasTag=a%23b", "hasTag"),
            ("customField%5B%5D=x", "customField[]"),
            ("fields=password", "fields"),
            ("offset=3&cursor=abc", "offset"),
            (
                "createdAfter=2025-02-01&createdBefore=2025-01-01",
                "createdBefore",
            ),
        ] {
            let err = parse_list_params(&pairs(q)).unwrap_err().to_string();
            assert!(err.starts_with(param), "{q}: {err}");
        }
        let err = parse_export_params(&pairs("limit=0"))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("limit"), "{err}");
        let err = parse_export_params(&pairs("sortBy=firstName"))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("sortBy"), "{err}");
        let (q, _) = parse_export_params(&pairs(
            "userId=usr_01ARZ3NDEKTSV4RRFFQ69G5FAV&exportConsentOnly=true",
        ))
        .unwrap();
        assert_eq!(q.user_id.as_deref(), Some("usr_01ARZ3NDEKTSV4RRFFQ69G5FAV"));
        assert!(q.filter.export_consent_only);
        let err = parse_export_params(&pairs("userId=bkg_1")).unwrap_err();
        assert!(err.to_string().contains("userId"), "{err}");
        let err = parse_export_params(&pairs("async=soon"))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("async"), "{err}");
    }

    #[test]
    fn plans_use_an_index_for_common_filters() {
        let plan = |q: &str| parse_list_params(&pairs(q)).unwrap().query.plan();
        assert_eq!(plan("").index, UserIndex::Created);
        assert!(plan("").exact);
        assert_eq!(plan("hasTag=VIP").index, UserIndex::Tag("vip".into()));
        assert!(plan("hasTag=vip&createdAfter=2025-01-01").exact);
        assert_eq!(plan("exportConsentOnly=true").index, UserIndex::Consent);
        assert_eq!(
            plan("optedIn=telegram").index,
            UserIndex::OptIn("telegram".into())
        );
        assert_eq!(
            plan("sortBy=updatedAt&updatedAfter=2025-01-01").index,
            UserIndex::Updated
        );
        assert!(plan("sortBy=updatedAt&updatedAfter=2025-01-01").exact);
        assert!(!plan("search=x").exact);
        assert!(!plan("hasTag=vip&exportConsentOnly=true").exact);
        assert!(plan("sortBy=firstName").in_memory_sort);
    }
}
