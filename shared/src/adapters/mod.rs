//! Adapters of the ports to AWS services.

pub mod dynamo;
pub mod sqs;

use std::collections::HashMap;

use crate::config::Config;
use crate::ports::QueueName;

/// SDK config from the environment (honours `AWS_ENDPOINT_URL_DYNAMODB`/`_SQS`/`_S3`).
pub async fn aws_config() -> aws_config::SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

pub fn dynamo_store(sdk: &aws_config::SdkConfig, cfg: &Config) -> dynamo::DynamoStore {
    dynamo::DynamoStore::new(aws_sdk_dynamodb::Client::new(sdk), cfg.table_name.clone())
}

pub fn sqs_queue(sdk: &aws_config::SdkConfig, cfg: &Config) -> sqs::SqsQueue {
    let mut urls = HashMap::from([(QueueName::Delivery, cfg.delivery_queue_url.clone())]);
    if let Some(u) = &cfg.inbound_queue_url {
        urls.insert(QueueName::Inbound, u.clone());
    }
    if let Some(u) = &cfg.export_queue_url {
        urls.insert(QueueName::Export, u.clone());
    }
    sqs::SqsQueue::new(aws_sdk_sqs::Client::new(sdk), urls)
}
