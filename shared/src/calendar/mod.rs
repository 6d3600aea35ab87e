//! GHL calendar sync (seed 002, DESIGN §4 "GHL calendar events"): calendar events, their
//! mapping to a GoHighLevel appointment, and the store port both live behind.
//!
//! - A local change always commits first: the event and its mapping are written in one
//!   transaction, the mapping moved to the event's new `revision` with `syncStatus: pending`
//!   when GHL is involved.
//! - Bringing GHL up to date is one state machine ([`plan`]) run by whoever holds the
//!   mapping's send lease (the API's inline attempt, or the delivery-queue consumer): create
//!   when no appointment exists, update when GHL holds an older revision, delete when the event
//!   is gone (or no longer an onboarding/handover event). An update or delete that arrives
//!   while the create is in flight finds the lease taken and waits for the mapping instead of
//!   creating a second appointment.
//! - Status writes are conditional on the lease and on the revision they were planned for, so
//!   a change that lands mid-call is never marked synced.

pub mod ghl;
pub mod input;
mod ports;
pub mod retries;
pub mod service;
pub mod sync;

pub use ports::*;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Event types that are sent to GHL (seed 002); others are saved as `not_applicable`.
pub const SYNCED_TYPES: [&str; 2] = ["onboarding", "handover"];

pub fn is_synced_type(event_type: &str) -> bool {
    SYNCED_TYPES
        .iter()
        .any(|t| t.eq_ignore_ascii_case(event_type.trim()))
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CalendarEvent {
    /// `cal_…`
    pub id: String,
    pub workspace_id: String,
    pub event_type: String,
    pub event_title: String,
    /// `YYYY-MM-DD`
    pub start_date: String,
    pub end_date: String,
    /// `HH:MM`
    pub start_time: String,
    pub end_time: String,
    #[serde(default)]
    pub description: Option<String>,
    /// A string or a number, sent to GHL exactly as given.
    pub client_id: Value,
    #[serde(default)]
    pub client_email: Option<String>,
    #[serde(default)]
    pub client_phone: Option<String>,
    #[serde(default)]
    pub client_name: Option<String>,
    /// 1 on create, +1 per change (PATCH, DELETE); the mapping's `version` follows it.
    pub revision: u64,
    pub created_at: String,
    pub updated_at: String,
    /// Set by DELETE: the item stays as a tombstone so the delete can be synced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<String>,
}

impl CalendarEvent {
    pub fn is_deleted(&self) -> bool {
        self.deleted_at.is_some()
    }

    /// What the API shows (`event`).
    pub fn view(&self) -> Value {
        let mut v = json!({
            "id": self.id,
            "eventType": self.event_type,
            "eventTitle": self.event_title,
            "startDate": self.start_date,
            "endDate": self.end_date,
            "startTime": self.start_time,
            "endTime": self.end_time,
            "description": self.description,
            "clientId": self.client_id,
            "clientEmail": self.client_email,
            "clientPhone": self.client_phone,
            "clientName": self.client_name,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
        });
        if let (Some(obj), Some(at)) = (v.as_object_mut(), &self.deleted_at) {
            obj.insert("deleted".into(), Value::Bool(true));
            obj.insert("deletedAt".into(), Value::String(at.clone()));
        }
        v
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum SyncStatus {
    Synced,
    Pending,
    Failed,
    NotApplicable,
}

impl SyncStatus {
    pub const ALL: [SyncStatus; 4] = [
        SyncStatus::Synced,
        SyncStatus::Pending,
        SyncStatus::Failed,
        SyncStatus::NotApplicable,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Synced => "synced",
            Self::Pending => "pending",
            Self::Failed => "failed",
            Self::NotApplicable => "not_applicable",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// The mapping local event ↔ GHL appointment (seed 002 "Mapping Reference System"), plus what
/// the sync needs to know which call comes next.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SyncMapping {
    pub sentra_event_id: String,
    pub workspace_id: String,
    #[serde(default)]
    pub ghl_appointment_id: Option<String>,
    pub sync_status: SyncStatus,
    #[serde(default)]
    pub last_sync_attempt: Option<String>,
    #[serde(default)]
    pub sync_error: Option<String>,
    /// Calls to GHL made for the current change (reset by a local change or a manual retry);
    /// a failed call that reaches 1 + retryAttempts marks the mapping `failed`.
    #[serde(default)]
    pub attempts: u32,
    pub created_at: String,
    pub updated_at: String,
    /// The event revision GHL must reach.
    pub version: u64,
    /// The event revision GHL holds (0: nothing sent successfully yet).
    #[serde(default)]
    pub synced_version: u64,
    /// The appointment was deleted in GHL (the id is kept for reference).
    #[serde(default)]
    pub ghl_deleted: bool,
    /// GHL throttled the last call (429/503 with `Retry-After`): no call before this time,
    /// whichever message comes first (the inline attempt's queued retry included).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_at: Option<String>,
}

impl SyncMapping {
    /// How long GHL's `Retry-After` still holds the next call back at `now`, while the change
    /// it was asked for is still being retried.
    pub fn throttled_for(&self, now: crate::time::Timestamp) -> Option<std::time::Duration> {
        if self.sync_status != SyncStatus::Pending || self.attempts == 0 {
            return None;
        }
        let until = crate::time::parse(self.retry_at.as_deref()?)?;
        (until - now).to_std().ok().filter(|d| !d.is_zero())
    }

    pub fn new(event: &CalendarEvent, status: SyncStatus, now: &str) -> Self {
        Self {
            sentra_event_id: event.id.clone(),
            workspace_id: event.workspace_id.clone(),
            ghl_appointment_id: None,
            sync_status: status,
            last_sync_attempt: None,
            sync_error: None,
            attempts: 0,
            created_at: now.to_owned(),
            updated_at: now.to_owned(),
            version: event.revision,
            synced_version: 0,
            ghl_deleted: false,
            retry_at: None,
        }
    }

    /// An appointment exists in GHL for this event.
    pub fn has_live_appointment(&self) -> bool {
        self.ghl_appointment_id.is_some() && !self.ghl_deleted
    }

    /// The `sync` object of event responses.
    pub fn sync_view(&self) -> Value {
        json!({
            "sentraEventId": self.sentra_event_id,
            "ghlAppointmentId": self.ghl_appointment_id,
            "syncStatus": self.sync_status.as_str(),
            "syncError": self.sync_error,
        })
    }

    /// An item of `GET /api/admin/sync-mappings`.
    pub fn view(&self) -> Value {
        json!({
            "sentraEventId": self.sentra_event_id,
            "ghlAppointmentId": self.ghl_appointment_id,
            "syncStatus": self.sync_status.as_str(),
            "lastSyncAttempt": self.last_sync_attempt,
            "syncError": self.sync_error,
            "attempts": self.attempts,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
        })
    }
}

/// The next call that brings GHL to the event's current state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncStep {
    Create,
    Update,
    Delete,
    /// GHL already holds the current state (or never needs it).
    Done,
}

impl SyncStep {
    pub fn action(self) -> &'static str {
        match self {
            Self::Create => "created",
            Self::Update => "updated",
            Self::Delete => "deleted",
            Self::Done => "done",
        }
    }
}

/// What GHL still needs for `event` given what `mapping` says it holds.
pub fn plan(event: &CalendarEvent, mapping: &SyncMapping) -> SyncStep {
    let wanted = !event.is_deleted() && is_synced_type(&event.event_type);
    match (wanted, mapping.has_live_appointment()) {
        (true, false) => SyncStep::Create,
        (true, true) if mapping.synced_version < event.revision => SyncStep::Update,
        (true, true) => SyncStep::Done,
        (false, true) => SyncStep::Delete,
        // Deleted (or never an onboarding/handover event) and nothing in GHL: nothing to send.
        (false, false) => SyncStep::Done,
    }
}

/// The status of a mapping whose plan is [`SyncStep::Done`].
pub fn done_status(event: &CalendarEvent, mapping: &SyncMapping) -> SyncStatus {
    if mapping.ghl_appointment_id.is_some() || is_synced_type(&event.event_type) {
        SyncStatus::Synced
    } else {
        SyncStatus::NotApplicable
    }
}

/// The status a local change writes: `pending` whenever GHL may be involved (the sync decides
/// under the lease whether a call is needed), `not_applicable` when the integration is missing
/// or disabled or the event never concerned GHL.
pub fn status_after_change(
    integration_enabled: bool,
    previous: Option<&CalendarEvent>,
    event: &CalendarEvent,
    mapping: Option<&SyncMapping>,
) -> SyncStatus {
    if !integration_enabled {
        return SyncStatus::NotApplicable;
    }
    let involved = is_synced_type(&event.event_type)
        || previous.is_some_and(|p| is_synced_type(&p.event_type))
        || mapping.is_some_and(|m| m.ghl_appointment_id.is_some());
    if involved {
        SyncStatus::Pending
    } else {
        SyncStatus::NotApplicable
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(event_type: &str, revision: u64) -> CalendarEvent {
        CalendarEvent {
            id: "cal_1".into(),
            workspace_id: "ws_1".into(),
            event_type: event_type.into(),
            event_title: "Onboarding Session".into(),
            start_date: "2024-01-15".into(),
            end_date: "2024-01-15".into(),
            start_time: "10:00".into(),
            end_time: "11:00".into(),
            description: None,
            client_id: json!(456),
            client_email: None,
            client_phone: None,
            client_name: None,
            revision,
            created_at: "t".into(),
            updated_at: "t".into(),
            deleted_at: None,
        }
    }

    fn mapping(appointment: Option<&str>, synced_version: u64) -> SyncMapping {
        let mut m = SyncMapping::new(&event("onboarding", 1), SyncStatus::Pending, "t");
        m.ghl_appointment_id = appointment.map(str::to_owned);
        m.synced_version = synced_version;
        m
    }

    #[test]
    fn only_onboarding_and_handover_are_synced() {
        assert!(is_synced_type("onboarding"));
        assert!(is_synced_type("Handover"));
        assert!(!is_synced_type("meeting"));
    }

    #[test]
    fn without_an_appointment_the_next_call_creates_one() {
        assert_eq!(
            plan(&event("onboarding", 1), &mapping(None, 0)),
            SyncStep::Create
        );
        // An update before the create synced folds into the one create.
        assert_eq!(
            plan(&event("onboarding", 3), &mapping(None, 0)),
            SyncStep::Create
        );
    }

    #[test]
    fn an_older_revision_in_ghl_is_updated_with_the_mapped_id() {
        assert_eq!(
            plan(&event("onboarding", 2), &mapping(Some("ghl_1"), 1)),
            SyncStep::Update
        );
        assert_eq!(
            plan(&event("onboarding", 2), &mapping(Some("ghl_1"), 2)),
            SyncStep::Done
        );
    }

    #[test]
    fn a_deleted_event_deletes_its_appointment_once() {
        let mut e = event("onboarding", 2);
        e.deleted_at = Some("t".into());
        let mut m = mapping(Some("ghl_1"), 1);
        assert_eq!(plan(&e, &m), SyncStep::Delete);
        m.ghl_deleted = true;
        m.synced_version = 2;
        assert_eq!(plan(&e, &m), SyncStep::Done);
        assert_eq!(done_status(&e, &m), SyncStatus::Synced);
        // Deleted before anything reached GHL: nothing to send.
        assert_eq!(plan(&e, &mapping(None, 0)), SyncStep::Done);
    }

    #[test]
    fn a_type_change_away_from_onboarding_removes_the_appointment() {
        assert_eq!(
            plan(&event("meeting", 2), &mapping(Some("ghl_1"), 1)),
            SyncStep::Delete
        );
        assert_eq!(
            plan(&event("meeting", 1), &mapping(None, 0)),
            SyncStep::Done
        );
        assert_eq!(
            done_status(&event("meeting", 1), &mapping(None, 0)),
            SyncStatus::NotApplicable
        );
    }

    #[test]
    fn local_changes_are_pending_only_when_ghl_is_involved() {
        let on = event("onboarding", 1);
        let other = event("meeting", 1);
        assert_eq!(
            status_after_change(true, None, &on, None),
            SyncStatus::Pending
        );
        assert_eq!(
            status_after_change(false, None, &on, None),
            SyncStatus::NotApplicable
        );
        assert_eq!(
            status_after_change(true, None, &other, None),
            SyncStatus::NotApplicable
        );
        assert_eq!(
            status_after_change(true, Some(&on), &other, None),
            SyncStatus::Pending
        );
    }

    #[test]
    fn statuses_round_trip_as_snake_case() {
        for s in SyncStatus::ALL {
            assert_eq!(SyncStatus::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), json!(s.as_str()));
        }
        assert_eq!(SyncStatus::parse("SYNCED"), None);
    }
}
