//! Every DynamoDB key format of the single table, in one place.
//!
//! Table: `pk` (HASH) / `sk` (RANGE), sparse GSIs `gsi1` (`gsi1pk`/`gsi1sk`) and `gsi2`
//! (`gsi2pk`/`gsi2sk`), TTL attribute `expires_at`. Tenant data always starts with `WS#{ws}`,
//! so a key built from another workspace's id can never reach this workspace's items.

pub const PK: &str = "pk";
pub const SK: &str = "sk";
pub const GSI1: &str = "gsi1";
pub const GSI1PK: &str = "gsi1pk";
pub const GSI1SK: &str = "gsi1sk";
pub const GSI2: &str = "gsi2";
pub const GSI2PK: &str = "gsi2pk";
pub const GSI2SK: &str = "gsi2sk";
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

// --- outbox ------------------------------------------------------------------------------

pub fn outbox(id: &str) -> Key {
    Key::new(format!("OUTBOX#{id}"), "OUTBOX")
}
/// GSI1 partition of outbox records not yet handed to SQS (sparse: removed once enqueued).
pub const OUTBOX_PENDING_INDEX_PK: &str = "OUTBOX#PENDING";

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
