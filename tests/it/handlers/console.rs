//! The console function (DESIGN §8) in-process: the page, its assets, their headers, and what
//! the CSP demands of the files themselves (no inline script or style).

use shared_testkit::harness::{call_bytes, RawReply};

async fn get_with(path: &str, headers: &[(&str, &str)]) -> RawReply {
    call_bytes(&console_api::router(), "GET", path, headers, Vec::new()).await
}

async fn get(path: &str) -> RawReply {
    get_with(path, &[]).await
}

fn index_html() -> &'static str {
    let asset = console_api::ASSETS
        .iter()
        .find(|a| a.path == "index.html")
        .expect("index.html is embedded");
    std::str::from_utf8(asset.body).expect("utf-8")
}

fn assert_security_headers(r: &RawReply) {
    let csp = r.header("content-security-policy");
    assert!(csp.starts_with("default-src 'self'"), "{csp}");
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    assert_eq!(r.header("x-content-type-options"), "nosniff");
    assert_eq!(r.header("referrer-policy"), "no-referrer");
}

#[tokio::test]
async fn console_is_the_html_page_with_the_csp_and_needs_no_key() {
    let r = get("/console").await;
    assert_eq!(r.status, 200);
    assert!(
        r.header("content-type").starts_with("text/html"),
        "{}",
        r.header("content-type")
    );
    assert_security_headers(&r);
    assert_eq!(r.header("cache-control"), "no-cache");
    assert!(!r.header("etag").is_empty());
    assert!(r.text().contains("<title>booking-sync console</title>"));
}

#[tokio::test]
async fn each_asset_is_served_with_its_content_type() {
    for (path, content_type) in [
        ("/console/app.js", "text/javascript"),
        ("/console/views/webhooks.js", "text/javascript"),
        ("/console/style.css", "text/css"),
        ("/console/icon.svg", "image/svg+xml"),
        ("/console/index.html", "text/html"),
    ] {
        let r = get(path).await;
        assert_eq!(r.status, 200, "{path}");
        assert!(
            r.header("content-type").starts_with(content_type),
            "{path}: {}",
            r.header("content-type")
        );
        assert_security_headers(&r);
        assert!(!r.bytes.is_empty(), "{path}");
    }
    for asset in console_api::ASSETS {
        let r = get(&format!("/console/{}", asset.path)).await;
        assert_eq!(r.status, 200, "{}", asset.path);
        assert_eq!(r.header("content-type"), asset.content_type);
        assert_eq!(r.bytes, asset.body, "{}", asset.path);
    }
}

#[tokio::test]
async fn an_unchanged_asset_answers_304_to_its_etag() {
    let first = get("/console/app.js").await;
    let etag = first.header("etag").to_owned();
    let again = get_with("/console/app.js", &[("if-none-match", &etag)]).await;
    assert_eq!(again.status, 304);
    assert!(again.bytes.is_empty());
    let other = get_with("/console/app.js", &[("if-none-match", "\"stale\"")]).await;
    assert_eq!(other.status, 200);
}

#[tokio::test]
async fn an_unknown_asset_is_a_json_404() {
    for path in [
        "/console/nope.js",
        "/console/views/../../Cargo.toml",
        "/console/%2e%2e/Cargo.toml",
        "/console/%FF.js",
        "/consoles",
    ] {
        let r = get(path).await;
        assert_eq!(r.status, 404, "{path}");
        assert!(
            r.header("content-type").starts_with("application/json"),
            "{path}"
        );
        let body = r.json();
        assert_eq!(body["success"], false, "{path}: {body}");
        assert_eq!(body["error"]["code"], "not_found", "{path}: {body}");
        assert!(body["error"]["message"].is_string(), "{path}: {body}");
        assert_security_headers(&r);
    }
}

#[tokio::test]
async fn index_has_no_inline_script_or_style() {
    let html = index_html().to_ascii_lowercase();
    let mut scripts = 0;
    for tag in html.split("<script").skip(1) {
        let open = &tag[..tag.find('>').expect("script tag closes")];
        assert!(
            open.contains(" src=\"/console/"),
            "inline script: <script{open}>"
        );
        assert!(
            tag[open.len() + 1..].trim_start().starts_with("</script>"),
            "script with a body"
        );
        scripts += 1;
    }
    assert_eq!(scripts, 1, "one module entry point");
    assert!(html.contains("type=\"module\""));
    assert!(!html.contains("<style"), "a <style> block");
    assert!(!html.contains(" style="), "a style attribute");
    assert!(!inline_handler(&html), "an inline event handler");
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "nothing from another origin"
    );
    assert!(html.contains("<link rel=\"icon\" href=\"/console/icon.svg\""));
}

/// ` onclick=`, ` onload=` … (an attribute starting with "on" followed by letters and "=").
fn inline_handler(html: &str) -> bool {
    html.match_indices(" on").any(|(i, _)| {
        let rest = &html[i + 3..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphabetic())
            .collect();
        !name.is_empty() && rest[name.len()..].starts_with('=')
    })
}

#[tokio::test]
async fn index_names_every_section_and_the_sign_in() {
    let html = index_html();
    for (hash, text) in [
        ("#/overview", "Overview"),
        ("#/mock-exams", "Mock exams"),
        ("#/webhooks", "Webhooks"),
        ("#/calendar-sync", "Calendar sync"),
        ("#/sync-jobs", "Sync jobs"),
        ("#/users", "Users"),
    ] {
        assert!(
            html.contains(&format!(
                "href=\"{hash}\" data-section=\"{}\">{text}</a>",
                &hash[2..]
            )),
            "nav link {text}"
        );
    }
    assert!(html.contains("<label for=\"api-key\">API key</label>"));
    assert!(html.contains(">Sign in</button>"));
    assert!(html.contains(">Sign out</button>"));
}

#[tokio::test]
async fn every_file_the_app_loads_is_embedded() {
    let embedded: Vec<String> = console_api::ASSETS
        .iter()
        .map(|a| format!("/console/{}", a.path))
        .collect();
    for part in index_html().split("\"/console/").skip(1) {
        let path = format!("/console/{}", &part[..part.find('"').expect("quoted")]);
        assert!(embedded.contains(&path), "index.html loads {path}");
    }
    for asset in console_api::ASSETS
        .iter()
        .filter(|a| a.path.ends_with(".js"))
    {
        let text = std::str::from_utf8(asset.body).expect("utf-8");
        let dir = asset.path.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
        for part in text.split(" from '").skip(1) {
            let spec = &part[..part.find('\'').expect("quoted")];
            let mut segs: Vec<&str> = dir.split('/').filter(|s| !s.is_empty()).collect();
            for s in spec.split('/') {
                match s {
                    "." => {}
                    ".." => {
                        segs.pop();
                    }
                    s => segs.push(s),
                }
            }
            let path = format!("/console/{}", segs.join("/"));
            assert!(embedded.contains(&path), "{} imports {spec}", asset.path);
        }
    }
}

#[tokio::test]
async fn the_scripts_keep_to_the_csp_and_stay_out_of_the_browser_console() {
    for asset in console_api::ASSETS
        .iter()
        .filter(|a| a.path.ends_with(".js"))
    {
        let text = std::str::from_utf8(asset.body).expect("utf-8");
        for call in [
            "log", "error", "warn", "info", "debug", "trace", "table", "dir",
        ] {
            assert!(
                !text.contains(&format!("console.{call}(")),
                "{} calls console.{call}",
                asset.path
            );
        }
        for banned in [
            ".innerHTML",
            ".outerHTML",
            ".insertAdjacentHTML(",
            "document.write(",
            "new Function(",
            "setAttribute('style'",
            ".cssText",
            "localStorage.",
            "document.cookie",
        ] {
            assert!(!text.contains(banned), "{} uses {banned}", asset.path);
        }
        let evals = text
            .match_indices("eval(")
            .any(|(i, _)| i == 0 || !text.as_bytes()[i - 1].is_ascii_alphanumeric());
        assert!(!evals, "{} calls eval", asset.path);
    }
}

#[tokio::test]
async fn the_button_and_field_texts_of_the_contract_are_there() {
    let all: String = console_api::ASSETS
        .iter()
        .filter_map(|a| std::str::from_utf8(a.body).ok())
        .collect();
    for text in [
        "'Add webhook'",
        "'Send test'",
        "'Retry'",
        "'Recover'",
        "'Rotate secret'",
        "'Retry failed syncs'",
        "'Add sync job'",
        "'Replay'",
        "'Regenerate secret'",
        "'Start export'",
        "'Copy'",
        "'Webhook Sync'",
        "'Stripe'",
        "'Close'",
        "'Standard Webhooks'",
        "'Raw payload'",
        "sessionStorage",
    ] {
        assert!(all.contains(text), "{text}");
    }
}
