//! Custom headers of a subscription or a sync-job webhook destination (DESIGN §8): at most 10,
//! sent on every call beside the signature headers. One rule for both; `field` names the body
//! field in every message (`headers`, `destination.headers`).
//!
//! - Names are `[A-Za-z0-9-]{1,64}`, keep the case they were saved with and are compared
//!   case-insensitively (two names differing only in case are refused).
//! - Names the signature or the transport own are refused: `webhook-*`, `x-webhook-*`,
//!   `content-type`, `content-length`, `host`, `user-agent`.
//! - Values are secrets as often as not (API keys, bearer tokens): every read shows `"***"` and
//!   their last 4 characters only.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::error::{AppError, AppResult};

pub const MAX_HEADERS: usize = 10;
const MAX_NAME_CHARS: usize = 64;
const MAX_VALUE_CHARS: usize = 1024;
const RESERVED_PREFIXES: &[&str] = &["webhook-", "x-webhook-"];
const RESERVED_NAMES: &[&str] = &["content-type", "content-length", "host", "user-agent"];

/// Checks a subscription's `headers` object and returns it as name → value.
pub fn validate(headers: &Map<String, Value>) -> AppResult<BTreeMap<String, String>> {
    validate_field("headers", headers)
}

/// [`validate`] for the body field `field`.
pub fn validate_field(
    field: &str,
    headers: &Map<String, Value>,
) -> AppResult<BTreeMap<String, String>> {
    if headers.len() > MAX_HEADERS {
        return Err(AppError::validation(format!(
            "{field} must hold at most {MAX_HEADERS} headers"
        )));
    }
    let mut out = BTreeMap::new();
    let mut seen: Vec<String> = Vec::new();
    for (name, value) in headers {
        validate_name(field, name)?;
        let lower = name.to_ascii_lowercase();
        if seen.contains(&lower) {
            return Err(AppError::validation(format!(
                "{field}.{name}: a header of that name is given twice (names are compared ignoring case)"
            )));
        }
        seen.push(lower);
        let Value::String(value) = value else {
            return Err(AppError::validation(format!(
                "{field}.{name} must be a string"
            )));
        };
        validate_value(field, name, value)?;
        out.insert(name.clone(), value.clone());
    }
    Ok(out)
}

fn validate_name(field: &str, name: &str) -> AppResult<()> {
    let shape_ok = (1..=MAX_NAME_CHARS).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if !shape_ok {
        return Err(AppError::validation(format!(
            "{field}: {name:?} is not a valid header name (1 to {MAX_NAME_CHARS} of A-Z, a-z, 0-9 and -)"
        )));
    }
    let lower = name.to_ascii_lowercase();
    if RESERVED_NAMES.contains(&lower.as_str())
        || RESERVED_PREFIXES.iter().any(|p| lower.starts_with(p))
    {
        return Err(AppError::validation(format!(
            "{field}.{name}: this header is set by the delivery itself and cannot be overridden"
        )));
    }
    Ok(())
}

fn validate_value(field: &str, name: &str, value: &str) -> AppResult<()> {
    // Visible ASCII and spaces/tabs inside: what an HTTP header value may carry.
    let ok = value.chars().count() <= MAX_VALUE_CHARS
        && value
            .bytes()
            .all(|b| b == b'\t' || (0x20..0x7f).contains(&b))
        && value.trim() == value;
    if !ok {
        return Err(AppError::validation(format!(
            "{field}.{name} must be at most {MAX_VALUE_CHARS} printable ASCII characters without leading or trailing spaces"
        )));
    }
    Ok(())
}

/// How a value is shown on every read: `"***"` and its last 4 characters.
pub fn mask(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    let tail: String = chars[chars.len().saturating_sub(4)..].iter().collect();
    format!("***{tail}")
}

/// Custom headers as the API shows them.
pub fn masked(headers: &BTreeMap<String, String>) -> Value {
    Value::Object(
        headers
            .iter()
            .map(|(name, value)| (name.clone(), Value::String(mask(value))))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn check(v: Value) -> AppResult<BTreeMap<String, String>> {
        validate(v.as_object().unwrap())
    }

    fn message(v: Value) -> String {
        check(v).unwrap_err().to_string()
    }

    #[test]
    fn names_keep_their_case() {
        let h = check(json!({"X-Api-Key": "secret-1234", "Authorization": "Bearer abc"})).unwrap();
        assert_eq!(h["X-Api-Key"], "secret-1234");
        assert_eq!(h["Authorization"], "Bearer abc");
    }

    #[test]
    fn reserved_and_malformed_names_are_refused_by_name() {
        for name in [
            "webhook-id",
            "Webhook-Signature",
            "X-Webhook-Event",
            "Content-Type",
            "content-length",
            "HOST",
            "User-Agent",
        ] {
            let e = message(json!({ name: "v" }));
            assert!(e.contains(name), "{name}: {e}");
        }
        assert!(message(json!({"X Api": "v"})).contains("X Api"));
        assert!(message(json!({"": "v"})).contains("header name"));
        let long = "a".repeat(65);
        assert!(message(json!({ long.clone(): "v" })).contains(&long));
        assert!(check(json!({ "a".repeat(64): "v" })).is_ok());
    }

    #[test]
    fn names_differing_in_case_are_duplicates() {
        let e = message(json!({"X-Key": "a", "x-key": "b"}));
        assert!(e.contains("twice"), "{e}");
    }

    #[test]
    fn at_most_ten() {
        let many: Map<String, Value> = (0..11).map(|i| (format!("X-H{i}"), json!("v"))).collect();
        assert!(validate(&many)
            .unwrap_err()
            .to_string()
            .contains("at most 10"));
        let ten: Map<String, Value> = (0..10).map(|i| (format!("X-H{i}"), json!("v"))).collect();
        assert_eq!(validate(&ten).unwrap().len(), 10);
    }

    #[test]
    fn values_must_be_header_safe_strings() {
        assert!(message(json!({"X-A": 5})).contains("headers.X-A"));
        assert!(message(json!({"X-A": "a\nb"})).contains("headers.X-A"));
        assert!(message(json!({"X-A": " padded"})).contains("headers.X-A"));
    }

    #[test]
    fn values_are_masked_to_their_last_four() {
        assert_eq!(mask("secret-1234"), "***1234");
        assert_eq!(mask("ab"), "***ab");
        assert_eq!(mask(""), "***");
        let h = check(json!({"X-Api-Key": "secret-1234"})).unwrap();
        assert_eq!(masked(&h), json!({"X-Api-Key": "***1234"}));
    }
}
