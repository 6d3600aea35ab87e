//! Prefixed, sortable, opaque ids (`bk_01J…`): a ULID (time-ordered, 128 bits) behind a
//! type prefix, so ids sort by creation time and say what they point at.

use crate::error::AppError;

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
}
