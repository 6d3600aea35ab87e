//! The outbound HTTP client for webhooks (subscriptions, HubSpot, GHL).
//!
//! Modelled on svix-server's `core/webhook_http_client.rs`: one client built once, no redirects,
//! a connect timeout and a per-call timeout, and SSRF protection in two places (DESIGN §3):
//! - when a URL is saved, [`validate_target_url`] checks the scheme, credentials and any
//!   literal IP;
//! - at connect time, a DNS resolver refuses every resolved address the rules do not allow, so
//!   a name that is re-pointed after it was saved (DNS rebinding) cannot reach a refused
//!   address. reqwest does not call the resolver for IP literals, so [`OutboundClient::post`]
//!   re-checks the URL before sending.
//!
//! Proxies from the environment are ignored: a proxy would resolve names itself and bypass the
//! resolver check.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use serde::{Deserialize, Serialize};

pub mod headers;
pub mod retry_after;
pub mod ssrf;

pub use ssrf::{address_refusal, validate_target_url, AddressRefusal, TargetError};
use ssrf::{GuardedResolver, ResolveError};

/// `User-Agent` of every outbound request.
pub const USER_AGENT: &str = "booking-sync-webhooks/1.0";
/// How much of a response body is kept (and read) per attempt.
pub const MAX_RESPONSE_BODY_BYTES: usize = 1024;
/// TCP connect timeout; the per-call timeout bounds the whole exchange as well.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Idle pooled connections are dropped after this; a frozen Lambda may hold dead ones.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Error messages built from lower layers are cut to this many characters.
const MAX_ERROR_CHARS: usize = 200;

// ---------------------------------------------------------------------------------------------
// The client
// ---------------------------------------------------------------------------------------------

/// How an attempt ended, for retry and disabling decisions (DESIGN §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AttemptOutcome {
    /// 2xx.
    Success,
    /// 3xx (not followed), 4xx, 5xx, timeout, connect error, refused address.
    Failure,
    /// 410: the subscription is disabled at once.
    Gone,
}

/// One HTTP call to a webhook target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attempt {
    /// `None` when no response arrived.
    pub status_code: Option<u16>,
    pub duration_ms: u64,
    /// The first ≤ 1 KiB of the response body, UTF-8 (lossy).
    pub response_body: String,
    /// A short human message; `None` on success.
    pub error: Option<String>,
    pub outcome: AttemptOutcome,
    /// A 429/503 asked to wait this long (`Retry-After`, capped at 1 h; [`retry_after`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
}

impl Attempt {
    fn failed(error: String, started: Instant) -> Self {
        Self {
            status_code: None,
            duration_ms: elapsed_ms(started),
            response_body: String::new(),
            error: Some(error),
            outcome: AttemptOutcome::Failure,
            retry_after_ms: None,
        }
    }

    /// The wait a throttling answer asked for.
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after_ms.map(Duration::from_millis)
    }

    /// A 429/503 with a readable `Retry-After`: the target is busy, not failing. Such an
    /// attempt counts against the retry budget but not toward `maxConsecutiveFailures`.
    pub fn is_throttled(&self) -> bool {
        self.retry_after_ms.is_some()
    }

    fn answered(status: u16, response_body: String, started: Instant) -> Self {
        let (outcome, error) = match status {
            200..=299 => (AttemptOutcome::Success, None),
            410 => (AttemptOutcome::Gone, Some("endpoint gone (410)".to_owned())),
            300..=399 => (
                AttemptOutcome::Failure,
                Some(format!("redirect not followed ({status})")),
            ),
            _ => (
                AttemptOutcome::Failure,
                Some(format!("http status {status}")),
            ),
        };
        Self {
            status_code: Some(status),
            duration_ms: elapsed_ms(started),
            response_body,
            error,
            outcome,
            retry_after_ms: None,
        }
    }
}

fn elapsed_ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// The outbound webhook client. Build it once per process (Lambda init) and share it; clones
/// share the connection pool.
#[derive(Clone)]
pub struct OutboundClient {
    http: reqwest::Client,
    allow_private_targets: bool,
}

impl fmt::Debug for OutboundClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutboundClient")
            .field("allow_private_targets", &self.allow_private_targets)
            .finish_non_exhaustive()
    }
}

impl OutboundClient {
    /// `allow_private_targets` is `ALLOW_PRIVATE_TARGETS` (local stack only): also allows http
    /// and loopback/private addresses. Link-local and metadata addresses stay refused.
    pub fn new(allow_private_targets: bool) -> Self {
        let http = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(CONNECT_TIMEOUT)
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .no_proxy()
            .https_only(!allow_private_targets)
            .dns_resolver(Arc::new(GuardedResolver {
                allow_private_targets,
            }))
            .build()
            // Fails only if the TLS backend cannot start, which no request could survive.
            .expect("the outbound HTTP client must build");
        Self {
            http,
            allow_private_targets,
        }
    }

    pub fn allow_private_targets(&self) -> bool {
        self.allow_private_targets
    }

    /// POSTs `body` to `url` with `headers` (`Content-Type: application/json` unless given),
    /// within `timeout` for the whole exchange. Never fails: every problem is an [`Attempt`]
    /// with `outcome: Failure` and a short `error`. Reads at most
    /// [`MAX_RESPONSE_BODY_BYTES`] of the response body.
    pub async fn post(
        &self,
        url: &str,
        headers: &[(String, String)],
        body: impl Into<Bytes>,
        timeout: Duration,
    ) -> Attempt {
        let started = Instant::now();

        let target = match validate_target_url(url, self.allow_private_targets) {
            Ok(target) => target,
            Err(err @ TargetError::Address(_)) => {
                return Attempt::failed(format!("destination address not allowed: {err}"), started)
            }
            Err(err) => return Attempt::failed(err.to_string(), started),
        };

        let mut request = self.http.post(target).timeout(timeout);
        let mut has_content_type = false;
        for (name, value) in headers {
            let Ok(header_name) = HeaderName::from_bytes(name.as_bytes()) else {
                return Attempt::failed(format!("invalid header name {name:?}"), started);
            };
            let Ok(header_value) = HeaderValue::from_str(value) else {
                // The value may be a signature: name the header only.
                return Attempt::failed(format!("invalid value for header {header_name}"), started);
            };
            has_content_type |= header_name == CONTENT_TYPE;
            request = request.header(header_name, header_value);
        }
        if !has_content_type {
            request = request.header(CONTENT_TYPE, "application/json");
        }
        let request = request.body(body.into());

        let response = match tokio::time::timeout(timeout, request.send()).await {
            Err(_) => return Attempt::failed(timed_out(timeout), started),
            Ok(Err(err)) => return Attempt::failed(describe_error(&err, timeout), started),
            Ok(Ok(response)) => response,
        };
        let status = response.status().as_u16();
        let retry_after = retry_after::is_throttle(status)
            .then(|| response.headers().get(reqwest::header::RETRY_AFTER))
            .flatten()
            .and_then(|v| v.to_str().ok())
            .and_then(|v| retry_after::parse(v, crate::time::now()));
        let remaining = timeout.saturating_sub(started.elapsed());
        let response_body = read_capped(response, remaining).await;
        let mut attempt = Attempt::answered(status, response_body, started);
        attempt.retry_after_ms =
            retry_after.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        attempt
    }
}

/// A GET's answer: its status and the whole body (bounded by the caller's `max_body`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    pub status: u16,
    pub body: Bytes,
}

impl OutboundClient {
    /// GETs `url` with `headers` within `timeout` for the whole exchange (body included),
    /// refusing a body larger than `max_body` bytes. Same address rules, no redirects. The
    /// error is a short message without header values (they may hold credentials).
    pub async fn get(
        &self,
        url: &str,
        headers: &[(String, String)],
        timeout: Duration,
        max_body: usize,
    ) -> Result<Fetched, String> {
        let target = match validate_target_url(url, self.allow_private_targets) {
            Ok(target) => target,
            Err(err @ TargetError::Address(_)) => {
                return Err(format!("destination address not allowed: {err}"))
            }
            Err(err) => return Err(err.to_string()),
        };
        let mut request = self.http.get(target).timeout(timeout);
        for (name, value) in headers {
            let header_name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("invalid header name {name:?}"))?;
            let header_value = HeaderValue::from_str(value)
                .map_err(|_| format!("invalid value for header {header_name}"))?;
            request = request.header(header_name, header_value);
        }
        let exchange = async {
            let mut response = request
                .send()
                .await
                .map_err(|e| describe_error(&e, timeout))?;
            let status = response.status().as_u16();
            if let Some(len) = response.content_length() {
                if len > max_body as u64 {
                    return Err(format!("response larger than {max_body} bytes"));
                }
            }
            let mut buf = Vec::new();
            while let Some(chunk) = response
                .chunk()
                .await
                .map_err(|e| describe_error(&e, timeout))?
            {
                if buf.len() + chunk.len() > max_body {
                    return Err(format!("response larger than {max_body} bytes"));
                }
                buf.extend_from_slice(&chunk);
            }
            Ok(Fetched {
                status,
                body: Bytes::from(buf),
            })
        };
        match tokio::time::timeout(timeout, exchange).await {
            Err(_) => Err(timed_out(timeout)),
            Ok(result) => result,
        }
    }
}

/// Reads up to [`MAX_RESPONSE_BODY_BYTES`] and stops; the rest is never read. A body that is
/// slow or breaks off keeps what arrived: the status already decided the outcome.
async fn read_capped(mut response: reqwest::Response, budget: Duration) -> String {
    let mut buf = Vec::with_capacity(MAX_RESPONSE_BODY_BYTES);
    let read = async {
        while buf.len() < MAX_RESPONSE_BODY_BYTES {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    let take = chunk.len().min(MAX_RESPONSE_BODY_BYTES - buf.len());
                    buf.extend_from_slice(&chunk[..take]);
                }
                Ok(None) | Err(_) => break,
            }
        }
    };
    // Timing out here only stops reading.
    let _ = tokio::time::timeout(budget, read).await;
    truncate_utf8_lossy(&buf, MAX_RESPONSE_BODY_BYTES)
}

/// UTF-8 (lossy) of `bytes`, at most `max` bytes long. A multi-byte character cut by the
/// byte limit is dropped rather than shown as U+FFFD.
fn truncate_utf8_lossy(bytes: &[u8], max: usize) -> String {
    let mut bytes = &bytes[..bytes.len().min(max)];
    let tail_start = bytes.len().saturating_sub(3);
    let is_continuation = |b: u8| b & 0xc0 == 0x80;
    if let Some(lead) = (tail_start..bytes.len())
        .rev()
        .find(|&i| !is_continuation(bytes[i]))
    {
        let needed = match bytes[lead] {
            0xc2..=0xdf => 2,
            0xe0..=0xef => 3,
            0xf0..=0xf4 => 4,
            _ => 1,
        };
        if bytes.len() - lead < needed {
            bytes = &bytes[..lead];
        }
    }
    let mut text = String::from_utf8_lossy(bytes).into_owned();
    // Replacement characters are longer than the bytes they replace.
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

fn timed_out(timeout: Duration) -> String {
    format!("timed out after {} ms", timeout.as_millis())
}

/// A short message for a failed request: never a `{:?}` dump, never header values.
fn describe_error(err: &reqwest::Error, timeout: Duration) -> String {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    let mut innermost: &(dyn std::error::Error + 'static) = err;
    while let Some(current) = source {
        if let Some(resolve) = current.downcast_ref::<ResolveError>() {
            return resolve.to_string();
        }
        if let Some(io) = current.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind::*;
            let message = match io.kind() {
                ConnectionRefused => Some("connection refused"),
                ConnectionReset => Some("connection reset"),
                ConnectionAborted => Some("connection aborted"),
                UnexpectedEof => Some("connection closed before a response"),
                TimedOut => Some("connect timed out"),
                NetworkUnreachable => Some("network unreachable"),
                HostUnreachable => Some("host unreachable"),
                _ => None,
            };
            if let Some(message) = message {
                return message.to_owned();
            }
        }
        innermost = current;
        source = current.source();
    }
    if err.is_timeout() {
        return timed_out(timeout);
    }
    let detail = innermost.to_string();
    let detail: String = detail.chars().take(MAX_ERROR_CHARS).collect();
    if err.is_connect() {
        format!("connection failed: {detail}")
    } else {
        format!("request failed: {detail}")
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use super::*;

    use std::sync::atomic::{AtomicUsize, Ordering};

    use axum::http::{HeaderMap, StatusCode};
    use axum::routing::{get, post};
    use axum::Router;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    const TIMEOUT: Duration = Duration::from_secs(5);

    /// An axum server on 127.0.0.1:0 with one route per behaviour; returns its base URL.
    async fn spawn_target(hits: Arc<AtomicUsize>) -> String {
        let app = Router::new()
            .route("/ok", post(|| async { "ok" }))
            .route(
                "/fail",
                post(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "boom") }),
            )
            .route("/gone", post(|| async { (StatusCode::GONE, "gone") }))
            .route(
                "/throttle",
                post(|| async {
                    (
                        StatusCode::TOO_MANY_REQUESTS,
                        [("retry-after", "7")],
                        "slow down",
                    )
                }),
            )
            .route(
                "/fail-with-retry-after",
                post(|| async {
                    (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        [("retry-after", "7")],
                        "boom",
                    )
                }),
            )
            .route(
                "/redirect",
                post(|| async { (StatusCode::FOUND, [("location", "/ok")], "") }),
            )
            .route(
                "/slow",
                post(|| async {
                    tokio::time::sleep(Duration::from_secs(3)).await;
                    "late"
                }),
            )
            .route("/big", post(|| async { "a".repeat(4096) }))
            .route("/accents", post(|| async { "é".repeat(1000) }))
            .route(
                "/echo",
                post(|headers: HeaderMap, body: axum::body::Bytes| async move {
                    let get = |name: &str| {
                        headers
                            .get(name)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("-")
                            .to_owned()
                    };
                    format!(
                        "{}|{}|{}|{}",
                        get("user-agent"),
                        get("content-type"),
                        get("webhook-id"),
                        String::from_utf8_lossy(&body)
                    )
                }),
            )
            .route("/get-only", get(|| async { "get" }))
            .route("/get-big", get(|| async { "a".repeat(4096) }))
            .route(
                "/get-slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(3)).await;
                    "late"
                }),
            )
            .layer(axum::middleware::from_fn(
                move |req: axum::extract::Request, next: axum::middleware::Next| {
                    let hits = hits.clone();
                    async move {
                        hits.fetch_add(1, Ordering::SeqCst);
                        next.run(req).await
                    }
                },
            ));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        format!("http://{addr}")
    }

    async fn target() -> String {
        spawn_target(Arc::new(AtomicUsize::new(0))).await
    }

    /// A raw TCP server that runs `behaviour` on the first connection.
    async fn spawn_raw<F, Fut>(behaviour: F) -> SocketAddr
    where
        F: FnOnce(tokio::net::TcpStream) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + Send,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            if let Ok((stream, _)) = listener.accept().await {
                behaviour(stream).await;
            }
        });
        addr
    }

    async fn read_request_head(stream: &mut tokio::net::TcpStream) {
        let mut buf = vec![0u8; 8192];
        let mut seen = Vec::new();
        while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
    }

    fn no_headers() -> Vec<(String, String)> {
        Vec::new()
    }

    // ---- the client against local servers ----

    #[tokio::test]
    async fn success_on_2xx() {
        let base = target().await;
        let attempt = OutboundClient::new(true)
            .post(&format!("{base}/ok"), &no_headers(), "{}", TIMEOUT)
            .await;
        assert_eq!(attempt.status_code, Some(200));
        assert_eq!(attempt.outcome, AttemptOutcome::Success);
        assert_eq!(attempt.error, None);
        assert_eq!(attempt.response_body, "ok");
    }

    #[tokio::test]
    async fn sends_body_headers_and_user_agent() {
        let base = target().await;
        let headers = vec![("webhook-id".to_owned(), "msg_1".to_owned())];
        let attempt = OutboundClient::new(true)
            .post(
                &format!("{base}/echo"),
                &headers,
                br#"{"a":1}"#.to_vec(),
                TIMEOUT,
            )
            .await;
        assert_eq!(
            attempt.response_body,
            r#"booking-sync-webhooks/1.0|application/json|msg_1|{"a":1}"#
        );
    }

    #[tokio::test]
    async fn failure_on_500() {
        let base = target().await;
        let attempt = OutboundClient::new(true)
            .post(&format!("{base}/fail"), &no_headers(), "{}", TIMEOUT)
            .await;
        assert_eq!(attempt.status_code, Some(500));
        assert_eq!(attempt.outcome, AttemptOutcome::Failure);
        assert_eq!(attempt.error.as_deref(), Some("http status 500"));
        assert_eq!(attempt.response_body, "boom");
    }

    #[tokio::test]
    async fn gone_on_410() {
        let base = target().await;
        let attempt = OutboundClient::new(true)
            .post(&format!("{base}/gone"), &no_headers(), "{}", TIMEOUT)
            .await;
        assert_eq!(attempt.status_code, Some(410));
        assert_eq!(attempt.outcome, AttemptOutcome::Gone);
    }

    #[tokio::test]
    async fn redirect_is_not_followed() {
        let hits = Arc::new(AtomicUsize::new(0));
        let base = spawn_target(hits.clone()).await;
        let attempt = OutboundClient::new(true)
            .post(&format!("{base}/redirect"), &no_headers(), "{}", TIMEOUT)
            .await;
        assert_eq!(attempt.status_code, Some(302));
        assert_eq!(attempt.outcome, AttemptOutcome::Failure);
        assert_eq!(
            attempt.error.as_deref(),
            Some("redirect not followed (302)")
        );
        assert_eq!(
            hits.load(Ordering::SeqCst),
            1,
            "the Location must not be requested"
        );
    }

    #[tokio::test]
    async fn slower_than_timeout_times_out() {
        let base = target().await;
        let attempt = OutboundClient::new(true)
            .post(
                &format!("{base}/slow"),
                &no_headers(),
                "{}",
                Duration::from_millis(300),
            )
            .await;
        assert_eq!(attempt.status_code, None);
        assert_eq!(attempt.outcome, AttemptOutcome::Failure);
        assert_eq!(attempt.error.as_deref(), Some("timed out after 300 ms"));
        assert!(
            (300..2000).contains(&attempt.duration_ms),
            "{}",
            attempt.duration_ms
        );
    }

    #[tokio::test]
    async fn get_reads_the_whole_body_within_its_bound() {
        let base = target().await;
        let client = OutboundClient::new(true);
        let got = client
            .get(&format!("{base}/get-big"), &no_headers(), TIMEOUT, 8192)
            .await
            .unwrap();
        assert_eq!(got.status, 200);
        assert_eq!(
            got.body.len(),
            4096,
            "more than the POST's 1 KiB: the whole body"
        );
        let err = client
            .get(&format!("{base}/get-big"), &no_headers(), TIMEOUT, 1000)
            .await
            .unwrap_err();
        assert_eq!(err, "response larger than 1000 bytes");
    }

    #[tokio::test]
    async fn get_times_out_and_refuses_what_post_refuses() {
        let base = target().await;
        let err = OutboundClient::new(true)
            .get(
                &format!("{base}/get-slow"),
                &no_headers(),
                Duration::from_millis(300),
                1024,
            )
            .await
            .unwrap_err();
        assert_eq!(err, "timed out after 300 ms");
        let err = OutboundClient::new(false)
            .get(
                "http://169.254.169.254/latest",
                &no_headers(),
                TIMEOUT,
                1024,
            )
            .await
            .unwrap_err();
        assert!(
            err.contains("not allowed") || err.contains("https"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn connection_reset_is_a_failure() {
        let addr = spawn_raw(|mut stream| async move {
            read_request_head(&mut stream).await;
            stream.set_zero_linger().unwrap();
            drop(stream);
        })
        .await;
        let attempt = OutboundClient::new(true)
            .post(&format!("http://{addr}/"), &no_headers(), "{}", TIMEOUT)
            .await;
        assert_eq!(attempt.status_code, None);
        assert_eq!(attempt.outcome, AttemptOutcome::Failure);
        let error = attempt.error.unwrap();
        assert!(
            error == "connection reset" || error == "connection closed before a response",
            "{error}"
        );
    }

    #[tokio::test]
    async fn connection_closed_without_response_is_a_failure() {
        let addr = spawn_raw(|mut stream| async move {
            read_request_head(&mut stream).await;
            drop(stream);
        })
        .await;
        let attempt = OutboundClient::new(true)
            .post(&format!("http://{addr}/"), &no_headers(), "{}", TIMEOUT)
            .await;
        assert_eq!(attempt.outcome, AttemptOutcome::Failure);
        let error = attempt.error.unwrap();
        // hyper's own wording, behind a short prefix; never a `{:?}` dump.
        assert!(
            error.starts_with("request failed: connection closed"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn connection_refused_is_a_failure() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let attempt = OutboundClient::new(true)
            .post(&format!("http://{addr}/"), &no_headers(), "{}", TIMEOUT)
            .await;
        assert_eq!(attempt.status_code, None);
        assert_eq!(attempt.error.as_deref(), Some("connection refused"));
    }

    #[tokio::test]
    async fn response_body_is_truncated_to_1_kib() {
        let base = target().await;
        let client = OutboundClient::new(true);
        let attempt = client
            .post(&format!("{base}/big"), &no_headers(), "{}", TIMEOUT)
            .await;
        assert_eq!(attempt.outcome, AttemptOutcome::Success);
        assert_eq!(attempt.response_body, "a".repeat(1024));

        let attempt = client
            .post(&format!("{base}/accents"), &no_headers(), "{}", TIMEOUT)
            .await;
        assert_eq!(attempt.response_body, "é".repeat(512));
    }

    #[tokio::test]
    async fn endless_body_is_not_read_past_1_kib() {
        let addr = spawn_raw(|mut stream| async move {
            read_request_head(&mut stream).await;
            let head = "HTTP/1.1 200 OK\r\ncontent-length: 10000000\r\n\r\n";
            let _ = stream.write_all(head.as_bytes()).await;
            let _ = stream.write_all(&[b'x'; 2048]).await;
            // Never sends the rest.
            tokio::time::sleep(Duration::from_secs(30)).await;
        })
        .await;
        let attempt = OutboundClient::new(true)
            .post(
                &format!("http://{addr}/"),
                &no_headers(),
                "{}",
                Duration::from_secs(10),
            )
            .await;
        assert_eq!(attempt.outcome, AttemptOutcome::Success);
        assert_eq!(attempt.response_body.len(), 1024);
        assert!(attempt.duration_ms < 5_000, "{}", attempt.duration_ms);
    }

    /// A listener that records whether anything connected to it.
    async fn spawn_watcher() -> (SocketAddr, tokio::task::JoinHandle<bool>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let handle = tokio::spawn(async move {
            tokio::time::timeout(Duration::from_millis(300), listener.accept())
                .await
                .is_ok()
        });
        (addr, handle)
    }

    #[tokio::test]
    async fn loopback_literal_is_refused_when_private_targets_are_not_allowed() {
        let (addr, connected) = spawn_watcher().await;
        let attempt = OutboundClient::new(false)
            .post(&format!("https://{addr}/"), &no_headers(), "{}", TIMEOUT)
            .await;
        assert_eq!(attempt.status_code, None);
        assert_eq!(attempt.outcome, AttemptOutcome::Failure);
        assert_eq!(
            attempt.error.as_deref(),
            Some("destination address not allowed: url points to a loopback address")
        );
        assert!(!connected.await.unwrap(), "nothing may connect");
    }

    #[tokio::test]
    async fn hostname_resolving_to_loopback_is_refused_at_connect_time() {
        let (addr, connected) = spawn_watcher().await;
        let url = format!("https://localhost:{}/", addr.port());
        // The save-time check cannot know where a name points.
        assert!(validate_target_url(&url, false).is_ok());
        let attempt = OutboundClient::new(false)
            .post(&url, &no_headers(), "{}", TIMEOUT)
            .await;
        assert_eq!(attempt.status_code, None);
        assert_eq!(
            attempt.error.as_deref(),
            Some("destination address not allowed: localhost resolves to a loopback address")
        );
        assert!(!connected.await.unwrap(), "nothing may connect");
    }

    #[tokio::test]
    async fn hostname_resolving_to_loopback_is_reached_when_allowed() {
        let base = target().await.replace("127.0.0.1", "localhost");
        let attempt = OutboundClient::new(true)
            .post(&format!("{base}/ok"), &no_headers(), "{}", TIMEOUT)
            .await;
        assert_eq!(
            attempt.outcome,
            AttemptOutcome::Success,
            "{:?}",
            attempt.error
        );
    }

    #[tokio::test]
    async fn link_local_and_metadata_are_refused_even_when_allowed() {
        let client = OutboundClient::new(true);
        for (url, what) in [
            (
                "http://169.254.169.254/latest/meta-data/",
                "a cloud metadata address",
            ),
            ("http://[fd00:ec2::254]/", "a cloud metadata address"),
            ("http://100.100.100.200/", "a cloud metadata address"),
            (
                "http://[::ffff:169.254.169.254]/",
                "a cloud metadata address",
            ),
            ("http://169.254.10.10/", "a link-local address"),
            ("http://[fe80::1]/", "a link-local address"),
            ("http://0.0.0.0:9/", "an unspecified address"),
        ] {
            let attempt = client.post(url, &no_headers(), "{}", TIMEOUT).await;
            assert_eq!(attempt.status_code, None, "{url}");
            assert_eq!(
                attempt.error,
                Some(format!(
                    "destination address not allowed: url points to {what}"
                )),
                "{url}"
            );
        }
    }

    #[tokio::test]
    async fn http_is_refused_when_private_targets_are_not_allowed() {
        let attempt = OutboundClient::new(false)
            .post("http://hooks.example.com/x", &no_headers(), "{}", TIMEOUT)
            .await;
        assert_eq!(attempt.status_code, None);
        assert_eq!(attempt.error.as_deref(), Some("url must use https"));
    }

    #[tokio::test]
    async fn invalid_header_value_is_reported_without_the_value() {
        let base = target().await;
        let headers = vec![("webhook-signature".to_owned(), "v1,abc\nsecret".to_owned())];
        let attempt = OutboundClient::new(true)
            .post(&format!("{base}/ok"), &headers, "{}", TIMEOUT)
            .await;
        let error = attempt.error.unwrap();
        assert_eq!(error, "invalid value for header webhook-signature");
    }

    #[tokio::test]
    async fn retry_after_is_read_only_from_a_429_or_503() {
        let base = target().await;
        let client = OutboundClient::new(true);
        let throttled = client
            .post(&format!("{base}/throttle"), &[], "{}", TIMEOUT)
            .await;
        assert_eq!(throttled.status_code, Some(429));
        assert_eq!(throttled.outcome, AttemptOutcome::Failure);
        assert_eq!(throttled.retry_after(), Some(Duration::from_secs(7)));
        assert!(throttled.is_throttled());
        let failed = client
            .post(&format!("{base}/fail-with-retry-after"), &[], "{}", TIMEOUT)
            .await;
        assert_eq!(failed.status_code, Some(500));
        assert_eq!(
            failed.retry_after(),
            None,
            "a 500 is a failure, whatever it asks"
        );
    }

    #[test]
    fn attempt_serializes_camel_case() {
        let attempt = Attempt {
            status_code: Some(202),
            duration_ms: 12,
            response_body: String::new(),
            error: None,
            outcome: AttemptOutcome::Success,
            retry_after_ms: None,
        };
        let json = serde_json::to_value(&attempt).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "statusCode": 202,
                "durationMs": 12,
                "responseBody": "",
                "error": null,
                "outcome": "success"
            })
        );
    }

    #[test]
    fn truncation_keeps_whole_characters() {
        let text = "é".repeat(600);
        assert_eq!(
            truncate_utf8_lossy(&text.as_bytes()[..1024], 1024),
            "é".repeat(512)
        );
        assert_eq!(
            truncate_utf8_lossy(&text.as_bytes()[..1023], 1024),
            "é".repeat(511)
        );
        assert_eq!(truncate_utf8_lossy(b"ok", 1024), "ok");
        assert_eq!(truncate_utf8_lossy(&[0xff, b'a'], 1024), "\u{FFFD}a");
        assert_eq!(truncate_utf8_lossy(&[b'a', 0xff], 1024), "a\u{FFFD}");
        assert_eq!(truncate_utf8_lossy("a€".as_bytes(), 3), "a");
        assert_eq!(truncate_utf8_lossy(&[0xff; 2000], 1024).len(), 1023);
    }
}
