//! One field of a PATCH body: absent (keep), `null` (clear) or a value (set). Declare it with
//! `#[serde(default)]` so a missing key is `Absent`; the deserializer turns `null` into `Null`.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::error::{AppError, AppResult};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Patch<T> {
    /// The key is not in the body: leave the field as it is.
    #[default]
    Absent,
    /// `"key": null`: clear the field (or refuse, for a field that cannot be empty).
    Null,
    Value(T),
}

impl<T> Patch<T> {
    pub fn is_absent(&self) -> bool {
        matches!(self, Patch::Absent)
    }

    pub fn as_ref(&self) -> Patch<&T> {
        match self {
            Patch::Absent => Patch::Absent,
            Patch::Null => Patch::Null,
            Patch::Value(v) => Patch::Value(v),
        }
    }

    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Patch<U> {
        match self {
            Patch::Absent => Patch::Absent,
            Patch::Null => Patch::Null,
            Patch::Value(v) => Patch::Value(f(v)),
        }
    }

    /// Validates a value; absent and null pass through.
    pub fn try_map<U>(self, f: impl FnOnce(T) -> AppResult<U>) -> AppResult<Patch<U>> {
        Ok(match self {
            Patch::Absent => Patch::Absent,
            Patch::Null => Patch::Null,
            Patch::Value(v) => Patch::Value(f(v)?),
        })
    }

    /// The value, if one was given (absent and null alike are none: a create body).
    pub fn into_value(self) -> Option<T> {
        match self {
            Patch::Value(v) => Some(v),
            Patch::Absent | Patch::Null => None,
        }
    }

    /// The change to make: `None` keeps, `Some(None)` clears, `Some(Some(v))` sets.
    pub fn into_change(self) -> Option<Option<T>> {
        match self {
            Patch::Absent => None,
            Patch::Null => Some(None),
            Patch::Value(v) => Some(Some(v)),
        }
    }

    /// A field that may be left out but not cleared: `null` is a 400 naming `field`.
    pub fn not_null(self, field: &str) -> AppResult<Option<T>> {
        match self {
            Patch::Absent => Ok(None),
            Patch::Null => Err(AppError::validation(format!("{field} must not be null"))),
            Patch::Value(v) => Ok(Some(v)),
        }
    }

    /// Applies to an optional field: absent keeps it, null clears it, a value is replaced by
    /// what `parse` makes of it (which may itself be `None`, e.g. for an empty string).
    pub fn apply_to<U>(
        self,
        target: &mut Option<U>,
        parse: impl FnOnce(T) -> AppResult<Option<U>>,
    ) -> AppResult<()> {
        match self {
            Patch::Absent => {}
            Patch::Null => *target = None,
            Patch::Value(v) => *target = parse(v)?,
        }
        Ok(())
    }
}

impl<T> From<Option<T>> for Patch<T> {
    /// A present key: `None` is its `null`.
    fn from(v: Option<T>) -> Self {
        v.map_or(Patch::Null, Patch::Value)
    }
}

impl<'a> Patch<&'a Value> {
    /// The key `name` of a JSON object body, for bodies read as a map.
    pub fn of_key(body: &'a serde_json::Map<String, Value>, name: &str) -> Self {
        match body.get(name) {
            None => Patch::Absent,
            Some(Value::Null) => Patch::Null,
            Some(v) => Patch::Value(v),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Patch<T> {
    /// Called only for a present key (a missing one takes `#[serde(default)]`).
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Option::<T>::deserialize(d).map(Patch::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Deserialize)]
    struct Body {
        #[serde(default)]
        name: Patch<String>,
        #[serde(default)]
        count: Patch<u32>,
    }

    #[test]
    fn a_missing_key_is_absent_null_is_null_and_a_value_is_a_value() {
        let b: Body = serde_json::from_value(json!({ "name": null, "count": 3 })).unwrap();
        assert_eq!(b.name, Patch::Null);
        assert_eq!(b.count, Patch::Value(3));
        let b: Body = serde_json::from_value(json!({})).unwrap();
        assert_eq!(b.name, Patch::Absent);
        assert!(b.count.is_absent());
        assert!(serde_json::from_value::<Body>(json!({ "count": "x" })).is_err());
    }

    #[test]
    fn not_null_refuses_only_null_and_apply_to_keeps_clears_or_sets() {
        assert_eq!(Patch::<u32>::Absent.not_null("n").unwrap(), None);
        assert_eq!(Patch::Value(1).not_null("n").unwrap(), Some(1));
        let err = Patch::<u32>::Null.not_null("n").unwrap_err();
        assert!(err.to_string().contains("n must not be null"), "{err}");

        let mut field = Some(1);
        Patch::Absent
            .apply_to(&mut field, |v: u32| Ok(Some(v)))
            .unwrap();
        assert_eq!(field, Some(1));
        Patch::Value(2)
            .apply_to(&mut field, |v| Ok(Some(v)))
            .unwrap();
        assert_eq!(field, Some(2));
        Patch::Null
            .apply_to(&mut field, |v: u32| Ok(Some(v)))
            .unwrap();
        assert_eq!(field, None);
        assert_eq!(Patch::Value(5).into_change(), Some(Some(5)));
        assert_eq!(Patch::<u32>::Null.into_change(), Some(None));
        assert_eq!(Patch::<u32>::Null.into_value(), None);
    }

    #[test]
    fn of_key_reads_an_object_body() {
        let body = json!({ "a": null, "b": "x" });
        let map = body.as_object().unwrap();
        assert_eq!(Patch::of_key(map, "a"), Patch::Null);
        assert_eq!(Patch::of_key(map, "b"), Patch::Value(&json!("x")));
        assert_eq!(Patch::of_key(map, "c"), Patch::Absent);
    }
}
