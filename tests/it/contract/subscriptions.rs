//! Contract of `SubscriptionStore` and `DeliveryStore`: every behaviour is written once and
//! runs against the in-memory fake (`fake::…`) and the DynamoDB adapter on moto (`dynamo::…`).

use serde_json::json;
use shared::error::AppError;
use shared::ids::{new_id, EVENT, WEBHOOK};
use shared::outbox::DomainEvent;
use shared::patch::Patch;
use shared::signing::WebhookSecret;
use shared::subscriptions::{
    delivery_id_floor, AttemptRecord, AttemptResult, Delivery, DeliveryFilter, DeliveryStatus,
    DeliveryStore, Subscription, SubscriptionPatch, SubscriptionStore,
};
use shared::time::{format, now, now_string};
use shared_testkit::contract::all_pages;
use shared_testkit::fixtures;

shared_testkit::contract!(
    a_created_subscription_reads_back_as_written,
    subscriptions_list_newest_first_with_a_cursor,
    a_cursor_of_another_workspace_is_refused,
    active_subscriptions_leave_out_disabled_ones_and_other_workspaces,
    a_patch_changes_only_the_given_fields,
    reenabling_clears_the_reason_and_resets_the_streak,
    unknown_subscriptions_are_not_found,
    delete_returns_the_final_state,
    rotation_keeps_the_old_secret_as_previous,
    a_success_counts_and_resets_the_streak,
    the_streak_reaching_the_maximum_disables_once,
    concurrent_failures_are_all_counted,
    disabling_applies_only_to_an_active_subscription,
    outcomes_of_a_deleted_subscription_are_ignored,
    subscriptions_are_isolated_per_workspace,
    creating_a_delivery_twice_keeps_the_first,
    expired_deliveries_are_invisible_to_every_read,
    deliveries_list_newest_first_per_subscription_with_a_cursor,
    the_workspace_log_filters_by_status_event_and_time_across_subscriptions,
    a_claim_is_exclusive_until_it_expires,
    an_attempt_is_recorded_only_on_the_expected_count,
    a_delivery_fails_only_from_pending,
    requeue_starts_a_fresh_round_for_its_own_subscription_only,
    failed_deliveries_since_filter_by_status_and_time,
    overdue_deliveries_are_the_pending_ones_past_due_oldest_first,
    deliveries_are_isolated_per_workspace,
    rate_limit_and_headers_are_set_kept_and_cleared_by_patch,
    a_throttled_outcome_counts_without_touching_the_streak,
    a_pacing_slot_moves_only_from_the_value_read,
    pacing_slots_are_per_subscription,
);

const WS: &str = "ws_contract";

trait Store: SubscriptionStore + DeliveryStore {}
impl<T: SubscriptionStore + DeliveryStore + ?Sized> Store for T {}

fn subscription(ws: &str) -> Subscription {
    fixtures::subscription(
        ws,
        json!({
            "name": "CRM", "url": "https://example.com/hook",
            "events": ["booking.*", "user.created"], "description": "sync",
            "retryAttempts": 3, "retryDelay": 60, "timeoutMs": 10_000, "maxConsecutiveFailures": 3,
        }),
    )
}

async fn created<S: Store + ?Sized>(s: &S, ws: &str) -> Subscription {
    let sub = subscription(ws);
    s.create_subscription(&sub).await.unwrap();
    // Ids are time-ordered to the millisecond: keep creation order visible in them.
    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    sub
}

/// A pending delivery of a fresh event, `age_secs` old.
fn delivery(ws: &str, sub: &str, age_secs: i64) -> Delivery {
    let t = now() - chrono::Duration::seconds(age_secs);
    let floor = delivery_id_floor(t);
    let random = new_id(EVENT);
    let event_id = format!("msg_{}{}", &floor[4..14], &random[random.len() - 16..]);
    let mut event = DomainEvent::new(
        "booking.created",
        json!({"booking": {"id": "bk_1"}}),
        &format(t),
    );
    event.id = event_id;
    let payload = shared::subscriptions::payload_body(ws, &event, "api").unwrap();
    Delivery::pending(ws, sub, &event, payload, t, 30)
}

fn record(attempt: u32, status_code: Option<u16>) -> AttemptRecord {
    AttemptRecord {
        attempt,
        status_code,
        response_body: "x".repeat(10),
        error: status_code
            .filter(|c| *c >= 300)
            .map(|c| format!("http status {c}")),
        duration_ms: 12,
        at: now_string(),
        completed_at: now_string(),
        retry_after_seconds: None,
    }
}

fn pending_result() -> AttemptResult {
    AttemptResult {
        status: DeliveryStatus::Pending,
        next_attempt_at: Some(now_string()),
    }
}

// --- subscriptions ---------------------------------------------------------------------------

async fn a_created_subscription_reads_back_as_written<S: Store + ?Sized>(s: &S) {
    let sub = created(s, WS).await;
    assert_eq!(s.get_subscription(WS, &sub.id).await.unwrap(), Some(sub));
    assert_eq!(
        s.get_subscription(WS, &new_id(WEBHOOK)).await.unwrap(),
        None
    );
}

async fn subscriptions_list_newest_first_with_a_cursor<S: Store + ?Sized>(s: &S) {
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(created(s, WS).await.id);
    }
    ids.reverse();
    let seen: Vec<String> = all_pages(
        2,
        async |c| s.list_subscriptions(WS, c.as_deref(), 2).await.unwrap(),
        |s| s.id,
    )
    .await;
    assert_eq!(seen, ids);
}

async fn a_cursor_of_another_workspace_is_refused<S: Store + ?Sized>(s: &S) {
    for _ in 0..3 {
        created(s, "ws_a").await;
    }
    let page = s.list_subscriptions("ws_a", None, 1).await.unwrap();
    let cursor = page.next_cursor.expect("more pages");
    let err = s
        .list_subscriptions("ws_b", Some(&cursor), 1)
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::Validation(_)), "{err:?}");
    let err = s
        .list_subscriptions("ws_a", Some("garbage"), 1)
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::Validation(_)), "{err:?}");
}

async fn active_subscriptions_leave_out_disabled_ones_and_other_workspaces<S: Store + ?Sized>(
    s: &S,
) {
    let on = created(s, WS).await;
    let off = created(s, WS).await;
    created(s, "ws_other").await;
    s.disable_subscription(WS, &off.id, "manual", &now_string())
        .await
        .unwrap();
    let active: Vec<String> = s
        .active_subscriptions(WS)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(active, vec![on.id]);
}

async fn a_patch_changes_only_the_given_fields<S: Store + ?Sized>(s: &S) {
    let sub = created(s, WS).await;
    let patch = SubscriptionPatch {
        name: Some("Renamed".into()),
        events: Some(vec!["*".into()]),
        description: Patch::Null,
        retry_attempts: Some(0),
        timeout_ms: Some(1000),
        ..Default::default()
    };
    let at = now_string();
    let after = s
        .update_subscription(WS, &sub.id, &patch, &at)
        .await
        .unwrap();
    assert_eq!(after.name, "Renamed");
    assert_eq!(after.events, vec!["*"]);
    assert_eq!(after.description, None);
    assert_eq!(after.retry_attempts, 0);
    assert_eq!(after.timeout_ms, 1000);
    assert_eq!(after.updated_at, at);
    assert_eq!(after.url, sub.url);
    assert_eq!(after.retry_delay, sub.retry_delay);
    assert_eq!(after.secret, sub.secret);
    assert_eq!(after.created_at, sub.created_at);
    assert_eq!(s.get_subscription(WS, &sub.id).await.unwrap(), Some(after));
}

async fn reenabling_clears_the_reason_and_resets_the_streak<S: Store + ?Sized>(s: &S) {
    let sub = created(s, WS).await;
    for _ in 0..3 {
        s.record_delivery_outcome(WS, &sub.id, false, &now_string())
            .await
            .unwrap();
    }
    let off = s.get_subscription(WS, &sub.id).await.unwrap().unwrap();
    assert!(!off.active);
    let patch = SubscriptionPatch {
        active: Some(true),
        ..Default::default()
    };
    let on = s
        .update_subscription(WS, &sub.id, &patch, &now_string())
        .await
        .unwrap();
    assert!(on.active);
    assert_eq!(on.disabled_reason, None);
    assert_eq!(on.consecutive_failures, 0);
    assert_eq!(on.failed_count, 3, "history is kept");
}

async fn unknown_subscriptions_are_not_found<S: Store + ?Sized>(s: &S) {
    let id = new_id(WEBHOOK);
    let patch = SubscriptionPatch::default();
    let e = s
        .update_subscription(WS, &id, &patch, &now_string())
        .await
        .unwrap_err();
    assert!(matches!(e, AppError::NotFound(_)), "{e:?}");
    let e = s.delete_subscription(WS, &id).await.unwrap_err();
    assert!(matches!(e, AppError::NotFound(_)), "{e:?}");
    let e = s
        .rotate_secret(
            WS,
            &id,
            &WebhookSecret::generate(),
            &now_string(),
            &now_string(),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, AppError::NotFound(_)), "{e:?}");
    assert!(
        s.get_subscription(WS, &id).await.unwrap().is_none(),
        "no stub item was created"
    );
}

async fn delete_returns_the_final_state<S: Store + ?Sized>(s: &S) {
    let sub = created(s, WS).await;
    s.record_delivery_outcome(WS, &sub.id, true, &now_string())
        .await
        .unwrap();
    let gone = s.delete_subscription(WS, &sub.id).await.unwrap();
    assert_eq!(gone.id, sub.id);
    assert_eq!(gone.success_count, 1);
    assert_eq!(s.get_subscription(WS, &sub.id).await.unwrap(), None);
}

async fn rotation_keeps_the_old_secret_as_previous<S: Store + ?Sized>(s: &S) {
    let sub = created(s, WS).await;
    let first = WebhookSecret::generate();
    let until = format(now() + chrono::Duration::hours(24));
    let r1 = s
        .rotate_secret(WS, &sub.id, &first, &until, &now_string())
        .await
        .unwrap();
    assert_eq!(r1.secret, first);
    assert_eq!(r1.previous_secret.as_ref(), Some(&sub.secret));
    assert_eq!(
        r1.previous_secret_expires_at.as_deref(),
        Some(until.as_str())
    );
    let second = WebhookSecret::generate();
    let r2 = s
        .rotate_secret(WS, &sub.id, &second, &until, &now_string())
        .await
        .unwrap();
    assert_eq!(r2.secret, second);
    assert_eq!(
        r2.previous_secret.as_ref(),
        Some(&first),
        "the newest old secret overlaps"
    );
    assert_eq!(s.get_subscription(WS, &sub.id).await.unwrap(), Some(r2));
}

async fn a_success_counts_and_resets_the_streak<S: Store + ?Sized>(s: &S) {
    let sub = created(s, WS).await;
    s.record_delivery_outcome(WS, &sub.id, false, &now_string())
        .await
        .unwrap();
    let e = s
        .record_delivery_outcome(WS, &sub.id, false, &now_string())
        .await
        .unwrap();
    assert_eq!(e.consecutive_failures, 2);
    assert!(!e.disabled);
    let at = now_string();
    s.record_delivery_outcome(WS, &sub.id, true, &at)
        .await
        .unwrap();
    let got = s.get_subscription(WS, &sub.id).await.unwrap().unwrap();
    assert_eq!(got.success_count, 1);
    assert_eq!(got.failed_count, 2);
    assert_eq!(got.consecutive_failures, 0);
    assert_eq!(got.last_delivery_status, Some(DeliveryStatus::Success));
    assert_eq!(got.last_delivery_at.as_deref(), Some(at.as_str()));
    assert!(got.active);
}

async fn the_streak_reaching_the_maximum_disables_once<S: Store + ?Sized>(s: &S) {
    let sub = created(s, WS).await; // max 3
    let mut disabled = 0;
    for _ in 0..5 {
        if s.record_delivery_outcome(WS, &sub.id, false, &now_string())
            .await
            .unwrap()
            .disabled
        {
            disabled += 1;
        }
    }
    assert_eq!(disabled, 1);
    let got = s.get_subscription(WS, &sub.id).await.unwrap().unwrap();
    assert!(!got.active);
    assert_eq!(got.failed_count, 5);
    assert_eq!(got.consecutive_failures, 5);
    assert_eq!(got.last_delivery_status, Some(DeliveryStatus::Failed));
    assert!(got
        .disabled_reason
        .unwrap()
        .contains("3 consecutive failed deliveries"));
}

async fn concurrent_failures_are_all_counted<S: Store + ?Sized>(s: &S) {
    let sub = created(s, WS).await;
    let results = futures::future::join_all(
        (0..8).map(|_| s.record_delivery_outcome(WS, &sub.id, false, "2026-01-01T00:00:00.000Z")),
    )
    .await;
    let disabled = results
        .iter()
        .filter(|r| r.as_ref().unwrap().disabled)
        .count();
    assert_eq!(disabled, 1, "exactly one outcome disables");
    let got = s.get_subscription(WS, &sub.id).await.unwrap().unwrap();
    assert_eq!(got.failed_count, 8);
    assert_eq!(got.consecutive_failures, 8);
}

async fn disabling_applies_only_to_an_active_subscription<S: Store + ?Sized>(s: &S) {
    let sub = created(s, WS).await;
    assert!(s
        .disable_subscription(WS, &sub.id, "gone (410)", &now_string())
        .await
        .unwrap());
    assert!(!s
        .disable_subscription(WS, &sub.id, "again", &now_string())
        .await
        .unwrap());
    let got = s.get_subscription(WS, &sub.id).await.unwrap().unwrap();
    assert_eq!(got.disabled_reason.as_deref(), Some("gone (410)"));
    assert!(!s
        .disable_subscription(WS, &new_id(WEBHOOK), "x", &now_string())
        .await
        .unwrap());
}

async fn outcomes_of_a_deleted_subscription_are_ignored<S: Store + ?Sized>(s: &S) {
    let sub = created(s, WS).await;
    s.delete_subscription(WS, &sub.id).await.unwrap();
    let e = s
        .record_delivery_outcome(WS, &sub.id, false, &now_string())
        .await
        .unwrap();
    assert!(!e.disabled);
    assert_eq!(
        s.get_subscription(WS, &sub.id).await.unwrap(),
        None,
        "no stub item"
    );
}

async fn subscriptions_are_isolated_per_workspace<S: Store + ?Sized>(s: &S) {
    let sub = created(s, "ws_a").await;
    assert_eq!(s.get_subscription("ws_b", &sub.id).await.unwrap(), None);
    assert!(s
        .list_subscriptions("ws_b", None, 50)
        .await
        .unwrap()
        .items
        .is_empty());
    let patch = SubscriptionPatch {
        name: Some("stolen".into()),
        ..Default::default()
    };
    assert!(s
        .update_subscription("ws_b", &sub.id, &patch, &now_string())
        .await
        .is_err());
    assert!(s.delete_subscription("ws_b", &sub.id).await.is_err());
    s.record_delivery_outcome("ws_b", &sub.id, false, &now_string())
        .await
        .unwrap();
    assert_eq!(
        s.get_subscription("ws_a", &sub.id).await.unwrap(),
        Some(sub)
    );
}

// --- deliveries --------------------------------------------------------------------------------

async fn creating_a_delivery_twice_keeps_the_first<S: Store + ?Sized>(s: &S) {
    let d = delivery(WS, "wh_1", 0);
    assert!(s.create_delivery(&d).await.unwrap());
    let mut again = d.clone();
    again.payload = "{\"changed\":true}".into();
    assert!(!s.create_delivery(&again).await.unwrap());
    assert_eq!(s.get_delivery(WS, &d.id).await.unwrap(), Some(d));
}

async fn expired_deliveries_are_invisible_to_every_read<S: Store + ?Sized>(s: &S) {
    let mut d = delivery(WS, "wh_1", 60);
    d.status = DeliveryStatus::Failed;
    d.expires_at = now().timestamp() - 1;
    assert!(s.create_delivery(&d).await.unwrap());
    assert_eq!(s.get_delivery(WS, &d.id).await.unwrap(), None);
    assert!(s
        .list_deliveries(WS, &DeliveryFilter::subscription("wh_1"), None, 50)
        .await
        .unwrap()
        .items
        .is_empty());
    let floor = delivery_id_floor(now() - chrono::Duration::hours(1));
    assert!(s
        .failed_deliveries_since(WS, "wh_1", &floor, 50)
        .await
        .unwrap()
        .is_empty());
    let e = s
        .requeue_delivery(WS, "wh_1", &d.id, &now_string(), now().timestamp() + 3600)
        .await
        .unwrap_err();
    assert!(matches!(e, AppError::NotFound(_)), "{e:?}");
}

async fn deliveries_list_newest_first_per_subscription_with_a_cursor<S: Store + ?Sized>(s: &S) {
    let mut ids = Vec::new();
    for age in [50, 40, 30, 20, 10] {
        let d = delivery(WS, "wh_1", age);
        s.create_delivery(&d).await.unwrap();
        ids.push(d.id);
        s.create_delivery(&delivery(WS, "wh_2", age)).await.unwrap();
    }
    ids.reverse();
    let filter = DeliveryFilter::subscription("wh_1");
    let seen: Vec<String> = all_pages(
        2,
        async |c| {
            s.list_deliveries(WS, &filter, c.as_deref(), 2)
                .await
                .unwrap()
        },
        |d| d.id,
    )
    .await;
    assert_eq!(seen, ids);
    let page = s
        .list_deliveries(WS, &DeliveryFilter::subscription("wh_2"), None, 1)
        .await
        .unwrap();
    let foreign = page.next_cursor.unwrap();
    let e = s
        .list_deliveries(WS, &DeliveryFilter::subscription("wh_1"), Some(&foreign), 1)
        .await
        .unwrap_err();
    assert!(matches!(e, AppError::Validation(_)), "{e:?}");
}

/// DESIGN §8 "Delivery log filters": the workspace-wide log spans subscriptions, newest first;
/// status, event (exact or `prefix.*`) and the time range combine; a filtered page that the
/// filter thins out still pages through everything with its cursor.
async fn the_workspace_log_filters_by_status_event_and_time_across_subscriptions<
    S: Store + ?Sized,
>(
    s: &S,
) {
    let mut all = Vec::new();
    for (age, sub, event, failed) in [
        (600, "wh_1", "booking.created", false),
        (500, "wh_2", "booking.cancelled", true),
        (400, "wh_1", "user.created", true),
        (300, "wh_2", "booking.created", false),
        (200, "wh_1", "booking.qr.scanned", true),
        (100, "wh_2", "user.updated", false),
    ] {
        let mut d = delivery(WS, sub, age);
        d.event = event.into();
        if failed {
            d.status = DeliveryStatus::Failed;
        }
        assert!(s.create_delivery(&d).await.unwrap());
        all.push(d);
    }
    s.create_delivery(&delivery("ws_other", "wh_1", 50))
        .await
        .unwrap();
    let ids = |filter: DeliveryFilter, limit: u32| async move {
        all_pages(
            limit,
            async |c| {
                s.list_deliveries(WS, &filter, c.as_deref(), limit)
                    .await
                    .unwrap()
            },
            |d| d.id,
        )
        .await
    };
    let newest_first = |pick: &dyn Fn(&Delivery) -> bool| -> Vec<String> {
        all.iter()
            .rev()
            .filter(|d| pick(d))
            .map(|d| d.id.clone())
            .collect()
    };
    // The whole workspace, both subscriptions, newest first; no other workspace.
    assert_eq!(
        ids(DeliveryFilter::default(), 4).await,
        newest_first(&|_| true)
    );
    let failed = DeliveryFilter {
        status: Some(DeliveryStatus::Failed),
        ..DeliveryFilter::default()
    };
    assert_eq!(
        ids(failed, 1).await,
        newest_first(&|d| d.status == DeliveryStatus::Failed)
    );
    let bookings = DeliveryFilter {
        event: Some("booking.*".into()),
        ..DeliveryFilter::default()
    };
    assert_eq!(
        ids(bookings, 2).await,
        newest_first(&|d| d.event.starts_with("booking."))
    );
    let exact = DeliveryFilter {
        subscription_id: Some("wh_2".into()),
        event: Some("booking.created".into()),
        ..DeliveryFilter::default()
    };
    assert_eq!(
        ids(exact, 10).await,
        newest_first(&|d| d.subscription_id == "wh_2" && d.event == "booking.created")
    );
    // Events between 450 s and 150 s ago: the 400, 300 and 200 s ones.
    let window = DeliveryFilter {
        since: Some(now() - chrono::Duration::seconds(450)),
        until: Some(now() - chrono::Duration::seconds(150)),
        ..DeliveryFilter::default()
    };
    assert_eq!(
        ids(window, 10).await,
        newest_first(&|d| {
            let id = d.id.as_str();
            id == all[2].id || id == all[3].id || id == all[4].id
        })
    );
}

async fn a_claim_is_exclusive_until_it_expires<S: Store + ?Sized>(s: &S) {
    let d = delivery(WS, "wh_1", 0);
    s.create_delivery(&d).await.unwrap();
    let t = now().timestamp_millis();
    assert!(
        !s.claim_attempt(WS, &d.id, 1, t + 1000, t).await.unwrap(),
        "wrong call count"
    );
    assert!(s.claim_attempt(WS, &d.id, 0, t + 1000, t).await.unwrap());
    assert!(
        !s.claim_attempt(WS, &d.id, 0, t + 2000, t + 500)
            .await
            .unwrap(),
        "claim is live"
    );
    assert!(
        s.claim_attempt(WS, &d.id, 0, t + 5000, t + 1001)
            .await
            .unwrap(),
        "claim expired"
    );
    assert!(!s
        .claim_attempt(WS, "dlv_unknown", 0, t + 1000, t)
        .await
        .unwrap());
}

async fn an_attempt_is_recorded_only_on_the_expected_count<S: Store + ?Sized>(s: &S) {
    let d = delivery(WS, "wh_1", 0);
    s.create_delivery(&d).await.unwrap();
    let t = now().timestamp_millis();
    assert!(s.claim_attempt(WS, &d.id, 0, t + 60_000, t).await.unwrap());
    let first = record(1, Some(500));
    assert!(s
        .record_attempt(WS, &d.id, &first, &pending_result())
        .await
        .unwrap());
    assert!(
        !s.record_attempt(WS, &d.id, &first, &pending_result())
            .await
            .unwrap(),
        "same call twice"
    );
    // The claim was released with the record: the next call can be claimed at once.
    assert!(s.claim_attempt(WS, &d.id, 1, t + 60_000, t).await.unwrap());
    let second = record(2, Some(200));
    let done = AttemptResult {
        status: DeliveryStatus::Success,
        next_attempt_at: None,
    };
    assert!(s.record_attempt(WS, &d.id, &second, &done).await.unwrap());
    let got = s.get_delivery(WS, &d.id).await.unwrap().unwrap();
    assert_eq!(got.status, DeliveryStatus::Success);
    assert_eq!(got.attempts, 2);
    assert_eq!(got.attempt_log, vec![first, second.clone()]);
    assert_eq!(got.status_code, Some(200));
    assert_eq!(got.error, None);
    assert_eq!(got.duration_ms, Some(12));
    assert_eq!(got.response_body.as_deref(), Some("xxxxxxxxxx"));
    assert_eq!(got.next_attempt_at, None);
    assert_eq!(got.last_attempt_at, Some(second.at));
    assert_eq!(got.payload, d.payload, "payload untouched");
    assert!(
        !s.record_attempt(WS, &d.id, &record(3, Some(200)), &done)
            .await
            .unwrap(),
        "finished"
    );
}

async fn a_delivery_fails_only_from_pending<S: Store + ?Sized>(s: &S) {
    let d = delivery(WS, "wh_1", 0);
    s.create_delivery(&d).await.unwrap();
    assert!(s
        .fail_delivery(WS, &d.id, "the webhook is disabled", &now_string())
        .await
        .unwrap());
    assert!(!s
        .fail_delivery(WS, &d.id, "again", &now_string())
        .await
        .unwrap());
    let got = s.get_delivery(WS, &d.id).await.unwrap().unwrap();
    assert_eq!(got.status, DeliveryStatus::Failed);
    assert_eq!(got.error.as_deref(), Some("the webhook is disabled"));
    assert_eq!(got.next_attempt_at, None);
    assert!(!s
        .fail_delivery(WS, "dlv_unknown", "x", &now_string())
        .await
        .unwrap());
}

async fn requeue_starts_a_fresh_round_for_its_own_subscription_only<S: Store + ?Sized>(s: &S) {
    let d = delivery(WS, "wh_1", 0);
    s.create_delivery(&d).await.unwrap();
    let t = now().timestamp_millis();
    s.claim_attempt(WS, &d.id, 0, t + 1000, t).await.unwrap();
    let failed = AttemptResult {
        status: DeliveryStatus::Failed,
        next_attempt_at: None,
    };
    s.record_attempt(WS, &d.id, &record(1, Some(500)), &failed)
        .await
        .unwrap();
    let e = s
        .requeue_delivery(WS, "wh_other", &d.id, &now_string(), now().timestamp() + 99)
        .await
        .unwrap_err();
    assert!(matches!(e, AppError::NotFound(_)), "{e:?}");
    let at = now_string();
    let exp = now().timestamp() + 40 * 86_400;
    let back = s
        .requeue_delivery(WS, "wh_1", &d.id, &at, exp)
        .await
        .unwrap();
    assert_eq!(back.status, DeliveryStatus::Pending);
    assert_eq!(back.round_start, 1);
    assert_eq!(back.attempts, 1);
    assert_eq!(back.next_attempt_at.as_deref(), Some(at.as_str()));
    assert_eq!(back.expires_at, exp);
    assert_eq!(s.get_delivery(WS, &d.id).await.unwrap(), Some(back));
}

async fn failed_deliveries_since_filter_by_status_and_time<S: Store + ?Sized>(s: &S) {
    let mut old = delivery(WS, "wh_1", 7200);
    old.status = DeliveryStatus::Failed;
    let mut recent = delivery(WS, "wh_1", 600);
    recent.status = DeliveryStatus::Failed;
    let mut newer = delivery(WS, "wh_1", 60);
    newer.status = DeliveryStatus::Failed;
    let mut ok = delivery(WS, "wh_1", 30);
    ok.status = DeliveryStatus::Success;
    let mut other = delivery(WS, "wh_2", 30);
    other.status = DeliveryStatus::Failed;
    for d in [&old, &recent, &newer, &ok, &other] {
        s.create_delivery(d).await.unwrap();
    }
    let floor = delivery_id_floor(now() - chrono::Duration::hours(1));
    let ids: Vec<String> = s
        .failed_deliveries_since(WS, "wh_1", &floor, 50)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(ids, vec![recent.id.clone(), newer.id]);
    let first: Vec<String> = s
        .failed_deliveries_since(WS, "wh_1", &floor, 1)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(first, vec![recent.id]);
}

async fn overdue_deliveries_are_the_pending_ones_past_due_oldest_first<S: Store + ?Sized>(s: &S) {
    // Every page, following cursors.
    async fn overdue<S: Store + ?Sized>(s: &S, ws: &str, before: &str, limit: u32) -> Vec<String> {
        all_pages(
            limit,
            async |c| {
                s.overdue_deliveries(ws, before, c.as_deref(), limit)
                    .await
                    .unwrap()
            },
            |d| d.id,
        )
        .await
    }
    let hour_ago = delivery(WS, "wh_1", 3600);
    let twenty_min_ago = delivery(WS, "wh_2", 1200);
    let just_now = delivery(WS, "wh_1", 0);
    let succeeded = delivery(WS, "wh_1", 3000);
    let failed = delivery(WS, "wh_1", 3000);
    let retry_later = delivery(WS, "wh_1", 3000);
    let mut expired = delivery(WS, "wh_1", 3000);
    expired.expires_at = now().timestamp() - 1;
    let elsewhere = delivery("ws_other", "wh_1", 3600);
    for d in [
        &hour_ago,
        &twenty_min_ago,
        &just_now,
        &succeeded,
        &failed,
        &retry_later,
        &expired,
        &elsewhere,
    ] {
        s.create_delivery(d).await.unwrap();
    }
    let done = AttemptResult {
        status: DeliveryStatus::Success,
        next_attempt_at: None,
    };
    s.record_attempt(WS, &succeeded.id, &record(1, Some(200)), &done)
        .await
        .unwrap();
    s.fail_delivery(WS, &failed.id, "the webhook is disabled", &now_string())
        .await
        .unwrap();
    let later = AttemptResult {
        status: DeliveryStatus::Pending,
        next_attempt_at: Some(format(now() + chrono::Duration::hours(1))),
    };
    s.record_attempt(WS, &retry_later.id, &record(1, Some(500)), &later)
        .await
        .unwrap();

    let cutoff = format(now() - chrono::Duration::minutes(10));
    assert_eq!(
        overdue(s, WS, &cutoff, 50).await,
        vec![hour_ago.id.clone(), twenty_min_ago.id.clone()]
    );
    let first = s.overdue_deliveries(WS, &cutoff, None, 1).await.unwrap();
    assert_eq!(first.items, vec![hour_ago.clone()]);
    assert!(first.next_cursor.is_some());
    assert_eq!(
        overdue(s, WS, &cutoff, 1).await,
        vec![hour_ago.id.clone(), twenty_min_ago.id.clone()]
    );
    // A cursor is only good for the workspace it came from.
    assert!(s
        .overdue_deliveries("ws_other", &cutoff, first.next_cursor.as_deref(), 1)
        .await
        .is_err());
    // A manual retry puts a failed delivery back in, due at the retry's time.
    let half_hour_ago = format(now() - chrono::Duration::minutes(30));
    s.requeue_delivery(
        WS,
        "wh_1",
        &failed.id,
        &half_hour_ago,
        now().timestamp() + 999,
    )
    .await
    .unwrap();
    assert_eq!(
        overdue(s, WS, &cutoff, 2).await,
        vec![hour_ago.id.clone(), failed.id, twenty_min_ago.id]
    );
    let everything_due = format(now() + chrono::Duration::hours(2));
    let all = overdue(s, WS, &everything_due, 50).await;
    assert_eq!(all.len(), 5, "{all:?}");
    assert!(all.contains(&retry_later.id) && all.contains(&just_now.id));
    assert!(!all.contains(&succeeded.id) && !all.contains(&expired.id));
    assert_eq!(
        overdue(s, "ws_other", &cutoff, 50).await,
        vec![elsewhere.id]
    );
}

async fn deliveries_are_isolated_per_workspace<S: Store + ?Sized>(s: &S) {
    let d = delivery("ws_a", "wh_1", 0);
    s.create_delivery(&d).await.unwrap();
    assert_eq!(s.get_delivery("ws_b", &d.id).await.unwrap(), None);
    assert!(s
        .list_deliveries("ws_b", &DeliveryFilter::subscription("wh_1"), None, 50)
        .await
        .unwrap()
        .items
        .is_empty());
    let t = now().timestamp_millis();
    assert!(!s
        .claim_attempt("ws_b", &d.id, 0, t + 1000, t)
        .await
        .unwrap());
    assert!(!s
        .fail_delivery("ws_b", &d.id, "x", &now_string())
        .await
        .unwrap());
    assert!(s
        .requeue_delivery("ws_b", "wh_1", &d.id, &now_string(), now().timestamp() + 99)
        .await
        .is_err());
    assert_eq!(s.get_delivery("ws_a", &d.id).await.unwrap(), Some(d));
}

async fn rate_limit_and_headers_are_set_kept_and_cleared_by_patch<S: Store + ?Sized>(s: &S) {
    let sub = created(s, WS).await;
    assert_eq!(sub.rate_limit_per_second, None);
    assert!(sub.headers.is_empty());
    let headers: std::collections::BTreeMap<String, String> =
        [("X-Api-Key".to_owned(), "secret-1234".to_owned())].into();
    let set = SubscriptionPatch {
        rate_limit_per_second: Patch::Value(7),
        headers: Patch::Value(headers.clone()),
        ..Default::default()
    };
    let after = s
        .update_subscription(WS, &sub.id, &set, &now_string())
        .await
        .unwrap();
    assert_eq!(after.rate_limit_per_second, Some(7));
    assert_eq!(after.headers, headers, "names keep their case");
    let kept = s
        .update_subscription(WS, &sub.id, &SubscriptionPatch::default(), &now_string())
        .await
        .unwrap();
    assert_eq!(
        (kept.rate_limit_per_second, &kept.headers),
        (Some(7), &headers)
    );
    let clear = SubscriptionPatch {
        rate_limit_per_second: Patch::Null,
        headers: Patch::Null,
        ..Default::default()
    };
    let cleared = s
        .update_subscription(WS, &sub.id, &clear, &now_string())
        .await
        .unwrap();
    assert_eq!(cleared.rate_limit_per_second, None);
    assert!(cleared.headers.is_empty());
    assert_eq!(
        s.get_subscription(WS, &sub.id).await.unwrap(),
        Some(cleared)
    );
}

async fn a_throttled_outcome_counts_without_touching_the_streak<S: Store + ?Sized>(s: &S) {
    let sub = created(s, WS).await;
    s.record_delivery_outcome(WS, &sub.id, false, &now_string())
        .await
        .unwrap();
    for _ in 0..5 {
        s.record_throttled_outcome(WS, &sub.id, &now_string())
            .await
            .unwrap();
    }
    let after = s.get_subscription(WS, &sub.id).await.unwrap().unwrap();
    assert_eq!(after.failed_count, 6);
    assert_eq!(
        after.consecutive_failures, 1,
        "throttling is not a failure streak"
    );
    assert!(after.active);
    assert_eq!(after.last_delivery_status, Some(DeliveryStatus::Failed));
    // A deleted subscription is ignored.
    s.delete_subscription(WS, &sub.id).await.unwrap();
    s.record_throttled_outcome(WS, &sub.id, &now_string())
        .await
        .unwrap();
    assert_eq!(s.get_subscription(WS, &sub.id).await.unwrap(), None);
}

async fn a_pacing_slot_moves_only_from_the_value_read<S: Store + ?Sized>(s: &S) {
    let id = new_id(WEBHOOK);
    assert_eq!(s.pacing_slot(WS, &id).await.unwrap(), None);
    assert!(s.advance_pacing_slot(WS, &id, None, 100).await.unwrap());
    assert!(
        !s.advance_pacing_slot(WS, &id, None, 200).await.unwrap(),
        "a second first taker loses"
    );
    assert!(!s.advance_pacing_slot(WS, &id, Some(99), 200).await.unwrap());
    assert_eq!(s.pacing_slot(WS, &id).await.unwrap(), Some(100));
    assert!(s
        .advance_pacing_slot(WS, &id, Some(100), 200)
        .await
        .unwrap());
    assert_eq!(s.pacing_slot(WS, &id).await.unwrap(), Some(200));
    // Eight workers racing from the same read: exactly one takes the slot.
    let wins = futures::future::join_all(
        (0..8).map(|i| s.advance_pacing_slot(WS, &id, Some(200), 300 + i)),
    )
    .await
    .into_iter()
    .filter(|r| *r.as_ref().unwrap())
    .count();
    assert_eq!(wins, 1);
}

async fn pacing_slots_are_per_subscription<S: Store + ?Sized>(s: &S) {
    let sub = created(s, WS).await;
    assert!(s.advance_pacing_slot(WS, &sub.id, None, 5).await.unwrap());
    assert_eq!(s.pacing_slot("ws_other", &sub.id).await.unwrap(), None);
    assert_eq!(s.pacing_slot(WS, "wh_other").await.unwrap(), None);
    // The pacing item is never read as a subscription.
    let page = s.list_subscriptions(WS, None, 50).await.unwrap();
    assert_eq!(page.items, vec![sub]);
}
