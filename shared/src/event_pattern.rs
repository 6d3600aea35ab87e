//! Event patterns, one rule for both directions: a subscription's `events` (outbound) and a
//! sync job's `eventFilters` (inbound). `*` matches everything; `prefix.*` matches every event
//! below `prefix` at any depth; anything else matches itself exactly. Each side keeps its own
//! validation (catalog of known events outbound, free-form names inbound).

/// Whether `pattern` matches `event`: `booking.*` matches `booking.created` and
/// `booking.qr.scanned`, not `booking`, `booking.` or `bookings.created`.
pub fn matches(pattern: &str, event: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    match pattern.strip_suffix(".*") {
        Some(prefix) => event
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.len() > 1 && rest.starts_with('.')),
        None => pattern == event,
    }
}

/// `*` alone or a trailing `.*` after a non-empty prefix: the only wildcards there are.
pub fn is_wildcard(pattern: &str) -> bool {
    pattern == "*" || (pattern.len() > 2 && pattern.ends_with(".*"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn star_prefix_star_and_exact() {
        let table = [
            ("*", "anything.at.all", true),
            ("customer.*", "customer.updated", true),
            ("customer.*", "customer.subscription.deleted", true),
            ("customer.*", "customer", false),
            ("customer.*", "customer.", false),
            ("customer.*", "customers.updated", false),
            ("customer.*", "invoice.paid", false),
            ("invoice.paid", "invoice.paid", true),
            ("invoice.paid", "invoice.paid.extra", false),
            ("invoice", "invoice.paid", false),
            // A `*` that is not a trailing `.*` is no wildcard (validation refuses it anyway).
            ("inv*", "invoice.paid", false),
        ];
        for (pattern, event, expected) in table {
            assert_eq!(matches(pattern, event), expected, "{pattern} vs {event}");
        }
    }

    #[test]
    fn wildcards_are_star_or_a_trailing_dot_star() {
        for w in ["*", "a.*", "booking.qr.*"] {
            assert!(is_wildcard(w), "{w}");
        }
        for not in [".*", "a*", "a.b", "**", "*.a"] {
            assert!(!is_wildcard(not), "{not}");
        }
    }
}
