//! What a client may send for a calendar event: the fields of a create or PATCH body, their
//! limits and formats (seed 002). Each rule answers 400 `validation_error` naming the field.

use serde_json::{Map, Value};

use super::CalendarEvent;
use crate::email::Email;
use crate::error::{AppError, AppResult};
use crate::ids;
use crate::patch::Patch;

/// Field limits (characters).
const MAX_TYPE: usize = 50;
const MAX_TITLE: usize = 200;
const MAX_DESCRIPTION: usize = 5000;
const MAX_NAME: usize = 200;
const MAX_EMAIL: usize = 254;
const MAX_PHONE: usize = 40;
const MAX_CLIENT_ID: usize = 128;

fn text(name: &str, v: &Value, max: usize) -> AppResult<String> {
    let s = v
        .as_str()
        .ok_or_else(|| AppError::validation(format!("{name} must be a string")))?
        .trim();
    if s.is_empty() {
        return Err(AppError::validation(format!("{name} must not be empty")));
    }
    if s.chars().count() > max {
        return Err(AppError::validation(format!(
            "{name} must be at most {max} characters"
        )));
    }
    if s.chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        return Err(AppError::validation(format!(
            "{name} must not contain control characters"
        )));
    }
    Ok(s.to_owned())
}

fn required(body: &Map<String, Value>, name: &str, max: usize) -> AppResult<Option<String>> {
    Patch::of_key(body, name)
        .not_null(name)?
        .map(|v| text(name, v, max))
        .transpose()
}

/// Absent keeps, `null` clears (PATCH); a value must be text.
fn optional(body: &Map<String, Value>, name: &str, max: usize) -> AppResult<Patch<String>> {
    Patch::of_key(body, name).try_map(|v| text(name, v, max))
}

fn date(name: &str, s: &str) -> AppResult<()> {
    let ok = s.len() == 10 && chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok();
    if ok {
        Ok(())
    } else {
        Err(AppError::validation(format!(
            "{name} must be a date YYYY-MM-DD"
        )))
    }
}

fn time(name: &str, s: &str) -> AppResult<()> {
    let ok = s.len() == 5 && chrono::NaiveTime::parse_from_str(s, "%H:%M").is_ok();
    if ok {
        Ok(())
    } else {
        Err(AppError::validation(format!("{name} must be a time HH:MM")))
    }
}

fn client_id(v: &Value) -> AppResult<Value> {
    match v {
        Value::Number(_) => Ok(v.clone()),
        Value::String(_) => text("clientId", v, MAX_CLIENT_ID).map(Value::String),
        _ => Err(AppError::validation(
            "clientId must be a string or a number",
        )),
    }
}

fn email(s: String) -> AppResult<Option<String>> {
    Email::parse(&s)
        .map(|e| Some(e.into_string()))
        .map_err(|_| AppError::validation("clientEmail must be an email address"))
}

/// Applies the fields present in `body` to `event` (all of them on create), then checks the
/// whole event: formats, and end not before start.
pub fn apply(
    event: &mut CalendarEvent,
    body: &Map<String, Value>,
    creating: bool,
) -> AppResult<()> {
    let must = |name: &str, max: usize| -> AppResult<Option<String>> {
        let v = required(body, name, max)?;
        if creating && v.is_none() {
            return Err(AppError::validation(format!("{name} is required")));
        }
        Ok(v)
    };
    if let Some(v) = must("eventType", MAX_TYPE)? {
        event.event_type = v;
    }
    if let Some(v) = must("eventTitle", MAX_TITLE)? {
        event.event_title = v;
    }
    if let Some(v) = must("startDate", 10)? {
        event.start_date = v;
    }
    if let Some(v) = must("endDate", 10)? {
        event.end_date = v;
    }
    if let Some(v) = must("startTime", 5)? {
        event.start_time = v;
    }
    if let Some(v) = must("endTime", 5)? {
        event.end_time = v;
    }
    match Patch::of_key(body, "clientId") {
        Patch::Absent if creating => return Err(AppError::validation("clientId is required")),
        Patch::Absent => {}
        Patch::Null => return Err(AppError::validation("clientId must not be null")),
        Patch::Value(v) => event.client_id = client_id(v)?,
    }
    optional(body, "description", MAX_DESCRIPTION)?
        .apply_to(&mut event.description, |v| Ok(Some(v)))?;
    optional(body, "clientEmail", MAX_EMAIL)?.apply_to(&mut event.client_email, email)?;
    optional(body, "clientPhone", MAX_PHONE)?.apply_to(&mut event.client_phone, |v| Ok(Some(v)))?;
    optional(body, "clientName", MAX_NAME)?.apply_to(&mut event.client_name, |v| Ok(Some(v)))?;
    date("startDate", &event.start_date)?;
    date("endDate", &event.end_date)?;
    time("startTime", &event.start_time)?;
    time("endTime", &event.end_time)?;
    // Fixed-width formats: string order is time order.
    if (event.end_date.as_str(), event.end_time.as_str())
        < (event.start_date.as_str(), event.start_time.as_str())
    {
        return Err(AppError::validation(
            "endDate/endTime must not be before startDate/startTime",
        ));
    }
    Ok(())
}

/// A new event from a create body (every field required but the optional ones).
pub fn new_event(ws: &str, body: &Map<String, Value>) -> AppResult<CalendarEvent> {
    let now = crate::time::now_string();
    let mut event = CalendarEvent {
        id: ids::new_id(ids::CALENDAR_EVENT),
        workspace_id: ws.to_owned(),
        event_type: String::new(),
        event_title: String::new(),
        start_date: String::new(),
        end_date: String::new(),
        start_time: String::new(),
        end_time: String::new(),
        description: None,
        client_id: Value::Null,
        client_email: None,
        client_phone: None,
        client_name: None,
        revision: 1,
        created_at: now.clone(),
        updated_at: now,
        deleted_at: None,
    };
    apply(&mut event, body, true)?;
    Ok(event)
}

pub fn object(body: &Value) -> AppResult<&Map<String, Value>> {
    body.as_object()
        .ok_or_else(|| AppError::InvalidJson("request body must be a JSON object".into()))
}
