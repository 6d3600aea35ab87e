//! `PUT /api/integrations/alerts`, `POST /api/integrations/alerts/test` and the `alerts` entry of
//! `GET /api/integrations` (workspaces-api) against the in-memory fakes.

use serde_json::{json, Value};
use shared::config::Config;
use shared_testkit::harness::TestApp;
use shared_testkit::targets::webhook::Target;

async fn env(allow_private: bool) -> TestApp {
    let mut cfg = Config::for_tests("t", "q");
    cfg.allow_private_targets = allow_private;
    TestApp::with_config(cfg)
        .await
        .serve(workspaces_api::router)
}

#[tokio::test]
async fn put_answers_the_integration_with_its_secret_and_defaults() {
    let t = env(false).await;
    let r = t
        .put(
            "/api/integrations/alerts",
            json!({ "webhookUrl": "  https://hooks.slack.com/services/T0/B0/x  " }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let i = &r.body["integration"];
    assert_eq!(i["type"], "alerts");
    assert_eq!(i["webhookUrl"], "https://hooks.slack.com/services/T0/B0/x");
    assert_eq!(
        (&i["enabled"], &i["format"]),
        (&json!(true), &json!("standard"))
    );
    assert_eq!(
        i["events"],
        json!([
            "subscription.disabled",
            "delivery.exhausted",
            "hubspot.sync_failing",
            "ghl.sync_failed",
            "inbound.event_failed",
            "inbound.signature_failures",
            "alert.test"
        ])
    );
    let secret = r.str_at("/integration/secret");
    assert!(secret.starts_with("whsec_"));

    // A later PUT replaces the settings and keeps the secret.
    let r = t
        .put(
            "/api/integrations/alerts",
            json!({ "webhookUrl": "https://example.com/a", "format": "slack",
                    "events": ["ghl.sync_failed"], "enabled": false }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let i = &r.body["integration"];
    assert_eq!(
        (&i["format"], &i["events"], &i["enabled"]),
        (&json!("slack"), &json!(["ghl.sync_failed"]), &json!(false))
    );
    assert_eq!(i["secret"], secret.as_str());

    let list = t.get("/api/integrations").await;
    assert_eq!(list.status, 200, "{}", list.body);
    let a = &list.body["integrations"]["alerts"];
    assert_eq!(a["format"], "slack");
    assert_eq!(a["successRate"], 1.0);
    assert_eq!(a.get("secret"), None, "no secret in the list");
    assert!(list.body["integrations"]["hubspot"].is_null());
}

#[tokio::test]
async fn bad_alert_settings_are_400s_naming_the_field() {
    let t = env(false).await;
    let long = format!("https://example.com/{}", "a".repeat(2048));
    let cases: [(Value, &str); 7] = [
        (
            json!({ "webhookUrl": "https://x.example", "events": ["booking.created"] }),
            "booking.created",
        ),
        (
            json!({ "webhookUrl": "https://x.example", "events": [] }),
            "events",
        ),
        (
            json!({ "webhookUrl": "https://x.example", "format": "teams" }),
            "format",
        ),
        (json!({ "webhookUrl": "http://x.example" }), "webhookUrl"),
        (
            json!({ "webhookUrl": "https://169.254.169.254/latest" }),
            "webhookUrl",
        ),
        (json!({ "webhookUrl": long }), "webhookUrl"),
        (
            json!({ "webhookUrl": "https://x.example", "retryDelay": 0 }),
            "retryDelay",
        ),
    ];
    for (body, field) in cases {
        let r = t.put("/api/integrations/alerts", body.clone()).await;
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        assert_eq!(r.error_code(), "validation_error");
        assert!(
            r.error_message().contains(field),
            "{body}: {}",
            r.error_message()
        );
    }
    let r = t
        .put("/api/integrations/alerts", json!({ "format": "slack" }))
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(t.get("/api/integrations").await.body["integrations"]["alerts"].is_null());
}

#[tokio::test]
async fn the_test_send_answers_the_attempt_and_404_without_the_integration() {
    let t = env(true).await;
    let r = t.post("/api/integrations/alerts/test", None).await;
    assert_eq!(r.status, 404, "{}", r.body);
    assert_eq!(r.error_code(), "not_found");

    let target = Target::start().await;
    target.respond_with(&[500]);
    let r = t
        .put(
            "/api/integrations/alerts",
            json!({ "webhookUrl": target.url, "format": "slack" }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = t.post("/api/integrations/alerts/test", None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["attempt"]["statusCode"], 500);
    assert_eq!(r.body["attempt"]["error"], "http status 500");
    assert!(r.body["attempt"]["durationMs"].is_u64());
    let sent = target.last().unwrap();
    assert_eq!(sent.headers["x-webhook-event"], "alert.test");
    assert_eq!(
        sent.json(),
        json!({ "text": "This is a test alert: the alerts integration works. http://127.0.0.1:3000/console#/overview" })
    );
}

#[tokio::test]
async fn alert_routes_need_a_key() {
    let t = env(false).await;
    let anon = t.with_key("nope");
    let r = anon
        .put(
            "/api/integrations/alerts",
            json!({ "webhookUrl": "https://x.example" }),
        )
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(
        anon.post("/api/integrations/alerts/test", None)
            .await
            .status,
        401
    );
}
