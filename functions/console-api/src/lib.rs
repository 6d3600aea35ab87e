//! Operations console (DESIGN §8): `GET /console` serves the single-page app and
//! `GET /console/{*path}` its assets (ES modules, CSS, the icon), all embedded in the binary.
//! No authentication here: the app calls the JSON API with the key the user pastes, which
//! lives in the browser's `sessionStorage` only.
//!
//! Every answer carries the security headers (`Content-Security-Policy: default-src 'self'`,
//! so the app has no inline script or style and loads nothing from elsewhere). Assets are not
//! content-hashed in their URLs, so each answer says `no-cache` with an `ETag`: the browser
//! revalidates and a new deployment is seen at once, while an unchanged asset costs a 304.

use std::sync::OnceLock;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use shared::http::Path;

use shared::AppError;

/// `default-src 'self'` is the contract; the rest only narrows it (icons as data: URLs are
/// the one exception, no framing, no `<base>`, forms post only here).
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data:; \
     frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// One embedded file, served at `/console/{path}`.
pub struct Asset {
    pub path: &'static str,
    pub content_type: &'static str,
    pub body: &'static [u8],
}

macro_rules! asset {
    ($path:literal, $content_type:literal) => {
        Asset {
            path: $path,
            content_type: $content_type,
            body: include_bytes!(concat!("../assets/", $path)),
        }
    };
}

/// Every file of the app. `index.html` is also the answer to `GET /console`.
pub const ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("style.css", "text/css; charset=utf-8"),
    asset!("icon.svg", "image/svg+xml"),
    asset!("app.js", "text/javascript; charset=utf-8"),
    asset!("api.js", "text/javascript; charset=utf-8"),
    asset!("ui.js", "text/javascript; charset=utf-8"),
    asset!("views/overview.js", "text/javascript; charset=utf-8"),
    asset!("views/mock-exams.js", "text/javascript; charset=utf-8"),
    asset!("views/webhooks.js", "text/javascript; charset=utf-8"),
    asset!("views/calendar-sync.js", "text/javascript; charset=utf-8"),
    asset!("views/sync-jobs.js", "text/javascript; charset=utf-8"),
    asset!("views/users.js", "text/javascript; charset=utf-8"),
];

pub fn router() -> Router {
    Router::new()
        .route("/console", get(index))
        .route("/console/", get(index))
        .route("/console/{*path}", get(asset))
        .fallback(not_found)
        .layer(axum::middleware::from_fn(security_headers))
        .layer(axum::middleware::from_fn(shared::http::request_span))
}

/// A weak validator is enough: the bytes are fixed for the life of the binary.
fn etags() -> &'static [String] {
    static ETAGS: OnceLock<Vec<String>> = OnceLock::new();
    ETAGS.get_or_init(|| {
        ASSETS
            .iter()
            .map(|a| format!("\"{}\"", &shared::http::sha256_hex(a.body)[..20]))
            .collect()
    })
}

fn serve(index: usize, request: &HeaderMap) -> Response {
    let asset = &ASSETS[index];
    let etag = &etags()[index];
    let fresh = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut resp = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static(asset.content_type),
            )],
            asset.body,
        )
            .into_response()
    };
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, v);
    }
    resp
}

fn find(path: &str) -> Option<usize> {
    ASSETS.iter().position(|a| a.path == path)
}

async fn index(headers: HeaderMap) -> Response {
    match find("index.html") {
        Some(i) => serve(i, &headers),
        None => AppError::NotFound("asset").into_response(),
    }
}

async fn asset(Path(path): Path<String>, headers: HeaderMap) -> Response {
    match find(&path) {
        Some(i) => serve(i, &headers),
        None => AppError::NotFound("asset").into_response(),
    }
}

async fn not_found() -> AppError {
    AppError::NotFound("route")
}

/// On every answer, the JSON 404 included.
async fn security_headers(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    for (name, value) in [
        ("content-security-policy", CONTENT_SECURITY_POLICY),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("x-frame-options", "DENY"),
    ] {
        h.insert(name, HeaderValue::from_static(value));
    }
    resp
}
