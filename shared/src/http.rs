//! HTTP plumbing shared by every API function: bounded JSON bodies with precise errors, Bearer
//! authentication, the per-request span and the success envelope (list plumbing: `paging`).

use std::time::Instant;

use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tracing::Instrument;

use crate::app::App;
use crate::error::{AppError, AppResult};
use crate::tenancy::seen::KeyCheck;
use crate::tenancy::ApiKey;

/// Default request body cap (DESIGN §3); the inbound receiver allows 1 MiB.
pub const MAX_BODY: usize = 256 * 1024;
pub const MAX_INBOUND_BODY: usize = 1024 * 1024;
/// A key is refreshed in `lastUsedAt` at most this often (one write per key per minute).
const TOUCH_INTERVAL_SECS: i64 = 60;

/// Reads the body up to `limit` bytes: 413 `payload_too_large` beyond.
pub async fn read_body(
    body: Body,
    headers: &HeaderMap,
    limit: usize,
) -> Result<bytes::Bytes, AppError> {
    if let Some(len) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
    {
        if len > limit {
            return Err(AppError::PayloadTooLarge(limit));
        }
    }
    axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| AppError::PayloadTooLarge(limit))
}

/// Parses JSON into `T`, naming the offending field on type errors.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(AppError::InvalidJson(
            "request body must be a JSON object".into(),
        ));
    }
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| AppError::InvalidJson(format!("request body is not valid JSON: {e}")))?;
    if !value.is_object() {
        return Err(AppError::InvalidJson(
            "request body must be a JSON object".into(),
        ));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        if path == "." || path.is_empty() {
            AppError::validation(inner)
        } else {
            AppError::validation(format!("{path}: {inner}"))
        }
    })
}

/// A JSON body of at most [`MAX_BODY`] bytes.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        let bytes = read_body(body, &parts.headers, MAX_BODY).await?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// Path parameters. A segment that does not decode (`%FF` is no UTF-8) or does not fit the
/// parameter's type cannot name anything of ours: `not_found` in the JSON error shape, never
/// axum's text/plain rejection.
pub struct Path<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(v)| Self(v))
            .map_err(|_| AppError::NotFound("resource"))
    }
}

/// The query string as name → value (the last of a repeated name); a malformed one is a 400
/// in the JSON error shape, never axum's text/plain rejection.
pub struct QueryMap(pub std::collections::HashMap<String, String>);

impl QueryMap {
    /// A parameter's value as sent.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// Parameter `name` read by `parse` (an empty value is absent); a value `parse` refuses is
    /// a 400 with `message`.
    pub fn parsed<T>(
        &self,
        name: &str,
        parse: impl Fn(&str) -> Option<T>,
        message: &str,
    ) -> Result<Option<T>, AppError> {
        self.get(name)
            .filter(|v| !v.is_empty())
            .map(|v| parse(v).ok_or_else(|| AppError::validation(message)))
            .transpose()
    }

    /// The `cursor` parameter; an empty one is no cursor (the first page).
    pub fn cursor(&self) -> Option<&str> {
        self.get("cursor").filter(|c| !c.is_empty())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for QueryMap {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(m)| Self(m))
            .map_err(|_| AppError::validation("query string is malformed"))
    }
}

/// The raw body of at most [`MAX_BODY`] bytes, plus a JSON parse if it is not empty
/// (for routes whose body is optional).
pub struct OptionalJsonBody<T>(pub Option<T>);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for OptionalJsonBody<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        let bytes = read_body(body, &parts.headers, MAX_BODY).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(None));
        }
        parse_json(&bytes).map(|v| Self(Some(v)))
    }
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn bearer(parts: &Parts) -> Option<&str> {
    let v = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// A request authenticated by a workspace API key.
#[derive(Debug, Clone)]
pub struct Auth {
    pub workspace_id: String,
    pub key_id: String,
}

impl Auth {
    /// A `{workspaceId}` in a path must be the key's own; any other answers 404.
    pub fn require_workspace(&self, path_workspace: &str) -> Result<(), AppError> {
        if self.workspace_id == path_workspace {
            Ok(())
        } else {
            Err(AppError::NotFound("workspace"))
        }
    }
}

impl FromRequestParts<App> for Auth {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        let token = bearer(parts).ok_or(AppError::Unauthorized)?;
        let (auth, stale) = check_key(app, &sha256_hex(token.as_bytes())).await?;
        touch_key(app, stale).await;
        Ok(auth)
    }
}

/// Reads the key behind a request: `Unauthorized` unless it exists and is not revoked. A good
/// key is remembered (`App::seen_keys`) and, when its `lastUsedAt` is over a minute old,
/// returned to be touched.
async fn check_key(app: &App, hash: &str) -> Result<(Auth, Option<ApiKey>), AppError> {
    let Some(key) = app.workspaces.find_api_key(hash).await? else {
        app.seen_keys.forget(hash);
        return Err(AppError::Unauthorized);
    };
    app.seen_keys.remember(hash, &key.workspace_id, &key.id);
    tracing::Span::current().record("workspace_id", key.workspace_id.as_str());
    let now = crate::time::now();
    let stale = key
        .last_used_at
        .as_deref()
        .and_then(crate::time::parse)
        .is_none_or(|t| (now - t).num_seconds() >= TOUCH_INTERVAL_SECS);
    let auth = Auth {
        workspace_id: key.workspace_id.clone(),
        key_id: key.id.clone(),
    };
    Ok((auth, stale.then_some(key)))
}

/// Records a key's use in `lastUsedAt`. Best effort: a failed touch never fails the request.
async fn touch_key(app: &App, key: Option<ApiKey>) {
    let Some(key) = key else { return };
    if let Err(e) = app
        .workspaces
        .touch_api_key(&key, &crate::time::now_string())
        .await
    {
        tracing::warn!(error = %e.log_detail(), "could not record api key use");
    }
}

/// Authentication for a use case whose first reads need only the workspace id (booking
/// create). When this process has checked the key before, the key is read again *beside*
/// those reads instead of before them — the use case gets a [`KeyCheck`] and awaits it before
/// its first write — and the check's verdict comes first in the answer: a revoked key is 401
/// whatever the reads found. A key seen for the first time is checked first, as [`Auth`] does.
/// Either way the `lastUsedAt` touch runs beside the use case, not before it.
pub struct EarlyAuth {
    hash: String,
}

impl FromRequestParts<App> for EarlyAuth {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _app: &App) -> Result<Self, Self::Rejection> {
        let token = bearer(parts).ok_or(AppError::Unauthorized)?;
        Ok(Self {
            hash: sha256_hex(token.as_bytes()),
        })
    }
}

impl EarlyAuth {
    /// Runs `work(workspace id, key check)` as described on the type.
    pub async fn run<T, F, Fut>(self, app: &App, work: F) -> AppResult<T>
    where
        F: FnOnce(String, KeyCheck) -> Fut,
        Fut: std::future::Future<Output = AppResult<T>>,
    {
        let Some((seen_ws, _)) = app.seen_keys.get(&self.hash) else {
            let (auth, stale) = check_key(app, &self.hash).await?;
            let (_, out) = tokio::join!(
                touch_key(app, stale),
                work(auth.workspace_id, KeyCheck::done())
            );
            return out;
        };
        let (verdict, check) = KeyCheck::pending();
        let key = async {
            match check_key(app, &self.hash).await {
                Ok((auth, stale)) if auth.workspace_id == seen_ws => {
                    let _ = verdict.send(true);
                    touch_key(app, stale).await;
                    Ok(())
                }
                // A key never changes workspace; should the memo ever disagree, forget it
                // and refuse this request rather than act for the wrong workspace.
                Ok(_) => {
                    app.seen_keys.forget(&self.hash);
                    let _ = verdict.send(false);
                    Err(AppError::Unauthorized)
                }
                Err(e) => {
                    let _ = verdict.send(false);
                    Err(e)
                }
            }
        };
        let (checked, out) = tokio::join!(key, work(seen_ws.clone(), check));
        checked?;
        out
    }
}

/// A request authenticated with `ROOT_API_KEY` (workspace creation only).
pub struct RootAuth;

impl FromRequestParts<App> for RootAuth {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        let token = bearer(parts).ok_or(AppError::Unauthorized)?;
        let root = app
            .config
            .root_api_key
            .as_ref()
            .ok_or(AppError::Unauthorized)?;
        // Hash both sides: equal lengths, constant-time compare.
        let a = Sha256::digest(token.as_bytes());
        let b = Sha256::digest(root.expose().as_bytes());
        if bool::from(a.ct_eq(&b)) {
            Ok(RootAuth)
        } else {
            Err(AppError::Unauthorized)
        }
    }
}

/// `{"success":true, ...fields}` with a status.
/// The base of absolute links the API hands out (sync-job `webhookUrl`s, alert `consoleUrl`s):
/// `PUBLIC_BASE_URL`, else the API's own host as the request names it (API Gateway's
/// `https://{domainName}`); empty when neither is known.
pub fn public_base_url(app: &App, headers: &HeaderMap) -> String {
    if let Some(base) = &app.config.public_base_url {
        return base.clone();
    }
    let host = headers
        .get("x-forwarded-host")
        .or_else(|| headers.get(header::HOST))
        .and_then(|v| v.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
        });
    match host {
        Some(h) => format!("https://{h}"),
        None => String::new(),
    }
}

pub fn success(status: StatusCode, fields: Value) -> Response {
    let mut body = json!({ "success": true });
    if let (Some(obj), Value::Object(extra)) = (body.as_object_mut(), fields) {
        obj.extend(extra);
    }
    (status, axum::Json(body)).into_response()
}

/// One span per request, with method, route and outcome; logs status and latency.
pub async fn request_span(req: Request, next: Next) -> Response {
    let request_id = req
        .extensions()
        .get::<lambda_http::request::RequestContext>()
        .and_then(|ctx| match ctx {
            lambda_http::request::RequestContext::ApiGatewayV2(c) => c.request_id.clone(),
            lambda_http::request::RequestContext::ApiGatewayV1(c) => c.request_id.clone(),
            _ => None,
        })
        .unwrap_or_default();
    let span = tracing::info_span!(
        "request",
        method = %req.method(),
        path = %req.uri().path(),
        request_id = %request_id,
        workspace_id = tracing::field::Empty,
    );
    async move {
        let start = Instant::now();
        let resp = next.run(req).await;
        tracing::info!(
            status = resp.status().as_u16(),
            duration_ms = start.elapsed().as_millis() as u64,
            "request completed"
        );
        resp
    }
    .instrument(span)
    .await
}

async fn not_found() -> AppError {
    AppError::NotFound("route")
}

/// Adds what every API router needs: the request span and a JSON 404 for unknown routes.
pub fn finish_router(router: Router<App>, app: App) -> Router {
    router
        .fallback(not_found)
        .layer(axum::middleware::from_fn(request_span))
        .with_state(app)
}

/// Runs a router as a Lambda behind API Gateway.
pub async fn serve(router: Router) -> Result<(), lambda_http::Error> {
    lambda_http::run(router).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize, Debug)]
    #[serde(rename_all = "camelCase")]
    #[allow(dead_code)]
    struct In {
        mock_exam_id: String,
    }

    #[test]
    fn json_errors_name_the_problem() {
        let e = parse_json::<In>(b"{not json").unwrap_err();
        assert_eq!(e.code(), "invalid_json");
        let e = parse_json::<In>(b"{}").unwrap_err();
        assert_eq!(e.code(), "validation_error");
        assert!(e.to_string().contains("mockExamId"), "{e}");
        let e = parse_json::<In>(br#"{"mockExamId": 5}"#).unwrap_err();
        assert!(e.to_string().contains("mockExamId"), "{e}");
        let e = parse_json::<In>(b"[]").unwrap_err();
        assert_eq!(e.code(), "invalid_json");
        assert!(parse_json::<In>(br#"{"mockExamId":"1","extra":true}"#).is_ok());
    }
}
