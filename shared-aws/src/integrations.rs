//! DynamoDB adapter of `IntegrationStore`: settings, secrets and hourly attempt buckets.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use crate::keys::{self};
use crate::table::{conditional, decode, hour_bucket, key_attrs, n, num_attr, s, DynamoStore};
use shared::error::{AppError, AppResult};
use shared::integrations::ports::IntegrationStore;
use shared::integrations::{AttemptStats, Integration, IntegrationInput, IntegrationKind};
use shared::signing::WebhookSecret;

/// Hour buckets of integration attempts outlive the 24 h window by a day.
const STATS_TTL_SECS: i64 = 48 * 3600;

#[async_trait]
impl IntegrationStore for DynamoStore {
    async fn put_integration(
        &self,
        ws: &str,
        kind: IntegrationKind,
        input: &IntegrationInput,
        new_secret: &WebhookSecret,
        now: &str,
    ) -> AppResult<Integration> {
        // The alerts integration's own settings, or nothing on the others.
        let (alert_set, alert_value) = match &input.alert {
            Some(settings) => (
                ", alert = :alert",
                Some(
                    serde_dynamo::to_attribute_value(settings)
                        .map_err(|e| AppError::internal("encode alert settings", e))?,
                ),
            ),
            None => ("", None),
        };
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_attrs(&keys::integration(ws, kind.as_str()))))
            .update_expression(format!(
                "SET #type = :kind, webhookUrl = :url, enabled = :enabled, retryAttempts = :ra, \
                 retryDelay = :rd, updatedAt = :now, createdAt = if_not_exists(createdAt, :now), \
                 secret = if_not_exists(secret, :secret), syncProperties = :sp{alert_set}"
            ))
            .expression_attribute_names("#type", "type")
            .expression_attribute_values(":kind", s(kind.as_str()))
            .expression_attribute_values(":url", s(&input.webhook_url))
            .expression_attribute_values(":enabled", AttributeValue::Bool(input.enabled))
            .expression_attribute_values(":ra", n(i64::from(input.retry_attempts)))
            .expression_attribute_values(":rd", n(i64::from(input.retry_delay)))
            .expression_attribute_values(":sp", AttributeValue::Bool(input.sync_properties))
            .expression_attribute_values(":now", s(now))
            .expression_attribute_values(":secret", s(new_secret.expose()));
        if let Some(value) = alert_value {
            update = update.expression_attribute_values(":alert", value);
        }
        let out = update
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(|e| crate::errors::sdk("dynamodb put integration", e))?;
        decode(out.attributes.unwrap_or_default())
    }

    async fn get_integration(
        &self,
        ws: &str,
        kind: IntegrationKind,
    ) -> AppResult<Option<Integration>> {
        self.get_as(&keys::integration(ws, kind.as_str())).await
    }

    async fn record_attempt(
        &self,
        ws: &str,
        kind: IntegrationKind,
        now: &str,
        error: Option<&str>,
    ) -> AppResult<()> {
        let field = if error.is_some() {
            "failed"
        } else {
            "succeeded"
        };
        let ttl = shared::time::parse(now)
            .map(|t| t.timestamp())
            .unwrap_or_default()
            + STATS_TTL_SECS;
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_attrs(&keys::integration_stats(
                ws,
                kind.as_str(),
                &hour_bucket(now),
            ))))
            .update_expression("ADD #f :one SET expires_at = :ttl")
            .expression_attribute_names("#f", field)
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":ttl", n(ttl))
            .send()
            .await
            .map_err(|e| crate::errors::sdk("dynamodb record attempt", e))?;
        if let Some(err) = error {
            let res = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key_attrs(&keys::integration(ws, kind.as_str()))))
                .update_expression("SET lastError = :e, lastErrorAt = :now")
                .condition_expression("attribute_exists(pk)")
                .expression_attribute_values(":e", s(err))
                .expression_attribute_values(":now", s(now))
                .send()
                .await;
            conditional(res, "dynamodb record last error")?;
        }
        Ok(())
    }

    async fn attempt_stats(
        &self,
        ws: &str,
        kind: IntegrationKind,
        since: &str,
    ) -> AppResult<AttemptStats> {
        let resp = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND sk >= :from")
            .expression_attribute_values(
                ":pk",
                s(keys::integration_stats_partition(ws, kind.as_str())),
            )
            .expression_attribute_values(":from", s(format!("H#{}", hour_bucket(since))))
            .send()
            .await
            .map_err(|e| crate::errors::sdk("dynamodb query stats", e))?;
        let mut stats = AttemptStats::default();
        for item in resp.items.unwrap_or_default() {
            stats.succeeded += num_attr(&item, "succeeded").unwrap_or(0).max(0) as u64;
            stats.failed += num_attr(&item, "failed").unwrap_or(0).max(0) as u64;
        }
        Ok(stats)
    }
}
