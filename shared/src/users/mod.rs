//! Users (seed 001, DESIGN §4 "Users and export"): the user object, its validation, the
//! events its writes emit, the filtered listing over the store's indexes, consent-aware
//! CSV/JSON export with an audit record per export, and the GDPR erase.
//!
//! - `query/`: list parameters (every one of the seed's), the index plan and the paging
//!   engine shared by the fake and DynamoDB (both only provide `scan_users` over an index).
//! - `render.rs`: CSV/JSON rendering as pure functions.
//! - `export.rs`: the export runner (direct and as an S3 multipart job).
//! - `input.rs`: the create and PATCH bodies and their validation;
//! - `service.rs`: create, change, erase and list (the use cases of the users API);
//! - `ports.rs`: the user, export and blob stores (adapters in `shared-aws`, fakes in
//!   `shared-testkit`).

pub mod export;
mod input;
mod ports;
pub mod query;
pub mod render;
pub mod service;

pub use input::*;
pub use ports::*;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::app::App;
use crate::bookings::Booking;
use crate::outbox::{DomainEvent, OutboxRecord};

pub use query::{IndexScan, ScanPage, UserIndex};

pub const USER_CREATED: &str = "user.created";
pub const USER_UPDATED: &str = "user.updated";
pub const USER_DELETED: &str = "user.deleted";
pub const TAG_ADDED: &str = "tag.added";
pub const TAG_REMOVED: &str = "tag.removed";
pub const CUSTOMFIELD_UPDATED: &str = "customfield.updated";

/// At most this many tags per user: a PATCH replacing all of them (remove + add index items)
/// still fits one 100-item transaction.
pub const MAX_TAGS: usize = 40;
pub const MAX_CUSTOM_FIELDS: usize = 50;
pub const PLATFORMS: [&str; 4] = ["messenger", "instagram", "whatsapp", "telegram"];

// --- the user ----------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct OptIns {
    #[serde(default)]
    pub messenger: bool,
    #[serde(default)]
    pub instagram: bool,
    #[serde(default)]
    pub whatsapp: bool,
    #[serde(default)]
    pub telegram: bool,
}

impl OptIns {
    pub fn get(&self, platform: &str) -> bool {
        match platform {
            "messenger" => self.messenger,
            "instagram" => self.instagram,
            "whatsapp" => self.whatsapp,
            "telegram" => self.telegram,
            _ => false,
        }
    }

    pub fn set(&mut self, platform: &str, value: bool) {
        match platform {
            "messenger" => self.messenger = value,
            "instagram" => self.instagram = value,
            "whatsapp" => self.whatsapp = value,
            "telegram" => self.telegram = value,
            _ => {}
        }
    }

    /// The platforms opted in to, in `PLATFORMS` order.
    pub fn platforms(&self) -> Vec<&'static str> {
        PLATFORMS.into_iter().filter(|p| self.get(p)).collect()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct ExportConsent {
    #[serde(default)]
    pub given: bool,
    #[serde(default)]
    pub at: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Tag {
    pub id: String,
    pub name: String,
    pub applied_at: String,
}

impl Tag {
    /// Tags are matched case-insensitively (`hasTag=VIP` finds `vip`).
    pub fn key(&self) -> String {
        self.name.to_lowercase()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct Interactions {
    #[serde(default)]
    pub messages_count: u64,
    #[serde(default)]
    pub comments_count: u64,
    #[serde(default)]
    pub stories_count: u64,
    #[serde(default)]
    pub last_updated: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// `usr_…`
    pub id: String,
    #[serde(default)]
    pub manychat_id: Option<String>,
    #[serde(default)]
    pub instagram_username: Option<String>,
    #[serde(default)]
    pub instagram_id: Option<String>,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    /// As given; when absent the view derives it from first and last name.
    #[serde(default)]
    pub full_name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub whatsapp_phone: Option<String>,
    #[serde(default)]
    pub gender: Option<String>,
    #[serde(default)]
    pub locale: Option<String>,
    #[serde(default)]
    pub timezone: Option<String>,
    #[serde(default)]
    pub profile_pic: Option<String>,
    #[serde(default)]
    pub opt_ins: OptIns,
    #[serde(default)]
    pub export_consent: ExportConsent,
    #[serde(default)]
    pub tags: Vec<Tag>,
    /// Scalar values (string, number, boolean) as given.
    #[serde(default)]
    pub custom_fields: BTreeMap<String, Value>,
    #[serde(default)]
    pub interactions: Interactions,
    #[serde(default)]
    pub subscribed_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    /// Optimistic concurrency of PATCH/DELETE.
    #[serde(default)]
    pub version: i64,
}

/// What a view may add to the user object (`include*` parameters).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct Includes {
    #[serde(default)]
    pub bookings: bool,
    #[serde(default)]
    pub qr_codes: bool,
    #[serde(default)]
    pub interactions: bool,
    #[serde(default)]
    pub conversations: bool,
}

impl Includes {
    pub fn needs_bookings(&self) -> bool {
        self.bookings || self.qr_codes
    }
}

/// Keys of the user object, in the seed's order (what `fields=` may name).
pub const VIEW_FIELDS: &[&str] = &[
    "id",
    "manychatId",
    "instagramUsername",
    "instagramId",
    "firstName",
    "lastName",
    "fullName",
    "email",
    "phone",
    "whatsappPhone",
    "gender",
    "locale",
    "timezone",
    "profilePic",
    "optIns",
    "exportConsent",
    "tags",
    "customFields",
    "interactions",
    "stats",
    "timestamps",
    "bookings",
    "qrCodes",
    "conversations",
];

impl User {
    /// `fullName` as given, else first and last name joined.
    pub fn display_full_name(&self) -> Option<String> {
        if let Some(f) = &self.full_name {
            return Some(f.clone());
        }
        let parts: Vec<&str> = [&self.first_name, &self.last_name]
            .into_iter()
            .filter_map(|p| p.as_deref())
            .filter(|p| !p.is_empty())
            .collect();
        (!parts.is_empty()).then(|| parts.join(" "))
    }

    pub fn interactions_view(&self) -> Value {
        let i = &self.interactions;
        json!({
            "messagesCount": i.messages_count,
            "commentsCount": i.comments_count,
            "storiesCount": i.stories_count,
            "totalCount": i.messages_count + i.comments_count + i.stories_count,
            "lastUpdated": i.last_updated,
        })
    }

    /// The seed's user object. `bookings` (when read) fills `stats`; without them the booking
    /// statistics are null (unknown), never a made-up 0.
    pub fn view(&self, bookings: Option<&[Booking]>, with_interactions: bool) -> Value {
        let stats = match bookings {
            Some(b) => json!({
                "bookingsCount": b.len(),
                "qrScansCount": b.iter().filter(|b| b.qr_code.scanned_at.is_some()).count(),
                "conversationsCount": 0,
                "lastBooking": b.iter().map(|b| b.created_at.as_str()).max(),
                "lastSynced": Value::Null,
            }),
            None => json!({
                "bookingsCount": Value::Null,
                "qrScansCount": Value::Null,
                "conversationsCount": Value::Null,
                "lastBooking": Value::Null,
                "lastSynced": Value::Null,
            }),
        };
        let mut v = json!({
            "id": self.id,
            "manychatId": self.manychat_id,
            "instagramUsername": self.instagram_username,
            "instagramId": self.instagram_id,
            "firstName": self.first_name,
            "lastName": self.last_name,
            "fullName": self.display_full_name(),
            "email": self.email,
            "phone": self.phone,
            "whatsappPhone": self.whatsapp_phone,
            "gender": self.gender,
            "locale": self.locale,
            "timezone": self.timezone,
            "profilePic": self.profile_pic,
            "optIns": self.opt_ins,
            "exportConsent": self.export_consent,
            "tags": self.tags,
            "customFields": self.custom_fields,
            "stats": stats,
            "timestamps": {
                "subscribedAt": self.subscribed_at,
                "createdAt": self.created_at,
                "updatedAt": self.updated_at,
            },
        });
        if with_interactions {
            v["interactions"] = self.interactions_view();
        }
        v
    }

    /// The object of single-user responses and events: everything, interactions included.
    pub fn full_view(&self, bookings: Option<&[Booking]>) -> Value {
        self.view(bookings, true)
    }

    /// A view with the requested related data (lists and JSON exports).
    pub fn view_with(&self, includes: Includes, bookings: Option<&[Booking]>) -> Value {
        let mut v = self.view(bookings, includes.interactions);
        if let Some(b) = bookings {
            if includes.bookings {
                v["bookings"] = json!(b);
            }
            if includes.qr_codes {
                v["qrCodes"] = json!(b
                    .iter()
                    .map(|b| json!({"bookingId": b.id, "qrCode": b.qr_code}))
                    .collect::<Vec<_>>());
            }
        }
        if includes.conversations {
            // This system stores no AI conversations: the list is honest and empty.
            v["conversations"] = json!([]);
        }
        v
    }

    pub fn email_key(&self) -> Option<String> {
        self.email.as_deref().map(email_key)
    }

    pub fn tag_keys(&self) -> BTreeSet<String> {
        self.tags.iter().map(Tag::key).collect()
    }

    pub fn created_position(&self) -> String {
        crate::paging::position(&self.created_at, &self.id)
    }

    pub fn updated_position(&self) -> String {
        crate::paging::position(&self.updated_at, &self.id)
    }
}

/// Keeps only the `fields` of a view (`id` always stays).
pub fn select_fields(view: Value, fields: &[String]) -> Value {
    match view {
        Value::Object(mut map) => {
            let mut out = Map::new();
            if let Some(id) = map.remove("id") {
                out.insert("id".to_owned(), id);
            }
            for f in fields {
                if let Some(v) = map.remove(f) {
                    out.insert(f.clone(), v);
                }
            }
            Value::Object(out)
        }
        other => other,
    }
}

/// SHA-256 (hex) of the lowercased address: the uniqueness key (no address in any key).
pub fn email_key(email: &str) -> String {
    crate::http::sha256_hex(email.trim().to_lowercase().as_bytes())
}

// --- events --------------------------------------------------------------------------------------

/// `{field: {old, new}}` of the user object's fields that differ (tags by name).
pub fn changes(old: &User, new: &User) -> Map<String, Value> {
    let (a, b) = (old.full_view(None), new.full_view(None));
    let mut out = Map::new();
    for key in VIEW_FIELDS {
        if matches!(
            *key,
            "id" | "stats" | "timestamps" | "interactions" | "tags"
        ) {
            continue;
        }
        let (x, y) = (a.get(*key), b.get(*key));
        if x != y {
            out.insert(
                (*key).to_owned(),
                json!({"old": x.cloned().unwrap_or(Value::Null), "new": y.cloned().unwrap_or(Value::Null)}),
            );
        }
    }
    let names = |u: &User| u.tags.iter().map(|t| t.name.clone()).collect::<Vec<_>>();
    if names(old) != names(new) {
        out.insert("tags".into(), json!({"old": names(old), "new": names(new)}));
    }
    if old.interactions != new.interactions {
        out.insert(
            "interactions".into(),
            json!({"old": old.interactions_view(), "new": new.interactions_view()}),
        );
    }
    out
}

pub fn created_event(user: &User, now: &str) -> DomainEvent {
    DomainEvent::new(USER_CREATED, json!({ "user": user.full_view(None) }), now)
}

/// `user.updated` (when anything changed) plus one `tag.added` / `tag.removed` per tag and
/// one `customfield.updated` per changed field.
pub fn update_events(old: &User, new: &User, now: &str) -> Vec<DomainEvent> {
    let ch = changes(old, new);
    if ch.is_empty() {
        return Vec::new();
    }
    let view = new.full_view(None);
    let mut events = vec![DomainEvent::new(
        USER_UPDATED,
        json!({ "user": view, "changes": ch }),
        now,
    )];
    let (ok, nk) = (old.tag_keys(), new.tag_keys());
    for t in &new.tags {
        if !ok.contains(&t.key()) {
            events.push(DomainEvent::new(
                TAG_ADDED,
                json!({"user": view, "tag": t}),
                now,
            ));
        }
    }
    for t in &old.tags {
        if !nk.contains(&t.key()) {
            events.push(DomainEvent::new(
                TAG_REMOVED,
                json!({"user": view, "tag": t}),
                now,
            ));
        }
    }
    let names: BTreeSet<&String> = old
        .custom_fields
        .keys()
        .chain(new.custom_fields.keys())
        .collect();
    for name in names {
        let (o, n) = (old.custom_fields.get(name), new.custom_fields.get(name));
        if o != n {
            events.push(DomainEvent::new(
                CUSTOMFIELD_UPDATED,
                json!({"user": view, "field": {"name": name, "old": o, "new": n}}),
                now,
            ));
        }
    }
    events
}

pub fn deleted_event(user_id: &str, now: &str) -> DomainEvent {
    DomainEvent::new(USER_DELETED, json!({ "user": { "id": user_id } }), now)
}

pub fn outbox_with(workspace_id: &str, events: Vec<DomainEvent>, now: &str) -> OutboxRecord {
    let mut r = OutboxRecord::new(workspace_id, now);
    r.events = events;
    r
}

/// The user an outbox record's events carry (`data.user.id`), if any: such records are
/// indexed under that user so an erase can find and redact them.
pub fn outbox_user(record: &OutboxRecord) -> Option<&str> {
    record
        .events
        .iter()
        .find_map(|e| e.data.get("user")?.get("id")?.as_str())
}

/// Removes user `user_id`'s personal data from an event: user/tag/custom-field events keep
/// only `{user:{id}}`; other events keep their data with `user` reduced to `{id}` and the
/// booking's `contactId` removed. Returns whether anything changed.
pub fn redact_event(event: &mut DomainEvent, user_id: &str) -> bool {
    let carries = event
        .data
        .get("user")
        .and_then(|u| u.get("id"))
        .and_then(Value::as_str)
        == Some(user_id);
    let contact = event
        .data
        .get("booking")
        .and_then(|b| b.get("contactId"))
        .and_then(Value::as_str)
        == Some(user_id);
    if !carries && !contact {
        return false;
    }
    let user_scoped = ["user.", "tag.", "customfield."]
        .iter()
        .any(|p| event.event_type.starts_with(p));
    if user_scoped {
        event.data = json!({ "user": { "id": user_id } });
    } else {
        if carries {
            event.data["user"] = json!({ "id": user_id });
        }
        if let Some(b) = event.data.get_mut("booking").and_then(Value::as_object_mut) {
            if b.get("contactId").and_then(Value::as_str) == Some(user_id) {
                b.insert("contactId".into(), Value::Null);
            }
        }
    }
    true
}

// --- exports ------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    Csv,
    Json,
}

impl ExportFormat {
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Csv => "text/csv; charset=utf-8",
            Self::Json => "application/json",
        }
    }
    pub fn extension(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Json => "json",
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ExportStatus {
    Pending,
    Running,
    Done,
    Failed,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ExportMode {
    /// Answered in the response body.
    Direct,
    /// Written to S3 by the export worker.
    Job,
}

/// The audit record of one export (`DataExport`) and, for jobs, the job's state.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ExportRecord {
    /// `exp_…`
    pub id: String,
    pub workspace_id: String,
    /// The API key that asked for it (who exported).
    pub api_key_id: String,
    pub format: ExportFormat,
    pub mode: ExportMode,
    pub status: ExportStatus,
    /// CSV columns, or the JSON user object's keys.
    pub fields: Vec<String>,
    /// The filters and options as parsed (what was exported).
    pub query: query::ExportQuery,
    #[serde(default)]
    pub row_count: Option<u64>,
    /// SHA-256 (hex) of the exact bytes served or stored.
    #[serde(default)]
    pub sha256: Option<String>,
    #[serde(default)]
    pub bytes: Option<u64>,
    #[serde(default)]
    pub object_key: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
    pub created_at: String,
    #[serde(default)]
    pub started_at: Option<String>,
    #[serde(default)]
    pub completed_at: Option<String>,
    /// Unix ms until which a worker holds the job (a crashed worker's claim runs out).
    #[serde(default)]
    pub claim_until: Option<i64>,
}

impl ExportRecord {
    /// The filters as exported; a one-user export (right of access) names its `userId`.
    fn filters_view(&self) -> serde_json::Value {
        let mut f = json!(self.query.filter);
        if let Some(id) = &self.query.user_id {
            f["userId"] = json!(id);
        }
        f
    }

    pub fn view(&self, download_url: Option<String>) -> Value {
        json!({
            "id": self.id,
            "status": self.status,
            "format": self.format,
            "mode": self.mode,
            "rowCount": self.row_count,
            "sha256": self.sha256,
            "bytes": self.bytes,
            "downloadUrl": download_url,
            "error": self.error,
            "apiKeyId": self.api_key_id,
            "fields": self.fields,
            "filters": self.filters_view(),
            "includes": self.query.includes,
            "limit": self.query.limit,
            "createdAt": self.created_at,
            "startedAt": self.started_at,
            "completedAt": self.completed_at,
        })
    }
}

/// The body of an export-queue message (ids only).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ExportMessage {
    pub workspace_id: String,
    pub export_id: String,
}

// --- for other areas -----------------------------------------------------------------------------

/// The user whose id is `contact_id`, as booking and QR events carry it (`user` of
/// `booking.created`, `qr.scanned`, `qr.validated`); None when no such user exists (or the
/// read failed: an event is never blocked by it, the failure is logged).
pub async fn user_snapshot(app: &App, ws: &str, contact_id: &str) -> Option<Value> {
    if !crate::ids::is_valid(crate::ids::USER, contact_id) {
        return None;
    }
    match app.users.get_user(ws, contact_id).await {
        Ok(u) => u.map(|u| u.full_view(None)),
        Err(e) => {
            tracing::warn!(error = %e.log_detail(), "could not read the booking's user");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(v: Value) -> UserInput {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn emails_are_validated() {
        for ok in ["a@b.co", "John.Doe+x@example.com", "ü@bücher.de"] {
            assert!(validate_email(ok).is_ok(), "{ok}");
        }
        for bad in [
            "", "a", "a@b", "a@@b.co", "a b@c.co", "@b.co", "a@-b.co", "a@b..co",
        ] {
            assert!(validate_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn email_key_is_case_insensitive() {
        assert_eq!(
            email_key("John@Example.com"),
            email_key(" john@example.COM ")
        );
    }

    #[test]
    fn create_needs_an_identifying_field_and_sets_consent_time() {
        assert!(input(json!({"gender": "x"})).create("t").is_err());
        let u = input(json!({"email": "a@b.co", "exportConsent": {"given": true}}))
            .create("2026-01-01T00:00:00.000Z")
            .unwrap();
        assert_eq!(
            u.export_consent.at.as_deref(),
            Some("2026-01-01T00:00:00.000Z")
        );
        assert!(u.id.starts_with("usr_"));
    }

    #[test]
    fn patch_distinguishes_absent_from_null() {
        let mut u = input(json!({"email": "a@b.co", "firstName": "Ann", "phone": "+1 555"}))
            .create("t")
            .unwrap();
        input(json!({"firstName": null}))
            .apply(&mut u, "t2")
            .unwrap();
        assert_eq!(u.first_name, None);
        assert_eq!(u.phone.as_deref(), Some("+1 555"));
    }

    #[test]
    fn bad_fields_are_named() {
        let err = input(json!({"email": "a@b.co", "customFields": {"x": {"a": 1}}}))
            .create("t")
            .unwrap_err()
            .to_string();
        assert!(err.contains("customFields.x"), "{err}");
        let err = input(json!({"email": "a@b.co", "tags": ["ok", "a#b"]}))
            .create("t")
            .unwrap_err()
            .to_string();
        assert!(err.contains("tags[1]"), "{err}");
        let err = input(json!({"phone": "call me"}))
            .create("t")
            .unwrap_err()
            .to_string();
        assert!(err.contains("phone"), "{err}");
    }

    #[test]
    fn update_events_cover_tags_and_custom_fields() {
        let old = input(
            json!({"email": "a@b.co", "tags": ["vip", "old"], "customFields": {"drink": "latte"}}),
        )
        .create("t1")
        .unwrap();
        let mut new = old.clone();
        input(json!({"tags": ["VIP", "new"], "customFields": {"drink": "tea", "n": 3}}))
            .apply(&mut new, "t2")
            .unwrap();
        let types: Vec<String> = update_events(&old, &new, "t2")
            .into_iter()
            .map(|e| e.event_type)
            .collect();
        assert_eq!(
            types,
            [
                USER_UPDATED,
                TAG_ADDED,
                TAG_REMOVED,
                CUSTOMFIELD_UPDATED,
                CUSTOMFIELD_UPDATED
            ]
        );
        assert!(update_events(&old, &old, "t3").is_empty());
    }

    #[test]
    fn redaction_keeps_only_the_id() {
        let u = input(json!({"email": "secret@b.co"})).create("t").unwrap();
        let mut e = created_event(&u, "t");
        assert!(redact_event(&mut e, &u.id));
        assert_eq!(e.data, json!({"user": {"id": u.id}}));
        let mut other = DomainEvent::new(
            "booking.created",
            json!({"booking": {"contactId": u.id}, "user": u.full_view(None)}),
            "t",
        );
        assert!(redact_event(&mut other, &u.id));
        assert!(!other.data.to_string().contains("secret@b.co"));
        assert_eq!(other.data["booking"]["contactId"], Value::Null);
    }
}
