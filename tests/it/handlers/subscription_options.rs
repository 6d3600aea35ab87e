//! A subscription's `headers` and `rateLimitPerSecond` (DESIGN §8 "Outbound additions") over
//! the subscription routes and the fakes: validation naming the field or header, masking on
//! every read, PATCH absent/null/value.

use serde_json::{json, Value};
use shared_testkit::harness::TestApp;

async fn env() -> TestApp {
    TestApp::new().await.serve(subscriptions_api::router)
}

fn body(extra: Value) -> Value {
    let mut b = json!({ "name": "CRM", "url": "https://example.com/h", "events": ["booking.*"] });
    for (k, v) in extra.as_object().unwrap() {
        b[k] = v.clone();
    }
    b
}

async fn create_ok(e: &TestApp, extra: Value) -> Value {
    let r = e.post("/api/admin/webhooks", body(extra)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["webhook"].clone()
}

async fn refused(e: &TestApp, extra: Value) -> String {
    let r = e.post("/api/admin/webhooks", body(extra)).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.error_code(), "validation_error");
    r.error_message().to_owned()
}

#[tokio::test]
async fn header_values_are_masked_on_every_read() {
    let e = env().await;
    let headers = json!({ "X-Api-Key": "sk_live_abcd1234", "Authorization": "Bearer xyz9" });
    let created = create_ok(&e, json!({ "headers": headers })).await;
    let masked = json!({ "X-Api-Key": "***1234", "Authorization": "***xyz9" });
    assert_eq!(created["headers"], masked);
    let id = created["id"].as_str().unwrap();
    let path = format!("/api/admin/webhooks/{id}");
    assert_eq!(e.get(&path).await.body["webhook"]["headers"], masked);
    let list = e.get("/api/admin/webhooks").await;
    assert_eq!(list.body["webhooks"][0]["headers"], masked);
    let patched = e.patch(&path, json!({ "name": "CRM 2" })).await;
    assert_eq!(patched.body["webhook"]["headers"], masked, "absent keeps");
    for reply in [
        created.to_string(),
        list.body.to_string(),
        patched.body.to_string(),
    ] {
        assert!(!reply.contains("sk_live_abcd1234"), "{reply}");
    }
}

#[tokio::test]
async fn header_names_are_checked_and_named_in_the_error() {
    let e = env().await;
    for name in [
        "webhook-id",
        "Webhook-Signature",
        "X-Webhook-Event",
        "Content-Type",
        "Content-Length",
        "Host",
        "User-Agent",
        "X Bad",
        "X_Under",
    ] {
        let message = refused(&e, json!({ "headers": { name: "v" } })).await;
        assert!(message.contains(name), "{name}: {message}");
    }
    let message = refused(&e, json!({ "headers": { "X-Key": "a", "x-key": "b" } })).await;
    assert!(message.contains("twice"), "{message}");
    let eleven: serde_json::Map<String, Value> =
        (0..11).map(|i| (format!("X-H{i}"), json!("v"))).collect();
    let message = refused(&e, json!({ "headers": eleven })).await;
    assert!(message.contains("at most 10"), "{message}");
    let message = refused(&e, json!({ "headers": ["X-A"] })).await;
    assert!(message.contains("headers"), "{message}");
    let message = refused(&e, json!({ "headers": { "X-A": 1 } })).await;
    assert!(message.contains("headers.X-A"), "{message}");
    let message = refused(&e, json!({ "headers": { "X-A": "a\r\nInjected: 1" } })).await;
    assert!(message.contains("headers.X-A"), "{message}");
    // Names keep their case.
    let ok = create_ok(&e, json!({ "headers": { "X-CamelCase-Name": "value" } })).await;
    assert_eq!(ok["headers"], json!({ "X-CamelCase-Name": "***alue" }));
}

#[tokio::test]
async fn rate_limit_is_one_to_a_thousand_or_null() {
    let e = env().await;
    for bad in [json!(0), json!(1001), json!(-1)] {
        let message = refused(&e, json!({ "rateLimitPerSecond": bad })).await;
        assert!(message.contains("rateLimitPerSecond"), "{message}");
    }
    for bad in [json!("5"), json!(2.5)] {
        let r = e
            .post(
                "/api/admin/webhooks",
                body(json!({ "rateLimitPerSecond": bad })),
            )
            .await;
        assert_eq!(r.status, 400, "{}", r.body);
        assert!(
            r.error_message().contains("rateLimitPerSecond"),
            "{}",
            r.body
        );
    }
    let none = create_ok(&e, json!({})).await;
    assert_eq!(none["rateLimitPerSecond"], Value::Null);
    assert_eq!(none["headers"], json!({}));
    let explicit_null = create_ok(&e, json!({ "rateLimitPerSecond": null })).await;
    assert_eq!(explicit_null["rateLimitPerSecond"], Value::Null);
    for ok in [1, 1000] {
        let w = create_ok(&e, json!({ "rateLimitPerSecond": ok })).await;
        assert_eq!(w["rateLimitPerSecond"], ok);
    }
}

#[tokio::test]
async fn patch_sets_keeps_and_clears_both_fields() {
    let e = env().await;
    let w = create_ok(
        &e,
        json!({ "rateLimitPerSecond": 5, "headers": { "X-Token": "token-0001" } }),
    )
    .await;
    let path = format!("/api/admin/webhooks/{}", w["id"].as_str().unwrap());

    let r = e.patch(&path, json!({ "description": "d" })).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["webhook"]["rateLimitPerSecond"], 5);
    assert_eq!(
        r.body["webhook"]["headers"],
        json!({ "X-Token": "***0001" })
    );

    let r = e
        .patch(
            &path,
            json!({ "rateLimitPerSecond": 20, "headers": { "X-Other": "other-9999" } }),
        )
        .await;
    assert_eq!(r.body["webhook"]["rateLimitPerSecond"], 20);
    assert_eq!(
        r.body["webhook"]["headers"],
        json!({ "X-Other": "***9999" }),
        "a value replaces the whole set"
    );

    let r = e.patch(&path, json!({ "rateLimitPerSecond": 0 })).await;
    assert_eq!(r.status, 400);
    assert!(r.error_message().contains("rateLimitPerSecond"));
    let r = e.patch(&path, json!({ "headers": { "host": "x" } })).await;
    assert_eq!(r.status, 400);
    assert!(r.error_message().contains("host"));

    let r = e
        .patch(
            &path,
            json!({ "rateLimitPerSecond": null, "headers": null }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["webhook"]["rateLimitPerSecond"], Value::Null);
    assert_eq!(r.body["webhook"]["headers"], json!({}));
    let got = e.get(&path).await;
    assert_eq!(got.body["webhook"]["rateLimitPerSecond"], Value::Null);
    assert_eq!(got.body["webhook"]["headers"], json!({}));
}
