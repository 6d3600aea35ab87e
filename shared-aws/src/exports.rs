//! The export jobs' store (users feature, seed 001): audit records and job state of exports,
//! newest first on gsi1; claims and progress are conditional updates.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::ReturnValue;

use crate::keys;
use crate::table::{
    checked_cursor, conditional, decode, encode, is_conditional_failure, key_attrs, n, page_of, s,
    DynamoStore,
};
use shared::error::AppResult;
use shared::paging::Page;
use shared::users::{ExportRecord, ExportStore};

#[async_trait]
impl ExportStore for DynamoStore {
    async fn create_export(&self, record: &ExportRecord) -> AppResult<()> {
        let item = encode(
            record,
            &keys::export(&record.workspace_id, &record.id),
            &[
                (
                    keys::GSI1PK,
                    s(keys::exports_index_pk(&record.workspace_id)),
                ),
                (keys::GSI1SK, s(&record.id)),
            ],
        )?;
        self.client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| crate::errors::sdk("dynamodb put export", e))?;
        Ok(())
    }

    async fn get_export(&self, ws: &str, id: &str) -> AppResult<Option<ExportRecord>> {
        self.get_as(&keys::export(ws, id)).await
    }

    async fn list_exports(
        &self,
        ws: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> AppResult<Page<ExportRecord>> {
        let pk = keys::exports_index_pk(ws);
        let start = checked_cursor(cursor, keys::GSI1PK, &pk)?;
        let resp = self
            .client()
            .query()
            .table_name(self.table())
            .index_name(keys::GSI1)
            .key_condition_expression("gsi1pk = :pk")
            .expression_attribute_values(":pk", s(&pk))
            .scan_index_forward(false)
            .limit(limit.clamp(1, 1000) as i32)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| crate::errors::sdk("dynamodb Query exports", e))?;
        page_of(resp.items, resp.last_evaluated_key)
    }

    async fn claim_export(
        &self,
        ws: &str,
        id: &str,
        now: &str,
        now_ms: i64,
        until_ms: i64,
    ) -> AppResult<Option<ExportRecord>> {
        let res = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(key_attrs(&keys::export(ws, id))))
            .update_expression("SET #s = :running, startedAt = :now, claimUntil = :until")
            .condition_expression(
                "attribute_exists(pk) AND (#s = :pending OR (#s = :running AND (attribute_not_exists(claimUntil) OR claimUntil < :nowms)))",
            )
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":running", s("running"))
            .expression_attribute_values(":pending", s("pending"))
            .expression_attribute_values(":now", s(now))
            .expression_attribute_values(":until", n(until_ms))
            .expression_attribute_values(":nowms", n(now_ms))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match res {
            Ok(out) => decode(out.attributes.unwrap_or_default()).map(Some),
            Err(e) if is_conditional_failure(&e) => Ok(None),
            Err(e) => Err(crate::errors::sdk("dynamodb claim export", e)),
        }
    }

    async fn record_export_progress(&self, ws: &str, id: &str, rows: u64) -> AppResult<()> {
        let res = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(key_attrs(&keys::export(ws, id))))
            .update_expression("SET rowCount = :rows")
            .condition_expression("attribute_exists(pk) AND #s = :running")
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":running", s("running"))
            .expression_attribute_values(":rows", n(i64::try_from(rows).unwrap_or(i64::MAX)))
            .send()
            .await;
        conditional(res, "dynamodb record export progress").map(|_| ())
    }

    async fn finish_export(&self, record: &ExportRecord) -> AppResult<()> {
        self.create_export(record).await
    }
}
