//! Prefixed, sortable, opaque ids (`bk_01J…`): a ULID (time-ordered, 128 bits) behind a
//! type prefix, so ids sort by creation time and say what they point at.
//!
//! Where ids of different kinds travel side by side (a webhook and one of its deliveries, a
//! sync job and one of its events), they are typed ([`WebhookId`], [`DeliveryId`], …): a
//! value of one kind cannot be passed where another is expected, and parsing one from a path
//! is the one place where "not one of ours" becomes `not_found` without a read. Each derefs to
//! `str`, so the stores keep taking `&str`.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{AppError, AppResult};

use ulid::Ulid;

pub const WORKSPACE: &str = "ws";
pub const API_KEY: &str = "key";
pub const BOOKING: &str = "bk";
pub const WEBHOOK: &str = "wh";
pub const EVENT: &str = "msg";
pub const DELIVERY: &str = "dlv";
pub const SYNC_JOB: &str = "job";
pub const INBOUND_EVENT: &str = "iev";
/// A run of the inbound worker over one write group.
pub const EXECUTION: &str = "jex";
pub const USER: &str = "usr";
pub const CALENDAR_EVENT: &str = "cal";
pub const EXPORT: &str = "exp";
pub const OUTBOX: &str = "obx";
pub const QR_CODE: &str = "qr";

/// A new id with the given prefix, e.g. `new_id(BOOKING)` → `bk_01JF…`.
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", Ulid::new().to_string().to_ascii_lowercase())
}

/// True when `id` has the prefix and a well-formed ULID body. Used to reject garbage ids
/// early (404 without a database read).
pub fn is_valid(prefix: &str, id: &str) -> bool {
    id.strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('_'))
        .is_some_and(|body| Ulid::from_string(&body.to_ascii_uppercase()).is_ok())
}

// --- typed ids -----------------------------------------------------------------------------

/// A typed id: `$name` holds only ids with `$prefix`; `parse` answers `not_found` naming
/// `$noun` for anything else.
macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $prefix:expr, $noun:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            /// A new id of this kind.
            #[allow(clippy::new_without_default)]
            pub fn new() -> Self {
                Self(new_id($prefix))
            }

            /// An id from a path or a body: anything that is not one of ours is not found.
            pub fn parse(s: &str) -> AppResult<Self> {
                if is_valid($prefix, s) {
                    Ok(Self(s.to_owned()))
                } else {
                    Err(AppError::NotFound($noun))
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_type!(
    /// `ws_…`
    WorkspaceId, WORKSPACE, "workspace"
);
id_type!(
    /// `key_…`
    ApiKeyId, API_KEY, "api key"
);
id_type!(
    /// `bk_…`
    BookingId, BOOKING, "booking"
);
id_type!(
    /// `wh_…`: an outbound subscription.
    WebhookId, WEBHOOK, "webhook"
);
id_type!(
    /// `dlv_…`
    DeliveryId, DELIVERY, "delivery"
);
id_type!(
    /// `job_…`
    SyncJobId, SYNC_JOB, "sync job"
);
id_type!(
    /// `iev_…`
    InboundEventId, INBOUND_EVENT, "event"
);
id_type!(
    /// `usr_…`
    UserId, USER, "user"
);
id_type!(
    /// `cal_…`
    CalendarEventId, CALENDAR_EVENT, "calendar event"
);
id_type!(
    /// `exp_…`
    ExportId, EXPORT, "export"
);

/// Ids that become part of DynamoDB keys: 1..=128 visible ASCII characters, no `#` (the key
/// separator) and no whitespace.
pub fn validate_external_id(field: &str, value: &str) -> Result<(), AppError> {
    if value.is_empty() {
        return Err(AppError::validation(format!("{field} must not be empty")));
    }
    if value.len() > 128 {
        return Err(AppError::validation(format!(
            "{field} must be at most 128 characters"
        )));
    }
    if !value.bytes().all(|b| b.is_ascii_graphic() && b != b'#') {
        return Err(AppError::validation(format!(
            "{field} may contain only visible ASCII characters other than '#'"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn external_ids_reject_key_separators() {
        assert!(validate_external_id("mockExamId", "40577087837").is_ok());
        assert!(validate_external_id("mockExamId", "a#b").is_err());
        assert!(validate_external_id("mockExamId", "").is_err());
        assert!(validate_external_id("mockExamId", "a b").is_err());
        let long = "x".repeat(129);
        let msg = validate_external_id("contactId", &long)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("contactId"));
    }

    #[test]
    fn ids_are_prefixed_and_sortable() {
        let a = new_id(BOOKING);
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = new_id(BOOKING);
        assert!(a.starts_with("bk_"));
        assert!(a < b);
        assert!(is_valid(BOOKING, &a));
        assert!(!is_valid(WEBHOOK, &a));
        assert!(!is_valid(BOOKING, "bk_not-a-ulid"));
        assert!(!is_valid(BOOKING, "bk"));
    }

    #[test]
    fn typed_ids_parse_only_their_kind() {
        let w = WebhookId::new();
        assert!(w.starts_with("wh_"));
        assert_eq!(WebhookId::parse(&w).unwrap(), w);
        let d = DeliveryId::new();
        // A delivery id is not a webhook id: not found, naming what was looked for.
        let err = WebhookId::parse(&d).unwrap_err();
        assert!(matches!(err, AppError::NotFound("webhook")), "{err:?}");
        assert!(matches!(
            DeliveryId::parse("dlv_x").unwrap_err(),
            AppError::NotFound("delivery")
        ));
        assert_eq!(
            serde_json::to_string(&w).unwrap(),
            format!("\"{}\"", w.as_str())
        );
    }
}
