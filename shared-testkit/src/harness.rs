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

impl Reply {
    /// `error.code` of an error answer (`""` when there is none).
    pub fn error_code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or_default()
    }

    /// `error.message` of an error answer (`""` when there is none).
    pub fn error_message(&self) -> &str {
        self.body["error"]["message"].as_str().unwrap_or_default()
    }

    /// The string at a JSON pointer of the body (e.g. `/booking/id`); panics naming the
    /// pointer and the body when there is none.
    pub fn str_at(&self, pointer: &str) -> String {
        match self.body.pointer(pointer).and_then(Value::as_str) {
            Some(s) => s.to_owned(),
            None => panic!("no string at {pointer}: {}", self.body),
        }
    }
}

/// Response of an in-process call with its body as bytes.
pub struct RawReply {
    pub status: u16,
    pub headers: axum::http::HeaderMap,
    pub bytes: Vec<u8>,
}

impl RawReply {
    /// The value of header `name` (`""` when absent or not text).
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    /// The body as UTF-8 text; panics when it is not.
    pub fn text(&self) -> String {
        String::from_utf8(self.bytes.clone()).expect("utf-8 body")
    }

    /// The body as JSON (`Null` if it is not).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes).unwrap_or(Value::Null)
    }
}

/// A request to `router` in-process; the body as bytes.
pub async fn call_bytes(
    router: &Router,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> RawReply {
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
        .unwrap_or_default()
        .to_vec();
    RawReply {
        status,
        headers,
        bytes,
    }
}

pub async fn call_raw(
    router: &Router,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Reply {
    let raw = call_bytes(router, method, path, headers, body).await;
    Reply {
        status: raw.status,
        headers: raw.headers,
        body: serde_json::from_slice(&raw.bytes).unwrap_or(Value::Null),
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

/// A router called in-process with one workspace's key: the requests handler and flow tests
/// make, one line each.
#[derive(Clone)]
pub struct Api {
    pub router: Router,
    pub key: String,
}

impl Api {
    pub fn new(router: Router, key: &str) -> Self {
        Self {
            router,
            key: key.to_owned(),
        }
    }

    /// The same router with another key.
    pub fn with_key(&self, key: &str) -> Self {
        Self::new(self.router.clone(), key)
    }

    /// A JSON call with the key.
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Reply {
        call(&self.router, method, path, Some(&self.key), body).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.call("GET", path, None).await
    }

    /// A POST with a JSON body or (`None`) none.
    pub async fn post(&self, path: &str, body: impl Into<Option<Value>>) -> Reply {
        self.call("POST", path, body.into()).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Reply {
        self.call("PUT", path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Reply {
        self.call("PATCH", path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.call("DELETE", path, None).await
    }

    /// Puts mock exam `id` (named "Mock") with `capacity` seats; asserts that it was stored.
    pub async fn put_exam(&self, id: &str, capacity: i64) {
        let body = serde_json::json!({ "name": "Mock", "capacity": capacity });
        let r = self.put(&format!("/api/mock-exams/{id}"), body).await;
        assert_eq!(r.status, 200, "{}", r.body);
    }

    /// Raw bytes with the key, a JSON content type and `headers`.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Reply {
        let auth = format!("Bearer {}", self.key);
        let mut all = vec![
            ("authorization", auth.as_str()),
            ("content-type", "application/json"),
        ];
        all.extend_from_slice(headers);
        call_raw(&self.router, method, path, &all, body).await
    }
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
/// its key, and the router under test (`serve`) called with that key: it derefs to its
/// [`Api`], so `t.get(path)`, `t.post(path, body)`, `t.key`, `t.router`. A test file's own
/// `Env` holds one of these (and derefs to it) plus whatever else it exercises.
pub struct TestApp {
    pub app: shared::App,
    pub store: std::sync::Arc<crate::memory::MemoryStore>,
    pub queue: std::sync::Arc<crate::memory::MemoryQueue>,
    pub ws: String,
    /// The workspace's key over the router under test (an empty router until `serve`).
    pub api: Api,
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
            api: Api::new(Router::new(), &key),
        }
    }

    /// Serves the router `router` builds over this app (e.g. `bookings_api::router`).
    pub fn serve(mut self, router: impl FnOnce(shared::App) -> Router) -> Self {
        self.api.router = router(self.app.clone());
        self
    }

    /// Another router over this app, called with this workspace's key.
    pub fn api(&self, router: impl FnOnce(shared::App) -> Router) -> Api {
        Api::new(router(self.app.clone()), &self.api.key)
    }
}

impl std::ops::Deref for TestApp {
    type Target = Api;
    fn deref(&self) -> &Api {
        &self.api
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
