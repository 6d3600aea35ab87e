//! Every webhook signature scheme, outbound and inbound (DESIGN §5).
//!
//! - Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`): what we send,
//!   and what the generic inbound receiver accepts.
//! - Legacy `X-Webhook-Signature` (seed 001): hex HMAC of the body keyed by the full secret
//!   string.
//! - Stripe (`Stripe-Signature`) and Close (`close-sig-hash`, `close-sig-timestamp`): inbound.
//!
//! Everything here works on the raw body bytes and never parses them: a signature is checked
//! before anything looks inside the payload. Comparisons are constant-time (`subtle`), with a
//! length check. Header values are passed as `&str`; pass `""` for an absent header, it is
//! reported as [`SignatureError::MissingHeader`].

use std::fmt;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use rand::RngCore as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::Sha256;
use subtle::ConstantTimeEq as _;

use crate::time::Timestamp;

type HmacSha256 = Hmac<Sha256>;

/// Standard Webhooks header carrying the message (delivery) id.
pub const HEADER_WEBHOOK_ID: &str = "webhook-id";
/// Standard Webhooks header carrying the unix timestamp (seconds) of this attempt.
pub const HEADER_WEBHOOK_TIMESTAMP: &str = "webhook-timestamp";
/// Standard Webhooks header carrying space-separated `v1,<base64>` signatures.
pub const HEADER_WEBHOOK_SIGNATURE: &str = "webhook-signature";
/// Seed 001 legacy signature header (newest secret).
pub const HEADER_LEGACY_SIGNATURE: &str = "X-Webhook-Signature";
/// Seed 001 legacy signature with the previous secret, during a rotation overlap.
pub const HEADER_LEGACY_SIGNATURE_PREVIOUS: &str = "X-Webhook-Signature-Previous";
/// Seed 001 event type header.
pub const HEADER_LEGACY_EVENT: &str = "X-Webhook-Event";
/// Seed 001 delivery id header (same value as `webhook-id`).
pub const HEADER_LEGACY_DELIVERY: &str = "X-Webhook-Delivery";
/// Stripe's signature header.
pub const HEADER_STRIPE_SIGNATURE: &str = "Stripe-Signature";
/// Close's signature header (hex).
pub const HEADER_CLOSE_SIG_HASH: &str = "close-sig-hash";
/// Close's timestamp header.
pub const HEADER_CLOSE_SIG_TIMESTAMP: &str = "close-sig-timestamp";

const SECRET_PREFIX: &str = "whsec_";
/// Bytes of randomness in a generated secret (DESIGN §4: `whsec_` + base64 of 24 random bytes).
const GENERATED_SECRET_BYTES: usize = 24;
/// Key sizes the Standard Webhooks spec allows (24..=64 bytes).
const MIN_SECRET_BYTES: usize = 24;
const MAX_SECRET_BYTES: usize = 64;

/// Why a signature was not accepted. Every message is safe to return to the caller: none
/// carries a secret, a key or the expected signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// A required header is absent (or empty). Holds the header name.
    #[error("missing {0} header")]
    MissingHeader(&'static str),
    /// A header is present but cannot be parsed. Holds the header name.
    #[error("malformed {0} header")]
    Malformed(&'static str),
    /// The signed timestamp is too far from the current time (replay or clock skew).
    #[error("signature timestamp is outside the allowed tolerance")]
    TimestampOutOfTolerance,
    /// No signature in the header matches the body.
    #[error("no signature matches the payload")]
    Mismatch,
    /// The configured secret or key is not usable (wrong form or encoding).
    #[error("signing secret is not valid")]
    BadSecret,
}

/// A `whsec_…` signing secret. Its value is never printed: `Debug` and `Display` show
/// `whsec_…[redacted]`. Serializes as the plain string so it can be stored; use
/// [`WebhookSecret::expose`] where the raw value is needed (shown once on create/rotate).
#[derive(Clone)]
pub struct WebhookSecret {
    raw: String,
    key: Vec<u8>,
}

impl WebhookSecret {
    /// A fresh secret: `whsec_` + base64 of 24 bytes from the OS random source.
    pub fn generate() -> Self {
        let mut key = vec![0u8; GENERATED_SECRET_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut key);
        Self {
            raw: format!("{SECRET_PREFIX}{}", BASE64.encode(&key)),
            key,
        }
    }

    /// Accepts `whsec_` followed by standard base64 of 24..=64 bytes.
    pub fn parse(value: &str) -> Result<Self, SignatureError> {
        let encoded = value
            .strip_prefix(SECRET_PREFIX)
            .ok_or(SignatureError::BadSecret)?;
        let key = BASE64
            .decode(encoded)
            .map_err(|_| SignatureError::BadSecret)?;
        if !(MIN_SECRET_BYTES..=MAX_SECRET_BYTES).contains(&key.len()) {
            return Err(SignatureError::BadSecret);
        }
        Ok(Self {
            raw: value.to_owned(),
            key,
        })
    }

    /// The full secret string, `whsec_` included.
    pub fn expose(&self) -> &str {
        &self.raw
    }

    /// The HMAC key of the Standard Webhooks scheme (base64-decoded part after `whsec_`).
    fn key(&self) -> &[u8] {
        &self.key
    }
}

impl PartialEq for WebhookSecret {
    fn eq(&self, other: &Self) -> bool {
        self.raw.as_bytes().ct_eq(other.raw.as_bytes()).into()
    }
}

impl Eq for WebhookSecret {}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("whsec_…[redacted]")
    }
}

impl fmt::Display for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("whsec_…[redacted]")
    }
}

impl std::str::FromStr for WebhookSecret {
    type Err = SignatureError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for WebhookSecret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.raw)
    }
}

impl<'de> Deserialize<'de> for WebhookSecret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        // The message must not echo the value.
        Self::parse(&raw).map_err(|_| serde::de::Error::custom("invalid webhook secret"))
    }
}

fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC accepts keys of any length");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// Constant-time equality; slices of different lengths are unequal.
fn ct_eq(expected: &[u8], candidate: &[u8]) -> bool {
    expected.ct_eq(candidate).into()
}

/// `|now - timestamp| <= tolerance_secs`, without overflow.
fn within_tolerance(timestamp: i64, now: i64, tolerance_secs: i64) -> bool {
    timestamp.abs_diff(now) <= tolerance_secs.max(0).unsigned_abs()
}

fn require<'a>(value: &'a str, header: &'static str) -> Result<&'a str, SignatureError> {
    let value = value.trim();
    if value.is_empty() {
        Err(SignatureError::MissingHeader(header))
    } else {
        Ok(value)
    }
}

// ---------------------------------------------------------------------------------------------
// Standard Webhooks
// ---------------------------------------------------------------------------------------------

fn standard_mac(secret: &WebhookSecret, msg_id: &str, timestamp: &str, body: &[u8]) -> [u8; 32] {
    hmac_sha256(
        secret.key(),
        &[msg_id.as_bytes(), b".", timestamp.as_bytes(), b".", body],
    )
}

/// Standard Webhooks signature `v1,<base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}"))>`.
pub fn sign(secret: &WebhookSecret, msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    let mac = standard_mac(secret, msg_id, &timestamp.to_string(), body);
    format!("v1,{}", BASE64.encode(mac))
}

/// The `webhook-signature` header value: the current secret's signature first, then, during a
/// rotation overlap, the previous secret's, space-separated.
pub fn signature_header(
    current: &WebhookSecret,
    previous: Option<&WebhookSecret>,
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    let mut value = sign(current, msg_id, timestamp, body);
    if let Some(previous) = previous {
        value.push(' ');
        value.push_str(&sign(previous, msg_id, timestamp, body));
    }
    value
}

/// Every signature header an outbound attempt carries (DESIGN §5): the Standard Webhooks trio
/// plus the seed 001 legacy headers. `timestamp` is the unix time of THIS attempt; `previous`
/// is the old secret while a rotation overlap lasts.
pub fn outbound_headers(
    current: &WebhookSecret,
    previous: Option<&WebhookSecret>,
    delivery_id: &str,
    event: &str,
    timestamp: i64,
    body: &[u8],
) -> Vec<(String, String)> {
    let mut headers = vec![
        (HEADER_WEBHOOK_ID.to_owned(), delivery_id.to_owned()),
        (HEADER_WEBHOOK_TIMESTAMP.to_owned(), timestamp.to_string()),
        (
            HEADER_WEBHOOK_SIGNATURE.to_owned(),
            signature_header(current, previous, delivery_id, timestamp, body),
        ),
        (
            HEADER_LEGACY_SIGNATURE.to_owned(),
            legacy_signature(current.expose(), body),
        ),
    ];
    if let Some(previous) = previous {
        headers.push((
            HEADER_LEGACY_SIGNATURE_PREVIOUS.to_owned(),
            legacy_signature(previous.expose(), body),
        ));
    }
    headers.push((HEADER_LEGACY_EVENT.to_owned(), event.to_owned()));
    headers.push((HEADER_LEGACY_DELIVERY.to_owned(), delivery_id.to_owned()));
    headers
}

/// Verifies a Standard Webhooks request against any of `secrets` (several during a rotation).
/// `msg_id`, `timestamp` and `signature` are the `webhook-id`, `webhook-timestamp` and
/// `webhook-signature` header values (`""` when absent). The signature header may hold several
/// space-separated `v1,<base64>` entries; any one matching is enough, other versions are
/// ignored. The timestamp must be within `tolerance_secs` of `now`, in either direction.
pub fn verify_standard(
    secrets: &[WebhookSecret],
    msg_id: &str,
    timestamp: &str,
    signature: &str,
    body: &[u8],
    now: i64,
    tolerance_secs: i64,
) -> Result<(), SignatureError> {
    let msg_id = require(msg_id, HEADER_WEBHOOK_ID)?;
    let timestamp = require(timestamp, HEADER_WEBHOOK_TIMESTAMP)?;
    let signature = require(signature, HEADER_WEBHOOK_SIGNATURE)?;
    let signed_at: i64 = timestamp
        .parse()
        .map_err(|_| SignatureError::Malformed(HEADER_WEBHOOK_TIMESTAMP))?;

    let mut entries = Vec::new();
    for entry in signature.split_whitespace() {
        let (version, value) = entry
            .split_once(',')
            .ok_or(SignatureError::Malformed(HEADER_WEBHOOK_SIGNATURE))?;
        if version == "v1" {
            // An undecodable entry cannot match; keep looking at the others.
            if let Ok(bytes) = BASE64.decode(value) {
                entries.push(bytes);
            }
        }
    }

    let matched = secrets.iter().any(|secret| {
        let expected = standard_mac(secret, msg_id, timestamp, body);
        entries.iter().any(|candidate| ct_eq(&expected, candidate))
    });
    if !matched {
        return Err(SignatureError::Mismatch);
    }
    if !within_tolerance(signed_at, now, tolerance_secs) {
        return Err(SignatureError::TimestampOutOfTolerance);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Legacy (seed 001)
// ---------------------------------------------------------------------------------------------

/// Seed 001's `X-Webhook-Signature`: hex(HMAC-SHA256(key = UTF-8 bytes of the full secret
/// string, `whsec_` included, body)).
pub fn legacy_signature(secret: &str, body: &[u8]) -> String {
    hex::encode(hmac_sha256(secret.as_bytes(), &[body]))
}

/// Checks an `X-Webhook-Signature` value (hex) against any of `secrets` (full secret strings).
pub fn verify_legacy(signature: &str, secrets: &[&str], body: &[u8]) -> Result<(), SignatureError> {
    let signature = require(signature, HEADER_LEGACY_SIGNATURE)?;
    let candidate =
        hex::decode(signature).map_err(|_| SignatureError::Malformed(HEADER_LEGACY_SIGNATURE))?;
    let matched = secrets
        .iter()
        .any(|secret| ct_eq(&hmac_sha256(secret.as_bytes(), &[body]), &candidate));
    if matched {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

// ---------------------------------------------------------------------------------------------
// Stripe
// ---------------------------------------------------------------------------------------------

fn stripe_mac(secret: &str, timestamp: &str, body: &[u8]) -> [u8; 32] {
    hmac_sha256(secret.as_bytes(), &[timestamp.as_bytes(), b".", body])
}

/// A `Stripe-Signature` header value `t=<t>,v1=<hex>` for `body`, as Stripe would send it
/// (for tests and tools).
pub fn sign_stripe(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let t = timestamp.to_string();
    format!("t={t},v1={}", hex::encode(stripe_mac(secret, &t, body)))
}

/// Verifies a `Stripe-Signature` header (`t=<ts>,v1=<hex>[,v1=...][,v0=...]`): expected is
/// hex(HMAC-SHA256(secret as UTF-8, "{t}.{body}")); any `v1` may match (Stripe sends several
/// while a secret is rolled); other schemes are ignored; `|now - t| <= tolerance_secs`.
pub fn verify_stripe(
    header: &str,
    body: &[u8],
    secret: &str,
    now: i64,
    tolerance_secs: i64,
) -> Result<(), SignatureError> {
    const NAME: &str = HEADER_STRIPE_SIGNATURE;
    let header = require(header, NAME)?;
    if secret.is_empty() {
        return Err(SignatureError::BadSecret);
    }

    // Two walks over the header instead of collecting the candidates: nothing is allocated.
    let items = || header.split(',').map(|item| item.trim().split_once('='));
    let mut timestamp = None;
    for item in items() {
        match item.ok_or(SignatureError::Malformed(NAME))? {
            ("t", value) if timestamp.is_none() => timestamp = Some(value),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed(NAME))?;
    let signed_at: i64 = timestamp
        .parse()
        .map_err(|_| SignatureError::Malformed(NAME))?;

    let expected = stripe_mac(secret, timestamp, body);
    // A `v1` that is not 64 hex digits can never equal the 32-byte MAC.
    let matches = |value: &str| {
        let mut candidate = [0u8; 32];
        hex::decode_to_slice(value, &mut candidate).is_ok() && ct_eq(&expected, &candidate)
    };
    if !items()
        .flatten()
        .any(|(key, value)| key == "v1" && matches(value))
    {
        return Err(SignatureError::Mismatch);
    }
    if !within_tolerance(signed_at, now, tolerance_secs) {
        return Err(SignatureError::TimestampOutOfTolerance);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Close
// ---------------------------------------------------------------------------------------------

fn close_mac(
    signature_key_hex: &str,
    timestamp: &str,
    body: &[u8],
) -> Result<[u8; 32], SignatureError> {
    let key = hex::decode(signature_key_hex.trim()).map_err(|_| SignatureError::BadSecret)?;
    if key.is_empty() {
        return Err(SignatureError::BadSecret);
    }
    Ok(hmac_sha256(&key, &[timestamp.as_bytes(), body]))
}

/// The `close-sig-hash` value Close would send: hex(HMAC-SHA256(hex-decode(key),
/// timestamp + body)), no separator (for tests and tools).
pub fn sign_close(
    signature_key_hex: &str,
    timestamp: &str,
    body: &[u8],
) -> Result<String, SignatureError> {
    close_mac(signature_key_hex, timestamp, body).map(hex::encode)
}

/// Verifies Close's `close-sig-hash` (hex) and `close-sig-timestamp` headers. The key is the
/// subscription's hex `signature_key`; `tolerance_secs <= 0` turns the timestamp check off.
pub fn verify_close(
    sig_hash_hex: &str,
    timestamp: &str,
    body: &[u8],
    signature_key_hex: &str,
    now: i64,
    tolerance_secs: i64,
) -> Result<(), SignatureError> {
    let sig_hash = require(sig_hash_hex, HEADER_CLOSE_SIG_HASH)?;
    let timestamp = require(timestamp, HEADER_CLOSE_SIG_TIMESTAMP)?;
    let candidate =
        hex::decode(sig_hash).map_err(|_| SignatureError::Malformed(HEADER_CLOSE_SIG_HASH))?;
    let signed_at: i64 = timestamp
        .parse()
        .map_err(|_| SignatureError::Malformed(HEADER_CLOSE_SIG_TIMESTAMP))?;

    let expected = close_mac(signature_key_hex, timestamp, body)?;
    if !ct_eq(&expected, &candidate) {
        return Err(SignatureError::Mismatch);
    }
    if tolerance_secs > 0 && !within_tolerance(signed_at, now, tolerance_secs) {
        return Err(SignatureError::TimestampOutOfTolerance);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Rotation overlap
// ---------------------------------------------------------------------------------------------

/// How long the previous secret keeps signing after a rotation (DESIGN §5): the same rule for
/// subscriptions and integrations.
pub const ROTATION_OVERLAP: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// When the previous secret of a rotation made at `rotated_at` stops signing (the stored
/// `previousSecretExpiresAt`).
pub fn overlap_ends(rotated_at: Timestamp) -> Timestamp {
    rotated_at + chrono::Duration::from_std(ROTATION_OVERLAP).unwrap_or_default()
}

/// The previous secret while its overlap lasts: `expires_at` (RFC 3339, as stored) is strictly
/// later than `now`. No expiry or an unreadable one: no previous secret.
/// Generic over the secret's type: Standard Webhooks secrets (subscriptions, integrations) and
/// the providers' secrets of inbound sync jobs follow the same rule.
pub fn previous_secret_at<'a, S>(
    previous: Option<&'a S>,
    expires_at: Option<&str>,
    now: Timestamp,
) -> Option<&'a S> {
    let until = expires_at.and_then(crate::time::parse)?;
    (until > now).then_some(previous?)
}

#[cfg(test)]
mod tests {
    use super::*;

    // DESIGN §5 vectors.
    const STD_SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
    const STD_ID: &str = "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk";
    const STD_TS: i64 = 1_649_367_553;
    const STD_BODY: &[u8] = br#"{"email":"test@example.com","username":"test_user"}"#;
    const STD_SIG: &str = "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=";
    // Computed independently with Python's hmac: hex(HMAC-SHA256(STD_SECRET utf-8, STD_BODY)).
    const LEGACY_SIG: &str = "e0fc16c6d4a28f39a6e0935569f05d86e87367db24a4b6d9271215c603e49f6a";

    const STRIPE_SECRET: &str = "whsec_test_secret";
    const STRIPE_TS: i64 = 1_700_000_000;
    const STRIPE_BODY: &[u8] = br#"{"id":"evt_test","object":"event"}"#;
    const STRIPE_V1: &str = "8042376f6ca064adbe037642a718227dfd59047137eb49497a54c49eb0cfb724";

    const CLOSE_KEY: &str = "b9260244ef33625f9b4b26a27db08758cdd39478b852c73f2d33ab042eb8abb4";
    const CLOSE_TS: &str = "1557751596";
    const CLOSE_BODY: &[u8] = br#"{"event": {"id": "ev_4YUAT9G7PQNYEX0V7HpiZa", "date_created": "2019-01-01T13:33:00.842000", "data": {"object_type": "activity.note", "action": "created", "note": "test content"}}, "subscription_id": "whsub_mBTylJxRXaBOXcuQmgUdmL"}"#;
    const CLOSE_SIG: &str = "e6cf27a55de463dc46d8b5c16d2afe74d766e8f0c9892422c93573521cd377ed";

    const TOLERANCE: i64 = 300;

    fn std_secret() -> WebhookSecret {
        WebhookSecret::parse(STD_SECRET).unwrap()
    }

    fn flip_one_byte(body: &[u8]) -> Vec<u8> {
        let mut changed = body.to_vec();
        let last = changed.len() - 2;
        changed[last] ^= 0x01;
        changed
    }

    fn verify_std(
        secrets: &[WebhookSecret],
        signature: &str,
        body: &[u8],
        now: i64,
    ) -> Result<(), SignatureError> {
        verify_standard(
            secrets,
            STD_ID,
            &STD_TS.to_string(),
            signature,
            body,
            now,
            TOLERANCE,
        )
    }

    // ---- vectors ----

    #[test]
    fn standard_vector_signs_as_design_says() {
        assert_eq!(sign(&std_secret(), STD_ID, STD_TS, STD_BODY), STD_SIG);
    }

    #[test]
    fn standard_vector_verifies_inbound() {
        assert_eq!(
            verify_std(&[std_secret()], STD_SIG, STD_BODY, STD_TS),
            Ok(())
        );
    }

    #[test]
    fn stripe_vector_signs_and_verifies() {
        let header = format!("t={STRIPE_TS},v1={STRIPE_V1}");
        assert_eq!(sign_stripe(STRIPE_SECRET, STRIPE_TS, STRIPE_BODY), header);
        assert_eq!(
            verify_stripe(&header, STRIPE_BODY, STRIPE_SECRET, STRIPE_TS, TOLERANCE),
            Ok(())
        );
    }

    #[test]
    fn close_vector_signs_and_verifies() {
        assert_eq!(
            sign_close(CLOSE_KEY, CLOSE_TS, CLOSE_BODY).unwrap(),
            CLOSE_SIG
        );
        assert_eq!(
            verify_close(
                CLOSE_SIG,
                CLOSE_TS,
                CLOSE_BODY,
                CLOSE_KEY,
                1_557_751_596,
                TOLERANCE
            ),
            Ok(())
        );
    }

    #[test]
    fn legacy_signature_keys_hmac_with_full_secret_string() {
        assert_eq!(legacy_signature(STD_SECRET, STD_BODY), LEGACY_SIG);
        assert_eq!(verify_legacy(LEGACY_SIG, &[STD_SECRET], STD_BODY), Ok(()));
        assert_eq!(
            verify_legacy(LEGACY_SIG, &[STD_SECRET], &flip_one_byte(STD_BODY)),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_legacy("zz", &[STD_SECRET], STD_BODY),
            Err(SignatureError::Malformed(HEADER_LEGACY_SIGNATURE))
        );
    }

    // ---- secret ----

    #[test]
    fn generated_secret_is_whsec_base64_of_24_bytes() {
        let secret = WebhookSecret::generate();
        let raw = secret.expose();
        assert!(raw.starts_with("whsec_"));
        assert_eq!(BASE64.decode(&raw[6..]).unwrap().len(), 24);
        assert_eq!(WebhookSecret::parse(raw).unwrap(), secret);
        assert_ne!(WebhookSecret::generate(), secret);
    }

    #[test]
    fn parse_rejects_malformed_secrets() {
        for bad in [
            "",
            "C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
            "whsec_",
            "whsec_not base64!",
            "whsec_dG9vLXNob3J0",
            "whsk_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
        ] {
            assert_eq!(
                WebhookSecret::parse(bad),
                Err(SignatureError::BadSecret),
                "{bad}"
            );
        }
    }

    #[test]
    fn secret_never_prints_its_value() {
        let secret = std_secret();
        assert_eq!(format!("{secret}"), "whsec_…[redacted]");
        assert_eq!(format!("{secret:?}"), "whsec_…[redacted]");
        assert!(!format!("{:?}", Some(&secret)).contains("C2FV"));
    }

    #[test]
    fn secret_serializes_as_plain_string() {
        let secret = std_secret();
        let json = serde_json::to_string(&secret).unwrap();
        assert_eq!(json, format!("\"{STD_SECRET}\""));
        let back: WebhookSecret = serde_json::from_str(&json).unwrap();
        assert_eq!(back, secret);
        let err = serde_json::from_str::<WebhookSecret>("\"whsec_short\"").unwrap_err();
        assert!(!err.to_string().contains("short"));
    }

    #[test]
    fn error_messages_never_contain_secrets_or_signatures() {
        let wrong = WebhookSecret::generate();
        let err = verify_std(&[wrong], STD_SIG, STD_BODY, STD_TS).unwrap_err();
        let msg = err.to_string();
        assert!(!msg.contains("tZ1I4") && !msg.contains("whsec_"), "{msg}");
        let msg = verify_stripe("t=1,v1=00", STRIPE_BODY, STRIPE_SECRET, 1, 5)
            .unwrap_err()
            .to_string();
        assert!(
            !msg.contains(STRIPE_SECRET) && !msg.contains("8042"),
            "{msg}"
        );
    }

    // ---- Standard Webhooks ----

    #[test]
    fn standard_accepts_within_tolerance() {
        assert_eq!(
            verify_std(&[std_secret()], STD_SIG, STD_BODY, STD_TS + 300),
            Ok(())
        );
        assert_eq!(
            verify_std(&[std_secret()], STD_SIG, STD_BODY, STD_TS - 300),
            Ok(())
        );
    }

    #[test]
    fn standard_rejects_wrong_secret() {
        assert_eq!(
            verify_std(&[WebhookSecret::generate()], STD_SIG, STD_BODY, STD_TS),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn standard_rejects_stale_timestamp() {
        assert_eq!(
            verify_std(&[std_secret()], STD_SIG, STD_BODY, STD_TS + 301),
            Err(SignatureError::TimestampOutOfTolerance)
        );
    }

    #[test]
    fn standard_rejects_future_timestamp() {
        assert_eq!(
            verify_std(&[std_secret()], STD_SIG, STD_BODY, STD_TS - 301),
            Err(SignatureError::TimestampOutOfTolerance)
        );
    }

    #[test]
    fn standard_rejects_missing_headers() {
        let secrets = [std_secret()];
        let ts = STD_TS.to_string();
        assert_eq!(
            verify_standard(&secrets, "", &ts, STD_SIG, STD_BODY, STD_TS, TOLERANCE),
            Err(SignatureError::MissingHeader(HEADER_WEBHOOK_ID))
        );
        assert_eq!(
            verify_standard(&secrets, STD_ID, "", STD_SIG, STD_BODY, STD_TS, TOLERANCE),
            Err(SignatureError::MissingHeader(HEADER_WEBHOOK_TIMESTAMP))
        );
        assert_eq!(
            verify_standard(&secrets, STD_ID, &ts, " ", STD_BODY, STD_TS, TOLERANCE),
            Err(SignatureError::MissingHeader(HEADER_WEBHOOK_SIGNATURE))
        );
    }

    #[test]
    fn standard_rejects_malformed_headers() {
        let secrets = [std_secret()];
        assert_eq!(
            verify_standard(
                &secrets,
                STD_ID,
                "yesterday",
                STD_SIG,
                STD_BODY,
                STD_TS,
                TOLERANCE
            ),
            Err(SignatureError::Malformed(HEADER_WEBHOOK_TIMESTAMP))
        );
        assert_eq!(
            verify_std(&secrets, "garbage", STD_BODY, STD_TS),
            Err(SignatureError::Malformed(HEADER_WEBHOOK_SIGNATURE))
        );
        assert_eq!(
            verify_std(&secrets, "v1,!!!not-base64!!!", STD_BODY, STD_TS),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn standard_accepts_one_valid_among_several_v1() {
        let header =
            format!("v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= v1,bm90LWl0 {STD_SIG}");
        assert_eq!(
            verify_std(&[std_secret()], &header, STD_BODY, STD_TS),
            Ok(())
        );
    }

    #[test]
    fn standard_ignores_unknown_versions() {
        let only_unknown = "v1a,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw= v2,abc";
        assert_eq!(
            verify_std(&[std_secret()], only_unknown, STD_BODY, STD_TS),
            Err(SignatureError::Mismatch)
        );
        let mixed = format!("v2,abc {STD_SIG}");
        assert_eq!(
            verify_std(&[std_secret()], &mixed, STD_BODY, STD_TS),
            Ok(())
        );
    }

    #[test]
    fn standard_rejects_body_changed_by_one_byte() {
        assert_eq!(
            verify_std(&[std_secret()], STD_SIG, &flip_one_byte(STD_BODY), STD_TS),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn standard_rejects_changed_id() {
        let ts = STD_TS.to_string();
        assert_eq!(
            verify_standard(
                &[std_secret()],
                "msg_other",
                &ts,
                STD_SIG,
                STD_BODY,
                STD_TS,
                TOLERANCE
            ),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn rotation_header_carries_new_then_old_and_both_verify() {
        let old = std_secret();
        let new = WebhookSecret::generate();
        let header = signature_header(&new, Some(&old), STD_ID, STD_TS, STD_BODY);
        let parts: Vec<&str> = header.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0], sign(&new, STD_ID, STD_TS, STD_BODY));
        assert_eq!(parts[1], STD_SIG);
        // A receiver that knows only one of the two secrets accepts the request.
        assert_eq!(
            verify_std(std::slice::from_ref(&old), &header, STD_BODY, STD_TS),
            Ok(())
        );
        assert_eq!(
            verify_std(std::slice::from_ref(&new), &header, STD_BODY, STD_TS),
            Ok(())
        );
        // And each signature alone is valid for its own secret.
        assert_eq!(
            verify_std(std::slice::from_ref(&new), parts[0], STD_BODY, STD_TS),
            Ok(())
        );
        assert_eq!(
            verify_std(std::slice::from_ref(&old), parts[1], STD_BODY, STD_TS),
            Ok(())
        );
        // A receiver holding both secrets accepts a header signed with either one.
        assert_eq!(verify_std(&[new, old], parts[1], STD_BODY, STD_TS), Ok(()));
    }

    #[test]
    fn signature_header_without_rotation_is_single() {
        assert_eq!(
            signature_header(&std_secret(), None, STD_ID, STD_TS, STD_BODY),
            STD_SIG
        );
    }

    #[test]
    fn outbound_headers_carry_both_schemes() {
        let old = WebhookSecret::generate();
        let headers = outbound_headers(
            &std_secret(),
            Some(&old),
            STD_ID,
            "user.created",
            STD_TS,
            STD_BODY,
        );
        let get = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
                .unwrap()
        };
        assert_eq!(get(HEADER_WEBHOOK_ID), STD_ID);
        assert_eq!(get(HEADER_WEBHOOK_TIMESTAMP), "1649367553");
        assert!(get(HEADER_WEBHOOK_SIGNATURE).starts_with(STD_SIG));
        assert_eq!(get(HEADER_LEGACY_SIGNATURE), LEGACY_SIG);
        assert_eq!(
            get(HEADER_LEGACY_SIGNATURE_PREVIOUS),
            legacy_signature(old.expose(), STD_BODY)
        );
        assert_eq!(get(HEADER_LEGACY_EVENT), "user.created");
        assert_eq!(get(HEADER_LEGACY_DELIVERY), STD_ID);

        let single = outbound_headers(
            &std_secret(),
            None,
            STD_ID,
            "user.created",
            STD_TS,
            STD_BODY,
        );
        assert!(single
            .iter()
            .all(|(n, _)| n != HEADER_LEGACY_SIGNATURE_PREVIOUS));
    }

    // ---- Stripe ----

    fn stripe_header() -> String {
        sign_stripe(STRIPE_SECRET, STRIPE_TS, STRIPE_BODY)
    }

    #[test]
    fn stripe_accepts_within_tolerance() {
        let h = stripe_header();
        assert_eq!(
            verify_stripe(&h, STRIPE_BODY, STRIPE_SECRET, STRIPE_TS + 300, TOLERANCE),
            Ok(())
        );
        assert_eq!(
            verify_stripe(&h, STRIPE_BODY, STRIPE_SECRET, STRIPE_TS - 300, TOLERANCE),
            Ok(())
        );
    }

    #[test]
    fn stripe_rejects_wrong_secret() {
        assert_eq!(
            verify_stripe(
                &stripe_header(),
                STRIPE_BODY,
                "whsec_other",
                STRIPE_TS,
                TOLERANCE
            ),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_stripe(&stripe_header(), STRIPE_BODY, "", STRIPE_TS, TOLERANCE),
            Err(SignatureError::BadSecret)
        );
    }

    #[test]
    fn stripe_rejects_stale_timestamp() {
        assert_eq!(
            verify_stripe(
                &stripe_header(),
                STRIPE_BODY,
                STRIPE_SECRET,
                STRIPE_TS + 301,
                TOLERANCE
            ),
            Err(SignatureError::TimestampOutOfTolerance)
        );
    }

    #[test]
    fn stripe_rejects_future_timestamp() {
        assert_eq!(
            verify_stripe(
                &stripe_header(),
                STRIPE_BODY,
                STRIPE_SECRET,
                STRIPE_TS - 301,
                TOLERANCE
            ),
            Err(SignatureError::TimestampOutOfTolerance)
        );
    }

    #[test]
    fn stripe_rejects_missing_header() {
        assert_eq!(
            verify_stripe("", STRIPE_BODY, STRIPE_SECRET, STRIPE_TS, TOLERANCE),
            Err(SignatureError::MissingHeader(HEADER_STRIPE_SIGNATURE))
        );
    }

    #[test]
    fn stripe_rejects_malformed_header() {
        for bad in [
            "garbage",
            format!("v1={STRIPE_V1}").as_str(),
            format!("t=soon,v1={STRIPE_V1}").as_str(),
        ] {
            assert_eq!(
                verify_stripe(bad, STRIPE_BODY, STRIPE_SECRET, STRIPE_TS, TOLERANCE),
                Err(SignatureError::Malformed(HEADER_STRIPE_SIGNATURE)),
                "{bad}"
            );
        }
        // A header with a timestamp but no v1 at all cannot match.
        assert_eq!(
            verify_stripe(
                &format!("t={STRIPE_TS},v0={STRIPE_V1}"),
                STRIPE_BODY,
                STRIPE_SECRET,
                STRIPE_TS,
                TOLERANCE
            ),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn stripe_accepts_one_valid_among_several_v1() {
        let header = format!(
            "t={STRIPE_TS},v1={},v1=nothex,v1={STRIPE_V1},v0=6ffbb59b2300aae63f272406069a9788598b792a944a07aba816edb039989a39",
            "0".repeat(64)
        );
        assert_eq!(
            verify_stripe(&header, STRIPE_BODY, STRIPE_SECRET, STRIPE_TS, TOLERANCE),
            Ok(())
        );
    }

    #[test]
    fn stripe_rejects_body_changed_by_one_byte() {
        assert_eq!(
            verify_stripe(
                &stripe_header(),
                &flip_one_byte(STRIPE_BODY),
                STRIPE_SECRET,
                STRIPE_TS,
                TOLERANCE
            ),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn stripe_rejects_truncated_signature() {
        let header = format!("t={STRIPE_TS},v1={}", &STRIPE_V1[..62]);
        assert_eq!(
            verify_stripe(&header, STRIPE_BODY, STRIPE_SECRET, STRIPE_TS, TOLERANCE),
            Err(SignatureError::Mismatch)
        );
    }

    // ---- Close ----

    const CLOSE_NOW: i64 = 1_557_751_596;

    #[test]
    fn close_accepts_within_tolerance() {
        for now in [CLOSE_NOW + 300, CLOSE_NOW - 300] {
            assert_eq!(
                verify_close(CLOSE_SIG, CLOSE_TS, CLOSE_BODY, CLOSE_KEY, now, TOLERANCE),
                Ok(())
            );
        }
    }

    #[test]
    fn close_rejects_wrong_key() {
        let other = "00".repeat(32);
        assert_eq!(
            verify_close(CLOSE_SIG, CLOSE_TS, CLOSE_BODY, &other, CLOSE_NOW, TOLERANCE),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn close_rejects_key_that_is_not_hex() {
        assert_eq!(
            verify_close(CLOSE_SIG, CLOSE_TS, CLOSE_BODY, "not-hex", CLOSE_NOW, TOLERANCE),
            Err(SignatureError::BadSecret)
        );
        assert_eq!(
            verify_close(CLOSE_SIG, CLOSE_TS, CLOSE_BODY, "", CLOSE_NOW, TOLERANCE),
            Err(SignatureError::BadSecret)
        );
    }

    #[test]
    fn close_rejects_stale_timestamp() {
        assert_eq!(
            verify_close(
                CLOSE_SIG,
                CLOSE_TS,
                CLOSE_BODY,
                CLOSE_KEY,
                CLOSE_NOW + 301,
                TOLERANCE
            ),
            Err(SignatureError::TimestampOutOfTolerance)
        );
    }

    #[test]
    fn close_rejects_future_timestamp() {
        assert_eq!(
            verify_close(
                CLOSE_SIG,
                CLOSE_TS,
                CLOSE_BODY,
                CLOSE_KEY,
                CLOSE_NOW - 301,
                TOLERANCE
            ),
            Err(SignatureError::TimestampOutOfTolerance)
        );
    }

    #[test]
    fn close_tolerance_zero_turns_the_timestamp_check_off() {
        assert_eq!(
            verify_close(
                CLOSE_SIG,
                CLOSE_TS,
                CLOSE_BODY,
                CLOSE_KEY,
                CLOSE_NOW + 10_000_000,
                0
            ),
            Ok(())
        );
    }

    #[test]
    fn close_rejects_missing_headers() {
        assert_eq!(
            verify_close("", CLOSE_TS, CLOSE_BODY, CLOSE_KEY, CLOSE_NOW, TOLERANCE),
            Err(SignatureError::MissingHeader(HEADER_CLOSE_SIG_HASH))
        );
        assert_eq!(
            verify_close(CLOSE_SIG, "", CLOSE_BODY, CLOSE_KEY, CLOSE_NOW, TOLERANCE),
            Err(SignatureError::MissingHeader(HEADER_CLOSE_SIG_TIMESTAMP))
        );
    }

    #[test]
    fn close_rejects_malformed_headers() {
        assert_eq!(
            verify_close("xyz", CLOSE_TS, CLOSE_BODY, CLOSE_KEY, CLOSE_NOW, TOLERANCE),
            Err(SignatureError::Malformed(HEADER_CLOSE_SIG_HASH))
        );
        assert_eq!(
            verify_close(CLOSE_SIG, "noon", CLOSE_BODY, CLOSE_KEY, CLOSE_NOW, TOLERANCE),
            Err(SignatureError::Malformed(HEADER_CLOSE_SIG_TIMESTAMP))
        );
    }

    #[test]
    fn close_rejects_body_changed_by_one_byte() {
        assert_eq!(
            verify_close(
                CLOSE_SIG,
                CLOSE_TS,
                &flip_one_byte(CLOSE_BODY),
                CLOSE_KEY,
                CLOSE_NOW,
                TOLERANCE
            ),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn close_rejects_changed_timestamp() {
        assert_eq!(
            verify_close(
                CLOSE_SIG,
                "1557751597",
                CLOSE_BODY,
                CLOSE_KEY,
                CLOSE_NOW,
                TOLERANCE
            ),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn the_previous_secret_signs_until_the_overlap_ends_and_not_at_it() {
        let rotated = crate::time::parse("2026-01-01T00:00:00Z").unwrap();
        let ends = overlap_ends(rotated);
        assert_eq!(ends - rotated, chrono::Duration::hours(24));
        let old = WebhookSecret::generate();
        let stored = crate::time::format(ends);
        let at = |t| previous_secret_at(Some(&old), Some(&stored), t);
        assert!(at(rotated).is_some());
        assert!(at(ends - chrono::Duration::milliseconds(1)).is_some());
        assert!(
            at(ends).is_none(),
            "the overlap ends exactly at the stored instant"
        );
        assert!(at(ends + chrono::Duration::seconds(1)).is_none());
        assert!(previous_secret_at::<WebhookSecret>(None, Some(&stored), rotated).is_none());
        assert!(previous_secret_at(Some(&old), None, rotated).is_none());
        assert!(previous_secret_at(Some(&old), Some("garbage"), rotated).is_none());
    }
}
