//! DynamoDB adapter of `OutboxStore`: records pending in a sparse GSI until enqueued.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::TransactWriteItem;

use crate::keys::{self};
use crate::table::{decode, encode, is_conditional_failure, key_attrs, n, put, s, DynamoStore};
use shared::error::{AppError, AppResult};
use shared::outbox::ports::OutboxStore;
use shared::outbox::OutboxRecord;

/// Outbox records are kept a week after creation (the sweeper needs minutes).
const OUTBOX_TTL_SECS: i64 = 7 * 24 * 3600;

pub fn outbox_put(table: &str, outbox: &OutboxRecord) -> AppResult<TransactWriteItem> {
    let mut item = encode(
        outbox,
        &keys::outbox(&outbox.id),
        &[
            (keys::GSI1PK, s(keys::OUTBOX_PENDING_INDEX_PK)),
            (
                keys::GSI1SK,
                s(format!("{}#{}", outbox.created_at, outbox.id)),
            ),
            (
                keys::TTL,
                n(shared::time::parse(&outbox.created_at)
                    .map(|t| t.timestamp())
                    .unwrap_or_else(|| chrono::Utc::now().timestamp())
                    + OUTBOX_TTL_SECS),
            ),
        ],
    )?;
    // Users (GDPR erase): a record whose events carry a user is findable by that user on gsi2.
    if let Some(user) = shared::users::outbox_user(outbox) {
        item.insert(
            keys::GSI2PK.into(),
            s(keys::user_outbox_pk(&outbox.workspace_id, user)),
        );
        item.insert(keys::GSI2SK.into(), s(&outbox.id));
    }
    put(table, item, Some("attribute_not_exists(pk)"), &[])
}

#[async_trait]
impl OutboxStore for DynamoStore {
    async fn get_outbox(&self, id: &str) -> AppResult<Option<OutboxRecord>> {
        self.get_as(&keys::outbox(id)).await
    }

    async fn mark_enqueued(&self, id: &str, now: &str) -> AppResult<()> {
        let res = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_attrs(&keys::outbox(id))))
            .update_expression("SET enqueuedAt = :now REMOVE gsi1pk, gsi1sk")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":now", s(now))
            .send()
            .await;
        match res {
            Ok(_) => Ok(()),
            Err(e) if is_conditional_failure(&e) => Err(AppError::NotFound("outbox record")),
            Err(e) => Err(crate::errors::sdk("dynamodb mark enqueued", e)),
        }
    }

    async fn list_unenqueued(
        &self,
        created_before: &str,
        limit: u32,
    ) -> AppResult<Vec<OutboxRecord>> {
        let resp = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(keys::GSI1)
            .key_condition_expression("gsi1pk = :pk AND gsi1sk < :before")
            .expression_attribute_values(":pk", s(keys::OUTBOX_PENDING_INDEX_PK))
            .expression_attribute_values(":before", s(created_before))
            .limit(limit.clamp(1, 1000) as i32)
            .send()
            .await
            .map_err(|e| crate::errors::sdk("dynamodb query outbox", e))?;
        resp.items
            .unwrap_or_default()
            .into_iter()
            .map(decode)
            .collect::<AppResult<Vec<OutboxRecord>>>()
            .map(|mut v| {
                v.retain(|r| r.enqueued_at.is_none());
                v
            })
    }
}
