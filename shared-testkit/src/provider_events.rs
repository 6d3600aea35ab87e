//! Realistic webhook bodies, signed exactly as their senders sign them, for the criterion
//! benches and the peer comparison (`infra/measure/peers.sh`, which reads the same Stripe
//! event file). Real event shapes of each provider, at about 1, 3 and 64 KiB (each body is
//! the smallest of its shape that reaches the size; the benches report the exact byte count).

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{json, Value};
use shared::inbound::domain::{SigningSecret, Source, SyncJob, WebhookConfig};
use shared::outbox::DomainEvent;

/// The ~3 KiB Stripe `customer.subscription.updated` event: the very bytes the peers verify
/// (`infra/measure/peers/stripe_event.json`, compact JSON, no trailing newline).
pub const STRIPE_EVENT: &str = include_str!("../../infra/measure/peers/stripe_event.json");
/// The event id inside [`STRIPE_EVENT`].
pub const STRIPE_EVENT_ID: &str = "evt_1PmBenchAbCdEfGhIjKlMn";

/// A Stripe endpoint secret (used as UTF-8 bytes).
pub const STRIPE_SECRET: &str = "whsec_bench_0123456789abcdefghij";
/// A Close subscription `signature_key` (hex; DESIGN §5's vector key).
pub const CLOSE_KEY: &str = "b9260244ef33625f9b4b26a27db08758cdd39478b852c73f2d33ab042eb8abb4";
/// A Standard Webhooks secret (DESIGN §5's vector secret).
pub const STANDARD_SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
/// The `webhook-id` of the Standard Webhooks fixtures.
pub const STANDARD_MSG_ID: &str = "msg_2mBenchAbCdEfGhIjKlMnOpQrS";

/// The body sizes the signature benches measure.
pub const SIZES_KIB: [usize; 3] = [1, 3, 64];

/// The signing secret a job of `source` holds in these fixtures.
pub fn secret(source: Source) -> &'static str {
    match source {
        Source::Stripe => STRIPE_SECRET,
        Source::Close => CLOSE_KEY,
        Source::Generic => STANDARD_SECRET,
    }
}

/// An enabled webhook sync job of `source` in workspace `ws`, with [`secret`]`(source)`.
pub fn sync_job(ws: &str, source: Source) -> SyncJob {
    SyncJob {
        id: shared::ids::new_id(shared::ids::SYNC_JOB),
        workspace_id: ws.into(),
        name: "bench".into(),
        kind: "webhook".into(),
        source,
        enabled: true,
        webhook_config: WebhookConfig::default(),
        signing_secret: Some(SigningSecret::new(secret(source))),
        destination: Default::default(),
        version: 1,
        created_at: "2024-01-01T00:00:00.000Z".into(),
        updated_at: "2024-01-01T00:00:00.000Z".into(),
    }
}

/// The headers a provider sends with `body` signed at `now` (Stripe-Signature; Close's pair;
/// the Standard Webhooks trio), with [`secret`]`(source)`.
pub fn signed_headers(source: Source, body: &[u8], now: i64) -> Vec<(&'static str, String)> {
    use shared::signing;
    match source {
        Source::Stripe => vec![(
            "stripe-signature",
            signing::sign_stripe(STRIPE_SECRET, now, body),
        )],
        Source::Close => {
            let ts = now.to_string();
            let sig = signing::sign_close(CLOSE_KEY, &ts, body).expect("close key");
            vec![("close-sig-hash", sig), ("close-sig-timestamp", ts)]
        }
        Source::Generic => {
            let key = signing::WebhookSecret::parse(STANDARD_SECRET).expect("standard secret");
            vec![
                ("webhook-id", STANDARD_MSG_ID.to_owned()),
                ("webhook-timestamp", now.to_string()),
                (
                    "webhook-signature",
                    signing::sign(&key, STANDARD_MSG_ID, now, body),
                ),
            ]
        }
    }
}

/// `pairs` as a request's header map (plus `content-type: application/json`).
pub fn header_map(pairs: &[(&'static str, String)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        HeaderName::from_static("content-type"),
        HeaderValue::from_static("application/json"),
    );
    for (name, value) in pairs {
        h.insert(
            HeaderName::from_static(name),
            HeaderValue::from_str(value).expect("header value"),
        );
    }
    h
}

/// The smallest `make(n)` whose JSON reaches `target` bytes.
fn grow(target: usize, make: impl Fn(usize) -> Vec<u8>) -> Vec<u8> {
    (0..100_000)
        .map(make)
        .find(|b| b.len() >= target)
        .expect("the fixture grows")
}

/// [`STRIPE_EVENT`] with another event id (same bytes otherwise).
pub fn stripe_event_with_id(id: &str) -> Vec<u8> {
    STRIPE_EVENT.replacen(STRIPE_EVENT_ID, id, 1).into_bytes()
}

/// A Stripe event of about `kib` KiB: 1 → `customer.updated`; 3 → [`STRIPE_EVENT`]; larger →
/// [`STRIPE_EVENT`] with as many subscription items as it takes.
pub fn stripe_event(kib: usize) -> Vec<u8> {
    match kib {
        1 => grow(1024, |n| {
            json!({
                "id": STRIPE_EVENT_ID, "object": "event", "api_version": "2024-06-20", "created": 1_700_000_000,
                "data": {
                    "object": {
                        "id": "cus_PmAbCdEfGhIjKl", "object": "customer",
                        "address": { "city": "Berlin", "country": "DE", "line1": "Unter den Linden 1",
                            "line2": null, "postal_code": "10117", "state": null },
                        "balance": 0, "created": 1_690_000_000, "currency": "usd", "default_source": null,
                        "delinquent": false, "description": "Acme Corp", "discount": null,
                        "email": "billing@acme.example", "invoice_prefix": "ACME0001",
                        "invoice_settings": { "custom_fields": null, "default_payment_method": "pm_1OxAbCdEfGhIjKlM",
                            "footer": null, "rendering_options": null },
                        "livemode": false,
                        "metadata": (0..n).map(|i| (format!("key_{i}"), json!("value"))).collect::<serde_json::Map<_, _>>(),
                        "name": "Acme Corp", "phone": "+49 30 1234567", "preferred_locales": ["en", "de"],
                        "shipping": null, "tax_exempt": "none", "test_clock": null,
                    },
                    "previous_attributes": { "email": "ops@acme.example" },
                },
                "livemode": false, "pending_webhooks": 1,
                "request": { "id": "req_AbCdEfGhIjKlMn", "idempotency_key": "2f6c8b1e-7d4a-4c1b-9a3e-5f2d1c0b9a8e" },
                "type": "customer.updated",
            })
            .to_string()
            .into_bytes()
        }),
        3 => STRIPE_EVENT.as_bytes().to_vec(),
        _ => {
            let base: Value = serde_json::from_str(STRIPE_EVENT).expect("stripe_event.json");
            let first = base["data"]["object"]["items"]["data"][0].clone();
            grow(kib * 1024, |n| {
                let mut ev = base.clone();
                let items = &mut ev["data"]["object"]["items"];
                items["data"] = (1..=n.max(1))
                    .map(|i| {
                        let mut it = first.clone();
                        it["id"] = json!(format!("si_Ox{i:04}abcdefghij"));
                        it["price"]["id"] = json!(format!("price_1Ox{i:04}AbCdEf"));
                        it
                    })
                    .collect();
                items["total_count"] = json!(n.max(1));
                ev.to_string().into_bytes()
            })
        }
    }
}

/// A Close webhook of about `kib` KiB: 1 → `activity.note` `created`; larger → `lead`
/// `updated` carrying the lead with as many contacts as it takes.
pub fn close_event(kib: usize) -> Vec<u8> {
    const AT: &str = "2024-03-01T10:00:00.123456";
    let envelope = |object_type: &str,
                    object_id: &str,
                    action: &str,
                    changed: Value,
                    data: Value,
                    previous: Value| {
        json!({
            "subscription_id": "whsub_mBTylJxRXaBOXcuQmgUdmL",
            "event": {
                "id": "ev_4YUAT9G7PQNYEX0V7HpiZa", "date_created": AT, "date_updated": AT,
                "organization_id": "orga_XbVPx5fFbKlbRdCaDq0mFsnqJ0zCvTjrBRBsHbB8zKq",
                "user_id": "user_8RVqlwGzrCgYQW7fYGkqZaQ2SLUKsADGxFZxScNPSLe",
                "request_id": "req_5ZqhqhCZk4KHE0T6yLO7jW", "api_key_id": null,
                "oauth_client_id": null, "oauth_scope": null,
                "object_type": object_type, "object_id": object_id,
                "lead_id": "lead_u6BlAjRNEyXmE6ax6CmPZ8K4fqQ7WnQCx7vgpBVWSKo", "action": action,
                "changed_fields": changed,
                "meta": { "request_path": format!("/api/v1/{object_type}/{object_id}/"), "request_method": "PUT" },
                "data": data, "previous_data": previous,
            },
        })
    };
    if kib <= 1 {
        return grow(1024, |n| {
            let note =
                "Called back about the renewal; they want the annual plan with 5 seats. ".repeat(n);
            envelope(
                "activity.note",
                "acti_n1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789AbC",
                "created",
                json!([]),
                json!({ "id": "acti_n1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789AbC", "_type": "Note",
                    "note": note, "lead_id": "lead_u6BlAjRNEyXmE6ax6CmPZ8K4fqQ7WnQCx7vgpBVWSKo",
                    "user_name": "Ada Lovelace", "date_created": AT }),
                json!({}),
            )
            .to_string()
            .into_bytes()
        });
    }
    let contact = |i: usize| {
        json!({
            "id": format!("cont_{i:04}AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"), "organization_id": "orga_XbVPx5fFbKlbRdCaDq0mFsnqJ0zCvTjrBRBsHbB8zKq",
            "lead_id": "lead_u6BlAjRNEyXmE6ax6CmPZ8K4fqQ7WnQCx7vgpBVWSKo", "name": format!("Contact {i}"),
            "display_name": format!("Contact {i}"), "title": "Head of Operations",
            "emails": [{ "type": "office", "email": format!("contact{i}@acme.example") }],
            "phones": [{ "type": "office", "phone": "+16505550123", "phone_formatted": "+1 650-555-0123" }],
            "urls": [], "date_created": AT, "date_updated": AT,
            "created_by": "user_8RVqlwGzrCgYQW7fYGkqZaQ2SLUKsADGxFZxScNPSLe", "updated_by": null,
        })
    };
    grow(kib * 1024, |n| {
        let lead = json!({
            "id": "lead_u6BlAjRNEyXmE6ax6CmPZ8K4fqQ7WnQCx7vgpBVWSKo", "display_name": "Acme Corp", "name": "Acme Corp",
            "status_id": "stat_1ZdiZqcSIkoGVnNOyxiEY58eTGQmFNG3LPlEVQ4V7Nk", "status_label": "Qualified",
            "description": "Exam-prep customer, 5 seats", "url": "https://acme.example",
            "html_url": "https://app.close.com/lead/lead_u6BlAjRNEyXmE6ax6CmPZ8K4fqQ7WnQCx7vgpBVWSKo/",
            "organization_id": "orga_XbVPx5fFbKlbRdCaDq0mFsnqJ0zCvTjrBRBsHbB8zKq",
            "date_created": AT, "date_updated": AT,
            "created_by": "user_8RVqlwGzrCgYQW7fYGkqZaQ2SLUKsADGxFZxScNPSLe", "updated_by": "user_8RVqlwGzrCgYQW7fYGkqZaQ2SLUKsADGxFZxScNPSLe",
            "addresses": [{ "label": "business", "address_1": "747 Howard St", "address_2": "Room 3",
                "city": "San Francisco", "state": "CA", "zipcode": "94103", "country": "US" }],
            "custom": { "Plan": "pro", "Seats": 5 },
            "contacts": (0..n).map(contact).collect::<Vec<_>>(),
        });
        envelope(
            "lead",
            "lead_u6BlAjRNEyXmE6ax6CmPZ8K4fqQ7WnQCx7vgpBVWSKo",
            "updated",
            json!(["status_id", "status_label", "date_updated"]),
            lead,
            json!({ "status_id": "stat_LFNuS6RPb9TTTDFNuc8yvJ4x1PWE3Wv3KS2CbSJ0Zs6", "status_label": "Potential", "date_updated": AT }),
        )
        .to_string()
        .into_bytes()
    })
}

/// An outbound delivery body of about `kib` KiB, as we send it (seed 001 shape, built by
/// [`shared::subscriptions::payload_body`]): a `user.updated` event whose user carries as
/// many custom fields as it takes.
pub fn delivery_payload(kib: usize) -> Vec<u8> {
    const AT: &str = "2024-03-01T10:00:00.123Z";
    let user = |n: usize| {
        json!({ "user": {
            "id": "usr_01jf0000000000000000000000", "firstName": "Ada", "lastName": "Lovelace",
            "fullName": "Ada Lovelace", "email": "ada@example.com", "phone": "+441632960961",
            "whatsappPhone": null, "gender": null, "locale": "en_GB", "timezone": "Europe/London",
            "manychatId": "1234567890", "instagramUsername": "ada", "instagramId": null, "profilePic": null,
            "optIns": { "email": true, "sms": false, "whatsapp": false },
            "exportConsent": { "granted": true, "at": AT },
            "tags": [{ "name": "student" }, { "name": "exam-2025" }],
            "customFields": (0..n).map(|i| (format!("field_{i:04}"), json!(format!("Value of custom field number {i}"))))
                .collect::<serde_json::Map<_, _>>(),
            "createdAt": AT, "updatedAt": AT,
        } })
    };
    grow(kib * 1024, |n| {
        let event = DomainEvent {
            id: "evt_01jf0000000000000000000000".into(),
            ..DomainEvent::new(shared::users::USER_UPDATED, user(n), AT)
        };
        shared::subscriptions::payload_body("ws_01jf0000000000000000000000", &event, "api")
            .expect("payload")
            .into_bytes()
    })
}
