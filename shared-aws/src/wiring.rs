//! Production wiring: typed config from the environment, the one HTTPS client of the SDK, SDK
//! clients built once at init, handed to `shared::App` as its ports.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode, TlsContext, TrustStore};
use aws_smithy_http_client::{Builder, ConnectorBuilder};
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use base64::Engine as _;
use shared::config::{Config, ConfigError};
use shared::queue::QueueName;
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

// --- the App ------------------------------------------------------------------------------------

pub fn dynamo_store(sdk: &aws_config::SdkConfig, cfg: &Config) -> DynamoStore {
    DynamoStore::new(aws_sdk_dynamodb::Client::new(sdk), cfg.table_name.clone())
}

pub fn sqs_queue(sdk: &aws_config::SdkConfig, cfg: &Config) -> SqsQueue {
    let mut urls = HashMap::from([(QueueName::Delivery, cfg.delivery_queue_url.clone())]);
    if let Some(u) = &cfg.inbound_queue_url {
        urls.insert(QueueName::Inbound, u.clone());
    }
    if let Some(u) = &cfg.export_queue_url {
        urls.insert(QueueName::Export, u.clone());
    }
    SqsQueue::new(aws_sdk_sqs::Client::new(sdk), urls)
}

/// The `App` of a function: typed config from the environment (a missing or malformed
/// variable fails here, at init, with its name), DynamoDB + SQS, and S3 when an export
/// bucket is configured.
pub async fn app_from_env() -> Result<App, ConfigError> {
    let config = Config::from_env()?;
    let sdk = sdk_config().await;
    let store = Arc::new(dynamo_store(&sdk, &config));
    let queue = Arc::new(sqs_queue(&sdk, &config));
    let blobs = config
        .export_bucket
        .clone()
        .map(|bucket| S3BlobStore::from_sdk(&sdk, bucket));
    let app = App::new(config, store, queue);
    Ok(match blobs {
        Some(b) => app.with_blobs(Arc::new(b)),
        None => app,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
