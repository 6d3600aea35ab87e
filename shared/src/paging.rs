//! Lists: the `limit` parameter, opaque cursors and the `pagination` envelope (DESIGN §3
//! "Lists"). A cursor is a small map of strings (the position of the last item listed),
//! base64url-encoded JSON; the DynamoDB adapter turns it into an `ExclusiveStartKey`, the fakes
//! read their positions from it. Garbage is a 400, never a 500.

use std::collections::HashMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Serialize;

use crate::error::{AppError, AppResult};

/// A page of results and the opaque cursor of the next one.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// `limit` of list routes: 1..=1000, default 50; anything else is a 400 naming it.
pub fn parse_limit(raw: Option<&str>) -> Result<u32, AppError> {
    match raw {
        None => Ok(50),
        Some(s) => match s.trim().parse::<u32>() {
            Ok(n) if (1..=1000).contains(&n) => Ok(n),
            _ => Err(AppError::validation(
                "limit must be an integer from 1 to 1000",
            )),
        },
    }
}

/// The `"pagination"` object of a list answer: `limit`, `hasMore`, `nextCursor` and `total`
/// (`null` unless known without a full scan); `offset` only on lists that take one.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Pagination {
    pub limit: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    pub has_more: bool,
    pub next_cursor: Option<String>,
    pub total: Option<u64>,
}

impl Pagination {
    /// A page may hold fewer than `limit` items while there are more: `hasMore` is the cursor.
    pub fn new(limit: u32, next_cursor: Option<String>) -> Self {
        Pagination {
            limit,
            offset: None,
            has_more: next_cursor.is_some(),
            next_cursor,
            total: None,
        }
    }

    pub fn of<T>(page: &Page<T>, limit: u32) -> Self {
        Pagination::new(limit, page.next_cursor.clone())
    }

    pub fn with_offset(self, offset: u64) -> Self {
        Pagination {
            offset: Some(offset),
            ..self
        }
    }

    pub fn with_total(self, total: Option<u64>) -> Self {
        Pagination { total, ..self }
    }
}

/// The fields of a cursor: attribute name → string value.
pub type CursorFields = HashMap<String, String>;

pub fn encode_cursor(fields: &CursorFields) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(fields).unwrap_or_default())
}

pub fn decode_cursor(cursor: &str) -> AppResult<CursorFields> {
    let invalid = || AppError::validation("cursor is invalid");
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
    let map: CursorFields = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    if map.is_empty() || map.len() > 4 {
        return Err(invalid());
    }
    Ok(map)
}

/// A cursor of `fields` built from pairs.
pub fn cursor_of(fields: &[(&str, &str)]) -> String {
    encode_cursor(
        &fields
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    )
}

/// `{sort value}#{id}`: a position in a list ordered by a timestamp, ties broken by id.
pub fn position(sort_value: &str, id: &str) -> String {
    format!("{sort_value}#{id}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn limit_bounds() {
        assert_eq!(parse_limit(None).unwrap(), 50);
        assert_eq!(parse_limit(Some("1000")).unwrap(), 1000);
        assert!(parse_limit(Some("0")).is_err());
        assert!(parse_limit(Some("1001")).is_err());
        assert!(parse_limit(Some("abc"))
            .unwrap_err()
            .to_string()
            .contains("limit"));
    }

    #[test]
    fn pagination_has_the_design_keys_and_offset_only_when_given() {
        let page = Page {
            items: vec![1, 2],
            next_cursor: Some("c1".to_owned()),
        };
        assert_eq!(
            serde_json::to_value(Pagination::of(&page, 2)).unwrap(),
            json!({ "limit": 2, "hasMore": true, "nextCursor": "c1", "total": null })
        );
        assert_eq!(
            serde_json::to_value(
                Pagination::new(50, None)
                    .with_offset(10)
                    .with_total(Some(12))
            )
            .unwrap(),
            json!({ "limit": 50, "offset": 10, "hasMore": false, "nextCursor": null, "total": 12 })
        );
    }

    #[test]
    fn cursor_round_trips_and_garbage_is_a_validation_error() {
        let c = cursor_of(&[("pk", "WS#a"), ("sk", "B#1")]);
        let back = decode_cursor(&c).unwrap();
        assert_eq!(back.get("pk").map(String::as_str), Some("WS#a"));
        assert_eq!(back.len(), 2);
        for bad in ["", "!!!", "bm90IGpzb24", "e30"] {
            assert!(
                matches!(decode_cursor(bad), Err(AppError::Validation(_))),
                "{bad}"
            );
        }
    }
}
