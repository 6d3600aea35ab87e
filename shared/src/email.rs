//! One email address, parsed once: a user's `email` and a calendar event's `clientEmail` obey
//! the same rule. A pragmatic check, not RFC 5322: one `@`, a local part of 1..=64 bytes, a
//! domain of at least two dot-separated labels of letters, digits and `-` (not at either end
//! of a label), no whitespace or control characters, at most 254 bytes; surrounding whitespace
//! is trimmed.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

/// The input is not an email address. Callers name their field in the 400.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotAnEmail;

impl fmt::Display for NotAnEmail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not a valid email address")
    }
}

impl std::error::Error for NotAnEmail {}

impl Email {
    pub fn parse(raw: &str) -> Result<Email, NotAnEmail> {
        let v = raw.trim();
        if v.len() > 254 || v.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(NotAnEmail);
        }
        let (local, domain) = v.split_once('@').ok_or(NotAnEmail)?;
        if local.is_empty() || local.len() > 64 || domain.contains('@') {
            return Err(NotAnEmail);
        }
        let labels: Vec<&str> = domain.split('.').collect();
        let bad_label = |l: &&str| {
            l.is_empty()
                || l.starts_with('-')
                || l.ends_with('-')
                || !l.chars().all(|c| c.is_alphanumeric() || c == '-')
        };
        if labels.len() < 2 || labels.iter().any(bad_label) {
            return Err(NotAnEmail);
        }
        Ok(Email(v.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl AsRef<str> for Email {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plausible_addresses_parse_trimmed() {
        for ok in [
            "a@b.co",
            "John.Doe+x@example.com",
            "ü@bücher.de",
            "client@example.com",
            "x@sub-domain.example.org",
        ] {
            assert_eq!(Email::parse(ok).map(Email::into_string), Ok(ok.to_owned()));
        }
        assert_eq!(Email::parse("  a@b.co ").unwrap().as_str(), "a@b.co");
    }

    #[test]
    fn everything_else_is_refused() {
        let long_local = format!("{}@b.co", "a".repeat(65));
        let long = format!("a@{}.co", "b".repeat(251));
        for bad in [
            "",
            "a",
            "a@b",
            "a@@b.co",
            "a@b@c.co",
            "a b@c.co",
            "@b.co",
            "a@-b.co",
            "a@b-.co",
            "a@b..co",
            "a@.b.co",
            "a@b.co.",
            "a@b_c.co",
            "a@b.co\u{7}",
            "not-an-email",
            &long_local,
            &long,
        ] {
            assert_eq!(Email::parse(bad), Err(NotAnEmail), "{bad}");
        }
    }
}
