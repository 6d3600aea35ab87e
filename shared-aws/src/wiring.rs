//! Production wiring: typed config from the environment, the one HTTPS client of the SDK, and
//! the SDK clients a function names in its `main.rs` (`Clients`), built once at init and handed
//! to `shared::App` as its ports.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode, TlsContext, TrustStore};
use aws_smithy_http_client::{Builder, ConnectorBuilder};
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use base64::Engine as _;
use shared::config::{Config, ConfigError};
use shared::queue::{NoQueue, QueueName};
use shared::App;

use crate::s3::S3BlobStore;
use crate::sqs::SqsQueue;
use crate::table::DynamoStore;

// --- the HTTP client and the SDK config ---------------------------------------------------------

/// The Mozilla roots compiled into the binary (`webpki-root-certs`) as one PEM blob, the form
/// the SDK's trust store takes: no certificate directory is read at init.
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

/// The HTTPS client of every SDK client: hyper 1 and rustls 0.23 on ring, the bundled roots,
/// proxy settings from the environment. Built once per process (the roots are encoded once;
/// the SDK caches one connector per timeout setting).
///
/// Every `SdkConfig` must get it: with the SDK's default features off there is no default
/// client, and `aws_config`'s `load()` panics without one.
pub fn http_client() -> SharedHttpClient {
    static CLIENT: OnceLock<SharedHttpClient> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            let trust = TrustStore::empty().with_pem_certificate(bundled_roots_pem());
            let tls_context = match TlsContext::builder().with_trust_store(trust).build() {
                Ok(ctx) => ctx,
                // The roots are compiled in: only a broken build gets here.
                Err(e) => panic!("the bundled CA roots do not make a TLS context: {e}"),
            };
            let proxy = ProxyConfig::from_env();
            // aws-smithy-runtime's default HTTPS client, with ring and the bundled roots.
            Builder::new().build_with_connector_fn(move |settings, components| {
                let mut conn = ConnectorBuilder::default()
                    .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
                    .tls_context(tls_context.clone());
                conn.set_connector_settings(settings.cloned());
                if let Some(rc) = components {
                    conn.set_sleep_impl(rc.sleep_impl());
                }
                conn.set_proxy_config(Some(proxy.clone()));
                conn.build()
            })
        })
        .clone()
}

/// The SDK config loader with the one HTTP client; the caller may add region, credentials or
/// endpoints (the test kit does) before `load()`.
pub fn sdk_config_loader() -> aws_config::ConfigLoader {
    aws_config::defaults(aws_config::BehaviorVersion::latest()).http_client(http_client())
}

/// SDK config from the environment (honours `AWS_ENDPOINT_URL_DYNAMODB`/`_SQS`/`_S3`).
pub async fn sdk_config() -> aws_config::SdkConfig {
    sdk_config_loader().load().await
}

// --- the clients a function uses -----------------------------------------------------------------

/// The AWS clients a function builds at init. DynamoDB always (every port but the queue and the
/// blob store lives in the table); SQS and S3 when its `main.rs` says so:
///
/// ```ignore
/// shared_aws::app_from_env(Clients::dynamodb().sqs()).await?
/// ```
///
/// A port whose client is not built answers every call with an error naming the missing
/// wiring (`NoQueue`, `NoBlobStore`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub struct Clients {
    sqs: bool,
    s3: bool,
}

impl Clients {
    /// The table only.
    pub const fn dynamodb() -> Self {
        Self {
            sqs: false,
            s3: false,
        }
    }

    /// Also SQS: the function sends messages (outbox hand-offs, retries, jobs).
    pub const fn sqs(self) -> Self {
        Self { sqs: true, ..self }
    }

    /// Also S3: the function reads or writes export files. Requires `EXPORT_BUCKET`.
    pub const fn s3(self) -> Self {
        Self { s3: true, ..self }
    }

    pub const fn has_sqs(self) -> bool {
        self.sqs
    }

    pub const fn has_s3(self) -> bool {
        self.s3
    }
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
/// has S3) and the SDK clients `clients` names, nothing more.
pub async fn app_from_env(clients: Clients) -> Result<App, ConfigError> {
    let config = Config::from_env()?;
    let bucket = if clients.s3 {
        Some(config.require_export_bucket()?.to_owned())
    } else {
        None
    };
    let sdk = sdk_config().await;
    let store = Arc::new(dynamo_store(&sdk, &config));
    let app = if clients.sqs {
        let queue = sqs_queue(&sdk, &config);
        App::new(config, store, Arc::new(queue))
    } else {
        App::new(config, store, Arc::new(NoQueue))
    };
    Ok(match bucket {
        Some(bucket) => app.with_blobs(Arc::new(S3BlobStore::from_sdk(&sdk, bucket))),
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
        assert_eq!(Clients::dynamodb().s3().sqs(), c);
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
