//! Export rendering as pure functions over byte buffers, so a direct export and a job produce
//! the same bytes for the same users and the job can stream them part by part.
//!
//! CSV (DESIGN §4): RFC 4180 (CRLF, quotes doubled, quoted when needed), a header row, the
//! flattened columns in [`CSV_COLUMNS`] order; a cell starting with `=`, `+`, `-`, `@` (and tab
//! or carriage return, which spreadsheets also treat as formula starts) gets a leading `'`.
//! JSON: `{"exportedAt":…,"users":[…],"count":N}` — `count` comes last because a streamed
//! export knows it only at the end (JSON object members are unordered).

use serde_json::Value;

use super::{Includes, User};
use crate::bookings::Booking;
use crate::error::{AppError, AppResult};

pub const CSV_COLUMNS: [&str; 21] = [
    "id",
    "firstName",
    "lastName",
    "fullName",
    "email",
    "phone",
    "whatsappPhone",
    "instagramUsername",
    "gender",
    "locale",
    "timezone",
    "optIns.messenger",
    "optIns.instagram",
    "optIns.whatsapp",
    "optIns.telegram",
    "exportConsent.given",
    "exportConsent.at",
    "tags",
    "customFields",
    "createdAt",
    "updatedAt",
];

/// Neutralises spreadsheet formulas (CSV injection).
pub fn escape_formula(cell: &str) -> String {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}"),
        _ => cell.to_owned(),
    }
}

/// The cells of one user, in column order, before escaping.
pub fn csv_cells(u: &User) -> Vec<String> {
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    let custom = if u.custom_fields.is_empty() {
        String::new()
    } else {
        // Compact JSON of the fields as given (strings stay strings).
        serde_json::to_string(&u.custom_fields).unwrap_or_default()
    };
    vec![
        u.id.clone(),
        opt(&u.first_name),
        opt(&u.last_name),
        u.display_full_name().unwrap_or_default(),
        opt(&u.email),
        opt(&u.phone),
        opt(&u.whatsapp_phone),
        opt(&u.instagram_username),
        opt(&u.gender),
        opt(&u.locale),
        opt(&u.timezone),
        u.opt_ins.messenger.to_string(),
        u.opt_ins.instagram.to_string(),
        u.opt_ins.whatsapp.to_string(),
        u.opt_ins.telegram.to_string(),
        u.export_consent.given.to_string(),
        opt(&u.export_consent.at),
        u.tags
            .iter()
            .map(|t| t.name.as_str())
            .collect::<Vec<_>>()
            .join(";"),
        custom,
        u.created_at.clone(),
        u.updated_at.clone(),
    ]
}

/// Appends CSV records to a byte buffer.
#[derive(Default)]
pub struct CsvRenderer;

impl CsvRenderer {
    pub fn new() -> Self {
        Self
    }

    fn record<I: IntoIterator<Item = String>>(
        &mut self,
        cells: I,
        out: &mut Vec<u8>,
    ) -> AppResult<()> {
        // A writer per record over the caller's buffer: records go straight where they are
        // drained from (a response body or an upload part).
        let mut w = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .quote_style(csv::QuoteStyle::Necessary)
            .buffer_capacity(1024)
            .from_writer(out);
        w.write_record(cells.into_iter().map(|c| escape_formula(&c)))
            .map_err(|e| AppError::internal("csv write", e))?;
        w.flush().map_err(|e| AppError::internal("csv flush", e))
    }

    pub fn header(&mut self, out: &mut Vec<u8>) -> AppResult<()> {
        self.record(CSV_COLUMNS.iter().map(|c| (*c).to_owned()), out)
    }

    pub fn user(&mut self, u: &User, out: &mut Vec<u8>) -> AppResult<()> {
        self.record(csv_cells(u), out)
    }
}

/// Streams the JSON document.
pub struct JsonRenderer {
    count: u64,
}

impl JsonRenderer {
    pub fn open(exported_at: &str, out: &mut Vec<u8>) -> Self {
        out.extend_from_slice(b"{\"exportedAt\":");
        out.extend_from_slice(Value::String(exported_at.to_owned()).to_string().as_bytes());
        out.extend_from_slice(b",\"users\":[");
        Self { count: 0 }
    }

    pub fn user(&mut self, view: &Value, out: &mut Vec<u8>) -> AppResult<()> {
        if self.count > 0 {
            out.push(b',');
        }
        serde_json::to_writer(&mut *out, view).map_err(|e| AppError::internal("json write", e))?;
        self.count += 1;
        Ok(())
    }

    pub fn close(self, out: &mut Vec<u8>) {
        out.extend_from_slice(format!("],\"count\":{}}}", self.count).as_bytes());
    }
}

/// The keys of a JSON export's user objects (recorded in the audit).
pub fn json_fields(includes: Includes) -> Vec<String> {
    let mut v: Vec<String> = super::VIEW_FIELDS
        .iter()
        .filter(|f| match **f {
            "interactions" => includes.interactions,
            "bookings" => includes.bookings,
            "qrCodes" => includes.qr_codes,
            "conversations" => includes.conversations,
            _ => true,
        })
        .map(|f| (*f).to_owned())
        .collect();
    v.dedup();
    v
}

/// A JSON export's user object.
pub fn json_user(u: &User, includes: Includes, bookings: Option<&[Booking]>) -> Value {
    u.view_with(includes, bookings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::users::UserInput;
    use serde_json::json;

    fn user(v: Value) -> User {
        let mut u = serde_json::from_value::<UserInput>(v)
            .unwrap()
            .create("2026-01-01T00:00:00.000Z")
            .unwrap();
        u.id = "usr_1".into();
        u
    }

    fn render(users: &[User]) -> String {
        let mut r = CsvRenderer::new();
        let mut out = Vec::new();
        r.header(&mut out).unwrap();
        for u in users {
            r.user(u, &mut out).unwrap();
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn header_has_the_design_columns_in_order() {
        let csv = render(&[]);
        assert_eq!(
            csv,
            "id,firstName,lastName,fullName,email,phone,whatsappPhone,instagramUsername,gender,\
             locale,timezone,optIns.messenger,optIns.instagram,optIns.whatsapp,optIns.telegram,\
             exportConsent.given,exportConsent.at,tags,customFields,createdAt,updatedAt\r\n"
        );
    }

    #[test]
    fn escaping_corpus() {
        let u = user(json!({
            "firstName": "Ann \"The Boss\"",
            "email": "a@b.co",
            "phone": "+1 555 0100",
            "instagramUsername": "=HYPERLINK(\"http://x\")",
            "gender": "-5",
            "locale": "@SUM(A1)",
            "timezone": "Zoë/Ærø, 東京",
            "tags": ["vip", "a,b"],
            "customFields": {"drink": "=1+1", "n": 3},
        }));
        let mut u = u;
        // Input validation refuses control characters in names; the renderer must still
        // cope with any text (custom fields may hold newlines).
        u.last_name = Some("Line1\nLine2".into());
        let csv = render(&[u]);
        let mut rdr = csv::ReaderBuilder::new().from_reader(csv.as_bytes());
        let rec = rdr.records().next().unwrap().unwrap();
        assert_eq!(&rec[1], "Ann \"The Boss\"");
        assert_eq!(&rec[2], "Line1\nLine2");
        assert_eq!(&rec[3], "Ann \"The Boss\" Line1\nLine2");
        assert_eq!(&rec[5], "'+1 555 0100");
        assert_eq!(&rec[7], "'=HYPERLINK(\"http://x\")");
        assert_eq!(&rec[8], "'-5");
        assert_eq!(&rec[9], "'@SUM(A1)");
        assert_eq!(&rec[10], "Zoë/Ærø, 東京");
        assert_eq!(&rec[17], "vip;a,b");
        assert_eq!(&rec[18], r#"{"drink":"=1+1","n":3}"#);
        assert_eq!(&rec[11], "false");
        // Raw RFC 4180 form: quotes doubled, fields with specials quoted, CRLF records.
        assert!(csv.contains("\"Ann \"\"The Boss\"\"\""), "{csv}");
        assert!(csv.contains("\"Line1\nLine2\""), "{csv}");
        assert!(csv.ends_with("\r\n"));
    }

    #[test]
    fn json_document_is_valid_and_counts() {
        let u = user(json!({"email": "a@b.co"}));
        let mut out = Vec::new();
        let mut r = JsonRenderer::open("2026-01-01T00:00:00.000Z", &mut out);
        r.user(&json_user(&u, Includes::default(), None), &mut out)
            .unwrap();
        r.user(&json_user(&u, Includes::default(), None), &mut out)
            .unwrap();
        r.close(&mut out);
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["count"], 2);
        assert_eq!(v["users"].as_array().unwrap().len(), 2);
        assert_eq!(v["exportedAt"], "2026-01-01T00:00:00.000Z");
    }
}
