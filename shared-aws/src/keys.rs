//! Every DynamoDB key format of the single table, in one place.
//!
//! Table: `pk` (HASH) / `sk` (RANGE), sparse GSIs `gsi1` (`gsi1pk`/`gsi1sk`), `gsi2`
//! (`gsi2pk`/`gsi2sk`) and `gsi3` (`gsi3pk`/`gsi3sk`, deliveries only), TTL attribute `expires_at`. Tenant data always starts with `WS#{ws}`,
//! so a key built from another workspace's id can never reach this workspace's items.

use shared::lease::Lease;

pub const PK: &str = "pk";
pub const SK: &str = "sk";
pub const GSI1: &str = "gsi1";
pub const GSI1PK: &str = "gsi1pk";
pub const GSI1SK: &str = "gsi1sk";
pub const GSI2: &str = "gsi2";
pub const GSI2PK: &str = "gsi2pk";
pub const GSI2SK: &str = "gsi2sk";
pub const GSI3: &str = "gsi3";
pub const GSI3PK: &str = "gsi3pk";
pub const GSI3SK: &str = "gsi3sk";
pub const TTL: &str = "expires_at";

/// A full primary key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub pk: String,
    pub sk: String,
}

impl Key {
    fn new(pk: String, sk: &str) -> Self {
        Self {
            pk,
            sk: sk.to_owned(),
        }
    }
}

// --- workspaces and API keys -------------------------------------------------------------

pub fn workspace(ws: &str) -> Key {
    Key::new(format!("WS#{ws}"), "WORKSPACE")
}
/// GSI1 partition listing all workspaces (reconcile walks it).
pub const WORKSPACES_INDEX_PK: &str = "WORKSPACES";

/// The key record as listed under its workspace.
pub fn api_key(ws: &str, key_id: &str) -> Key {
    Key::new(format!("WS#{ws}"), &format!("APIKEY#{key_id}"))
}
pub const API_KEY_SK_PREFIX: &str = "APIKEY#";

/// The lookup record by SHA-256 of the key (what authentication reads).
pub fn api_key_hash(hash_hex: &str) -> Key {
    Key::new(format!("APIKEYHASH#{hash_hex}"), "APIKEYHASH")
}

// --- mock exams and bookings -------------------------------------------------------------

fn exam_pk(ws: &str, exam: &str) -> String {
    format!("WS#{ws}#EXAM#{exam}")
}

pub fn mock_exam(ws: &str, exam: &str) -> Key {
    Key::new(exam_pk(ws, exam), "EXAM")
}
/// GSI1 partition listing a workspace's exams.
pub fn exams_index_pk(ws: &str) -> String {
    format!("WS#{ws}#EXAMS")
}

/// One item per active booking, in the exam's partition: the `already_booked` guard and what
/// reconcile counts with a consistent Query.
pub fn active_booking(ws: &str, exam: &str, contact: &str) -> Key {
    Key::new(exam_pk(ws, exam), &format!("ACTIVE#{contact}"))
}
pub fn active_bookings_partition(ws: &str, exam: &str) -> String {
    exam_pk(ws, exam)
}
pub const ACTIVE_BOOKING_SK_PREFIX: &str = "ACTIVE#";

/// GSI1 partition of an exam's bookings (every status); `gsi1sk` is the booking id
/// (time-ordered).
pub fn exam_bookings_index_pk(ws: &str, exam: &str) -> String {
    format!("{}#BOOKINGS", exam_pk(ws, exam))
}

pub fn booking(ws: &str, booking: &str) -> Key {
    Key::new(format!("WS#{ws}#BOOKING#{booking}"), "BOOKING")
}

/// Counter-sync lease: at most one HubSpot sync per exam in flight.
pub fn counter_sync_lease(ws: &str, exam: &str) -> Key {
    Key::new(exam_pk(ws, exam), "LEASE#hubspot")
}

pub fn idempotency(ws: &str, scope: &str, key_hash_hex: &str) -> Key {
    Key::new(format!("WS#{ws}#IDEM#{scope}#{key_hash_hex}"), "IDEM")
}

// --- integrations ------------------------------------------------------------------------

pub fn integration(ws: &str, kind: &str) -> Key {
    Key::new(format!("WS#{ws}"), &format!("INTEGRATION#{kind}"))
}

/// Hourly attempt counters of an integration; `hour` is `YYYYMMDDHH` (UTC).
pub fn integration_stats_partition(ws: &str, kind: &str) -> String {
    format!("WS#{ws}#INTSTATS#{kind}")
}
pub fn integration_stats(ws: &str, kind: &str, hour: &str) -> Key {
    Key::new(integration_stats_partition(ws, kind), &format!("H#{hour}"))
}

// --- alerts ------------------------------------------------------------------------------

/// The debounce window of one (alert type, subject).
pub fn alert_debounce(ws: &str, kind: &str, subject: &str) -> Key {
    Key::new(format!("WS#{ws}#ALERT#{kind}#{subject}"), "DEBOUNCE")
}

/// Rejected signatures of a sync job in the window starting at `window_start` (unix seconds).
pub fn signature_failures(ws: &str, job_id: &str, window_start: i64) -> Key {
    Key::new(
        format!("WS#{ws}#SIGFAIL#{job_id}"),
        &format!("W#{window_start}"),
    )
}

// --- outbox ------------------------------------------------------------------------------

pub fn outbox(id: &str) -> Key {
    Key::new(format!("OUTBOX#{id}"), "OUTBOX")
}
/// GSI1 partition of outbox records not yet handed to SQS (sparse: removed once enqueued).
pub const OUTBOX_PENDING_INDEX_PK: &str = "OUTBOX#PENDING";

// --- outbound webhook subscriptions and deliveries ------------------------------------------

/// A subscription, in its workspace's partition (listed with a `WEBHOOK#` prefix query).
pub fn subscription(ws: &str, id: &str) -> Key {
    Key::new(format!("WS#{ws}"), &format!("WEBHOOK#{id}"))
}
pub fn subscriptions_partition(ws: &str) -> String {
    format!("WS#{ws}")
}
pub const SUBSCRIPTION_SK_PREFIX: &str = "WEBHOOK#";
/// A rate-limited subscription's pacing slot (`nextSlotUs`); its sort key is outside
/// [`SUBSCRIPTION_SK_PREFIX`], so subscription listings never see it.
pub fn subscription_pacing(ws: &str, id: &str) -> Key {
    Key::new(format!("WS#{ws}"), &format!("PACE#WEBHOOK#{id}"))
}

/// A delivery (payload, state, attempt log); SQS messages carry only (workspace, delivery id).
pub fn delivery(ws: &str, id: &str) -> Key {
    Key::new(format!("WS#{ws}#DLV#{id}"), "DELIVERY")
}
/// GSI1 partition of a subscription's deliveries; `gsi1sk` is the delivery id (time-ordered).
pub fn deliveries_index_pk(ws: &str, subscription: &str) -> String {
    format!("WS#{ws}#WH#{subscription}#DLVS")
}
/// GSI3 partition of all of a workspace's deliveries (the workspace-wide delivery log);
/// `gsi3sk` is the delivery id (time-ordered).
pub fn workspace_deliveries_index_pk(ws: &str) -> String {
    format!("WS#{ws}#DELIVERIES")
}

/// GSI2 partition of a workspace's `pending` deliveries (sparse: removed when a delivery
/// finishes); `gsi2sk` is [`pending_delivery_position`], so the overdue ones come first.
pub fn pending_deliveries_index_pk(ws: &str) -> String {
    format!("WS#{ws}#DLVS#PENDING")
}
/// `{nextAttemptAt}#{delivery id}`: ordered by when the next call is due.
pub fn pending_delivery_position(next_attempt_at: &str, id: &str) -> String {
    shared::paging::position(next_attempt_at, id)
}

// --- inbound sync jobs (seed 003) -----------------------------------------------------------

/// The job, listed under its workspace (ids are ULIDs: sk order = creation order).
pub fn sync_job(ws: &str, job: &str) -> Key {
    Key::new(format!("WS#{ws}"), &format!("SYNCJOB#{job}"))
}
pub const SYNC_JOB_SK_PREFIX: &str = "SYNCJOB#";

fn sync_job_pk(ws: &str, job: &str) -> String {
    format!("WS#{ws}#SYNCJOB#{job}")
}

/// A stored inbound event, keyed by the provider's event id: its conditional put is the
/// idempotency check. The provider id is the last component, so it cannot reach other keys.
pub fn inbound_event(ws: &str, job: &str, provider_event_id: &str) -> Key {
    Key::new(
        format!("{}#EVENT#{provider_event_id}", sync_job_pk(ws, job)),
        "EVENT",
    )
}
/// Further pieces of a raw body too large for one item, in the event's partition.
pub fn inbound_event_chunk(ws: &str, job: &str, provider_event_id: &str, index: usize) -> Key {
    let mut k = inbound_event(ws, job, provider_event_id);
    k.sk = format!("{INBOUND_EVENT_CHUNK_SK_PREFIX}{index:03}");
    k
}
pub const INBOUND_EVENT_CHUNK_SK_PREFIX: &str = "RAW#";
/// GSI1 partition of a job's events; gsi1sk = the `iev_` id (arrival order).
pub fn inbound_events_index_pk(ws: &str, job: &str) -> String {
    format!("{}#EVENTS", sync_job_pk(ws, job))
}
/// GSI2 partition of a job's events in one status; gsi2sk = the `iev_` id.
pub fn inbound_events_status_index_pk(ws: &str, job: &str, status: &str) -> String {
    format!("{}#EVSTATUS#{status}", sync_job_pk(ws, job))
}

/// A destination record (object type validated to `[A-Za-z0-9_-]`, the id comes last).
pub fn sync_record(ws: &str, job: &str, object_type: &str, object_id: &str) -> Key {
    Key::new(
        format!("{}#REC#{object_type}#{object_id}", sync_job_pk(ws, job)),
        "RECORD",
    )
}

/// The key value of a record's item in a sync job's own DynamoDB destination table (DESIGN §8),
/// stored in the job's `keyAttribute`.
pub fn destination_item(object_type: &str, object_id: &str) -> String {
    format!("{object_type}#{object_id}")
}

/// GSI1 partition of a job's records (so deleting the job can purge them); gsi1sk =
/// `{objectType}#{objectId}`.
pub fn sync_records_index_pk(ws: &str, job: &str) -> String {
    format!("{}#RECS", sync_job_pk(ws, job))
}

/// Worker executions of a job, newest last in sk order.
pub fn sync_executions_partition(ws: &str, job: &str) -> String {
    format!("{}#EXECS", sync_job_pk(ws, job))
}
pub fn sync_execution(ws: &str, job: &str, execution: &str) -> Key {
    Key::new(
        sync_executions_partition(ws, job),
        &format!("EXEC#{execution}"),
    )
}

/// A job's backfill plan (schedule, apiKey, cursor, next run), in the job's partition.
pub fn backfill_plan(ws: &str, job: &str) -> Key {
    Key::new(sync_job_pk(ws, job), "BACKFILL")
}
/// GSI2 partition of the plans that have a next run (sparse: a plan without one is not in
/// it); gsi2sk = [`backfill_due_position`], so the earliest due come first.
pub const BACKFILL_DUE_INDEX_PK: &str = "BACKFILL#DUE";
/// `{next run, unix seconds, 12 digits}#{ws}#{job}`.
pub fn backfill_due_position(next_run_at: i64, ws: &str, job: &str) -> String {
    format!("{:012}#{ws}#{job}", next_run_at.max(0))
}
/// The bound of due positions at `now`: every position of a run due at or before `now` sorts
/// below it.
pub fn backfill_due_until(now: i64) -> String {
    format!("{:012}$", now.max(0))
}
/// One backfill run per job at a time.
pub fn backfill_lease(ws: &str, job: &str) -> Key {
    Key::new(sync_job_pk(ws, job), "LEASE#backfill")
}

// --- users and exports (seed 001) -----------------------------------------------------------
// Positions in the user indexes are `{timestamp}#{userId}` (fixed-width RFC 3339 first), so a
// created/updated range is a key condition, not a filter. Index items (tag, consent, opt-in)
// are separate items written in the same transaction as the user.

pub fn user(ws: &str, id: &str) -> Key {
    Key::new(format!("WS#{ws}#USER#{id}"), "USER")
}
/// Uniqueness of an email per workspace: keyed by SHA-256 of the lowercased address.
pub fn user_email(ws: &str, email_hash_hex: &str) -> Key {
    Key::new(format!("WS#{ws}#USEREMAIL#{email_hash_hex}"), "EMAIL")
}
/// GSI1 partition of a workspace's users by creation (`gsi1sk` = position).
pub fn users_by_created_pk(ws: &str) -> String {
    format!("WS#{ws}#USERS#BYCREATED")
}
/// GSI2 partition of a workspace's users by last update (`gsi2sk` = position).
pub fn users_by_updated_pk(ws: &str) -> String {
    format!("WS#{ws}#USERS#BYUPDATED")
}
/// Index partitions (base table, sk = creation position): tag (lowercased name, no `#`),
/// export consent, opt-in platform.
pub fn user_tag_partition(ws: &str, tag_lower: &str) -> String {
    format!("WS#{ws}#TAG#{tag_lower}")
}
pub fn user_consent_partition(ws: &str) -> String {
    format!("WS#{ws}#USERS#CONSENT")
}
pub fn user_optin_partition(ws: &str, platform: &str) -> String {
    format!("WS#{ws}#USERS#OPTIN#{platform}")
}
pub fn user_index_entry(partition: String, position: &str) -> Key {
    Key::new(partition, position)
}
pub fn user_position(timestamp: &str, id: &str) -> String {
    shared::paging::position(timestamp, id)
}
/// Live user count of a workspace (`total` of the unfiltered list without a scan).
pub fn user_counter(ws: &str) -> Key {
    Key::new(format!("WS#{ws}#USERS#COUNT"), "COUNT")
}
/// GSI2 partition of the bookings whose contactId is `contact` (gsi2sk = booking id).
pub fn contact_bookings_pk(ws: &str, contact: &str) -> String {
    format!("WS#{ws}#CONTACT#{contact}")
}
/// GSI2 partition of the outbox records whose events carry user `user` (GDPR erase).
pub fn user_outbox_pk(ws: &str, user: &str) -> String {
    format!("WS#{ws}#USEROUTBOX#{user}")
}
/// The active marker of a booking whose contact was erased (`#` never occurs in contact ids,
/// so this cannot collide with a real contact's marker; still under `ACTIVE#`, so counted).
pub fn erased_active_booking(ws: &str, exam: &str, booking: &str) -> Key {
    Key::new(exam_pk(ws, exam), &format!("ACTIVE#ERASED#{booking}"))
}
/// An export's audit record (`DataExport`) and job state.
pub fn export(ws: &str, id: &str) -> Key {
    Key::new(format!("WS#{ws}#EXPORT#{id}"), "EXPORT")
}
/// GSI1 partition of a workspace's exports (gsi1sk = export id, time-ordered).
pub fn exports_index_pk(ws: &str) -> String {
    format!("WS#{ws}#EXPORTS")
}

// --- GHL calendar events and their sync mappings (seed 002) ----------------------------------

fn calendar_event_pk(ws: &str, event: &str) -> String {
    format!("WS#{ws}#CAL#{event}")
}

/// The event (a tombstone with `deletedAt` after DELETE, so its delete can still be synced).
pub fn calendar_event(ws: &str, event: &str) -> Key {
    Key::new(calendar_event_pk(ws, event), "EVENT")
}

/// Its GHL mapping, in the same partition (one transaction writes both); it also holds the
/// send lease (`leaseOwner`, `leaseUntil`): at most one call to GHL per event in flight.
pub fn sync_mapping(ws: &str, event: &str) -> Key {
    Key::new(calendar_event_pk(ws, event), "GHLMAP")
}

/// GSI1 partition of a workspace's mappings that involve GHL (all but `not_applicable`);
/// gsi1sk = the `cal_` id (creation order).
pub fn sync_mappings_index_pk(ws: &str) -> String {
    format!("WS#{ws}#GHLMAPS")
}

/// GSI2 partition of a workspace's mappings in one status; gsi2sk = the `cal_` id.
pub fn sync_mappings_status_index_pk(ws: &str, status: &str) -> String {
    format!("WS#{ws}#GHLMAPS#{status}")
}

// --- reconcile and outbox sweeper (scheduled functions) --------------------------------------

/// The sweeper's claim on re-sending one outbox record: overlapping sweeps re-send it once.
pub fn outbox_resend_lease(outbox_id: &str) -> Key {
    Key::new(format!("OUTBOX#{outbox_id}"), "LEASE#sweeper")
}

/// The sweeper's claim on re-driving one overdue `pending` webhook delivery.
pub fn delivery_redrive_lease(ws: &str, id: &str) -> Key {
    Key::new(format!("WS#{ws}#DLV#{id}"), "LEASE#sweeper")
}

/// The sweeper's claim on re-driving one stuck `pending` GHL mapping (in the event's partition).
pub fn sync_mapping_redrive_lease(ws: &str, event: &str) -> Key {
    Key::new(calendar_event_pk(ws, event), "LEASE#sweeper")
}

/// The item that holds a lease.
pub fn lease(lease: &Lease) -> Key {
    match lease {
        Lease::CounterSync { workspace, exam } => counter_sync_lease(workspace, exam),
        Lease::OutboxResend { outbox } => outbox_resend_lease(outbox),
        Lease::DeliveryRedrive {
            workspace,
            delivery,
        } => delivery_redrive_lease(workspace, delivery),
        Lease::SyncMappingRedrive { workspace, event } => {
            sync_mapping_redrive_lease(workspace, event)
        }
        Lease::Backfill { workspace, job } => backfill_lease(workspace, job),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_keys_start_with_the_workspace() {
        assert!(booking("ws_a", "bk_1").pk.starts_with("WS#ws_a#"));
        assert!(mock_exam("ws_a", "123").pk.starts_with("WS#ws_a#"));
        assert_eq!(
            active_booking("ws_a", "123", "c1").pk,
            mock_exam("ws_a", "123").pk
        );
        assert_ne!(mock_exam("ws_a", "1").pk, mock_exam("ws_b", "1").pk);
    }
}
