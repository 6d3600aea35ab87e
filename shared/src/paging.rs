//! Opaque list cursors. A cursor is a small map of strings (the position of the last item
//! listed), base64url-encoded JSON; the DynamoDB adapter turns it into an `ExclusiveStartKey`,
//! the fakes read their positions from it. Garbage is a 400, never a 500.

use std::collections::HashMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use crate::error::{AppError, AppResult};

/// A page of results and the opaque cursor of the next one.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
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
