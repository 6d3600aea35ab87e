//! Production wiring: typed config from the environment, SDK clients built once at init,
//! handed to `shared::App` as its ports.

use std::collections::HashMap;
use std::sync::Arc;

use shared::config::{Config, ConfigError};
use shared::queue::QueueName;
use shared::App;

use crate::s3::S3BlobStore;
use crate::sqs::SqsQueue;
use crate::table::DynamoStore;

/// SDK config from the environment (honours `AWS_ENDPOINT_URL_DYNAMODB`/`_SQS`/`_S3`).
pub async fn aws_config() -> aws_config::SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

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
    let sdk = aws_config().await;
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
