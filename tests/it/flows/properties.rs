//! Property: whatever arrives over HTTP — any route of `template.yaml`, any path segment, query
//! string, header and body — a public handler never panics, never answers 5xx, answers every
//! rejection with the JSON error shape, and writes nothing (DynamoDB on moto, queues) when it
//! rejects. Routes are read from `template.yaml`, so a new route is covered without editing
//! this file (its function only has to be in [`router_for`]).
//!
//! `PROPTEST_CASES` sets the number of requests (default 300); a failure prints the shrunk
//! request.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use aws_sdk_dynamodb::types::AttributeValue;
use axum::body::Body;
use axum::http::Request;
use axum::Router;
use proptest::prelude::*;
use serde_json::{json, Value};
use shared::queue::QueueName;
use shared_testkit::harness::{workspace, Api};
use shared_testkit::moto::fresh_store;
use shared_testkit::sqs::MemoryQueue;
use tower::ServiceExt;

/// One route of the template: method, path with `{name}` placeholders, the function serving it.
#[derive(Debug, Clone)]
struct Route {
    method: String,
    path: String,
    function: String,
}

/// Every `HttpApi` event of `template.yaml` (`Properties: {ApiId: …, Method: X, Path: Y}`).
fn template_routes() -> Vec<Route> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml"))
        .expect("template.yaml");
    let mut function = String::new();
    let mut routes = Vec::new();
    for line in text.lines() {
        if line.starts_with("  ") && !line.starts_with("   ") && line.trim_end().ends_with(':') {
            function = line.trim().trim_end_matches(':').to_owned();
        }
        let Some(props) = line.split("Properties: {ApiId: !Ref HttpApi,").nth(1) else {
            continue;
        };
        let field = |name: &str| {
            props
                .split(',')
                .find_map(|p| p.trim().strip_prefix(name))
                .map(|v| {
                    v.trim()
                        .trim_end_matches('}')
                        .trim()
                        .trim_matches('"')
                        .to_owned()
                })
        };
        if let (Some(method), Some(path)) = (field("Method:"), field("Path:")) {
            routes.push(Route {
                method: method.to_ascii_uppercase(),
                path,
                function: function.clone(),
            });
        }
    }
    routes
}

/// What the fuzzed requests run against: one moto table, a memory queue, one workspace with a
/// little of everything so that real ids reach the deeper code.
struct World {
    rt: tokio::runtime::Runtime,
    store: Arc<shared_aws::DynamoStore>,
    queue: Arc<MemoryQueue>,
    routers: BTreeMap<String, Router>,
    key: String,
    other_key: String,
    /// Real ids of every kind (and the workspace id), used as path segments.
    ids: Vec<String>,
}

fn router_for(function: &str, app: &shared::App) -> Option<Router> {
    let app = app.clone();
    Some(match function {
        "WorkspacesApiFunction" => workspaces_api::router(app),
        "BookingsApiFunction" => bookings_api::router(app),
        "CancellationsApiFunction" => cancellations_api::router(app),
        "CalendarApiFunction" => calendar_api::router(app),
        "SubscriptionsApiFunction" => subscriptions_api::router(app),
        "SyncJobsApiFunction" => sync_jobs_api::router(app),
        "UsersApiFunction" => users_api::router(app),
        "InboundReceiverFunction" => inbound_receiver::router(app),
        "ConsoleApiFunction" => console_api::router(),
        _ => return None,
    })
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let (store, queue, routers, key, other_key, ids) = rt.block_on(async {
            let store = Arc::new(fresh_store().await);
            let queue = Arc::new(MemoryQueue::new());
            let config = shared::config::Config::for_tests(store.table(), "memory://delivery");
            let app = shared::App::new(config, store.clone(), queue.clone());
            let (ws, key) = workspace(&app, "fuzz").await;
            let (_, other_key) = workspace(&app, "other").await;
            let mut ids = vec![ws.clone(), "e1".to_owned()];
            let bookings = Api::new(bookings_api::router(app.clone()), &key);
            bookings.put_exam("e1", 5).await;
            let b = bookings
                .post(
                    "/api/bookings",
                    Some(json!({"mockExamId": "e1", "contactId": "c1"})),
                )
                .await;
            ids.push(b.str_at("/booking/id"));
            let subs = Api::new(subscriptions_api::router(app.clone()), &key);
            let w = subs
                .post(
                    "/api/admin/webhooks",
                    Some(
                        json!({"name": "fuzz", "url": "http://127.0.0.1:9/hook", "events": ["*"]}),
                    ),
                )
                .await;
            ids.push(w.str_at("/webhook/id"));
            let jobs = Api::new(sync_jobs_api::router(app.clone()), &key);
            let j = jobs
                .post(
                    &format!("/api/workspaces/{ws}/sync-jobs"),
                    Some(json!({"name": "fuzz", "type": "webhook", "source": "stripe", "webhookConfig": {"signingSecret": "whsec_fuzz"}})),
                )
                .await;
            ids.push(j.str_at("/syncJob/id"));
            let users = Api::new(users_api::router(app.clone()), &key);
            let u = users
                .post("/api/users", Some(json!({"email": "fuzz@example.com"})))
                .await;
            ids.push(u.str_at("/user/id"));
            queue.drain(QueueName::Delivery);
            queue.drain(QueueName::Inbound);
            let routers = template_routes()
                .into_iter()
                .filter_map(|r| router_for(&r.function, &app).map(|rt| (r.function, rt)))
                .collect();
            (store, queue, routers, key, other_key, ids)
        });
        // The requests run on the runtime that made the SDK clients (their connection pools
        // live on it).
        World {
            rt,
            store,
            queue,
            routers,
            key,
            other_key,
            ids,
        }
    })
}

/// Every item of the table, canonical (sorted keys, nested maps sorted), without what a
/// request may write even when it is rejected: the API key's `lastUsedAt`, and the receiver's
/// count of rejected signatures per job (`…#SIGFAIL#…`, the `inbound.signature_failures`
/// alert's window: a 401 is exactly what it counts).
async fn snapshot(w: &World) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut start = None;
    loop {
        let page = w
            .store
            .client()
            .scan()
            .table_name(w.store.table())
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("scan");
        for item in page.items() {
            let mut attrs: BTreeMap<&String, String> = BTreeMap::new();
            for (k, v) in item {
                if k != "lastUsedAt" {
                    attrs.insert(k, canonical(v));
                }
            }
            let key = format!("{}|{}", canonical(&item["pk"]), canonical(&item["sk"]));
            if key.contains("#SIGFAIL#") {
                continue;
            }
            out.insert(key, format!("{attrs:?}"));
        }
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            return out;
        }
    }
}

fn canonical(v: &AttributeValue) -> String {
    match v {
        AttributeValue::M(m) => {
            let sorted: BTreeMap<_, _> = m.iter().map(|(k, v)| (k, canonical(v))).collect();
            format!("M{sorted:?}")
        }
        AttributeValue::L(l) => format!("L{:?}", l.iter().map(canonical).collect::<Vec<_>>()),
        AttributeValue::Ss(s) | AttributeValue::Ns(s) => {
            let mut s = s.clone();
            s.sort();
            format!("S{s:?}")
        }
        other => format!("{other:?}"),
    }
}

fn queued(w: &World) -> usize {
    [QueueName::Delivery, QueueName::Inbound, QueueName::Export]
        .into_iter()
        .map(|q| w.queue.len(q))
        .sum()
}

// --- the request generator ---------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Segment {
    /// One of the world's real ids (any kind, so kinds get mixed up too).
    Real(usize),
    /// Printable text, percent-encoded.
    Text(String),
    /// Bytes as `%XX` (invalid UTF-8 included).
    Bytes(Vec<u8>),
    /// A DynamoDB-key-sized id.
    Long(usize),
}

#[derive(Debug, Clone)]
enum Auth {
    Key,
    OtherWorkspace,
    Garbage(String),
    None,
}

#[derive(Debug, Clone)]
enum BodyGen {
    Empty,
    Bytes(Vec<u8>),
    Json(Value),
}

#[derive(Debug, Clone)]
struct Case {
    route: usize,
    segments: Vec<Segment>,
    query: Vec<(String, String)>,
    raw_query: Option<String>,
    auth: Auth,
    headers: Vec<(String, String)>,
    content_type: Option<String>,
    body: BodyGen,
}

/// Field names and values the handlers know, so that generated bodies get past the JSON
/// parser and into validation.
const FIELDS: &[&str] = &[
    "name",
    "url",
    "events",
    "enabled",
    "mockExamId",
    "contactId",
    "capacity",
    "examDate",
    "webhookUrl",
    "retryAttempts",
    "retryDelay",
    "email",
    "firstName",
    "tags",
    "customFields",
    "exportConsent",
    "type",
    "source",
    "webhookConfig",
    "signingSecret",
    "toleranceSeconds",
    "bookingIds",
    "reason",
    "status",
    "startTime",
    "endTime",
    "title",
    "filter",
    "transform",
    "headers",
    "rateLimitPerSecond",
    "format",
    "eventId",
    "payload",
    "maxConsecutiveFailures",
    "description",
    "secret",
    "schedule",
    "apiKey",
    "destination",
    "syncProperties",
    "id",
];
const VALUES: &[&str] = &[
    "",
    "e1",
    "c1",
    "booking.created",
    "*",
    "booking.*",
    "stripe",
    "close",
    "standard",
    "webhook",
    "scheduled",
    "https://example.com/hook",
    "http://127.0.0.1:9/x",
    "http://169.254.169.254/",
    "2026-01-01T00:00:00Z",
    "not-a-date",
    "a@b.co",
    "slack",
    "rate(5 minutes)",
    ".type",
    "null",
];
const QUERY_KEYS: &[&str] = &[
    "limit",
    "cursor",
    "offset",
    "status",
    "event",
    "since",
    "until",
    "webhookId",
    "search",
    "sortBy",
    "sortOrder",
    "createdAfter",
    "hasTag",
    "customField[x]",
    "userId",
    "async",
    "includeBookings",
    "objectType",
    "fields",
    "exportConsentOnly",
];
const HEADERS: &[&str] = &[
    "stripe-signature",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "close-sig-hash",
    "close-sig-timestamp",
    "idempotency-key",
    "x-request-id",
    "accept",
];

fn pick(list: &'static [&'static str]) -> impl Strategy<Value = String> {
    proptest::sample::select(list).prop_map(str::to_owned)
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![pick(VALUES), "\\PC{0,24}", "[ -~]{0,40}"]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-1e6f64..1e6).prop_map(Value::from),
        prop_oneof![Just(0i64), Just(-1), Just(1), Just(1001), Just(i64::MAX)]
            .prop_map(Value::from),
        text().prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            proptest::collection::btree_map(pick(FIELDS), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn segment() -> impl Strategy<Value = Segment> {
    prop_oneof![
        4 => (0usize..8).prop_map(Segment::Real),
        3 => text().prop_map(Segment::Text),
        2 => proptest::collection::vec(any::<u8>(), 0..6).prop_map(Segment::Bytes),
        1 => (1024usize..4096).prop_map(Segment::Long),
    ]
}

fn case(routes: usize) -> impl Strategy<Value = Case> {
    (
        0..routes,
        proptest::collection::vec(segment(), 3),
        proptest::collection::vec((pick(QUERY_KEYS), text()), 0..4),
        proptest::option::weighted(0.1, "[ -~]{0,30}"),
        prop_oneof![
            6 => Just(Auth::Key),
            1 => Just(Auth::OtherWorkspace),
            1 => "[ -~]{0,40}".prop_map(Auth::Garbage),
            1 => Just(Auth::None),
        ],
        proptest::collection::vec((pick(HEADERS), "[ -~]{0,60}"), 0..3),
        proptest::option::weighted(
            0.3,
            prop_oneof![
                Just("application/json".to_owned()),
                Just("text/plain".to_owned()),
                Just("application/x-www-form-urlencoded".to_owned()),
                "[ -~]{0,20}",
            ],
        ),
        prop_oneof![
            1 => Just(BodyGen::Empty),
            2 => proptest::collection::vec(any::<u8>(), 0..256).prop_map(BodyGen::Bytes),
            6 => json_value().prop_map(BodyGen::Json),
        ],
    )
        .prop_map(
            |(route, segments, query, raw_query, auth, headers, content_type, body)| Case {
                route,
                segments,
                query,
                raw_query,
                auth,
                headers,
                content_type,
                body,
            },
        )
}

fn encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

fn path_of(route: &Route, segments: &[Segment], ids: &[String]) -> String {
    let mut out = String::new();
    let mut n = 0;
    for part in route.path.split('/').skip(1) {
        out.push('/');
        if part.starts_with('{') && part.ends_with('}') {
            let seg = &segments[n % segments.len()];
            n += 1;
            match seg {
                Segment::Real(i) => out.push_str(&ids[i % ids.len()]),
                Segment::Text(t) => out.push_str(&encode(t)),
                Segment::Bytes(b) => b.iter().for_each(|b| out.push_str(&format!("%{b:02X}"))),
                Segment::Long(len) => out.push_str(&"a".repeat(*len)),
            }
        } else {
            out.push_str(part);
        }
    }
    out
}

fn request(w: &World, route: &Route, c: &Case) -> Request<Body> {
    let mut uri = path_of(route, &c.segments, &w.ids);
    let query: Vec<String> = c
        .query
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect();
    if let Some(raw) = &c.raw_query {
        uri.push('?');
        uri.push_str(&encode(raw).replace("%3D", "=").replace("%26", "&"));
    } else if !query.is_empty() {
        uri.push('?');
        uri.push_str(&query.join("&"));
    }
    let mut req = Request::builder().method(route.method.as_str()).uri(&uri);
    match &c.auth {
        Auth::Key => req = req.header("authorization", format!("Bearer {}", w.key)),
        Auth::OtherWorkspace => {
            req = req.header("authorization", format!("Bearer {}", w.other_key))
        }
        Auth::Garbage(g) => req = req.header("authorization", g.as_str()),
        Auth::None => {}
    }
    for (k, v) in &c.headers {
        req = req.header(k.as_str(), v.as_str());
    }
    let body = match &c.body {
        BodyGen::Empty => Vec::new(),
        BodyGen::Bytes(b) => b.clone(),
        BodyGen::Json(v) => serde_json::to_vec(v).expect("json"),
    };
    let content_type = c
        .content_type
        .clone()
        .or_else(|| matches!(c.body, BodyGen::Json(_)).then(|| "application/json".to_owned()));
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    req.body(Body::from(body))
        .expect("the generator builds valid requests")
}

async fn check(w: &World, routes: &[Route], c: &Case) -> Result<(), TestCaseError> {
    let route = &routes[c.route];
    let Some(router) = w.routers.get(&route.function) else {
        return Ok(());
    };
    let before = snapshot(w).await;
    let queued_before = queued(w);
    let req = request(w, route, c);
    let what = format!("{} {}", req.method(), req.uri());
    let resp = router.clone().oneshot(req).await.expect("infallible");
    let status = resp.status().as_u16();
    seen()
        .lock()
        .expect("stats")
        .entry(format!("{} {}", route.method, route.path))
        .or_default()
        .push(status);
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .expect("body");
    prop_assert!(
        status < 500,
        "{what} → {status}: {}",
        String::from_utf8_lossy(&bytes)
    );
    if status >= 400 {
        let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        prop_assert!(
            v["success"] == false
                && v["error"]["code"].as_str().is_some_and(|s| !s.is_empty())
                && v["error"]["message"]
                    .as_str()
                    .is_some_and(|s| !s.is_empty()),
            "{what} → {status} without the JSON error shape: {}",
            String::from_utf8_lossy(&bytes)
        );
        let after = snapshot(w).await;
        let changed: Vec<_> = after
            .iter()
            .filter(|(k, v)| before.get(*k) != Some(*v))
            .map(|(k, _)| k.clone())
            .chain(before.keys().filter(|k| !after.contains_key(*k)).cloned())
            .collect();
        prop_assert!(changed.is_empty(), "{what} → {status} wrote {changed:?}");
        prop_assert_eq!(
            queued(w),
            queued_before,
            "{} → {} queued a message",
            what,
            status
        );
    }
    Ok(())
}

/// Statuses seen per route: the test also proves it reached the handlers (not only the
/// extractors' rejections).
fn seen() -> &'static std::sync::Mutex<BTreeMap<String, Vec<u16>>> {
    static SEEN: OnceLock<std::sync::Mutex<BTreeMap<String, Vec<u16>>>> = OnceLock::new();
    SEEN.get_or_init(Default::default)
}

#[test]
fn no_request_panics_or_5xxs_and_a_rejection_writes_nothing() {
    let routes = template_routes();
    assert!(routes.len() >= 60, "template.yaml routes: {}", routes.len());
    let w = world();
    for r in &routes {
        assert!(
            w.routers.contains_key(&r.function),
            "{} {} is served by {}, which this test does not know: add it to router_for",
            r.method,
            r.path,
            r.function
        );
    }
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let result = runner.run(&case(routes.len()), |c| {
        w.rt.block_on(check(w, &routes, &c))
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let seen = seen().lock().expect("stats");
    let ok_routes = seen.values().filter(|s| s.iter().any(|s| *s < 300)).count();
    let validation = seen.values().flatten().filter(|s| **s == 400).count();
    eprintln!(
        "{} routes called, {ok_routes} answered 2xx at least once, {validation} answers 400",
        seen.len()
    );
    if cases >= 200 {
        assert!(
            seen.len() >= routes.len() / 2,
            "routes reached: {}",
            seen.len()
        );
        assert!(ok_routes >= 10, "routes that answered 2xx: {ok_routes}");
        assert!(
            validation >= cases as usize / 10,
            "400 answers: {validation}"
        );
    }
}
