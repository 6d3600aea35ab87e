//! Provider rules as pure functions (DESIGN §4 "Event type, object type and id"):
//! - [`parse_head`]: what the receiver needs before storing — the provider's event id and the
//!   event type (what filters match). Runs after the signature check, on the verified bytes.
//! - [`map_event`]: what the worker applies — object type and id, ordering time, delete flag
//!   and the object's data, or "skip" for object types that are not kept.

use std::borrow::Cow;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

use super::domain::Source;
use super::head_scan::{scan, Found, Scan, Wanted};
use crate::error::{AppError, AppResult};

/// Stripe objects kept in the destination store; other objects are stored raw and `skipped`.
pub const STRIPE_KEPT: &[&str] = &[
    "customer",
    "subscription",
    "charge",
    "invoice",
    "product",
    "price",
];
/// Close objects kept (by the first segment of `object_type`).
pub const CLOSE_KEPT: &[&str] = &["lead", "contact", "opportunity", "activity"];
/// Largest provider object a record holds (a DynamoDB item is at most 400 KB).
pub const MAX_RECORD_BYTES: usize = 350_000;
const MAX_PROVIDER_ID_LEN: usize = 255;
const MAX_TYPE_LEN: usize = 200;

/// The provider's event id and the event type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventHead {
    pub provider_event_id: String,
    pub event_type: String,
}

#[derive(Deserialize)]
struct StripeHead<'a> {
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "type")]
    kind: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct CloseHead<'a> {
    #[serde(borrow, default)]
    event: Option<CloseEventHead<'a>>,
}

#[derive(Deserialize)]
struct CloseEventHead<'a> {
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    object_type: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    action: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct GenericHead<'a> {
    #[serde(borrow, default, rename = "type")]
    kind: Option<Cow<'a, str>>,
}

fn required(field: &str, v: Option<Cow<'_, str>>, max: usize) -> AppResult<String> {
    let v = v.ok_or_else(|| AppError::validation(format!("{field} is required")))?;
    let v = v.trim();
    if v.is_empty() || v.len() > max || v.chars().any(char::is_control) {
        return Err(AppError::validation(format!(
            "{field} must be 1 to {max} characters without control characters"
        )));
    }
    Ok(v.to_owned())
}

fn event_type(field: &str, v: Option<Cow<'_, str>>) -> AppResult<String> {
    let t = required(field, v, MAX_TYPE_LEN)?;
    if !t.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(AppError::validation(format!(
            "{field} may contain only visible ASCII characters"
        )));
    }
    Ok(t)
}

/// Reads the event id and type from a verified body. A body that is not a JSON object is
/// `invalid_json`; a missing or mistyped field is a `validation_error` naming it.
/// `webhook_id` is the `webhook-id` header (the generic source's event id).
/// The deepest nesting a stored record may reach: DynamoDB refuses items nested deeper than
/// 32 levels, and a record sits one level into its item. The receiver refuses deeper events
/// (400) so the worker never meets one it cannot store.
pub const MAX_NESTING: usize = 30;

/// How deeply the JSON text `body` nests arrays and objects (a scalar is 0, `{}` is 1);
/// brackets inside strings do not count. Stops counting past `MAX_NESTING + 1`.
pub fn nesting_depth(body: &[u8]) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    for &b in body {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                deepest = deepest.max(depth);
                if deepest > MAX_NESTING {
                    return deepest;
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// Refuses an event nested deeper than a record may be stored.
pub fn check_nesting(body: &[u8]) -> AppResult<()> {
    if nesting_depth(body) > MAX_NESTING {
        return Err(nesting_error());
    }
    Ok(())
}

fn nesting_error() -> AppError {
    AppError::validation(format!(
        "the event nests objects and arrays more than {MAX_NESTING} levels deep"
    ))
}

pub fn parse_head(source: Source, webhook_id: &str, body: &[u8]) -> AppResult<EventHead> {
    let Some(scan) = scan(body, wanted(source)) else {
        return Err(explain_parse_failure(source, body));
    };
    head_from_scan(source, webhook_id, body, &scan)
}

/// [`check_nesting`] then [`parse_head`], with the verdicts in that order, in one pass over
/// a valid body (what the receiver runs on every event).
pub fn check_and_parse_head(source: Source, webhook_id: &str, body: &[u8]) -> AppResult<EventHead> {
    let Some(scan) = scan(body, wanted(source)) else {
        check_nesting(body)?;
        return Err(explain_parse_failure(source, body));
    };
    // For valid JSON the pass counts depth exactly as `nesting_depth` does.
    if scan.depth > MAX_NESTING {
        return Err(nesting_error());
    }
    head_from_scan(source, webhook_id, body, &scan)
}

/// The members [`parse_head`] reads, per source.
fn wanted(source: Source) -> &'static Wanted {
    const STRIPE: Wanted = Wanted {
        top: &[b"id", b"type"],
        nested: None,
    };
    const CLOSE: Wanted = Wanted {
        top: &[b"event"],
        nested: Some((0, &[b"id", b"object_type", b"action"])),
    };
    const GENERIC: Wanted = Wanted {
        top: &[b"type"],
        nested: None,
    };
    match source {
        Source::Stripe => &STRIPE,
        Source::Close => &CLOSE,
        Source::Generic => &GENERIC,
    }
}

/// A found member as serde reads an `Option<Cow<str>>` (absent and `null` are `None`);
/// `Err` for anything else, which serde then reads (or refuses) itself.
fn text(body: &[u8], found: Found) -> Result<Option<Cow<'_, str>>, ()> {
    match found {
        Found::Absent | Found::Null => Ok(None),
        Found::Plain(from, to) => std::str::from_utf8(&body[from..to])
            .map(|s| Some(Cow::Borrowed(s)))
            .map_err(|_| ()),
        Found::Escaped(from, to) => serde_json::from_slice::<String>(&body[from..to])
            .map(|s| Some(Cow::Owned(s)))
            .map_err(|_| ()),
        Found::Object | Found::Array | Found::Scalar => Err(()),
    }
}

/// [`parse_head`] on a body the fast pass found valid. What it does not read plainly (a
/// mistyped or duplicated member, an escaped member name, Close's `event` as an array) goes
/// to [`parse_head_serde`], so every verdict stays serde's.
fn head_from_scan(
    source: Source,
    webhook_id: &str,
    body: &[u8],
    scan: &Scan,
) -> AppResult<EventHead> {
    let read = |found| text(body, found);
    let fields = match source {
        _ if scan.unusual => Err(()),
        Source::Stripe => read(scan.top[0]).and_then(|a| Ok([a, read(scan.top[1])?, None])),
        Source::Generic => read(scan.top[0]).map(|a| [a, None, None]),
        Source::Close => match scan.top[0] {
            Found::Absent | Found::Null => return Err(AppError::validation("event is required")),
            Found::Object => read(scan.nested[0])
                .and_then(|a| Ok([a, read(scan.nested[1])?, read(scan.nested[2])?])),
            _ => Err(()),
        },
    };
    let Ok([a, b, c]) = fields else {
        return parse_head_serde(source, webhook_id, body);
    };
    match source {
        Source::Stripe => Ok(EventHead {
            provider_event_id: required("id", a, MAX_PROVIDER_ID_LEN)?,
            event_type: event_type("type", b)?,
        }),
        Source::Close => {
            let object_type = event_type("event.object_type", b)?;
            let action = event_type("event.action", c)?;
            Ok(EventHead {
                provider_event_id: required("event.id", a, MAX_PROVIDER_ID_LEN)?,
                event_type: format!("{object_type}.{action}"),
            })
        }
        Source::Generic => Ok(EventHead {
            provider_event_id: required(
                "webhook-id header",
                Some(Cow::Borrowed(webhook_id)),
                MAX_PROVIDER_ID_LEN,
            )?,
            event_type: event_type("type", a)?,
        }),
    }
}

/// The head read by serde into typed structs: what [`parse_head`] did before the fast pass,
/// kept for the bodies that pass does not read plainly, and as the reference of its tests.
pub fn parse_head_serde(source: Source, webhook_id: &str, body: &[u8]) -> AppResult<EventHead> {
    // serde would also read a struct from a JSON array: only objects take the fast path.
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(explain_parse_failure(source, body));
    }
    let fast = match source {
        Source::Stripe => serde_json::from_slice::<StripeHead>(body).map(|h| {
            Ok(EventHead {
                provider_event_id: required("id", h.id, MAX_PROVIDER_ID_LEN)?,
                event_type: event_type("type", h.kind)?,
            })
        }),
        Source::Close => serde_json::from_slice::<CloseHead>(body).map(|h| {
            let ev = h
                .event
                .ok_or_else(|| AppError::validation("event is required"))?;
            let object_type = event_type("event.object_type", ev.object_type)?;
            let action = event_type("event.action", ev.action)?;
            Ok(EventHead {
                provider_event_id: required("event.id", ev.id, MAX_PROVIDER_ID_LEN)?,
                event_type: format!("{object_type}.{action}"),
            })
        }),
        Source::Generic => serde_json::from_slice::<GenericHead>(body).map(|h| {
            Ok(EventHead {
                provider_event_id: required(
                    "webhook-id header",
                    Some(Cow::Borrowed(webhook_id)),
                    MAX_PROVIDER_ID_LEN,
                )?,
                event_type: event_type("type", h.kind)?,
            })
        }),
    };
    match fast {
        Ok(head) => head,
        Err(_) => Err(explain_parse_failure(source, body)),
    }
}

/// The slow path of [`parse_head`]: says precisely what is wrong.
fn explain_parse_failure(source: Source, body: &[u8]) -> AppError {
    let value: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => return AppError::InvalidJson(format!("request body is not valid JSON: {e}")),
    };
    if !value.is_object() {
        return AppError::InvalidJson("request body must be a JSON object".into());
    }
    let fields: &[&str] = match source {
        Source::Stripe => &["/id", "/type"],
        Source::Close => &["/event", "/event/id", "/event/object_type", "/event/action"],
        Source::Generic => &["/type"],
    };
    for f in fields {
        match value.pointer(f) {
            Some(Value::String(_)) | None => {}
            Some(Value::Object(_)) if *f == "/event" => {}
            Some(_) => {
                let name = f.trim_start_matches('/').replace('/', ".");
                let kind = if *f == "/event" {
                    "an object"
                } else {
                    "a string"
                };
                return AppError::validation(format!("{name} must be {kind}"));
            }
        }
    }
    AppError::validation("request body does not have the expected shape")
}

/// What the worker does with an event.
#[derive(Debug, Clone, PartialEq)]
pub enum Mapping {
    /// Upsert (or, with `delete`, tombstone) the record `object_type`/`object_id`.
    Apply {
        object_type: String,
        object_id: String,
        /// Normalized ordering time (see [`normalize_time`]).
        event_created: String,
        delete: bool,
        /// The provider object (None for a delete).
        data: Option<Value>,
    },
    /// The object type is not kept: the raw event stays stored, marked `skipped`.
    Skip { object_type: Option<String> },
}

/// Maps a parsed event. `Err` is permanent (the payload itself is unusable): the event is
/// marked failed with the message, retrying cannot help.
pub fn map_event(source: Source, event_type: &str, body: &Value) -> Result<Mapping, String> {
    match source {
        Source::Stripe => map_stripe(event_type, body),
        Source::Close => map_close(body),
        Source::Generic => map_generic(event_type, body),
    }
}

fn str_at<'a>(v: &'a Value, path: &str) -> Option<&'a str> {
    v.pointer(path).and_then(Value::as_str)
}

fn id_at(v: &Value, path: &str) -> Option<String> {
    match v.pointer(path)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn check_object_id(field: &str, id: Option<String>) -> Result<String, String> {
    let id = id.ok_or_else(|| format!("{field} is missing or not a string"))?;
    if id.is_empty() || id.len() > MAX_PROVIDER_ID_LEN || id.chars().any(char::is_control) {
        return Err(format!(
            "{field} must be 1 to {MAX_PROVIDER_ID_LEN} characters without control characters"
        ));
    }
    Ok(id)
}

fn check_object_type(field: &str, t: &str) -> Result<String, String> {
    let ok = !t.is_empty()
        && t.len() <= 64
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(t.to_owned())
    } else {
        Err(format!(
            "{field} must be 1 to 64 letters, digits, '_' or '-'"
        ))
    }
}

fn checked_data(data: &Value, field: &str) -> Result<Value, String> {
    if !data.is_object() {
        return Err(format!("{field} is missing or not an object"));
    }
    let size = serde_json::to_vec(data)
        .map(|v| v.len())
        .unwrap_or(usize::MAX);
    if size > MAX_RECORD_BYTES {
        return Err(format!(
            "{field} is {size} bytes; a record holds at most {MAX_RECORD_BYTES}"
        ));
    }
    Ok(data.clone())
}

fn map_stripe(event_type: &str, body: &Value) -> Result<Mapping, String> {
    let object = body
        .pointer("/data/object")
        .filter(|o| o.is_object())
        .ok_or("data.object is missing or not an object")?;
    let object_type = str_at(object, "/object").ok_or("data.object.object is missing")?;
    if !STRIPE_KEPT.contains(&object_type) {
        return Ok(Mapping::Skip {
            object_type: Some(object_type.to_owned()),
        });
    }
    let object_id = check_object_id("data.object.id", id_at(object, "/id"))?;
    let created = body
        .get("created")
        .and_then(Value::as_i64)
        .ok_or("created is missing or not a unix timestamp")?;
    let event_created = normalize_time(&Value::from(created)).ok_or("created is out of range")?;
    // `customer.subscription.deleted` deletes the subscription; `customer.source.deleted`
    // carries a card/source and never deletes the customer.
    let segments: Vec<&str> = event_type.split('.').collect();
    let delete = segments.len() >= 2
        && segments[segments.len() - 1] == "deleted"
        && segments[segments.len() - 2] == object_type;
    Ok(Mapping::Apply {
        object_type: object_type.to_owned(),
        object_id,
        event_created,
        delete,
        data: if delete {
            None
        } else {
            Some(checked_data(object, "data.object")?)
        },
    })
}

fn map_close(body: &Value) -> Result<Mapping, String> {
    let ev = body
        .get("event")
        .filter(|e| e.is_object())
        .ok_or("event is missing or not an object")?;
    let full_type = str_at(ev, "/object_type").ok_or("event.object_type is missing")?;
    let first = full_type.split('.').next().unwrap_or_default();
    if !CLOSE_KEPT.contains(&first) {
        return Ok(Mapping::Skip {
            object_type: Some(first.to_owned()),
        });
    }
    let object_id = check_object_id(
        "event.object_id",
        id_at(ev, "/object_id").or_else(|| id_at(ev, "/data/id")),
    )?;
    let time = ev
        .get("date_updated")
        .filter(|v| !v.is_null())
        .or_else(|| ev.get("date_created"))
        .ok_or("event.date_updated and event.date_created are missing")?;
    let event_created =
        normalize_time(time).ok_or("event.date_updated/date_created is not a timestamp")?;
    let delete = str_at(ev, "/action") == Some("deleted");
    let data = if delete {
        None
    } else {
        Some(checked_data(
            ev.get("data").unwrap_or(&Value::Null),
            "event.data",
        )?)
    };
    Ok(Mapping::Apply {
        object_type: first.to_owned(),
        object_id,
        event_created,
        delete,
        data,
    })
}

fn map_generic(event_type: &str, body: &Value) -> Result<Mapping, String> {
    let first = event_type.split('.').next().unwrap_or_default();
    let object_type = check_object_type("the first segment of type", first)?;
    let object_id = check_object_id("data.id", id_at(body, "/data/id"))?;
    let time = body.get("timestamp").ok_or("timestamp is missing")?;
    let event_created = normalize_time(time).ok_or("timestamp is not a timestamp")?;
    // Standard Webhooks senders name deletions `<object>.deleted`.
    let delete = event_type.rsplit('.').next() == Some("deleted") && event_type.contains('.');
    let data = if delete {
        None
    } else {
        Some(checked_data(
            body.get("data").unwrap_or(&Value::Null),
            "data",
        )?)
    };
    Ok(Mapping::Apply {
        object_type,
        object_id,
        event_created,
        delete,
        data,
    })
}

/// An ordering time as fixed-width RFC 3339 UTC with microseconds
/// (`2019-01-01T13:33:00.842000Z`), so times also compare correctly as strings (DynamoDB
/// conditions compare strings). Accepts unix seconds (integer or fractional), RFC 3339, and
/// Close's zone-less `YYYY-MM-DDTHH:MM:SS[.ffffff]` (UTC).
pub fn normalize_time(v: &Value) -> Option<String> {
    let t: DateTime<Utc> = match v {
        Value::Number(n) => {
            if let Some(secs) = n.as_i64() {
                DateTime::from_timestamp(secs, 0)?
            } else {
                let f = n.as_f64()?;
                if !f.is_finite() {
                    return None;
                }
                let micros = (f * 1e6).round();
                if micros.abs() > 1e17 {
                    return None;
                }
                DateTime::from_timestamp_micros(micros as i64)?
            }
        }
        Value::String(s) => {
            let s = s.trim();
            match DateTime::parse_from_rfc3339(s) {
                Ok(d) => d.with_timezone(&Utc),
                Err(_) => NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
                    .ok()?
                    .and_utc(),
            }
        }
        _ => return None,
    };
    let year = chrono::Datelike::year(&t);
    if !(1..=9999).contains(&year) {
        return None;
    }
    Some(t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string())
}

#[cfg(test)]
#[path = "head_scan_tests.rs"]
mod head_scan_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_is_counted_outside_strings_only() {
        assert_eq!(nesting_depth(b"1"), 0);
        assert_eq!(nesting_depth(b"{}"), 1);
        assert_eq!(nesting_depth(br#"{"a":[{"b":[]}],"c":{}}"#), 4);
        assert_eq!(nesting_depth(br#"{"a":"[[[{{{\"[[["}"#), 1);
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(check_nesting(deep(MAX_NESTING).as_bytes()).is_ok());
        let e = check_nesting(deep(MAX_NESTING + 1).as_bytes()).unwrap_err();
        assert_eq!(e.code(), "validation_error");
        // A huge depth stops counting early.
        assert_eq!(nesting_depth(deep(100_000).as_bytes()), MAX_NESTING + 1);
    }
    use serde_json::json;

    /// (type, object, id, expected (record type, delete) or skipped)
    type Row<'a> = (&'a str, &'a str, &'a str, Option<(&'a str, bool)>);

    fn stripe(event_type: &str, object: Value) -> Value {
        json!({
            "id": "evt_1", "object": "event", "api_version": "2024-06-20", "created": 1_700_000_000,
            "data": { "object": object }, "livemode": false, "pending_webhooks": 1,
            "request": { "id": null, "idempotency_key": null }, "type": event_type,
        })
    }

    fn apply(m: Mapping) -> (String, String, bool) {
        match m {
            Mapping::Apply {
                object_type,
                object_id,
                delete,
                ..
            } => (object_type, object_id, delete),
            Mapping::Skip { object_type } => panic!("skipped {object_type:?}"),
        }
    }

    #[test]
    fn stripe_type_mapping_table() {
        // (event type, data.object.object, data.object.id) → (record type, id, delete) or skip
        let table: &[Row] = &[
            (
                "customer.created",
                "customer",
                "cus_1",
                Some(("customer", false)),
            ),
            (
                "customer.updated",
                "customer",
                "cus_1",
                Some(("customer", false)),
            ),
            (
                "customer.deleted",
                "customer",
                "cus_1",
                Some(("customer", true)),
            ),
            (
                "customer.subscription.created",
                "subscription",
                "sub_1",
                Some(("subscription", false)),
            ),
            (
                "customer.subscription.updated",
                "subscription",
                "sub_1",
                Some(("subscription", false)),
            ),
            (
                "customer.subscription.deleted",
                "subscription",
                "sub_1",
                Some(("subscription", true)),
            ),
            (
                "charge.succeeded",
                "charge",
                "ch_1",
                Some(("charge", false)),
            ),
            ("charge.refunded", "charge", "ch_1", Some(("charge", false))),
            ("invoice.paid", "invoice", "in_1", Some(("invoice", false))),
            (
                "invoice.deleted",
                "invoice",
                "in_1",
                Some(("invoice", true)),
            ),
            (
                "product.deleted",
                "product",
                "prod_1",
                Some(("product", true)),
            ),
            ("price.updated", "price", "price_1", Some(("price", false))),
            ("price.deleted", "price", "price_1", Some(("price", true))),
            // The card of a customer: never deletes the customer; cards are not kept.
            ("customer.source.deleted", "card", "card_1", None),
            ("customer.source.deleted", "source", "src_1", None),
            ("customer.discount.deleted", "discount", "di_1", None),
            ("payment_intent.succeeded", "payment_intent", "pi_1", None),
        ];
        for (ty, obj, id, expect) in table {
            let m = map_event(
                Source::Stripe,
                ty,
                &stripe(ty, json!({ "id": id, "object": obj, "email": "a@b.c" })),
            )
            .unwrap();
            match expect {
                Some((rt, del)) => {
                    assert_eq!(apply(m.clone()), ((*rt).into(), (*id).into(), *del), "{ty}");
                    if let Mapping::Apply {
                        data,
                        event_created,
                        ..
                    } = m
                    {
                        assert_eq!(data.is_none(), *del, "{ty}: a delete carries no data");
                        assert_eq!(event_created, "2023-11-14T22:13:20.000000Z");
                    }
                }
                None => assert!(matches!(m, Mapping::Skip { .. }), "{ty} must be skipped"),
            }
        }
    }

    #[test]
    fn stripe_deleted_whose_object_differs_does_not_delete() {
        // `customer.deleted` carrying something other than a customer is not a delete of it.
        let m = map_event(
            Source::Stripe,
            "customer.deleted",
            &stripe(
                "customer.deleted",
                json!({ "id": "sub_1", "object": "subscription" }),
            ),
        )
        .unwrap();
        assert_eq!(apply(m), ("subscription".into(), "sub_1".into(), false));
    }

    #[test]
    fn stripe_permanent_errors_name_the_field() {
        let e = map_event(
            Source::Stripe,
            "customer.updated",
            &json!({"id": "evt", "created": 1}),
        )
        .unwrap_err();
        assert!(e.contains("data.object"), "{e}");
        let e = map_event(
            Source::Stripe,
            "customer.updated",
            &json!({"created": 1, "data": {"object": {"object": "customer"}}}),
        )
        .unwrap_err();
        assert!(e.contains("data.object.id"), "{e}");
        let e = map_event(
            Source::Stripe,
            "customer.updated",
            &json!({"data": {"object": {"object": "customer", "id": "cus_1"}}}),
        )
        .unwrap_err();
        assert!(e.contains("created"), "{e}");
    }

    /// A real Close webhook (shape of Close's docs: the fields live on `event`).
    fn close(object_type: &str, action: &str, object_id: &str, data: Value) -> Value {
        json!({
            "subscription_id": "whsub_mBTylJxRXaBOXcuQmgUdmL",
            "event": {
                "id": "ev_4YUAT9G7PQNYEX0V7HpiZa",
                "date_created": "2019-01-01T13:33:00.842000",
                "date_updated": "2019-01-01T13:33:01.125000",
                "organization_id": "orga_XbVPx5fFbKlYTz9PW5Ih1XDhViV10YihIaEgMEb6fVW",
                "user_id": "user_MvDoZ7f3sBfGexdgA3eGSbFHinhLGrkeDrGvApqu6lD",
                "request_id": "req_4YUAT9G7PQNYEX0V7HpiZb",
                "api_key_id": null,
                "oauth_client_id": null,
                "oauth_scope": null,
                "object_type": object_type,
                "object_id": object_id,
                "lead_id": "lead_QyNaWw4fdSwxl5Mc5daMFf3Y27PpIcH0awPbC9l7uyo",
                "action": action,
                "changed_fields": [],
                "meta": { "request_path": "/api/v1/activity/note/", "request_method": "POST" },
                "data": data,
                "previous_data": {}
            }
        })
    }

    #[test]
    fn close_type_mapping_table() {
        let table: &[Row] = &[
            ("lead", "created", "lead_1", Some(("lead", false))),
            ("lead", "updated", "lead_1", Some(("lead", false))),
            ("lead", "deleted", "lead_1", Some(("lead", true))),
            ("contact", "updated", "cont_1", Some(("contact", false))),
            (
                "opportunity",
                "deleted",
                "oppo_1",
                Some(("opportunity", true)),
            ),
            (
                "activity.note",
                "created",
                "acti_1",
                Some(("activity", false)),
            ),
            (
                "activity.call",
                "updated",
                "acti_2",
                Some(("activity", false)),
            ),
            (
                "activity.email",
                "deleted",
                "acti_3",
                Some(("activity", true)),
            ),
            ("task.lead", "created", "task_1", None),
            ("custom_activity_type", "created", "actitype_1", None),
        ];
        for (ot, action, id, expect) in table {
            let body = close(ot, action, id, json!({ "id": id, "note": "hello" }));
            let head = parse_head(Source::Close, "", body.to_string().as_bytes()).unwrap();
            assert_eq!(head.event_type, format!("{ot}.{action}"));
            assert_eq!(head.provider_event_id, "ev_4YUAT9G7PQNYEX0V7HpiZa");
            let m = map_event(Source::Close, &head.event_type, &body).unwrap();
            match expect {
                Some((rt, del)) => {
                    assert_eq!(
                        apply(m.clone()),
                        ((*rt).into(), (*id).into(), *del),
                        "{ot}.{action}"
                    );
                    if let Mapping::Apply {
                        event_created,
                        data,
                        ..
                    } = m
                    {
                        assert_eq!(
                            event_created, "2019-01-01T13:33:01.125000Z",
                            "date_updated wins"
                        );
                        assert_eq!(data.is_none(), *del);
                    }
                }
                None => assert!(matches!(m, Mapping::Skip { .. }), "{ot} must be skipped"),
            }
        }
    }

    #[test]
    fn close_falls_back_to_date_created_and_data_id() {
        let mut body = close("lead", "updated", "lead_1", json!({"id": "lead_9"}));
        let ev = body["event"].as_object_mut().unwrap();
        ev.remove("date_updated");
        ev.remove("object_id");
        match map_event(Source::Close, "lead.updated", &body).unwrap() {
            Mapping::Apply {
                object_id,
                event_created,
                ..
            } => {
                assert_eq!(object_id, "lead_9");
                assert_eq!(event_created, "2019-01-01T13:33:00.842000Z");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn close_design_vector_body_parses_its_head_from_event() {
        // DESIGN §5's signature vector carries object_type/action inside data, not on event:
        // its head is therefore incomplete and says which field is missing.
        let body = br#"{"event": {"id": "ev_4YUAT9G7PQNYEX0V7HpiZa", "date_created": "2019-01-01T13:33:00.842000", "data": {"object_type": "activity.note", "action": "created", "note": "test content"}}, "subscription_id": "whsub_mBTylJxRXaBOXcuQmgUdmL"}"#;
        let e = parse_head(Source::Close, "", body).unwrap_err();
        assert!(e.to_string().contains("event.object_type"), "{e}");
    }

    #[test]
    fn generic_mapping() {
        let body = json!({"type": "user.updated", "timestamp": "2024-05-01T10:00:00Z", "data": {"id": 42, "name": "x"}});
        let head = parse_head(Source::Generic, "msg_1", body.to_string().as_bytes()).unwrap();
        assert_eq!(
            head,
            EventHead {
                provider_event_id: "msg_1".into(),
                event_type: "user.updated".into()
            }
        );
        match map_event(Source::Generic, "user.updated", &body).unwrap() {
            Mapping::Apply {
                object_type,
                object_id,
                event_created,
                delete,
                data,
            } => {
                assert_eq!(
                    (object_type.as_str(), object_id.as_str(), delete),
                    ("user", "42", false)
                );
                assert_eq!(event_created, "2024-05-01T10:00:00.000000Z");
                assert_eq!(data.unwrap()["name"], "x");
            }
            other => panic!("{other:?}"),
        }
        let del = json!({"type": "user.deleted", "timestamp": 1714557600, "data": {"id": "u1"}});
        assert_eq!(
            apply(map_event(Source::Generic, "user.deleted", &del).unwrap()),
            ("user".into(), "u1".into(), true)
        );
        let e = map_event(
            Source::Generic,
            "user.updated",
            &json!({"type": "user.updated", "data": {"id": 1}}),
        )
        .unwrap_err();
        assert!(e.contains("timestamp"), "{e}");
    }

    #[test]
    fn head_errors_are_precise() {
        assert_eq!(
            parse_head(Source::Stripe, "", b"{oops").unwrap_err().code(),
            "invalid_json"
        );
        assert_eq!(
            parse_head(Source::Stripe, "", b"[1]").unwrap_err().code(),
            "invalid_json"
        );
        let e = parse_head(Source::Stripe, "", br#"{"id": 5, "type": "x"}"#).unwrap_err();
        assert_eq!(e.code(), "validation_error");
        assert!(e.to_string().contains("id must be a string"), "{e}");
        let e = parse_head(Source::Stripe, "", br#"{"id": "evt_1"}"#).unwrap_err();
        assert!(e.to_string().contains("type is required"), "{e}");
        let e = parse_head(Source::Generic, "", br#"{"type": "a.b"}"#).unwrap_err();
        assert!(e.to_string().contains("webhook-id"), "{e}");
        let e = parse_head(
            Source::Close,
            "",
            br#"{"event": {"id": "ev_1", "object_type": "lead"}}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("event.action"), "{e}");
    }

    #[test]
    fn times_normalize_to_fixed_width_utc() {
        assert_eq!(
            normalize_time(&json!(0)).unwrap(),
            "1970-01-01T00:00:00.000000Z"
        );
        assert_eq!(
            normalize_time(&json!(1.5)).unwrap(),
            "1970-01-01T00:00:01.500000Z"
        );
        assert_eq!(
            normalize_time(&json!("2024-01-01T01:00:00+01:00")).unwrap(),
            "2024-01-01T00:00:00.000000Z"
        );
        assert_eq!(
            normalize_time(&json!("2019-01-01T13:33:00.842000")).unwrap(),
            "2019-01-01T13:33:00.842000Z"
        );
        assert_eq!(normalize_time(&json!("yesterday")), None);
        assert_eq!(normalize_time(&json!(true)), None);
        assert_eq!(normalize_time(&json!(i64::MAX)), None);
        // Fixed width: string order is time order.
        let a = normalize_time(&json!("2024-01-01T00:00:00.9Z")).unwrap();
        let b = normalize_time(&json!("2024-01-01T00:00:01Z")).unwrap();
        assert!(a < b);
    }
}
