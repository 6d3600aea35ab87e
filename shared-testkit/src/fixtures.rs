//! Test data builders shared by the tests and the benchmarks: a value with the usual fields
//! filled in, for a test to adjust what it is about (`Struct { field, ..builder() }`).

use serde_json::{json, Value};
use shared::bookings::ports::NewBooking;
use shared::bookings::{Booking, BookingStatus, ExamInput, QrCode};
use shared::inbound::domain::{SigningSecret, Source, SyncJob, WebhookConfig};

/// An exam named "Mock" of `capacity` seats, without a date.
pub fn exam(capacity: i64) -> ExamInput {
    ExamInput {
        name: "Mock".into(),
        capacity,
        exam_date: None,
    }
}

/// An active booking of `contact` on exam `exam` created at `now`, with a fresh QR code whose
/// code is `QR-{contact}`.
pub fn booking(exam: &str, contact: &str, now: &str) -> Booking {
    Booking {
        id: shared::ids::new_id(shared::ids::BOOKING),
        mock_exam_id: exam.into(),
        contact_id: Some(contact.into()),
        status: BookingStatus::Active,
        created_at: now.into(),
        updated_at: None,
        cancelled_at: None,
        completed_at: None,
        qr_code: QrCode {
            id: shared::ids::new_id(shared::ids::QR_CODE),
            code: format!("QR-{contact}"),
            scanned_at: None,
            scanned_by: None,
            validated_at: None,
        },
    }
}

/// The store write of `booking` in workspace `ws` at its creation time, without an
/// idempotency key, with the counter change of its exam as outbox (no events).
pub fn new_booking(ws: &str, booking: Booking) -> NewBooking {
    let now = booking.created_at.clone();
    NewBooking {
        workspace_id: ws.into(),
        outbox: shared::bookings::events::counter_change_outbox(
            ws,
            &booking.mock_exam_id,
            vec![],
            &now,
        ),
        booking,
        idempotency: None,
        now,
    }
}

/// An enabled webhook sync job of `source` in workspace `ws` whose signing secret is `secret`:
/// the default config, version 1, created now.
pub fn sync_job(ws: &str, source: Source, secret: &str) -> SyncJob {
    let now = shared::time::now_string();
    SyncJob {
        id: shared::ids::new_id(shared::ids::SYNC_JOB),
        workspace_id: ws.to_owned(),
        name: "job".into(),
        kind: "webhook".into(),
        source,
        enabled: true,
        webhook_config: WebhookConfig::default(),
        signing_secret: Some(SigningSecret::new(secret)),
        destination: Default::default(),
        version: 1,
        created_at: now.clone(),
        updated_at: now,
    }
}

/// The body of a Stripe event `id` of type `ty`, created at `created` (Unix seconds), whose
/// `data.object` is `object`.
pub fn stripe_event(id: &str, ty: &str, created: i64, object: Value) -> String {
    json!({
        "id": id, "object": "event", "api_version": "2024-06-20", "created": created,
        "data": { "object": object }, "livemode": false, "pending_webhooks": 1, "type": ty,
    })
    .to_string()
}

/// A subscription of workspace `ws` as the create route makes it from `body` (checked,
/// defaults filled in, a fresh id and secret), under the test config.
pub fn subscription(ws: &str, body: Value) -> shared::subscriptions::Subscription {
    let (app, _store, _queue) = crate::in_memory_app(shared::config::Config::for_tests("t", "q"));
    let body = serde_json::from_value(body).expect("a create body");
    shared::subscriptions::input::new_subscription(&app, ws, body).expect("a valid subscription")
}

/// A pending `customer.updated` Stripe event `provider_id` (inbound id `id`) of job `job_id`
/// in workspace `ws` with `raw_body`, received now and kept for a day.
pub fn inbound_event(
    ws: &str,
    job_id: &str,
    id: &str,
    provider_id: &str,
    raw_body: String,
) -> shared::inbound::domain::InboundEvent {
    let now = shared::time::now();
    shared::inbound::domain::InboundEvent {
        id: id.into(),
        workspace_id: ws.into(),
        job_id: job_id.into(),
        source: Source::Stripe,
        provider_event_id: provider_id.into(),
        event_type: "customer.updated".into(),
        status: shared::inbound::domain::EventStatus::Pending,
        headers: Default::default(),
        raw_body,
        attempts: 0,
        last_error: None,
        errors: vec![],
        object_type: None,
        object_id: None,
        event_created: None,
        outcome: None,
        received_at: shared::time::format(now),
        updated_at: shared::time::format(now),
        processed_at: None,
        expires_at: now.timestamp() + 86_400,
    }
}

/// The five users the list tests filter and sort (create bodies, in creation order): Carl,
/// alice, Bob, dora and Eve, with their tags, export consent, one opt-in and a custom
/// `level` (gold, silver, gold, …).
pub fn listed_users() -> Vec<Value> {
    [
        ("Carl", vec!["vip"], true, "messenger"),
        ("alice", vec![], false, "whatsapp"),
        ("Bob", vec!["vip", "new"], true, "telegram"),
        ("dora", vec!["new"], false, "messenger"),
        ("Eve", vec!["VIP"], true, "instagram"),
    ]
    .into_iter()
    .enumerate()
    .map(|(i, (first, tags, consent, optin))| {
        json!({
            "firstName": first, "lastName": format!("L{i}"), "email": format!("{first}{i}@x.io"),
            "tags": tags, "exportConsent": {"given": consent}, "optIns": {optin: true},
            "customFields": {"level": if i % 2 == 0 { "gold" } else { "silver" }},
        })
    })
    .collect()
}

/// A calendar event of workspace `ws` as the create route makes it from `body` (checked, a
/// fresh id, created now).
pub fn calendar_event(ws: &str, body: Value) -> shared::calendar::CalendarEvent {
    let body = body.as_object().expect("a JSON object");
    shared::calendar::input::new_event(ws, body).expect("a valid calendar event")
}
