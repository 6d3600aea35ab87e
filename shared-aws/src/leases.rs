//! DynamoDB adapter of `LeaseStore`: a lease is an item taken with a conditional put.

use std::time::Duration;

use async_trait::async_trait;

use crate::keys::{self};
use crate::table::{conditional, is_conditional_failure, key_attrs, n, s, DynamoStore};
use shared::error::AppResult;
use shared::lease::Lease;
use shared::lease::LeaseStore;

#[async_trait]
impl LeaseStore for DynamoStore {
    async fn try_acquire(&self, lease: &Lease, owner: &str, ttl: Duration) -> AppResult<bool> {
        let key = &keys::lease(lease);
        let now_ms = chrono::Utc::now().timestamp_millis();
        let until = now_ms + ttl.as_millis() as i64;
        let mut item = key_attrs(key);
        item.insert("owner".into(), s(owner));
        item.insert("leaseUntil".into(), n(until));
        item.insert(keys::TTL.into(), n(until / 1000 + 3600));
        let res = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk) OR leaseUntil < :now")
            .expression_attribute_values(":now", n(now_ms))
            .send()
            .await;
        conditional(res, "dynamodb acquire lease")
    }

    async fn release(&self, lease: &Lease, owner: &str) -> AppResult<()> {
        let key = &keys::lease(lease);
        let res = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key_attrs(key)))
            .condition_expression("#o = :owner")
            .expression_attribute_names("#o", "owner")
            .expression_attribute_values(":owner", s(owner))
            .send()
            .await;
        match res {
            Ok(_) => Ok(()),
            Err(e) if is_conditional_failure(&e) => Ok(()),
            Err(e) => Err(crate::errors::sdk("dynamodb release lease", e)),
        }
    }
}
