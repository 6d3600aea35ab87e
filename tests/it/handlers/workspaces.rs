//! Admin API handlers (workspaces, keys, integrations) against the in-memory fakes.

use serde_json::json;
use shared::config::Config;
use shared::App;
use shared_testkit::harness::{call, workspace, Api};

fn app_with(allow_private: bool) -> (App, axum::Router) {
    let mut cfg = Config::for_tests("t", "q");
    cfg.allow_private_targets = allow_private;
    let (app, _store, _queue) = shared_testkit::in_memory_app(cfg);
    let router = workspaces_api::router(app.clone());
    (app, router)
}

/// The router over a fresh app, called with the key of a new workspace `name`:
/// (app, workspace id, api).
async fn env(allow_private: bool, name: &str) -> (App, String, Api) {
    let (app, router) = app_with(allow_private);
    let (ws, key) = workspace(&app, name).await;
    (app, ws, Api::new(router, &key))
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
    let wrong = Api::new(r.clone(), "wrong");
    assert_eq!(
        wrong.post("/api/workspaces", body.clone()).await.status,
        401
    );
    let root = wrong.with_key("root_test_key");
    let resp = root.post("/api/workspaces", body).await;
    assert_eq!(resp.status, 201, "{}", resp.body);
    let ws = resp.body["workspace"]["id"].as_str().unwrap().to_owned();
    assert!(ws.starts_with("ws_"));
    assert_eq!(resp.body["workspace"]["name"], "Acme");
    let key = resp.str_at("/apiKey");
    let list = root
        .with_key(&key)
        .get(&format!("/api/workspaces/{ws}/api-keys"))
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
    let r2 = root.get(&format!("/api/workspaces/{ws}/api-keys")).await;
    assert_eq!(r2.status, 401);
}

#[tokio::test]
async fn keys_can_be_added_and_revoked_but_not_the_last_one() {
    let (_app, ws, api) = env(true, "w").await;
    let created = api
        .post(&format!("/api/workspaces/{ws}/api-keys"), None)
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let second = created.body["apiKey"].as_str().unwrap().to_owned();
    let second_id = created.body["key"]["id"].as_str().unwrap().to_owned();
    assert!(created.body["key"]["prefix"].is_string());
    let list = api
        .with_key(&second)
        .get(&format!("/api/workspaces/{ws}/api-keys"))
        .await;
    assert_eq!(list.body["apiKeys"].as_array().unwrap().len(), 2);

    let revoked = api
        .delete(&format!("/api/workspaces/{ws}/api-keys/{second_id}"))
        .await;
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    assert!(revoked.body["key"]["revokedAt"].is_string());
    let denied = api
        .with_key(&second)
        .get(&format!("/api/workspaces/{ws}/api-keys"))
        .await;
    assert_eq!(denied.status, 401, "a revoked key is refused");

    let first_id = api
        .get(&format!("/api/workspaces/{ws}/api-keys"))
        .await
        .body["apiKeys"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let last = api
        .delete(&format!("/api/workspaces/{ws}/api-keys/{first_id}"))
        .await;
    assert_eq!(last.status, 400);
    assert_eq!(last.body["error"]["code"], "validation_error");
}

/// `GET /api/workspace`: the key's own workspace (the console reads its id), never another's.
#[tokio::test]
async fn the_current_workspace_is_the_keys_own() {
    let (app, ws, api) = env(true, "a").await;
    let (other, _other_key) = workspace(&app, "b").await;
    let resp = api.get("/api/workspace").await;
    assert_eq!(resp.status, 200, "{}", resp.body);
    assert_eq!(resp.body["workspace"]["id"], ws.as_str());
    assert_ne!(resp.body["workspace"]["id"], other.as_str());
    assert!(resp.body["workspace"]["name"].is_string());
    let resp = call(&api.router, "GET", "/api/workspace", None, None).await;
    assert_eq!(resp.status, 401, "{}", resp.body);
    assert_eq!(resp.body["success"], false);
}

#[tokio::test]
async fn another_workspace_id_in_the_path_answers_404() {
    let (app, _ws, api) = env(true, "a").await;
    let (other, _other_key) = workspace(&app, "b").await;
    let resp = api.get(&format!("/api/workspaces/{other}/api-keys")).await;
    assert_eq!(resp.status, 404);
    let resp = api
        .post(&format!("/api/workspaces/{other}/api-keys"), None)
        .await;
    assert_eq!(resp.status, 404);
}

#[tokio::test]
async fn hubspot_integration_keeps_its_secret_across_puts_and_applies_defaults() {
    let (_app, _ws, api) = env(true, "w").await;
    let first = api.put("/api/integrations/hubspot", json!({ "webhookUrl": "https://api-na1.hubapi.com/automation/v4/webhook-triggers/46814382/AIvBwN0" })).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let i = &first.body["integration"];
    assert_eq!(i["type"], "hubspot");
    assert_eq!(i["enabled"], true);
    assert_eq!(i["retryAttempts"], 5);
    assert_eq!(i["retryDelay"], 30);
    let secret = i["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    let second = api.put("/api/integrations/hubspot", json!({ "webhookUrl": "https://example.com/hook", "retryAttempts": 2, "retryDelay": 10 })).await;
    assert_eq!(second.body["integration"]["secret"], secret.as_str());
    assert_eq!(second.body["integration"]["retryAttempts"], 2);

    let list = api.get("/api/integrations").await;
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
    let (_app, _ws, api) = env(false, "w").await;
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
        let resp = api.put("/api/integrations/hubspot", body.clone()).await;
        assert_eq!(resp.status, 400, "{body}");
        let msg = resp.body["error"]["message"].as_str().unwrap();
        assert!(msg.contains(field), "{msg} should name {field}");
    }
    let ghl = api
        .put(
            "/api/integrations/ghl",
            json!({ "webhookUrl": "https://example.com/x" }),
        )
        .await;
    assert_eq!(ghl.status, 400, "ghl needs enabled");
    let ghl = api
        .put(
            "/api/integrations/ghl",
            json!({ "webhookUrl": "https://example.com/x", "enabled": false }),
        )
        .await;
    assert_eq!(ghl.status, 200);
    assert_eq!(ghl.body["integration"]["enabled"], false);
}

#[tokio::test]
async fn private_targets_are_allowed_only_when_configured_for_local_testing() {
    let (_app, _ws, api) = env(true, "w").await;
    let ok = api
        .put(
            "/api/integrations/hubspot",
            json!({ "webhookUrl": "http://127.0.0.1:9/x" }),
        )
        .await;
    assert_eq!(ok.status, 200);
    let metadata = api
        .put(
            "/api/integrations/hubspot",
            json!({ "webhookUrl": "http://169.254.169.254/x" }),
        )
        .await;
    assert_eq!(metadata.status, 400, "cloud metadata is refused always");
}
