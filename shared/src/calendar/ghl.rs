//! The GHL webhook exchange of seed 002, as pure functions: the payload sent for a step and
//! the reading of GHL's answer. Only `{"success":true, …}` counts as success (plus an
//! `appointment_id` for a create); `{"success":false,"error","error_code"}`, any other body,
//! a non-2xx status or a timeout is a failure with a reason for `syncError`.

use serde_json::{json, Value};

use super::{CalendarEvent, SyncMapping, SyncStep};
use crate::outbound::{Attempt, AttemptOutcome};

/// `event_type` of the payload (also the `X-Webhook-Event` header).
pub fn event_type(step: SyncStep) -> &'static str {
    match step {
        SyncStep::Create => "calendar_event_created",
        SyncStep::Update => "calendar_event_updated",
        SyncStep::Delete | SyncStep::Done => "calendar_event_deleted",
    }
}

/// `event_data` of created/updated payloads: every field of seed 002, absent ones as null.
pub fn event_data(event: &CalendarEvent) -> Value {
    json!({
        "sentra_event_id": event.id,
        "client_id": event.client_id,
        "client_email": event.client_email,
        "client_phone": event.client_phone,
        "client_name": event.client_name,
        "event_title": event.event_title,
        "event_type": event.event_type,
        "start_date": event.start_date,
        "end_date": event.end_date,
        "start_time": event.start_time,
        "end_time": event.end_time,
        "description": event.description,
        "created_at": event.created_at,
        "updated_at": event.updated_at,
    })
}

/// The body sent to GHL for `step` (seed 002 "Webhook Payload Structure"). A create's
/// reference is `pending` without an appointment id; updates and deletes carry the mapped id
/// of the synced reference.
pub fn payload(step: SyncStep, event: &CalendarEvent, mapping: &SyncMapping) -> Value {
    let mapped_reference = || {
        json!({
            "sentra_event_id": event.id,
            "ghl_appointment_id": mapping.ghl_appointment_id,
            "sync_status": "synced",
        })
    };
    match step {
        SyncStep::Create => json!({
            "event_type": event_type(step),
            "event_data": event_data(event),
            "reference_mapping": { "sentra_event_id": event.id, "sync_status": "pending" },
        }),
        SyncStep::Update => json!({
            "event_type": event_type(step),
            "event_data": event_data(event),
            "reference_mapping": mapped_reference(),
        }),
        SyncStep::Delete | SyncStep::Done => json!({
            "event_type": event_type(SyncStep::Delete),
            "event_data": { "sentra_event_id": event.id },
            "reference_mapping": mapped_reference(),
        }),
    }
}

/// The `webhook-id` of a step: stable across retries of the same step and revision.
pub fn delivery_id(event: &CalendarEvent, step: SyncStep) -> String {
    format!("{}-{}-r{}", event.id, step.action(), event.revision)
}

/// Reads GHL's answer: `Ok(appointment id)` (always `Some` for a create), or the reason the
/// call failed, for `syncError`.
pub fn read_reply(step: SyncStep, attempt: &Attempt) -> Result<Option<String>, String> {
    if attempt.outcome != AttemptOutcome::Success {
        let message = match (&attempt.error, attempt.status_code) {
            (Some(e), _) => e.clone(),
            (None, Some(code)) => format!("http status {code}"),
            (None, None) => "request failed".to_owned(),
        };
        return Err(match attempt.retry_after() {
            Some(wait) => format!("{message} (Retry-After {} s)", wait.as_secs()),
            None => message,
        });
    }
    let status = attempt.status_code.unwrap_or(200);
    let Ok(body) = serde_json::from_str::<Value>(&attempt.response_body) else {
        return Err(format!(
            "GHL answered {status} with a body that is not JSON: {}",
            excerpt(&attempt.response_body)
        ));
    };
    match body.get("success") {
        Some(Value::Bool(true)) => {}
        Some(Value::Bool(false)) => return Err(rejection(&body)),
        _ => {
            return Err(format!(
                "GHL answered {status} without \"success\":true: {}",
                excerpt(&attempt.response_body)
            ))
        }
    }
    let appointment_id = match body.get("appointment_id") {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    if step == SyncStep::Create && appointment_id.is_none() {
        return Err(format!(
            "GHL answered success without an appointment_id: {}",
            excerpt(&attempt.response_body)
        ));
    }
    Ok(appointment_id)
}

/// `"<error_code>: <error>"` of a `{"success":false,…}` answer.
fn rejection(body: &Value) -> String {
    let text = |k: &str| match body.get(k) {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Some(Value::Null) | None => None,
        Some(other) => Some(other.to_string()),
    };
    match (text("error_code"), text("error")) {
        (Some(code), Some(error)) => format!("{code}: {error}"),
        (Some(code), None) => code,
        (None, Some(error)) => error,
        (None, None) => "GHL answered \"success\":false without an error".to_owned(),
    }
}

/// The start of a body for an error message (bodies are already capped at 1 KiB).
fn excerpt(body: &str) -> String {
    const MAX: usize = 200;
    let trimmed = body.trim();
    if trimmed.is_empty() {
        return "(empty)".to_owned();
    }
    match trimmed.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}…", &trimmed[..i]),
        None => trimmed.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::SyncStatus;

    fn seed_event() -> CalendarEvent {
        CalendarEvent {
            id: "123".into(),
            workspace_id: "ws_1".into(),
            event_type: "onboarding".into(),
            event_title: "Onboarding Session".into(),
            start_date: "2024-01-15".into(),
            end_date: "2024-01-15".into(),
            start_time: "10:00".into(),
            end_time: "11:00".into(),
            description: Some("Initial client onboarding".into()),
            client_id: json!(456),
            client_email: Some("client@example.com".into()),
            client_phone: Some("+1234567890".into()),
            client_name: Some("Client Business Name".into()),
            revision: 1,
            created_at: "2024-01-15T09:00:00Z".into(),
            updated_at: "2024-01-15T09:00:00Z".into(),
            deleted_at: None,
        }
    }

    fn answered(status: u16, body: &str) -> Attempt {
        Attempt {
            status_code: Some(status),
            duration_ms: 5,
            response_body: body.to_owned(),
            error: (!(200..300).contains(&status)).then(|| format!("http status {status}")),
            outcome: if (200..300).contains(&status) {
                AttemptOutcome::Success
            } else {
                AttemptOutcome::Failure
            },
            retry_after_ms: None,
        }
    }

    #[test]
    fn the_created_payload_is_seed_002_exactly() {
        let e = seed_event();
        let m = SyncMapping::new(&e, SyncStatus::Pending, "t");
        assert_eq!(
            payload(SyncStep::Create, &e, &m),
            json!({
              "event_type": "calendar_event_created",
              "event_data": {
                "sentra_event_id": "123",
                "client_id": 456,
                "client_email": "client@example.com",
                "client_phone": "+1234567890",
                "client_name": "Client Business Name",
                "event_title": "Onboarding Session",
                "event_type": "onboarding",
                "start_date": "2024-01-15",
                "end_date": "2024-01-15",
                "start_time": "10:00",
                "end_time": "11:00",
                "description": "Initial client onboarding",
                "created_at": "2024-01-15T09:00:00Z",
                "updated_at": "2024-01-15T09:00:00Z"
              },
              "reference_mapping": { "sentra_event_id": "123", "sync_status": "pending" }
            })
        );
    }

    #[test]
    fn updated_and_deleted_payloads_carry_the_mapped_appointment_id() {
        let mut e = seed_event();
        e.client_id = json!("c-9");
        let mut m = SyncMapping::new(&e, SyncStatus::Pending, "t");
        m.ghl_appointment_id = Some("ghl_456".into());
        let updated = payload(SyncStep::Update, &e, &m);
        assert_eq!(updated["event_type"], "calendar_event_updated");
        assert_eq!(updated["event_data"]["client_id"], "c-9");
        assert_eq!(updated["event_data"]["updated_at"], "2024-01-15T09:00:00Z");
        let reference = json!({
            "sentra_event_id": "123", "ghl_appointment_id": "ghl_456", "sync_status": "synced"
        });
        assert_eq!(updated["reference_mapping"], reference);
        assert_eq!(
            payload(SyncStep::Delete, &e, &m),
            json!({
                "event_type": "calendar_event_deleted",
                "event_data": { "sentra_event_id": "123" },
                "reference_mapping": reference,
            })
        );
    }

    #[test]
    fn a_successful_create_answer_yields_the_appointment_id() {
        let a = answered(
            200,
            r#"{"success":true,"appointment_id":"ghl_456","message":"Appointment created successfully"}"#,
        );
        assert_eq!(
            read_reply(SyncStep::Create, &a),
            Ok(Some("ghl_456".to_owned()))
        );
        assert_eq!(
            read_reply(SyncStep::Update, &answered(200, r#"{"success":true}"#)),
            Ok(None)
        );
    }

    #[test]
    fn success_false_is_a_failure_with_code_and_error() {
        let a = answered(
            200,
            r#"{"success":false,"error":"Contact not found in GHL","error_code":"CONTACT_NOT_FOUND"}"#,
        );
        assert_eq!(
            read_reply(SyncStep::Create, &a),
            Err("CONTACT_NOT_FOUND: Contact not found in GHL".to_owned())
        );
        assert_eq!(
            read_reply(SyncStep::Update, &answered(200, r#"{"success":false}"#)),
            Err("GHL answered \"success\":false without an error".to_owned())
        );
    }

    #[test]
    fn garbage_or_an_incomplete_answer_is_never_success() {
        let not_json = read_reply(SyncStep::Create, &answered(200, "<html>ok</html>")).unwrap_err();
        assert!(not_json.contains("not JSON"), "{not_json}");
        let no_flag = read_reply(SyncStep::Update, &answered(200, r#"{"ok":1}"#)).unwrap_err();
        assert!(no_flag.contains("success"), "{no_flag}");
        let no_id =
            read_reply(SyncStep::Create, &answered(200, r#"{"success":true}"#)).unwrap_err();
        assert!(no_id.contains("appointment_id"), "{no_id}");
        let empty = read_reply(SyncStep::Create, &answered(204, "")).unwrap_err();
        assert!(empty.contains("(empty)"), "{empty}");
        assert_eq!(
            read_reply(SyncStep::Create, &answered(503, "down")),
            Err("http status 503".to_owned())
        );
    }

    #[test]
    fn delivery_ids_are_stable_per_step_and_revision() {
        let e = seed_event();
        assert_eq!(delivery_id(&e, SyncStep::Create), "123-created-r1");
        assert_ne!(
            delivery_id(&e, SyncStep::Create),
            delivery_id(&e, SyncStep::Update)
        );
    }
}
