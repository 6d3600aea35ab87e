//! Admin API handlers (workspaces, keys, integrations) against the in-memory fakes.

use serde_json::json;
use shared::config::Config;
use shared::App;
use shared_testkit::harness::{call, workspace};

fn app_with(allow_private: bool) -> (App, axum::Router) {
    let mut cfg = Config::for_tests("t", "q");
    cfg.allow_private_targets = allow_private;
    let (app, _store, _queue) = shared_testkit::in_memory_app(cfg);
    let router = workspaces_api::router(app.clone());
    (app, router)
}

#[tokio::test]
async fn health_needs_no_key() {
    let (_app, r) = app_with(true);
    let resp = call(&r, "GET", "/api/health", None, None).await;
    assert_eq!(resp.status, 200);
    assert_eq!(resp.body["success"], true);
}

/// `GET /api/openapi.json`: the embedded OpenAPI 3.1 document, as JSON, without a key.
#[tokio::test]
async fn the_openapi_document_is_served_without_a_key() {
    let (_app, r) = app_with(true);
    let resp = call(&r, "GET", "/api/openapi.json", None, None).await;
    assert_eq!(resp.status, 200);
    assert_eq!(resp.headers["content-type"], "application/json");
    assert!(resp.body.is_object(), "the body parses as a JSON object");
    let version = resp.body["openapi"].as_str().unwrap_or_default();
    assert!(version.starts_with("3.1"), "openapi is {version:?}");
    let paths = &resp.body["paths"];
    for route in ["/api/openapi.json", "/api/health", "/api/bookings/{id}"] {
        assert!(paths[route].is_object(), "paths lists {route}");
    }
    assert_eq!(
        paths["/api/openapi.json"]["get"]["security"],
        json!([]),
        "the document says it needs no key"
    );
}

#[tokio::test]
async fn workspaces_are_created_only_with_the_root_key_and_the_key_is_shown_once() {
    let (_app, r) = app_with(true);
    let body = Some(json!({ "name": "Acme" }));
    assert_eq!(
        call(&r, "POST", "/api/workspaces", None, body.clone())
            .await
            .status,
        401
    );
    assert_eq!(
        call(&r, "POST", "/api/workspaces", Some("wrong"), body.clone())
            .await
            .status,
        401
    );
    let resp = call(&r, "POST", "/api/workspaces", Some("root_test_key"), body).await;
    assert_eq!(resp.status, 201, "{}", resp.body);
    let ws = resp.body["workspace"]["id"].as_str().unwrap().to_owned();
    assert!(ws.starts_with("ws_"));
    assert_eq!(resp.body["workspace"]["name"], "Acme");
    let key = resp.body["apiKey"].as_str().unwrap().to_owned();
    let list = call(
        &r,
        "GET",
        &format!("/api/workspaces/{ws}/api-keys"),
        Some(&key),
        None,
    )
    .await;
    assert_eq!(list.status, 200);
    let keys = list.body["apiKeys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert!(
        keys[0].get("hash").is_none(),
        "only prefix and dates are listed"
    );
    assert!(
        !list.body.to_string().contains(&key),
        "the key is never shown again"
    );
    // The root key is not a workspace key.
    let r2 = call(
        &r,
        "GET",
        &format!("/api/workspaces/{ws}/api-keys"),
        Some("root_test_key"),
        None,
    )
    .await;
    assert_eq!(r2.status, 401);
}

#[tokio::test]
async fn keys_can_be_added_and_revoked_but_not_the_last_one() {
    let (app, r) = app_with(true);
    let (ws, key) = workspace(&app, "w").await;
    let created = call(
        &r,
        "POST",
        &format!("/api/workspaces/{ws}/api-keys"),
        Some(&key),
        None,
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let second = created.body["apiKey"].as_str().unwrap().to_owned();
    let second_id = created.body["key"]["id"].as_str().unwrap().to_owned();
    assert!(created.body["key"]["prefix"].is_string());
    let list = call(
        &r,
        "GET",
        &format!("/api/workspaces/{ws}/api-keys"),
        Some(&second),
        None,
    )
    .await;
    assert_eq!(list.body["apiKeys"].as_array().unwrap().len(), 2);

    let revoked = call(
        &r,
        "DELETE",
        &format!("/api/workspaces/{ws}/api-keys/{second_id}"),
        Some(&key),
        None,
    )
    .await;
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    assert!(revoked.body["key"]["revokedAt"].is_string());
    let denied = call(
        &r,
        "GET",
        &format!("/api/workspaces/{ws}/api-keys"),
        Some(&second),
        None,
    )
    .await;
    assert_eq!(denied.status, 401, "a revoked key is refused");

    let first_id = call(
        &r,
        "GET",
        &format!("/api/workspaces/{ws}/api-keys"),
        Some(&key),
        None,
    )
    .await
    .body["apiKeys"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let last = call(
        &r,
        "DELETE",
        &format!("/api/workspaces/{ws}/api-keys/{first_id}"),
        Some(&key),
        None,
    )
    .await;
    assert_eq!(last.status, 400);
    assert_eq!(last.body["error"]["code"], "validation_error");
}

/// `GET /api/workspace`: the key's own workspace (the console reads its id), never another's.
#[tokio::test]
async fn the_current_workspace_is_the_keys_own() {
    let (app, r) = app_with(true);
    let (ws, key) = workspace(&app, "a").await;
    let (other, _other_key) = workspace(&app, "b").await;
    let resp = call(&r, "GET", "/api/workspace", Some(&key), None).await;
    assert_eq!(resp.status, 200, "{}", resp.body);
    assert_eq!(resp.body["workspace"]["id"], ws.as_str());
    assert_ne!(resp.body["workspace"]["id"], other.as_str());
    assert!(resp.body["workspace"]["name"].is_string());
    let resp = call(&r, "GET", "/api/workspace", None, None).await;
    assert_eq!(resp.status, 401, "{}", resp.body);
    assert_eq!(resp.body["success"], false);
}

#[tokio::test]
async fn another_workspace_id_in_the_path_answers_404() {
    let (app, r) = app_with(true);
    let (_ws, key) = workspace(&app, "a").await;
    let (other, _other_key) = workspace(&app, "b").await;
    let resp = call(
        &r,
        "GET",
        &format!("/api/workspaces/{other}/api-keys"),
        Some(&key),
        None,
    )
    .await;
    assert_eq!(resp.status, 404);
    let resp = call(
        &r,
        "POST",
        &format!("/api/workspaces/{other}/api-keys"),
        Some(&key),
        None,
    )
    .await;
    assert_eq!(resp.status, 404);
}

#[tokio::test]
async fn hubspot_integration_keeps_its_secret_across_puts_and_applies_defaults() {
    let (app, r) = app_with(true);
    let (_ws, key) = workspace(&app, "w").await;
    let first = call(&r, "PUT", "/api/integrations/hubspot", Some(&key), Some(json!({ "webhookUrl": "https://api-na1.hubapi.com/automation/v4/webhook-triggers/46814382/AIvBwN0" }))).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let i = &first.body["integration"];
    assert_eq!(i["type"], "hubspot");
    assert_eq!(i["enabled"], true);
    assert_eq!(i["retryAttempts"], 5);
    assert_eq!(i["retryDelay"], 30);
    let secret = i["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    let second = call(&r, "PUT", "/api/integrations/hubspot", Some(&key), Some(json!({ "webhookUrl": "https://example.com/hook", "retryAttempts": 2, "retryDelay": 10 }))).await;
    assert_eq!(second.body["integration"]["secret"], secret.as_str());
    assert_eq!(second.body["integration"]["retryAttempts"], 2);

    let list = call(&r, "GET", "/api/integrations", Some(&key), None).await;
    assert_eq!(list.status, 200);
    let h = &list.body["integrations"]["hubspot"];
    assert_eq!(h["webhookUrl"], "https://example.com/hook");
    assert_eq!(h["successRate"], 1.0);
    assert_eq!(h["succeeded"], 0);
    assert!(h.get("secret").is_none(), "secrets are shown on PUT only");
    assert!(list.body["integrations"]["ghl"].is_null());
}

#[tokio::test]
async fn integration_urls_and_settings_are_validated() {
    let (app, r) = app_with(false);
    let (_ws, key) = workspace(&app, "w").await;
    for (body, field) in [
        (
            json!({ "webhookUrl": "http://example.com/x" }),
            "webhookUrl",
        ),
        (json!({ "webhookUrl": "https://127.0.0.1/x" }), "webhookUrl"),
        (
            json!({ "webhookUrl": "https://169.254.169.254/latest" }),
            "webhookUrl",
        ),
        (
            json!({ "webhookUrl": "https://example.com/x", "retryDelay": 0 }),
            "retryDelay",
        ),
        (
            json!({ "webhookUrl": "https://example.com/x", "retryDelay": 3601 }),
            "retryDelay",
        ),
        (
            json!({ "webhookUrl": "https://example.com/x", "retryAttempts": 11 }),
            "retryAttempts",
        ),
        (json!({ "webhookUrl": 5 }), "webhookUrl"),
    ] {
        let resp = call(
            &r,
            "PUT",
            "/api/integrations/hubspot",
            Some(&key),
            Some(body.clone()),
        )
        .await;
        assert_eq!(resp.status, 400, "{body}");
        let msg = resp.body["error"]["message"].as_str().unwrap();
        assert!(msg.contains(field), "{msg} should name {field}");
    }
    let ghl = call(
        &r,
        "PUT",
        "/api/integrations/ghl",
        Some(&key),
        Some(json!({ "webhookUrl": "https://example.com/x" })),
    )
    .await;
    assert_eq!(ghl.status, 400, "ghl needs enabled");
    let ghl = call(
        &r,
        "PUT",
        "/api/integrations/ghl",
        Some(&key),
        Some(json!({ "webhookUrl": "https://example.com/x", "enabled": false })),
    )
    .await;
    assert_eq!(ghl.status, 200);
    assert_eq!(ghl.body["integration"]["enabled"], false);
}

#[tokio::test]
async fn private_targets_are_allowed_only_when_configured_for_local_testing() {
    let (app, r) = app_with(true);
    let (_ws, key) = workspace(&app, "w").await;
    let ok = call(
        &r,
        "PUT",
        "/api/integrations/hubspot",
        Some(&key),
        Some(json!({ "webhookUrl": "http://127.0.0.1:9/x" })),
    )
    .await;
    assert_eq!(ok.status, 200);
    let metadata = call(
        &r,
        "PUT",
        "/api/integrations/hubspot",
        Some(&key),
        Some(json!({ "webhookUrl": "http://169.254.169.254/x" })),
    )
    .await;
    assert_eq!(metadata.status, 400, "cloud metadata is refused always");
}
