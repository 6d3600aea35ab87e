//! Test helpers (feature `test-util`): call a router in-process like API Gateway would.

use axum::body::Body;
use axum::http::Request;
use axum::Router;
use serde_json::Value;
use tower::ServiceExt;

/// Response of an in-process call: status, headers and JSON body (`Null` if not JSON).
pub struct Reply {
    pub status: u16,
    pub headers: axum::http::HeaderMap,
    pub body: Value,
}

pub async fn call_raw(
    router: &Router,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Reply {
    let mut req = Request::builder().method(method).uri(path);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req.body(Body::from(body)).expect("valid request");
    let resp = router
        .clone()
        .oneshot(req)
        .await
        .expect("infallible router");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap_or_default();
    Reply {
        status,
        headers,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    }
}

/// JSON call with an optional Bearer key.
pub async fn call(
    router: &Router,
    method: &str,
    path: &str,
    key: Option<&str>,
    body: Option<Value>,
) -> Reply {
    let auth = key.map(|k| format!("Bearer {k}"));
    let mut headers = vec![("content-type", "application/json")];
    if let Some(a) = &auth {
        headers.push(("authorization", a.as_str()));
    }
    let body = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
    call_raw(router, method, path, &headers, body).await
}

/// Creates a workspace and its first key directly through the store: (workspace id, key).
pub async fn workspace(app: &shared::App, name: &str) -> (String, String) {
    let now = shared::time::now_string();
    let ws = shared::tenancy::Workspace {
        id: shared::ids::new_id(shared::ids::WORKSPACE),
        name: name.to_owned(),
        created_at: now.clone(),
    };
    let plain = format!("bsk_test_{}", shared::ids::new_id("k"));
    let key = shared::tenancy::ApiKey {
        id: shared::ids::new_id(shared::ids::API_KEY),
        workspace_id: ws.id.clone(),
        prefix: plain.chars().take(12).collect(),
        hash: shared::http::sha256_hex(plain.as_bytes()),
        created_at: now,
        last_used_at: None,
        revoked_at: None,
    };
    app.workspaces
        .create_workspace(&ws, &key)
        .await
        .expect("create workspace");
    (ws.id, plain)
}

/// The one handler-test harness: an `App` over the in-memory fakes with one workspace and
/// its key. A test file's own `Env` holds one of these (and derefs to it) plus the router or
/// worker it exercises.
pub struct TestApp {
    pub app: shared::App,
    pub store: std::sync::Arc<crate::memory::MemoryStore>,
    pub queue: std::sync::Arc<crate::memory::MemoryQueue>,
    pub ws: String,
    pub key: String,
}

impl TestApp {
    /// Over the test config (`Config::for_tests`).
    pub async fn new() -> Self {
        Self::with_config(shared::config::Config::for_tests("t", "q")).await
    }

    pub async fn with_config(config: shared::config::Config) -> Self {
        let (app, store, queue) = crate::in_memory_app(config);
        let (ws, key) = workspace(&app, "w").await;
        Self {
            app,
            store,
            queue,
            ws,
            key,
        }
    }
}

/// `impl Deref<Target = TestApp>` for a test file's `Env` whose field `t` is the harness.
#[macro_export]
macro_rules! deref_test_app {
    ($env:ty) => {
        impl std::ops::Deref for $env {
            type Target = $crate::harness::TestApp;
            fn deref(&self) -> &$crate::harness::TestApp {
                &self.t
            }
        }
    };
}
