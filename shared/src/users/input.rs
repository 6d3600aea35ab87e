//! Users input: the create and PATCH bodies, their validation and normalisation.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::{ExportConsent, Tag, User, MAX_CUSTOM_FIELDS, MAX_TAGS};
use crate::email::Email;
use crate::error::{AppError, AppResult};
use crate::patch::Patch;

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct OptInsInput {
    #[serde(default)]
    pub messenger: Option<bool>,
    #[serde(default)]
    pub instagram: Option<bool>,
    #[serde(default)]
    pub whatsapp: Option<bool>,
    #[serde(default)]
    pub telegram: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct ConsentInput {
    pub given: bool,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct InteractionsInput {
    #[serde(default)]
    pub messages_count: Option<u64>,
    #[serde(default)]
    pub comments_count: Option<u64>,
    #[serde(default)]
    pub stories_count: Option<u64>,
}

/// The body of `POST /api/users` and `PATCH /api/users/{id}` (camelCase, unknown fields
/// ignored). On PATCH, absent keeps, null clears; `tags` replaces the list (names),
/// `customFields` merges (a null value removes that field), `optIns` merges.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct UserInput {
    #[serde(default)]
    pub manychat_id: Patch<String>,
    #[serde(default)]
    pub instagram_username: Patch<String>,
    #[serde(default)]
    pub instagram_id: Patch<String>,
    #[serde(default)]
    pub first_name: Patch<String>,
    #[serde(default)]
    pub last_name: Patch<String>,
    #[serde(default)]
    pub full_name: Patch<String>,
    #[serde(default)]
    pub email: Patch<String>,
    #[serde(default)]
    pub phone: Patch<String>,
    #[serde(default)]
    pub whatsapp_phone: Patch<String>,
    #[serde(default)]
    pub gender: Patch<String>,
    #[serde(default)]
    pub locale: Patch<String>,
    #[serde(default)]
    pub timezone: Patch<String>,
    #[serde(default)]
    pub profile_pic: Patch<String>,
    #[serde(default)]
    pub opt_ins: Option<OptInsInput>,
    #[serde(default)]
    pub export_consent: Option<ConsentInput>,
    /// Seed 001's flat form of `exportConsent.given` (accepted as well).
    #[serde(default)]
    pub export_consent_given: Option<bool>,
    /// Seed 001's flat `exportConsentAt`: the time is always the server's; when sent, it must
    /// be an RFC 3339 timestamp (and is otherwise ignored).
    #[serde(default)]
    pub export_consent_at: Option<String>,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    #[serde(default)]
    pub custom_fields: Option<BTreeMap<String, Value>>,
    #[serde(default)]
    pub interactions: Option<InteractionsInput>,
    #[serde(default)]
    pub subscribed_at: Patch<String>,
}

fn clean_text(field: &str, value: &str, max: usize) -> AppResult<Option<String>> {
    let v = value.trim();
    if v.is_empty() {
        return Ok(None);
    }
    if v.chars().count() > max {
        return Err(AppError::validation(format!(
            "{field} must be at most {max} characters"
        )));
    }
    if v.chars().any(char::is_control) {
        return Err(AppError::validation(format!(
            "{field} must not contain control characters"
        )));
    }
    Ok(Some(v.to_owned()))
}

/// `email` parsed by the one address rule (`crate::email`), trimmed.
pub fn validate_email(value: &str) -> AppResult<String> {
    Email::parse(value)
        .map(Email::into_string)
        .map_err(|_| AppError::validation("email is not a valid email address"))
}

fn validate_phone(field: &str, value: &str) -> AppResult<Option<String>> {
    let Some(v) = clean_text(field, value, 32)? else {
        return Ok(None);
    };
    let ok_chars = v
        .chars()
        .all(|c| c.is_ascii_digit() || " +-().".contains(c));
    if !ok_chars || v.chars().filter(char::is_ascii_digit).count() < 3 {
        return Err(AppError::validation(format!(
            "{field} must be a phone number (digits, spaces and + - ( ) .)"
        )));
    }
    Ok(Some(v))
}

fn validate_timestamp(field: &str, value: &str) -> AppResult<String> {
    crate::time::parse(value.trim())
        .map(crate::time::format)
        .ok_or_else(|| AppError::validation(format!("{field} must be an RFC 3339 timestamp")))
}

/// Tag names: 1..=64 characters, no `#` (key separator) or control characters; duplicates
/// (case-insensitive) keep the first spelling.
pub fn validate_tags(names: &[String]) -> AppResult<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for (i, raw) in names.iter().enumerate() {
        let field = format!("tags[{i}]");
        let Some(name) = clean_text(&field, raw, 64)? else {
            return Err(AppError::validation(format!("{field} must not be empty")));
        };
        if name.contains('#') {
            return Err(AppError::validation(format!(
                "{field} must not contain '#'"
            )));
        }
        if !out.iter().any(|t| t.to_lowercase() == name.to_lowercase()) {
            out.push(name);
        }
    }
    if out.len() > MAX_TAGS {
        return Err(AppError::validation(format!(
            "tags must list at most {MAX_TAGS} tags"
        )));
    }
    Ok(out)
}

fn validate_custom_field(name: &str, value: &Value) -> AppResult<()> {
    let name_ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
    if !name_ok {
        return Err(AppError::validation(format!(
            "customFields.{name}: names are 1..64 characters of letters, digits, _ - ."
        )));
    }
    match value {
        Value::String(s) if s.chars().count() > 1024 => Err(AppError::validation(format!(
            "customFields.{name} must be at most 1024 characters"
        ))),
        Value::String(_) | Value::Number(_) | Value::Bool(_) => Ok(()),
        _ => Err(AppError::validation(format!(
            "customFields.{name} must be a string, number or boolean"
        ))),
    }
}

/// The string a custom field is compared and exported as.
pub fn custom_field_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl UserInput {
    /// Applies this input to `user` (a new default user on create). Validates every field
    /// before changing anything observable (the caller only stores a successful result).
    pub fn apply(&self, user: &mut User, now: &str) -> AppResult<()> {
        macro_rules! text {
            ($field:ident, $name:literal, $max:expr) => {
                self.$field
                    .as_ref()
                    .apply_to(&mut user.$field, |s| clean_text($name, s, $max))?;
            };
        }
        text!(manychat_id, "manychatId", 128);
        text!(instagram_username, "instagramUsername", 64);
        text!(instagram_id, "instagramId", 128);
        text!(first_name, "firstName", 128);
        text!(last_name, "lastName", 128);
        text!(full_name, "fullName", 256);
        text!(gender, "gender", 32);
        text!(locale, "locale", 35);
        text!(timezone, "timezone", 64);
        self.email.as_ref().apply_to(&mut user.email, |s| {
            if s.trim().is_empty() {
                Ok(None)
            } else {
                validate_email(s).map(Some)
            }
        })?;
        self.phone
            .as_ref()
            .apply_to(&mut user.phone, |s| validate_phone("phone", s))?;
        self.whatsapp_phone
            .as_ref()
            .apply_to(&mut user.whatsapp_phone, |s| {
                validate_phone("whatsappPhone", s)
            })?;
        self.profile_pic
            .as_ref()
            .apply_to(&mut user.profile_pic, |s| {
                let url = clean_text("profilePic", s, 2048)?;
                if let Some(u) = &url {
                    let parsed = url::Url::parse(u)
                        .map_err(|_| AppError::validation("profilePic must be an http(s) URL"))?;
                    if !matches!(parsed.scheme(), "http" | "https") {
                        return Err(AppError::validation("profilePic must be an http(s) URL"));
                    }
                }
                Ok(url)
            })?;
        self.subscribed_at
            .as_ref()
            .apply_to(&mut user.subscribed_at, |s| {
                validate_timestamp("subscribedAt", s).map(Some)
            })?;
        if let Some(o) = &self.opt_ins {
            for (p, v) in [
                ("messenger", o.messenger),
                ("instagram", o.instagram),
                ("whatsapp", o.whatsapp),
                ("telegram", o.telegram),
            ] {
                if let Some(v) = v {
                    user.opt_ins.set(p, v);
                }
            }
        }
        if let Some(at) = &self.export_consent_at {
            if crate::time::parse(at.trim()).is_none() {
                return Err(AppError::validation(
                    "exportConsentAt must be an RFC 3339 timestamp",
                ));
            }
        }
        let consent = match (&self.export_consent, self.export_consent_given) {
            (Some(c), Some(flat)) if c.given != flat => {
                return Err(AppError::validation(
                    "exportConsent.given and exportConsentGiven disagree",
                ))
            }
            (Some(c), _) => Some(c.given),
            (None, flat) => flat,
        };
        if let Some(given) = consent {
            if given != user.export_consent.given {
                user.export_consent = ExportConsent {
                    given,
                    at: given.then(|| now.to_owned()),
                };
            }
        }
        if let Some(names) = &self.tags {
            let names = validate_tags(names)?;
            let old = std::mem::take(&mut user.tags);
            user.tags = names
                .into_iter()
                .map(|name| {
                    old.iter()
                        .find(|t| t.name.to_lowercase() == name.to_lowercase())
                        .cloned()
                        .unwrap_or_else(|| Tag {
                            id: crate::ids::new_id("tag"),
                            name,
                            applied_at: now.to_owned(),
                        })
                })
                .collect();
        }
        if let Some(fields) = &self.custom_fields {
            for (name, value) in fields {
                if value.is_null() {
                    user.custom_fields.remove(name);
                } else {
                    validate_custom_field(name, value)?;
                    user.custom_fields.insert(name.clone(), value.clone());
                }
            }
            if user.custom_fields.len() > MAX_CUSTOM_FIELDS {
                return Err(AppError::validation(format!(
                    "customFields must hold at most {MAX_CUSTOM_FIELDS} fields"
                )));
            }
        }
        if let Some(i) = &self.interactions {
            if let Some(n) = i.messages_count {
                user.interactions.messages_count = n;
            }
            if let Some(n) = i.comments_count {
                user.interactions.comments_count = n;
            }
            if let Some(n) = i.stories_count {
                user.interactions.stories_count = n;
            }
            user.interactions.last_updated = Some(now.to_owned());
        }
        Ok(())
    }

    /// A new user from a create body.
    pub fn create(&self, now: &str) -> AppResult<User> {
        let mut user = User {
            id: crate::ids::new_id(crate::ids::USER),
            created_at: now.to_owned(),
            updated_at: now.to_owned(),
            version: 1,
            ..User::default()
        };
        self.apply(&mut user, now)?;
        let identified = user.email.is_some()
            || user.first_name.is_some()
            || user.last_name.is_some()
            || user.full_name.is_some()
            || user.phone.is_some()
            || user.whatsapp_phone.is_some()
            || user.instagram_username.is_some()
            || user.instagram_id.is_some()
            || user.manychat_id.is_some();
        if !identified {
            return Err(AppError::validation(
                "a user needs at least one of email, firstName, lastName, fullName, phone, \
                 whatsappPhone, instagramUsername, instagramId, manychatId",
            ));
        }
        Ok(user)
    }
}
