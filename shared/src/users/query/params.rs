//! Parsing the list and export query strings: every parameter of seed 001, each error naming
//! its parameter.

use super::{ExportQuery, ListParams, SortBy, SortOrder, UserQuery, MAX_EXPORT_LIMIT};
use crate::error::{AppError, AppResult};
use crate::users::{Includes, VIEW_FIELDS};

fn bad(param: &str, what: &str) -> AppError {
    AppError::validation(format!("{param} {what}"))
}

fn parse_bool(param: &str, v: &str) -> AppResult<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "1" => Ok(true),
        "false" | "0" | "" => Ok(false),
        _ => Err(bad(param, "must be true or false")),
    }
}

/// `YYYY-MM-DD` (midnight UTC) or an RFC 3339 timestamp, normalised to the stored format.
pub fn parse_date(param: &str, v: &str) -> AppResult<String> {
    let v = v.trim();
    if let Some(t) = crate::time::parse(v) {
        return Ok(crate::time::format(t));
    }
    chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|dt| crate::time::format(dt.and_utc()))
        .ok_or_else(|| {
            bad(
                param,
                "must be a date (YYYY-MM-DD) or an RFC 3339 timestamp",
            )
        })
}

fn parse_platform(param: &str, v: &str) -> AppResult<String> {
    let p = v.trim().to_ascii_lowercase();
    if crate::users::PLATFORMS.contains(&p.as_str()) {
        Ok(p)
    } else {
        Err(bad(
            param,
            "must be one of messenger, instagram, whatsapp, telegram",
        ))
    }
}

/// Query parameters as decoded (name, value) pairs.
pub type Pairs = Vec<(String, String)>;

/// The parameters shared by list and exports; returns the ones it did not consume.
fn parse_common(pairs: &[(String, String)]) -> AppResult<(UserQuery, Includes, Pairs)> {
    let mut q = UserQuery::default();
    let mut inc = Includes::default();
    let mut rest = Vec::new();
    for (k, v) in pairs {
        let f = &mut q.filter;
        match k.as_str() {
            "createdAfter" => f.created_after = Some(parse_date(k, v)?),
            "createdBefore" => f.created_before = Some(parse_date(k, v)?),
            "updatedAfter" => f.updated_after = Some(parse_date(k, v)?),
            "hasTag" => {
                let t = v.trim();
                if t.is_empty() || t.contains('#') || t.chars().count() > 64 {
                    return Err(bad(k, "must be a tag name (1..64 characters, no '#')"));
                }
                f.has_tag = Some(t.to_owned());
            }
            "optedIn" => f.opted_in = Some(parse_platform(k, v)?),
            "search" => {
                let s = v.trim();
                if s.chars().count() > 256 {
                    return Err(bad(k, "must be at most 256 characters"));
                }
                f.search = (!s.is_empty()).then(|| s.to_owned());
            }
            "exportConsentOnly" => f.export_consent_only = parse_bool(k, v)?,
            "sortBy" => {
                q.sort_by = match v.trim() {
                    "createdAt" => SortBy::CreatedAt,
                    "updatedAt" => SortBy::UpdatedAt,
                    "firstName" => SortBy::FirstName,
                    "lastName" => SortBy::LastName,
                    _ => {
                        return Err(bad(
                            k,
                            "must be one of createdAt, updatedAt, firstName, lastName",
                        ))
                    }
                }
            }
            "sortOrder" => {
                q.sort_order = match v.trim().to_ascii_lowercase().as_str() {
                    "asc" => SortOrder::Asc,
                    "desc" => SortOrder::Desc,
                    _ => return Err(bad(k, "must be asc or desc")),
                }
            }
            "includeBookings" => inc.bookings = parse_bool(k, v)?,
            "includeQRCodes" => inc.qr_codes = parse_bool(k, v)?,
            "includeInteractions" => inc.interactions = parse_bool(k, v)?,
            "includeConversations" => inc.conversations = parse_bool(k, v)?,
            _ => {
                if let Some(name) = k
                    .strip_prefix("customField[")
                    .and_then(|r| r.strip_suffix(']'))
                {
                    let ok = !name.is_empty()
                        && name.len() <= 64
                        && name
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
                    if !ok {
                        return Err(bad(k, "names a field of 1..64 letters, digits, _ - ."));
                    }
                    f.custom_fields.insert(name.to_owned(), v.clone());
                } else if k.starts_with("customField") {
                    return Err(bad(k, "must be written customField[name]=value"));
                } else {
                    rest.push((k.clone(), v.clone()));
                }
            }
        }
    }
    if let (Some(a), Some(b)) = (&q.filter.created_after, &q.filter.created_before) {
        if a >= b {
            return Err(bad("createdBefore", "must be later than createdAfter"));
        }
    }
    Ok((q, inc, rest))
}

pub fn parse_list_params(pairs: &[(String, String)]) -> AppResult<ListParams> {
    let (query, includes, rest) = parse_common(pairs)?;
    let mut p = ListParams {
        query,
        includes,
        limit: 50,
        ..ListParams::default()
    };
    for (k, v) in rest {
        match k.as_str() {
            "limit" => p.limit = crate::paging::parse_limit(Some(&v))?,
            "offset" => {
                p.offset = v
                    .trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|n| *n <= 1_000_000)
                    .ok_or_else(|| bad("offset", "must be an integer from 0 to 1000000"))?
            }
            "cursor" => {
                let c = v.trim();
                if !c.is_empty() {
                    p.cursor = Some(c.to_owned());
                }
            }
            "fields" => {
                let mut fields = Vec::new();
                for f in v.split(',').map(str::trim).filter(|f| !f.is_empty()) {
                    if !VIEW_FIELDS.contains(&f) {
                        return Err(bad(
                            "fields",
                            &format!(
                                "names an unknown field {f:?}; known: {}",
                                VIEW_FIELDS.join(", ")
                            ),
                        ));
                    }
                    fields.push(f.to_owned());
                }
                p.fields = (!fields.is_empty()).then_some(fields);
            }
            _ => {} // unknown parameters are ignored (DESIGN §3)
        }
    }
    if p.cursor.is_some() && p.offset > 0 {
        return Err(bad("offset", "cannot be combined with cursor"));
    }
    Ok(p)
}

/// Export parameters plus `async`.
pub fn parse_export_params(pairs: &[(String, String)]) -> AppResult<(ExportQuery, bool)> {
    let (query, includes, rest) = parse_common(pairs)?;
    if matches!(query.sort_by, SortBy::FirstName | SortBy::LastName) {
        return Err(bad(
            "sortBy",
            "must be createdAt or updatedAt for exports (a name sort needs the whole set in memory)",
        ));
    }
    let mut e = ExportQuery {
        filter: query.filter,
        sort_by: query.sort_by,
        sort_order: query.sort_order,
        limit: None,
        includes,
        user_id: None,
    };
    let mut is_async = false;
    for (k, v) in rest {
        match k.as_str() {
            "limit" => {
                e.limit = Some(
                    v.trim()
                        .parse::<u64>()
                        .ok()
                        .filter(|n| (1..=MAX_EXPORT_LIMIT).contains(n))
                        .ok_or_else(|| {
                            bad(
                                "limit",
                                &format!("must be an integer from 1 to {MAX_EXPORT_LIMIT}"),
                            )
                        })?,
                )
            }
            "async" => is_async = parse_bool("async", &v)?,
            "userId" => {
                let id = crate::ids::UserId::parse(v.trim())
                    .map_err(|_| bad("userId", "must be a user id (usr_…)"))?;
                e.user_id = Some(id.to_string());
            }
            _ => {}
        }
    }
    Ok((e, is_async))
}

/// Splits a raw query string into decoded pairs (`customField[a]` keys stay as written).
pub fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw.unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}
