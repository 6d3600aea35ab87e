//! Webhook subscription routes against the in-memory fakes.

use shared_testkit::harness::TestApp;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use shared::config::Config;
use shared::queue::QueueName;
use shared::queue::{QueueEnvelope, QueueMessage};
use shared::subscriptions::{Delivery, DeliveryStatus};
use shared_testkit::harness::{call, Reply};

async fn env_with(config: Config) -> TestApp {
    TestApp::with_config(config)
        .await
        .serve(subscriptions_api::router)
}

async fn env() -> TestApp {
    env_with(Config::for_tests("t", "q")).await
}

async fn create(e: &TestApp, body: Value) -> Reply {
    e.post("/api/admin/webhooks", body).await
}

/// A fresh environment with one webhook (at `https://example.com/h`): it, the webhook and
/// the webhook's id.
async fn env_with_hook() -> (TestApp, Value, String) {
    let e = env().await;
    let w = create_ok(&e, "https://example.com/h").await;
    let id = w["id"].as_str().unwrap().to_owned();
    (e, w, id)
}

async fn create_ok(e: &TestApp, url: &str) -> Value {
    let r = create(
        e,
        json!({ "name": "CRM", "url": url, "events": ["booking.*"] }),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["webhook"].clone()
}

/// A loopback receiver that records bodies and answers with `status`.
async fn receiver(status: u16) -> (String, Arc<Mutex<Vec<(axum::http::HeaderMap, String)>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let app = axum::Router::new().fallback(move |headers: axum::http::HeaderMap, body: String| {
        let s = s.clone();
        async move {
            s.lock().unwrap().push((headers, body));
            (
                axum::http::StatusCode::from_u16(status).unwrap(),
                "receiver says hi",
            )
        }
    });
    let addr = shared_testkit::targets::serve(app).await;
    (format!("http://{addr}/hook"), seen)
}

#[tokio::test]
async fn create_answers_201_with_the_seed_fields_and_a_whsec_secret() {
    let e = env().await;
    let r = create(
        &e,
        json!({
            "name": "My CRM Webhook",
            "url": "https://your-crm.com/webhooks/flowkick",
            "events": ["user.created", "user.updated", "booking.created"],
            "description": "Sync users and bookings to our CRM",
            "retryAttempts": 3,
            "retryDelay": 60,
            "timeoutMs": 10000
        }),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["success"], true);
    let w = &r.body["webhook"];
    assert!(w["id"].as_str().unwrap().starts_with("wh_"));
    assert_eq!(w["name"], "My CRM Webhook");
    assert_eq!(w["url"], "https://your-crm.com/webhooks/flowkick");
    assert_eq!(
        w["events"],
        json!(["user.created", "user.updated", "booking.created"])
    );
    assert_eq!(w["active"], true);
    assert_eq!(w["retryAttempts"], 3);
    assert_eq!(w["retryDelay"], 60);
    assert_eq!(w["timeoutMs"], 10000);
    assert_eq!(w["maxConsecutiveFailures"], 5);
    assert!(w["createdAt"].as_str().unwrap().ends_with('Z'));
    let secret = w["secret"].as_str().unwrap();
    assert!(
        shared::signing::WebhookSecret::parse(secret).is_ok(),
        "{secret}"
    );
    assert_eq!(secret.len(), "whsec_".len() + 32, "24 random bytes, base64");
}

#[tokio::test]
async fn defaults_apply_when_optional_fields_are_absent() {
    let e = env().await;
    let w = create_ok(&e, "https://example.com/hook").await;
    assert_eq!(w["retryAttempts"], 3);
    assert_eq!(w["retryDelay"], 60);
    assert_eq!(w["timeoutMs"], 10000);
    assert_eq!(w["maxConsecutiveFailures"], 5);
    assert_eq!(w["successCount"], 0);
    assert_eq!(w["failedCount"], 0);
    assert_eq!(w["consecutiveFailures"], 0);
    assert_eq!(w["lastDeliveryStatus"], Value::Null);
    assert_eq!(w["disabledReason"], Value::Null);
}

#[tokio::test]
async fn the_secret_is_shown_only_on_create_and_rotate() {
    let e = env().await;
    let w = create_ok(&e, "https://example.com/hook").await;
    let id = w["id"].as_str().unwrap();
    let path = format!("/api/admin/webhooks/{id}");
    let got = e.get(&path).await;
    assert_eq!(got.status, 200);
    assert!(got.body["webhook"].get("secret").is_none());
    let list = e.get("/api/admin/webhooks").await;
    assert!(list.body["webhooks"][0].get("secret").is_none());
    let patched = e.patch(&path, json!({"name": "x"})).await;
    assert!(patched.body["webhook"].get("secret").is_none());
    assert!(!got.body.to_string().contains("whsec_"));
}

#[tokio::test]
async fn bad_input_is_a_400_naming_the_field() {
    let e = env().await;
    let base = json!({ "name": "n", "url": "https://example.com/h", "events": ["*"] });
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({ "url": "https://example.com/h", "events": ["*"] }),
            "name",
        ),
        (
            json!({ "name": "", "url": "https://example.com/h", "events": ["*"] }),
            "name",
        ),
        (json!({ "name": "n", "events": ["*"] }), "url"),
        (
            json!({ "name": "n", "url": "not a url", "events": ["*"] }),
            "url",
        ),
        (
            json!({ "name": "n", "url": "ftp://example.com", "events": ["*"] }),
            "url",
        ),
        (
            json!({ "name": "n", "url": "http://169.254.169.254/latest", "events": ["*"] }),
            "url",
        ),
        (
            json!({ "name": "n", "url": "https://example.com/h" }),
            "events",
        ),
        (
            json!({ "name": "n", "url": "https://example.com/h", "events": [] }),
            "events",
        ),
        (
            json!({ "name": "n", "url": "https://example.com/h", "events": ["booking.creatd"] }),
            "events[0]",
        ),
        (
            json!({ "name": "n", "url": "https://example.com/h", "events": "*" }),
            "events",
        ),
    ];
    for (body, field) in cases {
        let r = create(&e, body.clone()).await;
        assert_eq!(r.status, 400, "{body} → {}", r.body);
        assert!(
            r.error_message().contains(field),
            "{body}: {}",
            r.error_message()
        );
    }
    for (field, value) in [
        ("retryAttempts", json!(11)),
        ("retryAttempts", json!(-1)),
        ("retryDelay", json!(0)),
        ("retryDelay", json!(3601)),
        ("timeoutMs", json!(999)),
        ("timeoutMs", json!(25001)),
        ("maxConsecutiveFailures", json!(0)),
        ("retryDelay", json!("60")),
    ] {
        let mut body = base.clone();
        body[field] = value.clone();
        let r = create(&e, body).await;
        assert_eq!(r.status, 400, "{field}={value}");
        assert_eq!(r.error_code(), "validation_error");
        assert!(r.error_message().contains(field), "{}", r.error_message());
    }
    let r = shared_testkit::harness::call_raw(
        &e.router,
        "POST",
        "/api/admin/webhooks",
        &[("authorization", &format!("Bearer {}", e.key))],
        b"{not json".to_vec(),
    )
    .await;
    assert_eq!(r.error_code(), "invalid_json");
    // Nothing was written by any of these.
    let list = e.get("/api/admin/webhooks").await;
    assert_eq!(list.body["webhooks"], json!([]));
}

#[tokio::test]
async fn http_and_loopback_urls_need_private_targets_allowed() {
    let mut config = Config::for_tests("t", "q");
    config.allow_private_targets = false;
    let e = env_with(config).await;
    for url in [
        "http://example.com/hook",
        "https://127.0.0.1/hook",
        "https://10.0.0.1/x",
    ] {
        let r = create(&e, json!({ "name": "n", "url": url, "events": ["*"] })).await;
        assert_eq!(r.status, 400, "{url}");
        assert!(r.error_message().contains("url"), "{}", r.error_message());
    }
    // Allowed locally (ALLOW_PRIVATE_TARGETS=true), link-local never.
    let local = env().await;
    create_ok(&local, "http://127.0.0.1:9/hook").await;
    let r = create(
        &local,
        json!({ "name": "n", "url": "http://169.254.1.1/", "events": ["*"] }),
    )
    .await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn requests_without_a_valid_key_are_401() {
    let e = env().await;
    let r = call(&e.router, "GET", "/api/admin/webhooks", None, None).await;
    assert_eq!(r.status, 401);
    let r = e.with_key("bsk_nope").get("/api/admin/webhooks").await;
    assert_eq!(r.status, 401);
    let r = shared_testkit::harness::call_raw(
        &e.router,
        "GET",
        "/api/admin/webhooks",
        &[("x-admin-id", "your-admin-id")],
        Vec::new(),
    )
    .await;
    assert_eq!(r.status, 401, "X-Admin-ID is not authentication");
}

#[tokio::test]
async fn list_is_newest_first_and_pages_with_a_cursor() {
    let e = env().await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(
            create_ok(&e, "https://example.com/h").await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    ids.reverse();
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/admin/webhooks?limit=2&cursor={c}"),
            None => "/api/admin/webhooks?limit=2".to_owned(),
        };
        let r = e.get(&path).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["pagination"]["limit"], 2);
        for w in r.body["webhooks"].as_array().unwrap() {
            seen.push(w["id"].as_str().unwrap().to_owned());
        }
        match r.body["pagination"]["nextCursor"].as_str() {
            Some(c) => {
                assert_eq!(r.body["pagination"]["hasMore"], true);
                cursor = Some(c.to_owned());
            }
            None => break,
        }
    }
    assert_eq!(seen, ids);
    for bad in ["limit=0", "limit=1001", "limit=x", "cursor=garbage"] {
        let r = e.get(&format!("/api/admin/webhooks?{bad}")).await;
        assert_eq!(r.status, 400, "{bad}");
    }
}

#[tokio::test]
async fn patch_changes_only_given_fields_and_null_clears_the_description() {
    let e = env().await;
    let r = create(
        &e,
        json!({ "name": "n", "url": "https://example.com/h", "events": ["*"], "description": "d" }),
    )
    .await;
    let id = r.body["webhook"]["id"].as_str().unwrap().to_owned();
    let path = format!("/api/admin/webhooks/{id}");
    let r = e
        .patch(
            &path,
            json!({ "events": ["user.created", "qr.*"], "retryAttempts": 0, "description": null }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let w = &r.body["webhook"];
    assert_eq!(w["events"], json!(["user.created", "qr.*"]));
    assert_eq!(w["retryAttempts"], 0);
    assert_eq!(w["description"], Value::Null);
    assert_eq!(w["name"], "n");
    assert_eq!(w["url"], "https://example.com/h");
    for body in [
        json!({ "name": null }),
        json!({ "events": [] }),
        json!({ "timeoutMs": 30000 }),
        json!({ "url": "ftp://x" }),
    ] {
        let r = e.patch(&path, body.clone()).await;
        assert_eq!(r.status, 400, "{body}");
    }
    let r = e
        .patch(
            "/api/admin/webhooks/wh_01jzzzzzzzzzzzzzzzzzzzzzzz",
            json!({"name": "x"}),
        )
        .await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn reenabling_clears_the_reason_and_resets_the_streak() {
    let (e, _w, id) = env_with_hook().await;
    for _ in 0..5 {
        e.app
            .subscriptions
            .record_delivery_outcome(&e.ws, &id, false, &shared::time::now_string())
            .await
            .unwrap();
    }
    let path = format!("/api/admin/webhooks/{id}");
    let got = e.get(&path).await.body;
    assert_eq!(got["webhook"]["active"], false);
    assert_eq!(got["webhook"]["consecutiveFailures"], 5);
    assert!(got["webhook"]["disabledReason"]
        .as_str()
        .unwrap()
        .contains("5 consecutive"));
    let r = e.patch(&path, json!({ "active": true })).await;
    assert_eq!(r.body["webhook"]["active"], true);
    assert_eq!(r.body["webhook"]["disabledReason"], Value::Null);
    assert_eq!(r.body["webhook"]["consecutiveFailures"], 0);
    assert_eq!(r.body["webhook"]["failedCount"], 5);
}

#[tokio::test]
async fn delete_answers_the_final_resource_then_404() {
    let e = env().await;
    let w = create_ok(&e, "https://example.com/h").await;
    let path = format!("/api/admin/webhooks/{}", w["id"].as_str().unwrap());
    let r = e.delete(&path).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["webhook"]["id"], w["id"]);
    assert!(r.body["webhook"].get("secret").is_none());
    assert_eq!(e.get(&path).await.status, 404);
    assert_eq!(e.delete(&path).await.status, 404);
}

#[tokio::test]
async fn another_workspace_sees_404_everywhere() {
    let (e, _w, id) = env_with_hook().await;
    let (_other_ws, other_key) = shared_testkit::harness::workspace(&e.app, "other").await;
    let list = e.with_key(&other_key).get("/api/admin/webhooks").await;
    assert_eq!(list.body["webhooks"], json!([]));
    let dlv = shared::ids::new_id(shared::ids::DELIVERY);
    for (method, path, body) in [
        ("GET", format!("/api/admin/webhooks/{id}"), None),
        (
            "PATCH",
            format!("/api/admin/webhooks/{id}"),
            Some(json!({"name": "stolen"})),
        ),
        ("DELETE", format!("/api/admin/webhooks/{id}"), None),
        ("GET", format!("/api/admin/webhooks/{id}/deliveries"), None),
        ("POST", format!("/api/admin/webhooks/{id}/test"), None),
        (
            "POST",
            format!("/api/admin/webhooks/{id}/rotate-secret"),
            None,
        ),
        (
            "POST",
            format!("/api/admin/webhooks/{id}/recover"),
            Some(json!({"since": "2020-01-01"})),
        ),
        (
            "POST",
            format!("/api/admin/webhooks/{id}/deliveries/{dlv}/retry"),
            None,
        ),
    ] {
        let r = e.with_key(&other_key).call(method, &path, body).await;
        assert_eq!(r.status, 404, "{method} {path}");
        assert_eq!(r.error_code(), "not_found");
    }
    // Still intact for its owner.
    let r = e.get(&format!("/api/admin/webhooks/{id}")).await;
    assert_eq!(r.body["webhook"]["name"], "CRM");
}

#[tokio::test]
async fn rotate_returns_a_new_secret_and_keeps_the_old_one_for_24_hours() {
    let (e, w, id) = env_with_hook().await;
    let r = e
        .post(&format!("/api/admin/webhooks/{id}/rotate-secret"), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let new_secret = r.body["webhook"]["secret"].as_str().unwrap();
    assert_ne!(new_secret, w["secret"].as_str().unwrap());
    let until = shared::time::parse(
        r.body["webhook"]["previousSecretExpiresAt"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    let hours = (until - shared::time::now()).num_minutes() as f64 / 60.0;
    assert!((23.9..=24.0).contains(&hours), "{hours}");
    let stored = e
        .app
        .subscriptions
        .get_subscription(&e.ws, &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.secret.expose(), new_secret);
    assert_eq!(
        stored.previous_secret.unwrap().expose(),
        w["secret"].as_str().unwrap()
    );
}

#[tokio::test]
async fn test_send_answers_the_attempt_and_logs_it_without_counting() {
    let e = env().await;
    let (url, seen) = receiver(200).await;
    let w = create_ok(&e, &url).await;
    let id = w["id"].as_str().unwrap();
    let r = e
        .post(&format!("/api/admin/webhooks/{id}/test"), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["attempt"]["statusCode"], 200);
    assert_eq!(r.body["attempt"]["error"], Value::Null);
    assert!(r.body["attempt"]["durationMs"].is_u64());
    let (headers, body) = seen.lock().unwrap()[0].clone();
    assert_eq!(headers["x-webhook-event"], "webhook.test");
    assert_eq!(
        headers["webhook-id"],
        r.body["deliveryId"].as_str().unwrap()
    );
    let payload: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(payload["event"], "webhook.test");
    assert!(payload["data"]["message"].is_string());
    assert_eq!(payload["metadata"]["workspaceId"], e.ws.as_str());

    let got = e.get(&format!("/api/admin/webhooks/{id}")).await.body;
    assert_eq!(
        got["webhook"]["successCount"], 0,
        "test sends are not counted"
    );
    assert_eq!(got["deliveries"][0]["event"], "webhook.test");
    assert_eq!(got["deliveries"][0]["test"], true);
    assert_eq!(got["deliveries"][0]["status"], "success");
    assert_eq!(got["webhook"]["deliveries"][0]["id"], r.body["deliveryId"]);
}

#[tokio::test]
async fn test_send_reports_a_failing_endpoint() {
    let e = env().await;
    let (url, _seen) = receiver(500).await;
    let w = create_ok(&e, &url).await;
    let r = e
        .post(
            &format!("/api/admin/webhooks/{}/test", w["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["attempt"]["statusCode"], 500);
    assert_eq!(r.body["attempt"]["error"], "http status 500");
    assert_eq!(r.body["attempt"]["responseBody"], "receiver says hi");
}

/// Stores a delivery of `status` for the webhook, `age_secs` old.
async fn seed_delivery(
    e: &TestApp,
    webhook_id: &str,
    status: DeliveryStatus,
    age_secs: i64,
) -> Delivery {
    let t = shared::time::now() - chrono::Duration::seconds(age_secs);
    let mut event = shared::outbox::DomainEvent::new(
        "booking.created",
        json!({"booking": {}}),
        &shared::time::format(t),
    );
    event.id = format!("msg_{}", ulid_at(t));
    let payload = shared::subscriptions::payload_body(&e.ws, &event, "api").unwrap();
    let mut d = Delivery::pending(&e.ws, webhook_id, &event, payload, t, 30);
    d.status = status;
    d.attempts = if status == DeliveryStatus::Pending {
        0
    } else {
        4
    };
    assert!(e.app.deliveries.create_delivery(&d).await.unwrap());
    d
}

fn ulid_at(t: shared::time::Timestamp) -> String {
    let id = shared::subscriptions::delivery_id_floor(t);
    // Same time, random tail: a distinct, time-ordered event id.
    let tail = shared::ids::new_id("x");
    format!(
        "{}{}",
        &id["dlv_".len().."dlv_".len() + 10],
        &tail[tail.len() - 16..]
    )
}

#[tokio::test]
async fn deliveries_list_newest_first_with_a_cursor_and_hides_expired_ones() {
    let (e, _w, id) = env_with_hook().await;
    let mut expected = Vec::new();
    for age in [50, 40, 30, 20, 10] {
        expected.push(seed_delivery(&e, &id, DeliveryStatus::Failed, age).await.id);
    }
    expected.reverse();
    let event =
        shared::outbox::DomainEvent::new("booking.created", json!({}), &shared::time::now_string());
    let mut expired = Delivery::pending(&e.ws, &id, &event, "{}".into(), shared::time::now(), 30);
    expired.expires_at = shared::time::now().timestamp() - 1;
    assert!(e.app.deliveries.create_delivery(&expired).await.unwrap());

    let r1 = e
        .get(&format!("/api/admin/webhooks/{id}/deliveries?limit=3"))
        .await;
    assert_eq!(r1.status, 200, "{}", r1.body);
    let cursor = r1.body["pagination"]["nextCursor"]
        .as_str()
        .unwrap()
        .to_owned();
    let r2 = e
        .get(&format!(
            "/api/admin/webhooks/{id}/deliveries?limit=3&cursor={cursor}"
        ))
        .await;
    let ids: Vec<String> = r1.body["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .chain(r2.body["deliveries"].as_array().unwrap())
        .map(|d| d["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, expected);
    let first = &r1.body["deliveries"][0];
    for field in [
        "id",
        "event",
        "status",
        "attempts",
        "statusCode",
        "responseBody",
        "error",
        "durationMs",
        "createdAt",
        "nextAttemptAt",
        "attemptLog",
    ] {
        assert!(first.get(field).is_some(), "missing {field}");
    }
    assert_eq!(first["status"], "failed");
}

async fn get_ids(e: &TestApp, path: &str) -> Vec<String> {
    let r = e.get(path).await;
    assert_eq!(r.status, 200, "{path}: {}", r.body);
    r.body["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_owned())
        .collect()
}

/// DESIGN §8 "Delivery log filters", over HTTP: status, event, since/until on one webhook's
/// log; the workspace-wide log spans webhooks, names each item's `webhookId` and filters by
/// `webhookId`; bad values are 400s naming the parameter.
#[tokio::test]
async fn delivery_logs_filter_by_status_event_time_and_webhook() {
    let e = env().await;
    let a = create_ok(&e, "https://example.com/a").await;
    let b = create_ok(&e, "https://example.com/b").await;
    let (a, b) = (a["id"].as_str().unwrap(), b["id"].as_str().unwrap());
    let a_old = seed_delivery(&e, a, DeliveryStatus::Failed, 300).await.id;
    let b_mid = seed_delivery(&e, b, DeliveryStatus::Success, 200).await.id;
    let a_new = seed_delivery(&e, a, DeliveryStatus::Success, 100).await.id;
    let b_failed = seed_delivery(&e, b, DeliveryStatus::Failed, 50).await;
    // The newest one is of another event type.
    let mut other = b_failed.clone();
    other.event = "user.created".into();
    other.id =
        shared::subscriptions::delivery_id_for(&format!("msg_{}", ulid_at(shared::time::now())), b);
    assert!(e.app.deliveries.create_delivery(&other).await.unwrap());

    let since = shared::time::format(shared::time::now() - chrono::Duration::seconds(250));
    let until = shared::time::format(shared::time::now() - chrono::Duration::seconds(150));
    for (path, expected) in [
        (
            format!("/api/admin/webhooks/{a}/deliveries?status=failed"),
            &a_old,
        ),
        (
            format!("/api/admin/webhooks/{a}/deliveries?status=success"),
            &a_new,
        ),
        ("/api/admin/deliveries?event=user.*".into(), &other.id),
        (
            format!("/api/admin/deliveries?webhookId={b}&status=success"),
            &b_mid,
        ),
        (
            format!("/api/admin/deliveries?since={since}&until={until}"),
            &b_mid,
        ),
    ] {
        assert_eq!(get_ids(&e, &path).await, vec![expected.clone()], "{path}");
    }
    let all = get_ids(&e, "/api/admin/deliveries").await;
    assert_eq!(all.len(), 5, "{all:?}");
    assert_eq!(all[0], other.id, "newest first");
    let bookings = get_ids(&e, "/api/admin/deliveries?event=booking.created").await;
    assert!(
        !bookings.contains(&other.id) && bookings.len() == 4,
        "{bookings:?}"
    );
    let r = e.get("/api/admin/deliveries?limit=1").await;
    assert_eq!(r.body["deliveries"][0]["webhookId"], b);
    assert_eq!(r.body["pagination"]["hasMore"], true);

    for (query, named) in [
        ("status=done", "status"),
        ("event=nope", "event"),
        ("since=yesterday", "since"),
        ("until=2024-13-01T00:00:00Z", "until"),
        ("webhookId=dlv_x", "webhookId"),
    ] {
        let r = e.get(&format!("/api/admin/deliveries?{query}")).await;
        assert_eq!(r.status, 400, "{query}: {}", r.body);
        assert_eq!(r.error_code(), "validation_error");
        assert!(
            r.error_message().contains(named),
            "{query}: {}",
            r.error_message()
        );
    }
    let r = e
        .get(&format!(
            "/api/admin/deliveries?since={until}&until={since}"
        ))
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
}

#[tokio::test]
async fn retry_requeues_a_failed_delivery_with_a_fresh_round() {
    let (e, _w, id) = env_with_hook().await;
    let d = seed_delivery(&e, &id, DeliveryStatus::Failed, 60).await;
    let r = e
        .post(
            &format!("/api/admin/webhooks/{id}/deliveries/{}/retry", d.id),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["delivery"]["status"], "pending");
    let stored = e
        .app
        .deliveries
        .get_delivery(&e.ws, &d.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.round_start, 4);
    let msgs = e.queue.drain(QueueName::Delivery);
    assert_eq!(msgs.len(), 1);
    let env: QueueEnvelope = serde_json::from_str(&msgs[0].0).unwrap();
    assert_eq!(
        env.message,
        QueueMessage::Delivery {
            workspace_id: e.ws.clone(),
            delivery_id: d.id.clone()
        }
    );
    // Unknown delivery → 404.
    let other = shared::ids::new_id(shared::ids::DELIVERY);
    let r = e
        .post(
            &format!("/api/admin/webhooks/{id}/deliveries/{other}/retry"),
            None,
        )
        .await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn retry_and_recover_on_a_disabled_webhook_are_refused() {
    let (e, _w, id) = env_with_hook().await;
    let d = seed_delivery(&e, &id, DeliveryStatus::Failed, 60).await;
    e.patch(
        &format!("/api/admin/webhooks/{id}"),
        json!({"active": false}),
    )
    .await;
    let r = e
        .post(
            &format!("/api/admin/webhooks/{id}/deliveries/{}/retry", d.id),
            None,
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(r.error_message().contains("disabled"));
    let r = e
        .post(
            &format!("/api/admin/webhooks/{id}/recover"),
            json!({"since": "2020-01-01"}),
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(e.queue.drain(QueueName::Delivery).is_empty());
}

#[tokio::test]
async fn recover_requeues_failed_deliveries_since_the_given_time() {
    let (e, _w, id) = env_with_hook().await;
    let old = seed_delivery(&e, &id, DeliveryStatus::Failed, 7200).await;
    let recent = seed_delivery(&e, &id, DeliveryStatus::Failed, 60).await;
    let ok = seed_delivery(&e, &id, DeliveryStatus::Success, 30).await;
    let since = shared::time::format(shared::time::now() - chrono::Duration::hours(1));
    let r = e
        .post(
            &format!("/api/admin/webhooks/{id}/recover"),
            json!({ "since": since }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["recovered"], 1);
    assert_eq!(r.body["deliveryIds"], json!([recent.id]));
    let get = |d: &Delivery| {
        let app = e.app.clone();
        let ws = e.ws.clone();
        let id = d.id.clone();
        async move {
            app.deliveries
                .get_delivery(&ws, &id)
                .await
                .unwrap()
                .unwrap()
                .status
        }
    };
    assert_eq!(get(&recent).await, DeliveryStatus::Pending);
    assert_eq!(get(&old).await, DeliveryStatus::Failed);
    assert_eq!(get(&ok).await, DeliveryStatus::Success);
    assert_eq!(e.queue.drain(QueueName::Delivery).len(), 1);
    for body in [json!({}), json!({ "since": "yesterday" })] {
        let r = e
            .post(&format!("/api/admin/webhooks/{id}/recover"), body.clone())
            .await;
        assert_eq!(r.status, 400, "{body}");
        assert!(r.error_message().contains("since"));
    }
}

#[tokio::test]
async fn garbage_ids_are_404_without_a_lookup() {
    let e = env().await;
    for path in [
        "/api/admin/webhooks/nope",
        "/api/admin/webhooks/bk_01j0000000000000000000000/deliveries",
    ] {
        let r = e.get(path).await;
        assert_eq!(r.status, 404, "{path}");
    }
}
