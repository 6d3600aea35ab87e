//! DESIGN §8 "Inbound additions": a path id that is not valid UTF-8 (`%FF`) gets the JSON error
//! shape like any other unknown id — `not_found`, never axum's text/plain rejection. Every
//! route with a path parameter in `template.yaml` is walked through its function's router, with
//! each parameter in turn replaced by `%FF`.

use shared_testkit::harness::{call, TestApp};

/// (method, path) of every HttpApi event of `function` in template.yaml.
fn routes_of(template: &str, function: &str) -> Vec<(String, String)> {
    let mut current = String::new();
    let mut out = Vec::new();
    for line in template.lines() {
        if let Some(name) = line.strip_prefix("  ").and_then(|l| l.strip_suffix(':')) {
            if !name.starts_with(' ') {
                current = name.to_owned();
            }
        }
        if current != function {
            continue;
        }
        if let Some(props) = line
            .trim()
            .strip_prefix("Properties: {ApiId: !Ref HttpApi, ")
        {
            let method = props
                .split("Method: ")
                .nth(1)
                .and_then(|r| r.split(',').next())
                .unwrap_or_default();
            let path = props
                .split("Path: ")
                .nth(1)
                .map(|r| r.trim_end_matches('}').trim_matches('"'))
                .unwrap_or_default();
            out.push((method.to_owned(), path.to_owned()));
        }
    }
    out
}

/// The route with its `n`-th parameter as `%FF` and the others as plausible ids.
fn with_bad_segment(path: &str, n: usize) -> String {
    let mut i = 0;
    path.split('/')
        .map(|seg| {
            if seg.starts_with('{') && seg.ends_with('}') {
                i += 1;
                if i - 1 == n {
                    "%FF".to_owned()
                } else {
                    "x1".to_owned()
                }
            } else {
                seg.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[tokio::test]
async fn a_path_id_that_is_not_utf8_is_a_json_404_on_every_route() {
    let t = TestApp::new().await;
    let template =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml"))
            .expect("template.yaml");
    let routers = [
        (
            "WorkspacesApiFunction",
            workspaces_api::router(t.app.clone()),
        ),
        ("BookingsApiFunction", bookings_api::router(t.app.clone())),
        (
            "CancellationsApiFunction",
            cancellations_api::router(t.app.clone()),
        ),
        ("CalendarApiFunction", calendar_api::router(t.app.clone())),
        (
            "SubscriptionsApiFunction",
            subscriptions_api::router(t.app.clone()),
        ),
        ("UsersApiFunction", users_api::router(t.app.clone())),
        ("SyncJobsApiFunction", sync_jobs_api::router(t.app.clone())),
        (
            "InboundReceiverFunction",
            inbound_receiver::router(t.app.clone()),
        ),
    ];
    let mut checked = 0;
    for (function, router) in &routers {
        let routes = routes_of(&template, function);
        assert!(!routes.is_empty(), "no routes found for {function}");
        for (method, path) in routes {
            let params = path.matches('{').count();
            for n in 0..params {
                let url = with_bad_segment(&path, n);
                let r = call(router, &method, &url, Some(&t.key), None).await;
                assert_eq!(r.status, 404, "{method} {url}: {}", r.body);
                assert_eq!(r.body["success"], false, "{method} {url}");
                assert_eq!(
                    r.body["error"]["code"], "not_found",
                    "{method} {url}: {}",
                    r.body
                );
                checked += 1;
            }
        }
    }
    // Every parameterised route of the API functions (43 path extractors when this was written).
    assert!(checked >= 40, "only {checked} routes checked");
}
