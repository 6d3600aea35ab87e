//! Production wiring: typed config from the environment, the one HTTPS client of the SDK, and
//! the SDK clients a function names in its `main.rs` (`Clients`), built once at init and handed
//! to `shared::App` as its ports.
//!
//! Cold start: init builds only what the first request needs. The TLS context (the bundled
//! roots) is built by the first AWS call, not at init; the region and credentials Lambda puts
//! in the environment are taken as they are, without building the default provider chains;
//! and a function links only the SDK clients its `Clients` names.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_config::Region;
use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode, TlsContext, TrustStore};
use aws_smithy_http_client::{Builder, ConnectorBuilder};
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use base64::Engine as _;
use shared::config::{Config, ConfigError};
use shared::queue::{NoQueue, Queue, QueueName};
use shared::users::BlobStore;
use shared::App;

use crate::s3::{S3BlobStore, S3Presigner};
use crate::sqs::SqsQueue;
use crate::table::DynamoStore;

// --- the HTTP client and the SDK config ---------------------------------------------------------

/// The Mozilla roots compiled into the binary (`webpki-root-certs`) as one PEM blob, the form
/// the SDK's trust store takes: no certificate directory is read, ever.
fn bundled_roots_pem() -> Vec<u8> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut pem = Vec::with_capacity(256 * 1024);
    for der in webpki_root_certs::TLS_SERVER_ROOT_CERTS {
        pem.extend_from_slice(b"-----BEGIN CERTIFICATE-----\n");
        for line in b64.encode(der.as_ref()).as_bytes().chunks(64) {
            pem.extend_from_slice(line);
            pem.push(b'\n');
        }
        pem.extend_from_slice(b"-----END CERTIFICATE-----\n");
    }
    pem
}

/// The TLS context of the SDK's connections, made when the first connector is (the first AWS
/// call of the process), not at init: encoding the ~150 roots costs a cold start that answers
/// without calling AWS, and the context is the same either way.
#[derive(Clone, Default)]
struct LazyTls(Arc<OnceLock<TlsContext>>);

impl LazyTls {
    fn context(&self) -> TlsContext {
        self.0
            .get_or_init(|| {
                let trust = TrustStore::empty().with_pem_certificate(bundled_roots_pem());
                match TlsContext::builder().with_trust_store(trust).build() {
                    Ok(ctx) => ctx,
                    // The roots are compiled in: only a broken build gets here (a unit test
                    // builds this context on every run).
                    Err(e) => panic!("the bundled CA roots do not make a TLS context: {e}"),
                }
            })
            .clone()
    }

    #[cfg(test)]
    fn is_built(&self) -> bool {
        self.0.get().is_some()
    }
}

/// aws-smithy-runtime's default HTTPS client, with ring and the bundled roots of `tls`.
///
/// The SDK calls the connector function in two ways: for each request's connector
/// (with its settings and runtime components; the result is cached per timeout setting), and
/// once per client construction with neither, discarding the result, so that a platform trust
/// store is read at init. There is no platform store here, and that call used to build a
/// whole rustls config (the ~150 roots parsed) per SDK client at init: it gets a plain TCP
/// connector instead, which never carries a request (an `https` URI through it is refused,
/// never sent in clear; `the_first_https_call_…` pins the real path).
fn https_client(tls: LazyTls) -> SharedHttpClient {
    let proxy = ProxyConfig::from_env();
    Builder::new().build_with_connector_fn(move |settings, components| {
        if settings.is_none() && components.is_none() {
            return ConnectorBuilder::default().build_http();
        }
        let mut conn = ConnectorBuilder::default()
            .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
            .tls_context(tls.context());
        conn.set_connector_settings(settings.cloned());
        if let Some(rc) = components {
            conn.set_sleep_impl(rc.sleep_impl());
        }
        conn.set_proxy_config(Some(proxy.clone()));
        conn.build()
    })
}

/// The HTTPS client of every SDK client: hyper 1 and rustls 0.23 on ring, the bundled roots
/// (parsed by the first AWS call), proxy settings from the environment. One per process (the
/// SDK caches one connector per timeout setting).
///
/// Every `SdkConfig` must get it: with the SDK's default features off there is no default
/// client, and `aws_config`'s `load()` panics without one.
pub fn http_client() -> SharedHttpClient {
    static CLIENT: OnceLock<SharedHttpClient> = OnceLock::new();
    CLIENT
        .get_or_init(|| https_client(LazyTls::default()))
        .clone()
}

/// The SDK config loader with the one HTTP client; the caller may add region, credentials or
/// endpoints (the test kit does) before `load()`.
pub fn sdk_config_loader() -> aws_config::ConfigLoader {
    aws_config::defaults(aws_config::BehaviorVersion::latest()).http_client(http_client())
}

/// What the environment already says about the region and the credentials. Lambda sets
/// `AWS_REGION` and the role's `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` /
/// `AWS_SESSION_TOKEN`; the default provider chains would find exactly these first (the
/// environment is the first link of each), after building every other link (profile files,
/// web identity, ECS, IMDS) at init.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FromEnvironment {
    region: Option<String>,
    credentials: bool,
}

fn from_environment(get: impl Fn(&str) -> Option<String>) -> Result<FromEnvironment, ConfigError> {
    let get = |k: &str| {
        get(k)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let region = get("AWS_REGION");
    if let Some(r) = &region {
        // A region is one host label: a typo fails the cold start, not the first call.
        let label = r
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !label || r.starts_with('-') || r.ends_with('-') || r.len() > 63 {
            return Err(ConfigError::new(format!(
                "environment variable AWS_REGION must be a region name like eu-west-1, got {r:?}"
            )));
        }
    }
    let key_id = get("AWS_ACCESS_KEY_ID").is_some();
    // `SECRET_ACCESS_KEY` is the SDK's older spelling, still honoured by its provider.
    let secret = get("AWS_SECRET_ACCESS_KEY")
        .or_else(|| get("SECRET_ACCESS_KEY"))
        .is_some();
    match (key_id, secret) {
        (true, false) => Err(ConfigError::new(
            "environment variable AWS_ACCESS_KEY_ID is set without AWS_SECRET_ACCESS_KEY: set \
             both (Lambda sets them from the function's role) or neither (the default chain)",
        )),
        (false, true) => Err(ConfigError::new(
            "environment variable AWS_SECRET_ACCESS_KEY is set without AWS_ACCESS_KEY_ID: set \
             both (Lambda sets them from the function's role) or neither (the default chain)",
        )),
        (both, _) => Ok(FromEnvironment {
            region,
            credentials: both,
        }),
    }
}

/// SDK config from the environment (honours `AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_DYNAMODB`/
/// `_SQS`/`_S3`, retry and timeout variables, profile settings). Region and credentials come
/// straight from the environment when it has them (Lambda always does); otherwise from the
/// SDK's default chains (profile, web identity, ECS, IMDS). Half a key pair or a malformed
/// `AWS_REGION` is a `ConfigError` naming the variable.
pub async fn sdk_config() -> Result<aws_config::SdkConfig, ConfigError> {
    let env = from_environment(|k| std::env::var(k).ok())?;
    let mut loader = sdk_config_loader();
    if let Some(region) = env.region {
        loader = loader.region(Region::new(region));
    }
    if env.credentials {
        loader = loader.credentials_provider(EnvironmentVariableCredentialsProvider::new());
    }
    Ok(loader.load().await)
}

// --- the clients a function uses -----------------------------------------------------------------

/// Builds a function's queue from the shared SDK config.
type QueueWiring = fn(&aws_config::SdkConfig, &Config) -> Arc<dyn Queue>;
/// Builds a function's export file store from the shared SDK config and its bucket.
type BlobWiring = fn(&aws_config::SdkConfig, String) -> Arc<dyn BlobStore>;

/// The AWS clients a function builds at init. DynamoDB always (every port but the queue and the
/// blob store lives in the table); SQS and S3 when its `main.rs` says so:
///
/// ```ignore
/// shared_aws::app_from_env(Clients::dynamodb().sqs()).await?
/// ```
///
/// A port whose client is not built answers every call with an error naming the missing
/// wiring (`NoQueue`, `NoBlobStore`). `.sqs()` and `.s3()` hold the constructors themselves,
/// not flags: a function that never names `.s3()` never references the S3 client, and the
/// linker leaves that SDK out of its bootstrap (smaller binary, fewer pages to load).
#[derive(Clone, Copy)]
#[must_use]
pub struct Clients {
    sqs: Option<QueueWiring>,
    s3: Option<BlobWiring>,
}

impl std::fmt::Debug for Clients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Clients")
            .field("sqs", &self.has_sqs())
            .field("s3", &self.has_s3())
            .finish()
    }
}

impl Clients {
    /// The table only.
    pub const fn dynamodb() -> Self {
        Self {
            sqs: None,
            s3: None,
        }
    }

    /// Also SQS: the function sends messages (outbox hand-offs, retries, jobs).
    pub const fn sqs(self) -> Self {
        Self {
            sqs: Some(wire_sqs),
            ..self
        }
    }

    /// Also S3: the function reads or writes export files. Requires `EXPORT_BUCKET`.
    pub const fn s3(self) -> Self {
        Self {
            s3: Some(wire_s3),
            ..self
        }
    }

    /// Also S3 download links only (`S3Presigner`: SigV4 presigned GETs, no S3 client linked):
    /// the function hands out export files and never writes one. Requires `EXPORT_BUCKET`.
    pub const fn s3_presign(self) -> Self {
        Self {
            s3: Some(wire_s3_presign),
            ..self
        }
    }

    pub const fn has_sqs(self) -> bool {
        self.sqs.is_some()
    }

    pub const fn has_s3(self) -> bool {
        self.s3.is_some()
    }
}

fn wire_sqs(sdk: &aws_config::SdkConfig, cfg: &Config) -> Arc<dyn Queue> {
    Arc::new(sqs_queue(sdk, cfg))
}

fn wire_s3(sdk: &aws_config::SdkConfig, bucket: String) -> Arc<dyn BlobStore> {
    Arc::new(S3BlobStore::from_sdk(sdk, bucket))
}

fn wire_s3_presign(sdk: &aws_config::SdkConfig, bucket: String) -> Arc<dyn BlobStore> {
    Arc::new(S3Presigner::from_sdk(sdk, bucket))
}

/// The timeouts of every DynamoDB and SQS call (the config's `AWS_*_TIMEOUT_MS`): a stalled
/// service ends the call (→ `busy`) well inside the function's own timeout. S3 keeps the SDK's
/// defaults (an 8 MiB upload part may need longer than a table call).
pub fn call_timeouts(cfg: &Config) -> aws_config::timeout::TimeoutConfig {
    aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(
            cfg.aws_attempt_timeout
                .min(std::time::Duration::from_secs(2)),
        )
        .operation_attempt_timeout(cfg.aws_attempt_timeout)
        .operation_timeout(cfg.aws_operation_timeout)
        .build()
}

pub fn dynamo_store(sdk: &aws_config::SdkConfig, cfg: &Config) -> DynamoStore {
    let conf = aws_sdk_dynamodb::config::Builder::from(sdk)
        .timeout_config(call_timeouts(cfg))
        .build();
    DynamoStore::new(
        aws_sdk_dynamodb::Client::from_conf(conf),
        cfg.table_name.clone(),
    )
}

pub fn sqs_queue(sdk: &aws_config::SdkConfig, cfg: &Config) -> SqsQueue {
    let mut urls = HashMap::from([(QueueName::Delivery, cfg.delivery_queue_url.clone())]);
    if let Some(u) = &cfg.inbound_queue_url {
        urls.insert(QueueName::Inbound, u.clone());
    }
    if let Some(u) = &cfg.export_queue_url {
        urls.insert(QueueName::Export, u.clone());
    }
    let conf = aws_sdk_sqs::config::Builder::from(sdk)
        .timeout_config(call_timeouts(cfg))
        .build();
    SqsQueue::new(aws_sdk_sqs::Client::from_conf(conf), urls)
}

/// The `App` of a function: typed config from the environment (a missing or malformed
/// variable fails here, at init, with its name, including `EXPORT_BUCKET` when `clients`
/// has S3, a malformed `AWS_REGION` or half an AWS key pair) and the SDK clients `clients`
/// names, nothing more.
pub async fn app_from_env(clients: Clients) -> Result<App, ConfigError> {
    let config = Config::from_env()?;
    let blobs = match clients.s3 {
        Some(wire) => Some((wire, config.require_export_bucket()?.to_owned())),
        None => None,
    };
    let sdk = sdk_config().await?;
    let store = Arc::new(dynamo_store(&sdk, &config));
    let queue = match clients.sqs {
        Some(wire) => wire(&sdk, &config),
        None => Arc::new(NoQueue),
    };
    let app = App::new(config, store, queue);
    Ok(match blobs {
        Some((wire, bucket)) => app.with_blobs(wire(&sdk, bucket)),
        None => app,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_name_what_they_build() {
        let c = Clients::dynamodb();
        assert!(!c.has_sqs() && !c.has_s3());
        let c = Clients::dynamodb().sqs().s3();
        assert!(c.has_sqs() && c.has_s3());
        let c = Clients::dynamodb().s3();
        assert!(!c.has_sqs() && c.has_s3());
        let c = Clients::dynamodb().sqs().s3_presign();
        assert!(c.has_sqs() && c.has_s3());
    }

    fn lambda_env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn lambdas_region_and_credentials_are_taken_from_the_environment() {
        let env = from_environment(lambda_env(&[
            ("AWS_REGION", "eu-west-1"),
            ("AWS_ACCESS_KEY_ID", "ASIAEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_SESSION_TOKEN", "token"),
        ]))
        .unwrap();
        assert_eq!(
            env,
            FromEnvironment {
                region: Some("eu-west-1".into()),
                credentials: true
            }
        );
    }

    #[test]
    fn without_them_the_default_chains_are_used() {
        let env = from_environment(lambda_env(&[("AWS_REGION", "  ")])).unwrap();
        assert_eq!(
            env,
            FromEnvironment {
                region: None,
                credentials: false
            }
        );
    }

    #[test]
    fn half_a_key_pair_or_a_malformed_region_fails_naming_the_variable() {
        let e = from_environment(lambda_env(&[("AWS_ACCESS_KEY_ID", "AKIA")])).unwrap_err();
        assert!(e.to_string().contains("AWS_SECRET_ACCESS_KEY"), "{e}");
        let e = from_environment(lambda_env(&[("AWS_SECRET_ACCESS_KEY", "s")])).unwrap_err();
        assert!(e.to_string().contains("AWS_ACCESS_KEY_ID"), "{e}");
        for bad in ["eu west 1", "EU-WEST-1", "-eu", "eu-west-1/"] {
            let e = from_environment(lambda_env(&[("AWS_REGION", bad)])).unwrap_err();
            assert!(e.to_string().contains("AWS_REGION"), "{bad}: {e}");
        }
        // The SDK's older spelling of the secret still pairs with the key id.
        let env = from_environment(lambda_env(&[
            ("AWS_ACCESS_KEY_ID", "AKIA"),
            ("SECRET_ACCESS_KEY", "s"),
        ]))
        .unwrap();
        assert!(env.credentials);
    }

    /// The lazy path production takes: no TLS context at init, and the first AWS call over
    /// https builds it from the bundled roots and opens the connection with a TLS ClientHello.
    #[tokio::test]
    async fn the_first_https_call_builds_the_tls_context_at_connect_not_at_init() {
        use tokio::io::AsyncReadExt as _;

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let (mut sock, _) = listener.accept().await.unwrap();
            let mut head = [0u8; 3];
            sock.read_exact(&mut head).await.unwrap();
            head // dropping the socket ends the handshake: the call fails, as intended
        });

        let tls = LazyTls::default();
        let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .http_client(https_client(tls.clone()))
            .region(Region::new("us-east-1"))
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "test", "test", None, None, "test",
            ))
            .retry_config(aws_config::retry::RetryConfig::disabled())
            .load()
            .await;
        let conf = aws_sdk_dynamodb::config::Builder::from(&sdk)
            .endpoint_url(format!("https://127.0.0.1:{port}"))
            .timeout_config(
                aws_config::timeout::TimeoutConfig::builder()
                    .operation_timeout(std::time::Duration::from_secs(10))
                    .build(),
            )
            .build();
        let client = aws_sdk_dynamodb::Client::from_conf(conf);
        assert!(
            !tls.is_built(),
            "config and client construction build no TLS context"
        );

        let call = client.list_tables().send().await;
        assert!(call.is_err(), "the listener speaks no TLS");
        assert!(tls.is_built(), "the first call built the TLS context");
        let head = tokio::time::timeout(std::time::Duration::from_secs(10), server)
            .await
            .unwrap()
            .unwrap();
        // A TLS record of type handshake (22), protocol version 3.x: a ClientHello.
        assert_eq!(head[..2], [0x16, 0x03], "{head:?}");
    }

    #[test]
    fn bundled_roots_are_pem_the_tls_context_accepts() {
        let pem = bundled_roots_pem();
        let count = pem
            .windows(b"BEGIN CERTIFICATE".len())
            .filter(|w| *w == b"BEGIN CERTIFICATE")
            .count();
        assert_eq!(count, webpki_root_certs::TLS_SERVER_ROOT_CERTS.len());
        assert!(count > 100, "{count} roots");
        // The PEM is parsed when a connector is built (a bad certificate panics there).
        let trust = TrustStore::empty().with_pem_certificate(pem);
        let ctx = TlsContext::builder()
            .with_trust_store(trust)
            .build()
            .unwrap();
        let _ = ConnectorBuilder::default()
            .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
            .tls_context(ctx)
            .build();
    }
}
